"""Recognise marshalled Python functions in Keras configs, and guess their Python minor.

Keras stores a Lambda's function as `marshal.dumps(func.__code__)`: Keras 1 and 2.0 as the raw
bytes decoded with `raw_unicode_escape`, Keras >= 2.1 (and Keras 3) as base64. Such bytecode only
loads on the Python minor that wrote it, so the minor is worth knowing. We never unmarshal: the
guess reads the code-object header layout and the first/last opcodes, which changed in known
releases:

* the marshal type byte is 'c' (0x63); since Python 3.4 (marshal v3) it carries FLAG_REF (0xe3);
* the 4-byte ints before the bytecode: 4 in Python 2 (argcount, nlocals, stacksize, flags);
  5 in 3.0-3.7 (+ kwonlyargcount); 6 in 3.8-3.10 (+ posonlyargcount); 5 again from 3.11
  (nlocals dropped);
* instructions are 1 or 3 bytes before 3.6 and 2 bytes ("wordcode") since;
* from 3.11 every function starts with RESUME (opcode 151 in 3.11-3.12, 149 in 3.13), preceded
  only by COPY_FREE_VARS / MAKE_CELL (149 / 135 in 3.11-3.12, 62 / 94 in 3.13).

Hints are inclusive minor ranges such as "3.4-3.5", "3.8-3.10" or a single "3.13".
"""

from __future__ import annotations

import binascii
import re

from kresolve.artifact.limits import MAX_BYTECODE_CHARS

_CODE_TYPE = 0x63  # marshal TYPE_CODE 'c'
_FLAG_REF = 0x80
_BYTES_TYPES = (0x73, 0xF3)  # TYPE_STRING 's', with or without FLAG_REF
_RETURN_VALUE = 83  # 2.x-3.12
_HAVE_ARGUMENT = 90  # 2.x-3.12: opcodes at or above take an argument

_RESUME_311 = 151
_PREFIX_311 = frozenset({149, 135})  # COPY_FREE_VARS, MAKE_CELL in 3.11-3.12
_RESUME_313 = 149
_PREFIX_313 = frozenset({62, 94})  # COPY_FREE_VARS, MAKE_CELL in 3.13

_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=\s]+")


def function_bytes(text: str) -> tuple[bytes, str] | None:
    """Decode a Keras-stored function to its marshal bytes; (bytes, "base64" | "raw") or None.

    Returns None when `text` does not hold a marshalled code object (e.g. a function name).
    """
    if not text or len(text) > MAX_BYTECODE_CHARS:
        return None
    if _BASE64_TEXT.fullmatch(text):
        try:
            raw = binascii.a2b_base64(text.encode("ascii"))
        except (binascii.Error, ValueError):
            raw = b""
        if _has_code_header(raw):
            return raw, "base64"
    try:
        raw = text.encode("raw_unicode_escape")
    except UnicodeError:  # lone surrogates cannot be re-encoded
        return None
    if _has_code_header(raw):
        return raw, "raw"
    return None


def _has_code_header(raw: bytes) -> bool:
    """A marshal code type byte followed by one of the known header layouts."""
    if not raw or raw[0] & ~_FLAG_REF != _CODE_TYPE:
        return False
    return any(_bytecode_at(raw, n_ints) is not None for n_ints in (4, 5, 6))


def _bytecode_at(code: bytes, n_ints: int) -> bytes | None:
    """The instruction bytes when the header holds `n_ints` 4-byte ints, else None."""
    start = 1 + 4 * n_ints
    if len(code) < start + 5 or code[start] not in _BYTES_TYPES:
        return None
    length = int.from_bytes(code[start + 1 : start + 5], "little")
    body = code[start + 5 : start + 5 + length]
    if length == 0 or len(body) != length:
        return None
    return body


def _is_pre_wordcode(ops: bytes) -> bool:
    """1-byte ops, 3 bytes with an argument, ending on RETURN_VALUE: the pre-3.6 layout."""
    pos, last = 0, -1
    while pos < len(ops):
        last = ops[pos]
        pos += 3 if last >= _HAVE_ARGUMENT else 1
    return pos == len(ops) and last == _RETURN_VALUE


def _first_op_after(ops: bytes, prefix: frozenset[int]) -> int | None:
    """First wordcode opcode after any run of `prefix` opcodes."""
    for pos in range(0, len(ops) - 1, 2):
        if ops[pos] not in prefix:
            return ops[pos]
    return None


def python_hint(code: bytes) -> str | None:
    """The Python minor range that wrote marshalled code object `code`, or None if unclear."""
    if len(code) < 22 or code[0] & ~_FLAG_REF != _CODE_TYPE:
        return None
    has_ref = bool(code[0] & _FLAG_REF)

    if not has_ref and (ops := _bytecode_at(code, 4)) is not None:
        return "2.7"  # Keras never supported older Python 2 releases
    if (ops := _bytecode_at(code, 6)) is not None and len(ops) % 2 == 0:
        return "3.8-3.10"
    ops = _bytecode_at(code, 5)
    if ops is None:
        return None
    if len(ops) % 2 == 0:
        if _first_op_after(ops, _PREFIX_311) == _RESUME_311:
            return "3.11-3.12"
        if _first_op_after(ops, _PREFIX_313) == _RESUME_313:
            return "3.13"
    if _is_pre_wordcode(ops):
        return "3.4-3.5" if has_ref else "3.0-3.5"
    if len(ops) % 2 == 0 and ops[-2] == _RETURN_VALUE:
        return "3.6-3.7"
    return None


def hint_bounds(hint: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """("3.4-3.5") -> ((3, 4), (3, 5)); a single minor gives equal bounds."""
    low, _, high = hint.partition("-")
    lo = tuple(int(part) for part in low.split("."))
    hi = tuple(int(part) for part in (high or low).split("."))
    return (lo[0], lo[1]), (hi[0], hi[1])
