"""The `kresolve.json` sidecar that `kresolve capture` writes next to a model (schema v1).

Lookup order for a model at PATH (first hit wins):
1. `PATH.kresolve.json` (e.g. `model.h5.kresolve.json`, `export_dir.kresolve.json`);
2. `kresolve.json` in PATH's parent directory whose `"model"` names PATH's file/dir name;
3. `kresolve.json` inside PATH when PATH is a directory (SavedModel, unpacked .keras).
A sidecar that is found but malformed is an error naming the sidecar, never silently skipped,
and so is a sidecar that is a symbolic link leading out of its folder (it is not read).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, cast

from packaging.utils import canonicalize_name

from kresolve.artifact.facts import Probe, ProbeTensor, Sidecar
from kresolve.artifact.jsontext import bad, parse_json
from kresolve.artifact.limits import MAX_PROBE_ELEMENTS, MAX_SIDECAR_BYTES, MiB

SIDECAR_NAME = "kresolve.json"
SIDECAR_SUFFIX = ".kresolve.json"
SCHEMA_VERSION = 1

_MAX_RANK = 32
_PYTHON_VERSION = re.compile(r"\d+\.\d+(\.\d+)?([a-z]+\d*)?\+?")
_DTYPES = frozenset({
    "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8",
    "uint16", "uint32", "uint64", "bool", "string", "complex64", "complex128",
})


def find_sidecar(model: Path) -> Path | None:
    """The sidecar belonging to `model`, by the lookup order above."""
    beside = model.parent / (model.name + SIDECAR_SUFFIX)
    if beside.is_file():
        return _stays_in_folder(beside)
    shared = model.parent / SIDECAR_NAME
    if shared.is_file() and shared != model:
        document = _load(_stays_in_folder(shared))
        if document.get("model") == model.name:
            return shared
    inside = model / SIDECAR_NAME
    if model.is_dir() and inside.is_file():
        return inside
    return None


def _stays_in_folder(path: Path) -> Path:
    """`path`, unless it is a symbolic link whose target lies outside the folder holding it."""
    if path.is_symlink():
        folder = os.path.realpath(path.parent)
        target = os.path.realpath(path)
        if os.path.commonpath([folder, target]) != folder:
            raise bad(path, f"sidecar is a symbolic link to {target}, outside its folder: "
                            "refusing to follow it")
    return path


def read_sidecar(path: Path) -> Sidecar:
    return _parse(path, _load(path))


def _load(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise bad(path, f"sidecar is {size // MiB} MiB, over the {MAX_SIDECAR_BYTES // MiB} MiB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise bad(path, f"cannot read sidecar ({exc.strerror or exc})") from None
    document = parse_json(data, path, "sidecar", MAX_SIDECAR_BYTES)
    if not isinstance(document, dict):
        raise bad(path, "sidecar is not a JSON object")
    version = document.get("kresolve_sidecar")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise bad(path, f"not a kresolve sidecar v{SCHEMA_VERSION} "
                        f"(kresolve_sidecar is {json.dumps(version)})")
    return document


def _parse(path: Path, doc: dict[str, Any]) -> Sidecar:
    def text(value: Any, where: str, required: bool = False) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise bad(path, f"sidecar field {where} must be a non-empty string")
        return value

    def mapping(value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise bad(path, f"sidecar field {where} must be an object")
        return value

    text(doc.get("model"), "'model'")
    python = mapping(doc.get("python"), "'python'")
    python_version = text(python.get("version"), "'python.version'")
    if python_version and not _PYTHON_VERSION.fullmatch(python_version):
        raise bad(path, f"sidecar python.version {python_version!r} is not a version like 3.11.7")
    text(python.get("implementation"), "'python.implementation'")
    platform = text(doc.get("platform"), "'platform'")

    packages = []
    for name, version in mapping(doc.get("packages"), "'packages'").items():
        text(version, f"'packages.{name}'", required=True)
        packages.append((canonicalize_name(name), version))
    custom = []
    for name, target in mapping(doc.get("custom_objects"), "'custom_objects'").items():
        custom.append((name, cast(str, text(target, f"'custom_objects.{name}'", required=True))))
    build = []
    for key, value in mapping(doc.get("tensorflow_build"), "'tensorflow_build'").items():
        build.append((key, value if isinstance(value, str) else json.dumps(value)))

    probe = None
    if doc.get("probe") is not None:
        raw = mapping(doc.get("probe"), "'probe'")
        probe = Probe(
            inputs=_tensors(path, raw.get("inputs"), "probe.inputs"),
            outputs=_tensors(path, raw.get("outputs"), "probe.outputs"),
        )
    return Sidecar(
        path=str(path),
        python_version=python_version,
        platform=platform,
        packages=tuple(sorted(packages)),
        custom_objects=tuple(sorted(custom)),
        probe=probe,
        tensorflow_build=tuple(sorted(build)),
    )


def _tensors(path: Path, value: Any, where: str) -> tuple[ProbeTensor, ...]:
    if not isinstance(value, list):
        raise bad(path, f"sidecar field {where} must be a list of tensors")
    tensors = []
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise bad(path, f"sidecar field {at} must be an object")
        name, dtype, shape = item.get("name"), item.get("dtype"), item.get("shape")
        if not isinstance(name, str):
            raise bad(path, f"sidecar field {at}.name must be a string")
        if dtype not in _DTYPES:
            raise bad(path, f"sidecar field {at}.dtype {json.dumps(dtype)} is not a known dtype")
        if not isinstance(shape, list) or not all(
            isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0 for dim in shape
        ):
            raise bad(path, f"sidecar field {at}.shape must be a list of non-negative ints")
        if len(shape) > _MAX_RANK or math.prod(shape) > MAX_PROBE_ELEMENTS:
            raise bad(path, f"sidecar field {at} is too large (over {_MAX_RANK} dimensions or "
                            f"{MAX_PROBE_ELEMENTS} elements)")
        data = _nested(path, item.get("data"), shape, dtype, f"{at}.data")
        tensors.append(ProbeTensor(name=name, dtype=dtype, shape=tuple(shape), data=data))
    return tuple(tensors)


def _nested(path: Path, data: Any, shape: list[int], dtype: str, at: str) -> Any:
    """Check `data` has exactly `shape` and holds values of `dtype`; return it as nested tuples."""
    if not shape:
        if not _scalar_ok(data, dtype):
            raise bad(path, f"sidecar field {at} holds {json.dumps(data)[:40]}, not a {dtype} value")
        return data
    if not isinstance(data, list) or len(data) != shape[0]:
        got = f"{len(data)} items" if isinstance(data, list) else type(data).__name__
        raise bad(path, f"sidecar field {at} does not match its shape {shape} ({got} where "
                        f"{shape[0]} expected)")
    return tuple(_nested(path, item, shape[1:], dtype, at) for item in data)


def _scalar_ok(value: Any, dtype: str) -> bool:
    if dtype == "bool":
        return isinstance(value, bool)
    if dtype == "string":
        return isinstance(value, str)
    if isinstance(value, bool):
        return False
    if dtype.startswith(("int", "uint")):
        return isinstance(value, int)
    if dtype.startswith("complex"):
        return isinstance(value, list) and len(value) == 2 and all(
            isinstance(part, int | float) and not isinstance(part, bool) for part in value)
    # Floats: JSON has no NaN/inf literals, so writers use null or strings for them.
    return isinstance(value, int | float) or value is None or value in ("nan", "inf", "-inf")
