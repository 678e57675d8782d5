""".keras archives (Keras >= 2.13 and Keras 3) and their members unpacked into a directory.

A .keras file is a zip of `metadata.json` (keras_version, date_saved), `config.json` (the model
config, compile config included) and `model.weights.h5`. Only the two JSON members are read; the
archive's size fields are checked before anything is decompressed.

Before that, every member (every copy of a duplicated name, and every array of a nested `.npz`)
is checked for pickled objects by its first bytes (see pickles.py); a file that carries any, or
duplicate member names, is refused with UnsafeModel. An unpacked directory's files get the same
check. Weights are never read beyond those first bytes.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.artifact.h5worker import h5_metadata
from kresolve.artifact.jsontext import bad, parse_json, read_bounded
from kresolve.artifact.kerasconfig import keras_line, read_model_config, summarize_notes
from kresolve.artifact.limits import (
    LIST_PREVIEW,
    MAX_COMPRESSION_RATIO,
    MAX_DIR_DEPTH,
    MAX_DIR_ENTRIES,
    MAX_JSON_BYTES,
    MAX_METADATA_JSON_BYTES,
    MAX_ZIP_CENTRAL_DIR_BYTES,
    MAX_ZIP_MEMBERS,
    MiB,
)
from kresolve.artifact.pickles import (
    HEAD_BYTES,
    ZIP_MAGICS,
    Finding,
    OverBudget,
    ScanBudget,
    UnsafeKind,
    classify,
)
from kresolve.errors import BadInput, UnsafeModel

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"

_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError,
               zlib.error, EOFError, OSError, ValueError, struct.error)
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
# A compressed zip member (an .npz saved with savez_compressed) is inflated into memory to be
# checked; stored ones (np.savez, Keras) are read in place, whatever their size.
MAX_NESTED_INFLATE = 64 * MiB


def read_keras_zip(path: Path) -> ModelFacts:
    _check_directory_record(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if CONFIG not in infos or METADATA not in infos:
                raise bad(path, _not_keras_reason(list(infos)))
            _refuse_unsafe_members(path, archive, ScanBudget())
            metadata = _read_member(path, archive, infos[METADATA], MAX_METADATA_JSON_BYTES)
            config = _read_member(path, archive, infos[CONFIG], MAX_JSON_BYTES)
    except _ZIP_ERRORS as exc:
        raise bad(path, f"damaged zip archive ({str(exc).splitlines()[0][:200] or type(exc).__name__})") from None
    notes = [] if WEIGHTS in infos else [f"the archive has no {WEIGHTS}: Keras will not load it"]
    return _facts(path, metadata, config, unpacked=False, notes=notes)


def read_keras_dir(path: Path) -> ModelFacts:
    """A directory holding config.json + metadata.json (+ model.weights.h5), i.e. an unzipped .keras."""
    _refuse_unsafe_files(path)
    metadata = read_bounded(path / METADATA, MAX_METADATA_JSON_BYTES)
    config = read_bounded(path / CONFIG, MAX_JSON_BYTES)
    notes = [("Keras loads .keras zips, not directories: zip config.json, metadata.json and "
             f"{WEIGHTS} at the archive root and name it *.keras")]
    weights = path / WEIGHTS
    if not weights.is_file():
        notes.append(f"no {WEIGHTS} in the directory: the weights are missing")
    else:
        notes.extend(_weights_layout_notes(weights))
    return _facts(path, metadata, config, unpacked=True, notes=notes)


def _facts(path: Path, metadata_raw: bytes, config_raw: bytes, *, unpacked: bool,
           notes: list[str]) -> ModelFacts:
    metadata = parse_json(metadata_raw, path, METADATA, MAX_METADATA_JSON_BYTES)
    if not isinstance(metadata, dict):
        raise bad(path, f"{METADATA} is not a JSON object")
    config = parse_json(config_raw, path, CONFIG)
    if not isinstance(config, dict):
        raise bad(path, f"{CONFIG} is not a JSON object")
    keras_version = _optional_text(metadata.get("keras_version"))
    compile_config = config.get("compile_config")
    reading = read_model_config(config, f"{path} ({CONFIG})", compile_config)

    line = keras_line(keras_version)
    where = ".keras members unpacked into a directory" if unpacked else ".keras zip"
    if line == "Keras 3":
        detail = f"{where} (Keras 3)"
    elif line in ("Keras 2", "tf.keras"):
        detail = f"{where} (Keras 2 / tf.keras 2.13-2.15 format)"
        notes.append("a Keras 2 .keras archive: load it with tf.keras 2.13-2.15 or tf_keras; "
                     "Keras 3 does not always read Keras 2 configs")
    elif line:
        detail = f"{where} ({line})"
    else:
        detail = f"{where} (writer version not recorded)"
    notes.extend(summarize_notes(reading))
    return ModelFacts(
        path=str(path),
        format=ModelFormat.KERAS_ZIP,
        format_detail=detail,
        keras_version=keras_version,
        backend=_optional_text(metadata.get("backend")),
        date_saved=_optional_text(metadata.get("date_saved")),
        model_class=reading.model_class,
        layer_classes=reading.layer_classes,
        custom_objects=reading.custom_objects,
        lambda_layers=reading.lambda_layers,
        inputs=reading.inputs,
        has_training_config=isinstance(compile_config, dict),
        notes=tuple(notes),
    )


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _check_directory_record(path: Path) -> None:
    """Refuse archives whose central directory is absurd, before zipfile reads it into memory."""
    try:
        with path.open("rb") as handle:
            _check_record(path, handle)
    except OSError as exc:
        raise bad(path, f"cannot read ({exc.strerror or exc})") from None


def _check_record(source: object, handle: IO[bytes]) -> None:
    """_check_directory_record on an open (seekable) file: a .keras file or a member of one."""
    size = handle.seek(0, 2)
    tail_len = min(size, 22 + 65535)  # EOCD record + the longest comment
    handle.seek(size - tail_len)
    tail = handle.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise bad(source, "zip signature but no end-of-archive record: truncated or damaged")
    entries, cd_size = struct.unpack_from("<xxxxxxxxxxHI", tail, at)
    locator = tail.rfind(_ZIP64_LOCATOR, 0, at)
    if locator >= 0 and at - locator == 20:
        (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
        if record_offset + 56 <= size:
            handle.seek(record_offset)
            record = handle.read(56)
            if record[:4] == _ZIP64_EOCD and len(record) == 56:
                entries, cd_size = struct.unpack_from("<QQ", record, 32)
    if entries > MAX_ZIP_MEMBERS:
        raise bad(source, f"zip archive lists {entries} members; a .keras file has a handful")
    if cd_size > MAX_ZIP_CENTRAL_DIR_BYTES:
        raise bad(source, f"zip central directory is {cd_size // MiB} MiB; not a .keras file")


def _unsafe(path: Path, finding: Finding) -> UnsafeModel:
    return UnsafeModel(str(bad(path, finding.message())), finding.kind.value, finding.member,
                       finding.imports)


def _refuse_unsafe_members(path: Path, archive: zipfile.ZipFile, budget: ScanBudget,
                           prefix: str = "") -> None:
    """UnsafeModel for the first member holding pickles, then for a duplicated member name.
    `prefix` names the outer member when `archive` is an .npz inside the .keras zip (whose own
    zips are not opened: numpy hands an .npz's non-.npy members over as bytes)."""
    infos = archive.infolist()
    # Keras's own .npz weights are all object arrays: name the one whose pickle calls more than
    # numpy's array rebuilding (the payload), else the first.
    plain: Finding | None = None
    try:
        for info in infos:
            if info.is_dir():
                continue
            member = prefix + info.filename
            with archive.open(info) as handle:
                head = handle.read(HEAD_BYTES)
            finding = classify(member, head, info.file_size, budget)
            if finding is not None and (finding.kind is not UnsafeKind.OBJECT_NPY or finding.telling):
                raise _unsafe(path, finding)
            plain = plain or finding
            if not prefix and head.startswith(ZIP_MAGICS):
                with _nested_zip(path, archive, info) as nested:
                    _refuse_unsafe_members(path, nested, budget, member + "/")
    except OverBudget as exc:
        raise bad(path, f"cannot be checked for pickled objects: {exc}") from None
    if plain is not None:
        raise _unsafe(path, plain)
    finding = _duplicate(infos, prefix)
    if finding is not None:
        raise _unsafe(path, finding)


def _duplicate(infos: list[zipfile.ZipInfo], prefix: str) -> Finding | None:
    """Two central-directory entries with one name (zipfile, as Keras uses it, reads the last;
    listings and other tools show the first), also equal up to case (they collide when
    extracted on macOS or Windows)."""
    seen: dict[str, str] = {}
    for info in infos:
        key = info.filename.casefold()
        if key in seen:
            first = seen[key]
            how = ("listed twice; zipfile, as Keras uses it, reads the last copy" if first == info.filename
                   else f"also listed as {first!r}, which collides on a case-insensitive disk")
            return Finding(UnsafeKind.DUPLICATE_MEMBER, prefix + info.filename, how)
        seen[key] = info.filename
    return None


class _nested_zip:
    """The zip inside a member (an .npz): stored members are read in place through a window on
    the outer file, compressed ones inflated into memory (bounded, zip-bomb checked)."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        self.source = f"{path} (member {info.filename})"
        if info.compress_type == zipfile.ZIP_STORED and archive.fp is not None:
            self.handle: IO[bytes] = io.BufferedReader(_Window(path, archive, info))
        else:
            self.handle = io.BytesIO(_read_member(path, archive, info, MAX_NESTED_INFLATE))

    def __enter__(self) -> zipfile.ZipFile:
        try:
            _check_record(self.source, self.handle)
            self.handle.seek(0)
            self.archive = zipfile.ZipFile(self.handle)
        except BaseException:
            self.handle.close()
            raise
        return self.archive

    def __exit__(self, *exc: object) -> None:
        self.archive.close()
        self.handle.close()


class _Window(io.RawIOBase):
    """A read-only, seekable view of a stored member's bytes in the outer archive file."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        super().__init__()
        self._file = path.open("rb")  # its own handle: zipfile keeps its position in archive.fp
        self._file.seek(info.header_offset)
        local = self._file.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            self._file.close()
            raise zipfile.BadZipFile(f"bad local header for {info.filename}")
        name_len, extra_len = struct.unpack_from("<HH", local, 26)
        self._start = info.header_offset + 30 + name_len + extra_len
        self._size = info.file_size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self._size - self._pos)
        if count <= 0:
            return 0
        self._file.seek(self._start + self._pos)
        data = self._file.read(count)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


