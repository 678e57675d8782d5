"""Find pickled Python objects in model members without unpickling anything.

A `.keras` archive is a zip, and nothing stops it from carrying pickles: Keras 3.0-3.8 read a
`model.weights.npz` with `numpy.load(allow_pickle=True)`, which unpickles object-dtype arrays
(and unpickles the whole member when it is neither a zip nor an `.npy`), and a custom layer may
`pickle.load` an asset. Unpickling runs code (a pickle names any importable callable and calls
it), so kresolve refuses such files; this module says which bytes are pickles.

How: `scan_pickle` walks the opcode stream with `pickletools.genops`, which only *parses*
(it never imports, looks up or calls anything, unlike `pickle.load`/`pickle.Unpickler`; not
`pickletools.dis`, which prints and asserts instead of returning), and simulates the unpickler's
stack by depth and kind so that text which merely starts with opcode letters is not mistaken for
a pickle. The stdlib parser is used rather than hand-written argument decoding because it knows
every protocol's opcodes and their argument formats and is maintained with `pickle` itself;
what makes it safe on hostile bytes is the bounding done here: it only ever sees a bounded
window of a member (`SCAN_WINDOW`), the opcodes walked per archive are capped (`SCAN_BUDGET`),
its warnings are silenced, and any exception it raises ends the valid prefix instead of
escaping. Where the parser and the real unpickler could disagree the verdict errs towards
"pickle": the simulation pops more permissively than the unpickler, and a stream still valid at
the end of the window counts as a pickle. The one argument format where they differ (protocol-0
INT/LONG: the unpickler reads "0x10" with `int(s, 0)`, genops refuses it) is read the
unpickler's way, so such a number cannot hide the call after it.

`.npy` members are judged by their header alone (magic, version, header length, the dict with
`descr`); an object dtype means the array data is a pickle. numpy is never asked to load.
"""

from __future__ import annotations

import ast
import enum
import io
import pickle
import pickletools
import struct
import warnings
from dataclasses import dataclass

from kresolve.artifact.limits import MiB

# Bytes of one member fed to the opcode scanner. Real payloads are a few hundred bytes; a
# stream still valid at the end of this window is treated as a pickle (never "probably fine").
SCAN_WINDOW = 64 * 1024
# Bytes of valid opcodes walked per archive in all (a few MB/s in Python), so thousands of
# pickle-looking members cannot stall a scan; real members end their walk within a few bytes.
SCAN_BUDGET = 4 * MiB
# Opcodes followed in one window (one byte each at least, so the window bounds this anyway).
MAX_OPCODES = SCAN_WINDOW
# numpy refuses headers over 10 000 bytes unless allow_pickle=True, when it reads any size; a
# header over the format-1.0 maximum is refused as uncheckable rather than trusted.
MAX_NPY_HEADER = 65_535
# Bytes to read from a member to classify it: the .npy preamble and header, or a pickle window.
HEAD_BYTES = SCAN_WINDOW
# Names of imported callables shown in a refusal.
MAX_IMPORTS_SHOWN = 3

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # what numpy.load takes for an .npz
WORDS = "holds pickled objects that run code when loaded"

_MARK = object()  # the unpickler's MARK on the simulated stack
_GLOBAL_OPS = frozenset({"GLOBAL", "STACK_GLOBAL", "INST", "EXT1", "EXT2", "EXT4"})
_CALL_OPS = frozenset({"REDUCE", "BUILD", "OBJ", "INST", "NEWOBJ", "NEWOBJ_EX"})
_STRING_OPS = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
                         "SHORT_BINUNICODE", "BINUNICODE8"})
_PLUMBING = ("numpy.", "_codecs.", "copyreg.")  # imports every pickled ndarray makes
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})


class UnsafeKind(enum.Enum):
    """Why a member is refused (the `unsafe_kind` of `inspect --json`)."""

    OBJECT_NPY = "object-npy"  # an .npy array of object dtype: its data is a pickle
    RAW_PICKLE = "raw-pickle"  # the member's bytes are a pickle stream
    NUMPY_PICKLE = "numpy-pickle"  # .npz/.npy-named, neither zip nor npy: numpy.load unpickles it
    UNCHECKABLE_NPY = "uncheckable-npy"  # an .npy header kresolve cannot read numpy may still load
    DUPLICATE_MEMBER = "duplicate-member"  # a zip listing and Keras read different members


