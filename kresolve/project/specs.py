"""PEP 440 / PEP 508 helpers shared by the format parsers (with `packaging` doing the parsing).

Values are normalised the same way for every format: an exact pin becomes (version, True), a
range becomes its specifiers joined lower bounds first, so evidence from a requirements file
and from a Pipfile compares equal when it says the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from kresolve.project.evidence import RELEVANT, Collector, python_from
from kresolve.project.reading import redact

OPERATOR = re.compile(r"^(===|==|>=|<=|!=|~=|>|<)")
_OPERATOR_ORDER = {op: i for i, op in enumerate((">=", ">", "~=", "==", "===", "!=", "<=", "<"))}

# A secondary group (optional / dev dependencies): lazily, (name, how to add it) per entry.
Entries = Callable[[], list[tuple[str, Callable[[Collector, str], None]]]]


def exact_version(spec: SpecifierSet) -> str | None:
    items = list(spec)
    if len(items) == 1 and items[0].operator in ("==", "===") and "*" not in items[0].version:
        return items[0].version
    return None


def spec_text(specs: Iterable[Specifier]) -> str:
    """Specifiers joined lower bounds first (">=2.4,<2.5"), the same order every time."""
    ordered = sorted(specs, key=lambda s: (_OPERATOR_ORDER.get(s.operator, 9), s.version))
    return ",".join(str(s) for s in ordered)


def spec_value(text: str) -> tuple[str, bool] | None:
    """(value, exact) for a PEP 440 specifier text; None when it does not parse."""
    text = text.strip()
    if text in ("", "*"):
        return "", False
    try:
        spec = SpecifierSet(text)
    except InvalidSpecifier:
        return None
    version = exact_version(spec)
    return (version, True) if version is not None else (spec_text(spec), False)


def python_spec(text: str) -> str:
    """A requires-python text as evidence: the version when pinned, else the specifier."""
    converted = spec_value(text)
    if converted is None:
        return text.strip()
    return python_from(*converted)


def dist_from_filename(filename: str) -> tuple[str, str] | None:
    """(name, version) of a wheel or sdist file name, by packaging's own parsers; None for
    anything else. `.tar.bz2` (old sdists) is read like `.tar.gz`."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return name, str(version)
        if filename.endswith(".tar.bz2"):
            filename = filename[: -len(".tar.bz2")] + ".tar.gz"
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return name, str(version)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def version_from_url(url: str) -> str | None:
    """The version a wheel or sdist URL (or local path) names in its file name."""
    found = dist_from_filename(urlsplit(url).path.rsplit("/", 1)[-1])
    return found[1] if found else None


def add_pep508(col: Collector, text: str, where: str) -> None:
    """One PEP 508 requirement string."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        col.note(f"{where}: cannot parse requirement {text[:80]!r} ({str(exc).splitlines()[0][:80]})")
        return
    name = canonicalize_name(req.name)
    if req.url:
        version = version_from_url(req.url)
        if version:
            col.add(name, version, True, where=where, extras=req.extras)
        else:
            col.add(name, "", False, where=where, extras=req.extras)
            col.note(f"{where}: {name} comes from {redact(req.url)}; its version is not known")
    else:
        version = exact_version(req.specifier)
        if version is not None:
            col.add(name, version, True, where=where, extras=req.extras)
        else:
            col.add(name, spec_text(req.specifier), False, where=where, extras=req.extras)
    if req.marker is not None and name in RELEVANT:
        col.note(f"{where}: {name} only when {req.marker}")


def pep508_list(items: list[Any]) -> Entries:
    """A list of PEP 508 strings as a secondary group (invalid ones are skipped)."""
    def entries() -> list[tuple[str, Callable[[Collector, str], None]]]:
        out: list[tuple[str, Callable[[Collector, str], None]]] = []
        for item in items:
            if isinstance(item, str):
                try:
                    name = canonicalize_name(Requirement(item).name)
                except InvalidRequirement:
                    continue
                out.append((name, _adder(item)))
        return out
    return entries


def _adder(item: str) -> Callable[[Collector, str], None]:
    def add(col: Collector, where: str) -> None:
        add_pep508(col, item, where)
    return add


def table_entry(col: Collector, name: str, value: Any, where: str, sources: tuple[str, ...],
                convert: Callable[[str], tuple[str, bool] | None], word: str) -> None:
    """One dependency of a TOML table (Poetry, Pipfile): a version string, or a table with
    `version`, `extras`, `markers`, or a git/path source whose version is unknown."""
    extras: list[str] = []
    if isinstance(value, dict):
        extras = [e for e in value.get("extras", []) if isinstance(e, str)]
        if any(key in value for key in sources) and "version" not in value:
            col.add(name, "", False, where=where, extras=extras)
            kinds = "/".join(k for k in sources if k != "editable")
            col.note(f"{where}: {name} comes from a {kinds} source; its version is not known")
            return
        markers = value.get("markers")
        if isinstance(markers, str) and canonicalize_name(name) in RELEVANT:
            col.note(f"{where}: {canonicalize_name(name)} only when {markers}")
        value = value.get("version", "*")
    if not isinstance(value, str):
        col.note(f"{where}: {name}: unexpected value {str(value)[:40]}")
        return
    converted = convert(value)
    if converted is None:
        col.note(f"{where}: {name} {word} {value!r} kept as written")
        col.add(name, value, False, where=where, extras=extras)
        return
    col.add(name, *converted, where=where, extras=extras)


def secondary(col: Collector, filename: str, groups: list[tuple[str, Entries]]) -> None:
    """Optional / dev groups: only packages the main list does not name, each with a note."""
    for label, entries in groups:
        for name, add in entries():
            if name == "python" or col.has(name):
                continue
            add(col, f"{filename}: {label}")
            if name in RELEVANT:
                col.note(f"{name} comes from {label}, not the main dependencies")
