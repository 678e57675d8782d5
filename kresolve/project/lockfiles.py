"""Lock files: Pipfile.lock (JSON), poetry.lock and uv.lock (TOML): exact versions.

Entries of the project itself (uv's editable / virtual sources) are skipped; a version that is
not PEP 440 is kept as an unpinned name rather than guessed.
"""

from __future__ import annotations

import json
from pathlib import Path

from kresolve.project.evidence import Collector, ProjectEvidence, ProjectKind, python_from
from kresolve.project.pipfile import pipfile_entry, pipfile_group
from kresolve.project.pyproject import poetry_constraint
from kresolve.project.reading import MAX_LOCK_FILE_BYTES, read_text, toml_document
from kresolve.project.specs import python_spec, secondary, spec_value


def parse_pipfile_lock(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, ProjectKind.PIPFILE_LOCK)
    text, why = read_text(path, top, MAX_LOCK_FILE_BYTES)
    if text is None:
        col.note(f"{path.name}: {why}")
        return col.evidence()
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        col.note(f"{path.name}: not valid JSON ({str(exc)[:80]})")
        return col.evidence()
    if not isinstance(document, dict):
        col.note(f"{path.name}: not a JSON object")
        return col.evidence()
    meta = document.get("_meta")
    requires = meta.get("requires") if isinstance(meta, dict) else None
    if isinstance(requires, dict):
        python = requires.get("python_full_version") or requires.get("python_version")
        if isinstance(python, str):
            col.set_python(python, "_meta.requires")
    default = document.get("default")
    if isinstance(default, dict):
        for name, value in default.items():
            pipfile_entry(col, name, value, f"{path.name}: default")
    else:
        col.note(f"{path.name}: no 'default' section")
    develop = document.get("develop")
    if isinstance(develop, dict):
        secondary(col, path.name, [("develop", pipfile_group(develop))])
    return col.evidence()


def parse_toml_lock(path: Path, top: Path, kind: ProjectKind) -> ProjectEvidence:
    """poetry.lock (`kind` ProjectKind.POETRY_LOCK) or uv.lock (ProjectKind.UV_LOCK)."""
    col = Collector(path, kind)
    document = toml_document(col, path, top, MAX_LOCK_FILE_BYTES)
    if document is None:
        return col.evidence()
    if kind is ProjectKind.POETRY_LOCK:
        metadata = document.get("metadata")
        python = metadata.get("python-versions") if isinstance(metadata, dict) else None
        if isinstance(python, str):
            converted = poetry_constraint(python)
            col.set_python(python_from(*converted) if converted else python, "[metadata]")
    else:
        python = document.get("requires-python")
        if isinstance(python, str):
            col.set_python(python_spec(python), "requires-python")
    packages = document.get("package")
    if not isinstance(packages, list):
        col.note(f"{path.name}: no [[package]] entries")
        return col.evidence()
    for entry in packages:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        version = entry.get("version")
        source = entry.get("source")
        if isinstance(source, dict) and ({"editable", "virtual"} & set(source)):
            continue  # the project itself
        if isinstance(version, str) and spec_value(f"=={version}"):
            col.add(entry["name"], version, True, where=path.name)
        else:
            col.add(entry["name"], "", False, where=path.name)
    return col.evidence()