@dataclass(frozen=True)
class PickleScan:
    """What the opcode walk found in one byte string."""

    is_pickle: bool
    protocol: int | None  # from a leading PROTO opcode
    imports: tuple[str, ...]  # "module.name" the stream would import, in order, deduplicated
    calls: int  # call opcodes (REDUCE, BUILD, OBJ, INST, NEWOBJ*) reached with a valid stack
    opcodes: int  # opcodes in the valid prefix
    complete: bool  # ended at STOP with one object on the stack
    consumed: int  # bytes the walk read (counted against SCAN_BUDGET)


@dataclass(frozen=True)
class NpyHeader:
    version: tuple[int, int]
    descr: object  # as written: a dtype string, or a list of fields
    has_object: bool
    data_offset: int  # where the array data (or the pickle) starts


@dataclass(frozen=True)
class Finding:
    """One unsafe member: what it is and the words for the refusal."""

    kind: UnsafeKind
    member: str  # as the archive names it; "outer.npz/inner.npy" for arrays inside an .npz
    detail: str
    imports: tuple[str, ...] = ()

    @property
    def telling(self) -> tuple[str, ...]:
        """Imports beyond numpy's own array rebuilding: what the payload really calls."""
        return tuple(name for name in self.imports if not name.startswith(_PLUMBING))

    def message(self) -> str:
        shown = self.member if len(self.member) <= 200 else self.member[:200] + "..."
        if self.kind is UnsafeKind.DUPLICATE_MEMBER:
            return (f"member name {shown!r} is duplicated in the archive ({self.detail}): what "
                    "Keras reads is not what a zip listing shows; refusing it as unsafe")
        calls = ""
        if self.imports:
            # numpy's own array-rebuilding callables say little; what else it calls says more
            telling = self.telling or self.imports
            calls = f"; it imports {', '.join(telling[:MAX_IMPORTS_SHOWN])}"
            calls += " ..." if len(telling) > MAX_IMPORTS_SHOWN else ""
        return (f"member {shown} {WORDS} ({self.detail}{calls}); kresolve never unpickles, "
                "refusing the file as unsafe")


class NotNpy(ValueError):
    """The bytes do not start with the .npy magic."""


class OverBudget(ValueError):
    """An archive whose members together need more opcode walking than SCAN_BUDGET."""


class ScanBudget:
    """SCAN_BUDGET bytes of opcode walking, shared by every member of one archive."""

    def __init__(self, total: int = SCAN_BUDGET) -> None:
        self.left = total

    def spend(self, scan: PickleScan) -> None:
        self.left -= scan.consumed
        if self.left < 0:
            raise OverBudget(f"its members hold over {SCAN_BUDGET // MiB} MiB of bytes that "
                             "read like pickle opcodes: too much to check")


