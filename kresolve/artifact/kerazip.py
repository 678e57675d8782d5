""".keras archives (Keras >= 2.13 and Keras 3) and their members unpacked into a directory.

A .keras file is a zip of `metadata.json` (keras_version, date_saved), `config.json` (the model
config, compile config included) and `model.weights.h5`. Only the two JSON members are read; the
archive's size fields are checked before anything is decompressed.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from kresolve.artifact.facts import FORMAT_KERAS_ZIP, ModelFacts
from kresolve.artifact.h5worker import h5_metadata
from kresolve.artifact.jsontext import bad, parse_json, read_bounded
from kresolve.artifact.kerasconfig import keras_line, read_model_config, summarize_notes
from kresolve.artifact.limits import (
    LIST_PREVIEW,
    MAX_COMPRESSION_RATIO,
    MAX_JSON_BYTES,
    MAX_METADATA_JSON_BYTES,
    MAX_ZIP_CENTRAL_DIR_BYTES,
    MAX_ZIP_MEMBERS,
    MiB,
)
from kresolve.errors import BadInput

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"

_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError,
               zlib.error, EOFError, OSError, ValueError, struct.error)
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def read_keras_zip(path: Path) -> ModelFacts:
    _check_directory_record(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if CONFIG not in infos or METADATA not in infos:
                raise bad(path, _not_keras_reason(list(infos)))
            metadata = _read_member(path, archive, infos[METADATA], MAX_METADATA_JSON_BYTES)
            config = _read_member(path, archive, infos[CONFIG], MAX_JSON_BYTES)
    except _ZIP_ERRORS as exc:
        raise bad(path, f"damaged zip archive ({str(exc).splitlines()[0][:200] or type(exc).__name__})") from None
    notes = [] if WEIGHTS in infos else [f"the archive has no {WEIGHTS}: Keras will not load it"]
    return _facts(path, metadata, config, unpacked=False, notes=notes)


def read_keras_dir(path: Path) -> ModelFacts:
    """A directory holding config.json + metadata.json (+ model.weights.h5), i.e. an unzipped .keras."""
    metadata = read_bounded(path / METADATA, MAX_METADATA_JSON_BYTES)
    config = read_bounded(path / CONFIG, MAX_JSON_BYTES)
    notes = ["Keras loads .keras zips, not directories: zip config.json, metadata.json and "
             f"{WEIGHTS} at the archive root and name it *.keras"]
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
        format=FORMAT_KERAS_ZIP,
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
            size = handle.seek(0, 2)
            tail_len = min(size, 22 + 65535)  # EOCD record + the longest comment
            handle.seek(size - tail_len)
            tail = handle.read(tail_len)
            at = tail.rfind(_EOCD)
            if at < 0 or len(tail) - at < 22:
                raise bad(path, "zip signature but no end-of-archive record: truncated or damaged")
            entries, cd_size = struct.unpack_from("<xxxxxxxxxxHI", tail, at)
            locator = tail.rfind(_ZIP64_LOCATOR, 0, at)
            if locator >= 0 and at - locator == 20:
                (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
                if record_offset + 56 <= size:
                    handle.seek(record_offset)
                    record = handle.read(56)
                    if record[:4] == _ZIP64_EOCD and len(record) == 56:
                        entries, cd_size = struct.unpack_from("<QQ", record, 32)
    except OSError as exc:
        raise bad(path, f"cannot read ({exc.strerror or exc})") from None
    if entries > MAX_ZIP_MEMBERS:
        raise bad(path, f"zip archive lists {entries} members; a .keras file has a handful")
    if cd_size > MAX_ZIP_CENTRAL_DIR_BYTES:
        raise bad(path, f"zip central directory is {cd_size // MiB} MiB; not a .keras file")


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
        return [f"{WEIGHTS} group names contain Windows backslashes (e.g. {odd[0]!r}): written "
                "on Windows; Keras on Linux/macOS may not find these weights"]
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
