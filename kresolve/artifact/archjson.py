"""Weights-only HDF5 files paired with the architecture JSON saved beside them.

Many repositories commit `model.h5` from `model.save_weights()` plus `model.json` from
`model.to_json()`; `model_from_json` + `load_weights` loads them. The pairing rule, for a
weights-only HDF5 file W (Keras `save_weights` layout or a Keras 3 `.weights.h5`):

0. Never inside an unpacked .keras directory (config.json + metadata.json beside W): that
   directory is the model, and its config.json is not a `to_json()` file.
1. W's own stem: `model.h5` -> `model.json`, `model.weights.h5` -> `model.weights.json` or
   `model.json`. If that file exists it must be readable JSON (else BadInput naming it); if it is
   JSON but not a Keras model config (a TensorFlow.js model.json, some other document) it is
   skipped with a note.
2. Otherwise the only other `*.json` in W's folder that is a Keras model config (a JSON object
   with a `class_name` and a Sequential/Functional `config`). kresolve sidecars, JSON that does
   not parse and JSON of another kind are skipped; two or more Keras configs are ambiguous and
   nothing is paired (a note names them). At most MAX_ARCHITECTURE_CANDIDATES files of at most
   MAX_ARCHITECTURE_SCAN_BYTES each are read.

The reverse, `inspect model.json`: the weights file is the HDF5 file with the JSON's stem
(`.h5`, `.hdf5`, `.hdf`, `.weights.h5`), else the only HDF5 file in the folder; the pair is then
read from that weights file, which must itself pair with this JSON by the rule above.

Symbolic links are never taken as the architecture. Only JSON is parsed and HDF5 signatures
are peeked at; nothing is loaded or executed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kresolve.artifact.jsontext import bad, parse_json, read_bounded
from kresolve.artifact.kerasconfig import layers_of
from kresolve.artifact.kerasnames import MODEL_CLASSES
from kresolve.artifact.limits import (
    LIST_PREVIEW,
    MAX_ARCHITECTURE_CANDIDATES,
    MAX_ARCHITECTURE_SCAN_BYTES,
    MAX_DIR_ENTRIES,
    MAX_JSON_BYTES,
)
from kresolve.artifact.sidecar import SIDECAR_NAME, SIDECAR_SUFFIX
from kresolve.artifact.sniff import HDF5_MAGIC
from kresolve.errors import BadInput

_UNPACKED_KERAS = ("config.json", "metadata.json")
_WEIGHTS_SUFFIXES = (".weights.h5", ".h5", ".hdf5", ".hdf")
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)


@dataclass(frozen=True)
class Architecture:
    """The architecture JSON paired with a weights file, parsed."""

    path: Path
    model: dict[str, Any]  # the `to_json()` object: class_name, config, keras_version, backend, ...


@dataclass(frozen=True)
class Pairing:
    architecture: Architecture | None
    notes: tuple[str, ...] = ()


def is_model_config(value: Any) -> bool:
    """A `to_json()` object: class_name plus a Sequential/Functional config with layers."""
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        return False
    if "kresolve_sidecar" in value or "config" not in value:
        return False
    return bool(layers_of(value)) or value["class_name"] in MODEL_CLASSES


def _stem(path: Path) -> str:
    name = path.name
    for suffix in _WEIGHTS_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _same_stem_json(weights: Path) -> list[Path]:
    names = [weights.with_suffix(".json").name, _stem(weights) + ".json"]
    return [weights.parent / n for n in dict.fromkeys(names)]


def _is_sidecar(path: Path) -> bool:
    return path.name == SIDECAR_NAME or path.name.endswith(SIDECAR_SUFFIX)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file() and not path.is_symlink()
    except OSError:
        return False


def _read(path: Path, limit: int = MAX_JSON_BYTES) -> Any:
    return parse_json(read_bounded(path, limit, allow_empty=False), path, "architecture JSON", limit)


def _folder_files(folder: Path) -> list[Path]:
    """Regular files (no links) in `folder`, sorted; at most MAX_DIR_ENTRIES entries looked at."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_DIR_ENTRIES:
                    break
                if entry.is_file(follow_symlinks=False):
                    found.append(Path(entry.path))
    except OSError:
        return []
    return sorted(found)