def scan_pickle(data: bytes, truncated: bool = False) -> PickleScan:
    """Walk the opcodes at the start of `data` (at most SCAN_WINDOW bytes are looked at).

    A pickle is: a stream opened by a PROTO opcode (protocol 2-5: no text, JSON, HDF5, zip or
    .npy starts like that); or one that reaches an import (GLOBAL, STACK_GLOBAL, INST, EXT*)
    and then a call or a complete STOP, with a stack the unpickler would accept; or one still
    valid when the window (or `truncated` data) ends after an import. Protocol 0/1 streams
    without an import cannot run code and are not flagged: plain text can look like them.
    """
    window = data[:SCAN_WINDOW]
    cut = truncated or len(data) > SCAN_WINDOW
    stream = io.BytesIO(window)
    stack: list[object] = []
    memo: dict[int, object] = {}
    imports: list[str] = []
    protocol: int | None = None
    calls = opcodes = 0
    complete = ran_out = False
    with warnings.catch_warnings():
        # genops warns on odd escapes in STRING arguments; with `-W error` a warning would end
        # the walk early, so the verdict must not depend on the warning filters
        warnings.simplefilter("ignore")
        ops = pickletools.genops(stream)
        while True:
            at = stream.tell()
            try:
                opcode, arg, pos = next(ops)
            except StopIteration:
                break
            except Exception:  # noqa: BLE001 - any parser error on hostile bytes ends the valid prefix
                after = _lenient_int(window, at)
                if after is not None:  # the unpickler reads it: push the number, walk on
                    stack.append(None)
                    opcodes += 1
                    stream.seek(after)
                    ops = pickletools.genops(stream)
                    continue
                # Only running off the end of the data counts as "still going"; a bad opcode or
                # a bad argument in the middle is where the unpickler would stop as well.
                ran_out = stream.tell() >= len(window) and cut
                break
            name = opcode.name
            if opcodes >= MAX_OPCODES:
                ran_out = True
                break
            if name == "PROTO":
                if not isinstance(arg, int) or not 0 <= arg <= pickle.HIGHEST_PROTOCOL:
                    break  # the unpickler refuses an unknown protocol before anything else
                if pos == 0:
                    protocol = arg
            if not _simulate(opcode, arg, stack, memo, imports):
                break  # stack underflow or no MARK: the real unpickler stops here too
            opcodes += 1
            if name in _CALL_OPS:
                calls += 1
            if name == "STOP":
                complete = not stack  # STOP took the one object the stream built
                break
    reaches_code = bool(imports) and (calls > 0 or complete or ran_out)
    headed = protocol is not None and protocol >= 2 and opcodes >= 2
    return PickleScan(
        is_pickle=reaches_code or headed,
        protocol=protocol,
        imports=tuple(dict.fromkeys(imports)),
        calls=calls,
        opcodes=opcodes,
        complete=complete,
        consumed=stream.tell(),
    )


def _lenient_int(window: bytes, at: int) -> int | None:
    """Where the walk resumes when genops refused a protocol-0 INT or LONG at `at` that the
    unpickler accepts (it parses them with `int(text, 0)`, genops with `int(text)`: "0x10")."""
    if window[at : at + 1] not in (b"I", b"L"):
        return None
    end = window.find(b"\n", at)
    if end < 0:
        return None
    text = window[at + 1 : end]
    if window[at : at + 1] == b"L" and text.endswith(b"L"):
        text = text[:-1]
    try:
        int(text, 0)
    except ValueError:
        return None
    return end + 1


def _simulate(opcode: pickletools.OpcodeInfo, arg: object, stack: list[object],
              memo: dict[int, object], imports: list[str]) -> bool:
    """Apply one opcode to the simulated stack (values kept only for strings, which name
    STACK_GLOBAL's callable); False when the unpickler would fail here. Pops may cross a MARK,
    which the unpickler forbids: the simulation is never stricter than the real thing."""
    name = opcode.name
    before = opcode.stack_before
    value: object = None
    if name in _STRING_OPS:
        value = arg.decode("latin-1") if isinstance(arg, bytes) else arg
    elif name in ("GLOBAL", "INST"):
        imports.append(".".join(str(arg).split(" ", 1)))
    elif name == "STACK_GLOBAL":
        if len(stack) < 2:
            return False
        module, attr = stack[-2], stack[-1]
        imports.append(f"{module}.{attr}" if isinstance(module, str) and isinstance(attr, str)
                       else "(a callable named by earlier data)")
    elif name.startswith("EXT"):
        imports.append(f"(extension code {arg})")
    elif name in _GET_OPS:
        value = memo.get(arg) if isinstance(arg, int) else None
    elif name in _PUT_OPS or name == "MEMOIZE":
        if not stack or stack[-1] is _MARK:
            return False
        key = arg if name in _PUT_OPS else len(memo)
        if isinstance(key, int):
            memo[key] = stack[-1]
        return True

    pops = len(before)
    if pickletools.markobject in before or (name == "POP" and stack and stack[-1] is _MARK):
        if _MARK not in stack:
            return False
        while stack.pop() is not _MARK:
            pass
        pops = before.index(pickletools.markobject) if pickletools.markobject in before else 0
    if pops:
        if len(stack) < pops:
            return False
        del stack[-pops:]
    for kind in opcode.stack_after:
        stack.append(_MARK if kind is pickletools.markobject else value)
    return True


