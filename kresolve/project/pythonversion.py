"""Python-only hints: pyenv's .python-version and runtime.txt ("python-3.7.3", Heroku style)."""

from __future__ import annotations

import re
from pathlib import Path

from kresolve.project.evidence import Collector, ProjectEvidence, ProjectKind
from kresolve.project.reading import MAX_VERSION_FILE_BYTES, read_text

_PY_VERSION = re.compile(r"^(?:python-?|cpython-?)?(\d+\.\d+(?:\.\d+)?)(?:[-.]?[a-z]+\d*)?$", re.IGNORECASE)


def python_version_text(text: str) -> str | None:
    """"3.7.3" from "3.7.3", "python-3.7.3", "cpython-3.7.3rc1"; None for a pyenv env name."""
    match = _PY_VERSION.match(text.strip())
    return match.group(1) if match else None


def parse_python_version_file(path: Path, top: Path, kind: ProjectKind) -> ProjectEvidence:
    col = Collector(path, kind)
    text, why = read_text(path, top, MAX_VERSION_FILE_BYTES)
    if text is None:
        col.note(f"{path.name}: {why}")
        return col.evidence()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not lines:
        col.note(f"{path.name}: empty")
        return col.evidence()
    version = python_version_text(lines[0])
    if version is None:
        col.note(f"{path.name}: {lines[0][:40]!r} is not a Python version (a pyenv env name?)")
    else:
        col.set_python(version, path.name)
    if kind is ProjectKind.PYTHON_VERSION and len(lines) > 1:
        col.note(f"{path.name}: lists several Pythons; the first is taken")
    return col.evidence()
