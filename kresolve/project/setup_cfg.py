"""setup.cfg's [options] (python_requires, install_requires, extras_require), read with
configparser without interpolation. setup.py is never run, so it is not read at all."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from kresolve.project.evidence import Collector, ProjectEvidence, ProjectKind
from kresolve.project.reading import MAX_PROJECT_FILE_BYTES, read_text
from kresolve.project.specs import Entries, add_pep508, pep508_list, python_spec, secondary


def parse_setup_cfg(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, ProjectKind.SETUP_CFG)
    text, why = read_text(path, top, MAX_PROJECT_FILE_BYTES)
    if text is None:
        col.note(f"{path.name}: {why}")
        return col.evidence()
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        col.note(f"{path.name}: not parsed ({str(exc).splitlines()[0][:100]})")
        return col.evidence()
    if not parser.has_section("options"):
        col.note(f"{path.name}: no [options] section")
        return col.evidence()
    python = parser.get("options", "python_requires", fallback=None)
    if python:
        col.set_python(python_spec(python), "python_requires")
    requires = parser.get("options", "install_requires", fallback=None)
    if requires:
        _cfg_requirements(col, requires, f"{path.name}: install_requires")
    if parser.has_section("options.extras_require"):
        groups: list[tuple[str, Entries]] = []
        for group, value in parser.items("options.extras_require"):
            groups.append((f"extras_require.{group}", pep508_list(_cfg_items(value))))
        secondary(col, path.name, groups)
    return col.evidence()


def _cfg_items(value: str) -> list[str]:
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in value.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if len(lines) == 1 and ";" in lines[0]:
        try:
            Requirement(lines[0])  # "pkg; marker" is one requirement
        except InvalidRequirement:
            return [part.strip() for part in lines[0].split(";") if part.strip()]
    return lines


def _cfg_requirements(col: Collector, value: str, where: str) -> None:
    if value.strip().startswith(("file:", "attr:")):
        col.note(f"{where} uses {value.strip()[:60]!r}; not read")
        return
    for item in _cfg_items(value):
        add_pep508(col, item, where)
