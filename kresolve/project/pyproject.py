"""pyproject.toml: PEP 621 `[project]`, PEP 735 `[dependency-groups]` and Poetry's
`[tool.poetry]`, read with tomllib; Poetry's constraint syntax (^, ~, x.*) becomes PEP 440.

Optional, dev and group dependencies are secondary evidence: they only add packages the main
list does not name, each with a note saying where it came from. Poetry's constraint operators
(^, ~, wildcards) are converted here rather than by poetry-core, which kresolve does not depend
on for anything else; the result is checked by packaging's `SpecifierSet`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from kresolve.project.evidence import Collector, ProjectEvidence, ProjectKind, python_from
from kresolve.project.reading import toml_document
from kresolve.project.specs import (
    OPERATOR,
    Entries,
    add_pep508,
    pep508_list,
    python_spec,
    secondary,
    spec_value,
    table_entry,
)


def parse_pyproject(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, ProjectKind.PYPROJECT)
    document = toml_document(col, path, top)
    if document is None:
        return col.evidence()
    project = document.get("project")
    groups: list[tuple[str, Entries]] = []
    if isinstance(project, dict):
        requires_python = project.get("requires-python")
        if isinstance(requires_python, str):
            col.set_python(python_spec(requires_python), "requires-python")
        deps = project.get("dependencies")
        if isinstance(deps, list):
            for item in deps:
                if isinstance(item, str):
                    add_pep508(col, item, f"{path.name}: [project].dependencies")
        elif "dependencies" in project.get("dynamic", []):
            col.note(f"{path.name}: [project].dependencies is dynamic (computed by the build backend); not read")
        elif deps is not None:
            col.note(f"{path.name}: [project].dependencies is not a list")
        optional = project.get("optional-dependencies")
        if isinstance(optional, dict):
            for group, items in optional.items():
                if isinstance(items, list):
                    groups.append((f"[project.optional-dependencies].{group}", pep508_list(items)))
    dependency_groups = document.get("dependency-groups")
    if isinstance(dependency_groups, dict):
        for group, items in dependency_groups.items():
            if isinstance(items, list):
                groups.append((f"[dependency-groups].{group}",
                               pep508_list([i for i in items if isinstance(i, str)])))
    poetry = document.get("tool", {}).get("poetry") if isinstance(document.get("tool"), dict) else None
    if isinstance(poetry, dict):
        deps = poetry.get("dependencies")
        if isinstance(deps, dict):
            for name, value in deps.items():
                _poetry_entry(col, name, value, f"{path.name}: [tool.poetry.dependencies]")
        tables = []
        if isinstance(poetry.get("dev-dependencies"), dict):
            tables.append(("[tool.poetry.dev-dependencies]", poetry["dev-dependencies"]))
        for group, body in (poetry.get("group") or {}).items() if isinstance(poetry.get("group"), dict) else ():
            if isinstance(body, dict) and isinstance(body.get("dependencies"), dict):
                tables.append((f"[tool.poetry.group.{group}.dependencies]", body["dependencies"]))
        for label, table in tables:
            groups.append((label, _poetry_list(table)))
    secondary(col, path.name, groups)
    return col.evidence()


def _poetry_list(table: dict[str, Any]) -> Entries:
    def entries() -> list[tuple[str, Callable[[Collector, str], None]]]:
        return [(canonicalize_name(name), _adder(name, value)) for name, value in table.items()]
    return entries


def _adder(name: str, value: Any) -> Callable[[Collector, str], None]:
    def add(col: Collector, where: str) -> None:
        _poetry_entry(col, name, value, where)
    return add


def _poetry_entry(col: Collector, name: str, value: Any, where: str) -> None:
    if canonicalize_name(name) == "python":
        if isinstance(value, str):
            converted = poetry_constraint(value)
            col.set_python(python_from(converted[0], converted[1]) if converted else value, where)
            if converted is None:
                col.note(f"{where}: python constraint {value!r} kept as written")
        return
    if isinstance(value, list):
        col.note(f"{where}: {name} has several constraints (by python/platform); all are kept")
        for item in value:
            _poetry_entry(col, name, item, where)
        return
    table_entry(col, name, value, where, ("git", "path", "url"), poetry_constraint, "constraint")


def poetry_constraint(text: str) -> tuple[str, bool] | None:
    """Poetry's constraint syntax (^, ~, *, x.*, bare versions, comma/space ANDs) as PEP 440."""
    text = text.strip()
    if "||" in text or " or " in text:
        return None
    parts = [p for p in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text) if p]
    converted: list[str] = []
    for part in parts:
        part = part.strip()
        if part in ("*", ""):
            continue
        item: str | None
        operator = OPERATOR.match(part)
        if part.startswith("^"):
            item = _caret(part[1:].strip())
        elif part.startswith("~") and not part.startswith("~="):
            item = _tilde(part[1:].strip())
        elif operator:
            item = operator.group(1) + part[len(operator.group(1)):].strip()
        elif part.endswith("*"):
            item = "==" + part.rstrip("*").rstrip(".") + ".*"
        else:
            item = "==" + part
        if item is None:
            return None
        converted.append(item)
    return spec_value(",".join(converted))


def _release(version: str) -> list[int] | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)*)", version)
    return [int(x) for x in match.group(1).split(".")] if match else None


def _caret(version: str) -> str | None:
    parts = _release(version)
    if parts is None:
        return None
    index = next((i for i, x in enumerate(parts) if x != 0), len(parts) - 1)
    upper = parts[:index] + [parts[index] + 1] + [0] * (len(parts) - index - 1)
    return f">={version},<{'.'.join(map(str, upper))}"


def _tilde(version: str) -> str | None:
    parts = _release(version)
    if parts is None:
        return None
    index = min(1, len(parts) - 1)
    upper = parts[:index] + [parts[index] + 1] + [0] * (len(parts) - index - 1)
    return f">={version},<{'.'.join(map(str, upper))}"