def _refuse_unsafe_files(root: Path) -> None:
    """The member check for an unpacked .keras directory: every regular file under it (links
    are not followed; sniff already refused those leading out)."""
    budget = ScanBudget()
    for file in _files_under(root):
        member = file.relative_to(root).as_posix()
        try:
            size = file.stat().st_size
            with file.open("rb") as handle:
                head = handle.read(HEAD_BYTES)
        except OSError as exc:
            raise bad(file, f"cannot read ({exc.strerror or exc})") from None
        try:
            finding = classify(member, head, size, budget)
            if finding is None and head.startswith(ZIP_MAGICS):
                _check_directory_record(file)
                with zipfile.ZipFile(file) as nested:
                    _refuse_unsafe_members(root, nested, budget, member + "/")
        except OverBudget as exc:
            raise bad(root, f"cannot be checked for pickled objects: {exc}") from None
        except _ZIP_ERRORS as exc:
            raise bad(file, f"damaged zip archive ({str(exc).splitlines()[0][:200] or type(exc).__name__})") from None
        if finding is not None:
            raise _unsafe(root, finding)


def _files_under(root: Path) -> Iterator[Path]:
    stack, seen = [(root, 0)], 0
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as entries:
                found = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            raise bad(folder, f"cannot list directory ({exc.strerror or exc})") from None
        for entry in found:
            seen += 1
            if seen > MAX_DIR_ENTRIES:
                raise bad(root, f"holds over {MAX_DIR_ENTRIES} files and folders: not a model directory")
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode) and depth < MAX_DIR_DEPTH:
                stack.append((Path(entry.path), depth + 1))
            elif stat.S_ISREG(mode):
                yield Path(entry.path)


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    name = info.filename
    if info.file_size > limit:
        raise bad(path, f"member {name} is {info.file_size // MiB} MiB, over the {limit // MiB} MiB limit")
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > 1024 and (
        info.compress_size == 0 or info.file_size / info.compress_size > MAX_COMPRESSION_RATIO
    ):
        raise bad(path, f"member {name} expands {info.file_size} bytes from {info.compress_size}: "
                        "refusing a zip bomb")
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise bad(path, f"member {name} is larger than its header says")
    return data