def find_architecture(weights: Path) -> Pairing:
    """The architecture JSON that goes with the weights-only file `weights` (rule above)."""
    folder = weights.parent
    if all(_is_file(folder / name) for name in _UNPACKED_KERAS):
        note = (f"{folder.name}/ holds config.json + metadata.json: an unpacked .keras model "
                "whose weights these are; pass the directory")
        return Pairing(None, (note,))
    notes: list[str] = []
    for candidate in _same_stem_json(weights):
        if not _is_file(candidate) or _is_sidecar(candidate):
            continue
        value = _read(candidate)  # a damaged same-stem JSON is an error, not silently skipped
        if is_model_config(value):
            return Pairing(Architecture(candidate, value))
        notes.append(f"{candidate.name} beside it is JSON but not a Keras model config "
                     "(model.to_json()): not used as the architecture")
    configs: list[Architecture] = []
    looked = 0
    for path in _folder_files(folder):
        if path.suffix.lower() != ".json" or _is_sidecar(path) or path in _same_stem_json(weights):
            continue
        looked += 1
        if looked > MAX_ARCHITECTURE_CANDIDATES:
            notes.append(f"over {MAX_ARCHITECTURE_CANDIDATES} JSON files beside it: looked for an "
                         "architecture JSON only among the first ones")
            break
        try:
            value = _read(path, MAX_ARCHITECTURE_SCAN_BYTES)
        except BadInput:
            continue  # not ours to judge: only the same-stem file must be the architecture
        if is_model_config(value):
            configs.append(Architecture(path, value))
    if len(configs) == 1:
        return Pairing(configs[0], tuple(notes))
    if configs:
        shown = ", ".join(c.path.name for c in configs[:LIST_PREVIEW])
        notes.append(f"several Keras architecture JSON files lie beside it ({shown}): none is "
                     f"paired; name the architecture {_stem(weights)}.json to pair it")
    return Pairing(None, tuple(notes))


def _is_hdf5(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096 + len(HDF5_MAGIC))
    except OSError:
        return False
    return any(head[o : o + len(HDF5_MAGIC)] == HDF5_MAGIC for o in _HDF5_OFFSETS)


def looks_like_json(path: Path) -> bool:
    """A regular file whose first non-blank byte opens a JSON object."""
    try:
        if not path.is_file():
            return False
        with path.open("rb") as handle:
            return handle.read(4096).lstrip().startswith(b"{")
    except OSError:
        return False


def weights_for(json_path: Path) -> Path | None:
    """For `inspect model.json`: the HDF5 file the JSON is the architecture of, or None when the
    file is not a Keras model config (the caller then refuses it as it refuses any JSON)."""
    folder, stem = json_path.parent, json_path.stem
    if all(_is_file(folder / name) for name in _UNPACKED_KERAS):
        return None  # a member of an unpacked .keras: sniff says to pass the directory
    try:
        if not is_model_config(_read(json_path)):
            return None
    except BadInput:
        return None  # unreadable JSON: the caller says what the file is instead
    for suffix in _WEIGHTS_SUFFIXES:
        candidate = folder / (stem + suffix)
        if _is_file(candidate) and _is_hdf5(candidate):
            return candidate
    hdf5 = [p for p in _folder_files(folder) if _is_hdf5(p)]
    if len(hdf5) == 1:
        return hdf5[0]
    if hdf5:
        shown = ", ".join(p.name for p in hdf5[:LIST_PREVIEW])
        raise bad(json_path, f"a Keras architecture JSON (model.to_json()) beside several HDF5 "
                             f"files ({shown}): inspect the weights file it belongs to")
    raise bad(json_path, "a Keras architecture JSON (model.to_json()) holds no weights and no "
                         "weights file lies beside it: inspect the weights or full-model file "
                         "saved with it")