def read_npy_header(data: bytes) -> NpyHeader:
    """The .npy preamble and header dict at the start of `data`. Raises NotNpy without the magic,
    ValueError when the header cannot be read (numpy may still read it: callers refuse)."""
    if not data.startswith(NPY_MAGIC):
        raise NotNpy("no .npy magic")
    if len(data) < 10:
        raise ValueError("truncated .npy preamble")
    version = (data[6], data[7])
    if version == (1, 0):
        (length,), start = struct.unpack_from("<H", data, 8), 10
    elif version in ((2, 0), (3, 0)):
        if len(data) < 12:
            raise ValueError("truncated .npy preamble")
        (length,), start = struct.unpack_from("<I", data, 8), 12
    else:
        raise ValueError(f"unknown .npy format version {version[0]}.{version[1]}")
    if length > MAX_NPY_HEADER:
        raise ValueError(f".npy header of {length} bytes, over the {MAX_NPY_HEADER} kresolve reads")
    raw = data[start : start + length]
    if len(raw) < length:
        raise ValueError("truncated .npy header")
    try:
        text = raw.decode("utf-8" if version == (3, 0) else "latin-1")
        header = ast.literal_eval(text)  # what numpy itself uses; literals only, nothing runs
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
        raise ValueError(f"unreadable .npy header ({type(exc).__name__})") from None
    if not isinstance(header, dict) or "descr" not in header:
        raise ValueError(".npy header is not a dict with 'descr'")
    descr = header["descr"]
    return NpyHeader(version, descr, _has_object(descr), start + length)


def _has_object(descr: object, depth: int = 0) -> bool:
    """Whether numpy would build an object dtype (pickled data) from this descr. Errs towards
    True: a form it does not recognise is reported as object, never as safe."""
    if depth > 32:
        return True
    if isinstance(descr, str):
        return "O" in descr or "object" in descr.lower()
    if isinstance(descr, tuple):  # (base descr, shape)
        return not descr or _has_object(descr[0], depth + 1)
    if isinstance(descr, list):  # structured: [(name, descr[, shape]), ...]
        return any(not isinstance(field, tuple) or len(field) < 2 or _has_object(field[1], depth + 1)
                   for field in descr)
    return True


def classify(member: str, head: bytes, size: int, budget: ScanBudget) -> Finding | None:
    """Judge one member by its first bytes `head` (up to HEAD_BYTES) and its full `size`.
    Nested zips (an .npz) are the caller's to open; this looks at bytes only. Raises
    OverBudget when the archive's members together need too much scanning."""
    if size == 0 or not head:
        return None
    if head.startswith(NPY_MAGIC):
        return _classify_npy(member, head)
    scan = scan_pickle(head, truncated=len(head) < size)
    budget.spend(scan)
    if scan.is_pickle:
        what = f"a pickle stream, protocol {scan.protocol}" if scan.protocol is not None else "a pickle stream"
        return Finding(UnsafeKind.RAW_PICKLE, member, what, scan.imports)
    if member.lower().endswith((".npz", ".npy")) and not head.startswith(ZIP_MAGICS):
        return Finding(UnsafeKind.NUMPY_PICKLE, member,
                       "named like NumPy data but neither an .npz zip nor an .npy array: "
                       "numpy.load(allow_pickle=True), as Keras reads weights, unpickles it")
    return None


def _classify_npy(member: str, head: bytes) -> Finding | None:
    try:
        header = read_npy_header(head)
    except ValueError as exc:
        return Finding(UnsafeKind.UNCHECKABLE_NPY, member,
                       f"an .npy array whose header kresolve cannot check ({exc}); numpy may "
                       "still unpickle it")
    if not header.has_object:
        return None
    payload = scan_pickle(head[header.data_offset :], truncated=True)
    return Finding(UnsafeKind.OBJECT_NPY, member,
                   f"an object-dtype NumPy array (descr {str(header.descr)[:60]!r}): its data is a "
                   "pickle that numpy.load(allow_pickle=True) runs", payload.imports)