def _weights_layout_notes(weights: Path) -> list[str]:
    """Group names only: Windows-written weights files use backslashes Keras elsewhere misses."""
    try:
        keys = h5_metadata(weights, "keys")["root_keys"]
    except BadInput as exc:
        return [f"{WEIGHTS} is not a readable HDF5 file ({str(exc).split(': ', 1)[-1]})"]
    odd = [key for key in keys if "\\" in key]
    if odd:
        return [(f"{WEIGHTS} group names contain Windows backslashes (e.g. {odd[0]!r}): written "
                "on Windows; Keras on Linux/macOS may not find these weights")]
    return []


def _not_keras_reason(names: list[str]) -> str:
    """Why a zip is not a .keras model, in the words a user needs."""
    if any(name.endswith("data.pkl") for name in names) and any(
        name == "version" or name.endswith("/version") for name in names
    ):
        return "a PyTorch checkpoint (torch.save zip with data.pkl), not a Keras model"
    if names and all(name.endswith(".npy") for name in names):
        return "a NumPy .npz archive, not a Keras model"
    for name in names:
        if name == "saved_model.pb" or name.endswith("/saved_model.pb"):
            return (f"a zip holding a TensorFlow SavedModel ({name}): unzip it and pass the "
                    "SavedModel directory")
    for name in names:
        if name.endswith("/" + CONFIG) and name[: -len(CONFIG)] + METADATA in names:
            return (f"a zip holding .keras members under {name[: -len(CONFIG)]!r}; a .keras "
                    "archive has them at its root")
    shown = ", ".join(names[:LIST_PREVIEW]) or "nothing"
    return f"a zip archive but not a .keras model (no {CONFIG} + {METADATA}; holds: {shown})"
