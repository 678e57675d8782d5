"""Pipfile (pipenv's declared ranges, TOML). Its lock, Pipfile.lock, is read by lockfiles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from kresolve.project.evidence import Collector, ProjectEvidence, ProjectKind
from kresolve.project.reading import toml_document
from kresolve.project.specs import Entries, secondary, spec_value, table_entry


def parse_pipfile(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, ProjectKind.PIPFILE)
    document = toml_document(col, path, top)
    if document is None:
        return col.evidence()
    requires = document.get("requires")
    if isinstance(requires, dict):
        python = requires.get("python_full_version") or requires.get("python_version")
        if isinstance(python, str):
            col.set_python(python, "[requires]")
    packages = document.get("packages")
    if isinstance(packages, dict):
        for name, value in packages.items():
            pipfile_entry(col, name, value, f"{path.name}: [packages]")
    elif packages is not None:
        col.note(f"{path.name}: [packages] is not a table")
    dev = document.get("dev-packages")
    if isinstance(dev, dict):
        secondary(col, path.name, [("[dev-packages]", pipfile_group(dev))])
    return col.evidence()


def pipfile_entry(col: Collector, name: str, value: Any, where: str) -> None:
    """One `name = "spec"` or `name = {version = ..., extras = [...]}` entry (Pipfile and its lock)."""
    table_entry(col, name, value, where, ("git", "path", "file", "editable"), spec_value, "specifier")


def pipfile_group(table: dict[str, Any]) -> Entries:
    """A Pipfile table (dev-packages, a lock's develop section) as a secondary group."""
    def entries() -> list[tuple[str, Callable[[Collector, str], None]]]:
        return [(canonicalize_name(name), _adder(name, value)) for name, value in table.items()]
    return entries


def _adder(name: str, value: Any) -> Callable[[Collector, str], None]:
    def add(col: Collector, where: str) -> None:
        pipfile_entry(col, name, value, where)
    return add
