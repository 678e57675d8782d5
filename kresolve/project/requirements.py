"""requirements*.txt: pip's requirements syntax, read line by line and never handed to pip.

`-r` / `-c` includes are followed only inside the project (a cycle, a remote URL or a path
outside the searched directories becomes a note); global options carry no versions and are
skipped, index URLs are noted with their credentials removed. The same line reader serves the
pip sections of environment.yml and MLflow's python_env.yaml.

Hand code on purpose for the file syntax only: pip's own reader (`pip._internal.req.req_file`)
is not a public API and fetches `-r https://...` includes; each requirement line is still
parsed by packaging's `Requirement`, and file names by packaging's wheel/sdist name parsers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from kresolve.project.evidence import Collector, ProjectEvidence, ProjectKind
from kresolve.project.reading import MAX_PROJECT_FILE_BYTES, path_key, read_text, redact
from kresolve.project.specs import add_pep508, dist_from_filename, version_from_url

MAX_INCLUDE_DEPTH = 8

_LONG_OPTION = re.compile(r"(?:^|\s)--?[A-Za-z][\w-]*")
_ENV_VAR = re.compile(r"\$\{[A-Za-z0-9_]+\}")


def parse_requirements(path: Path, top: Path, included: set[Path] | None = None) -> ProjectEvidence:
    """One requirements file; the files it includes are added to `included` (if given)."""
    col = Collector(path, ProjectKind.REQUIREMENTS)
    text, why = read_text(path, top, MAX_PROJECT_FILE_BYTES)
    if text is None:
        col.note(f"{path.name}: {why}")
        return col.evidence()
    requirement_lines(col, text.splitlines(), path, top, [path_key(path)], included)
    return col.evidence()


def requirement_lines(col: Collector, raw_lines: Iterable[str], source: Path, top: Path,
                      stack: list[Path], included: set[Path] | None) -> None:
    """pip's requirements syntax; `source` is the file the lines belong to (for includes)."""
    hashed = False
    for number, line in _logical_lines(raw_lines):
        where = f"{source.name}:{number}"
        if _ENV_VAR.search(line):
            col.note(f"{where}: uses an environment variable ({line[:60]}); read as written")
        option = re.match(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^\s=-]))(.+)$", line)
        if option:
            _include(col, option.group(1), option.group(2).strip(), source, top, stack, included, where)
            continue
        if line.startswith(("-e", "--editable")):
            target = re.sub(r"^(-e|--editable)\s*=?\s*", "", line)
            egg = re.search(r"#egg=([A-Za-z0-9_.\-]+)", target)
            if egg:
                col.add(egg.group(1), "", False, where=where)
            col.note(f"{where}: editable install {redact(target.split('#')[0])[:80]} is not read")
            continue
        if line.startswith("-"):
            url_option = re.match(r"^(-i|--index-url|--extra-index-url|-f|--find-links)(?:\s*=\s*|\s+)(\S+)", line)
            if url_option:
                col.note(f"{where}: {url_option.group(1)} {redact(url_option.group(2))}")
            continue  # other global options (--pre, --trusted-host, --no-binary ...) carry no versions
        requirement = line
        per_line = _LONG_OPTION.search(line)
        if per_line:
            requirement = line[: per_line.start()].strip()
            hashed = hashed or "--hash" in line[per_line.start():]
        if not requirement:
            continue
        if re.match(r"^[a-z][a-z0-9+.-]*://", requirement, re.IGNORECASE) or requirement.startswith(("git+", "hg+", "svn+", "bzr+")):
            egg = re.search(r"#egg=([A-Za-z0-9_.\-]+)", requirement)
            found = dist_from_filename(urlsplit(requirement).path.rsplit("/", 1)[-1])
            name = (egg.group(1) if egg else None) or (found[0] if found else None)
            if name:
                col.add(name, found[1] if found else "", bool(found), where=where)
            if not found:
                col.note(f"{where}: {redact(requirement)[:100]} is a URL/VCS requirement; its version is not known")
            continue
        if requirement.startswith((".", "/", "~")) or requirement.endswith((".whl", ".tar.gz", ".zip")) and "/" in requirement:
            found = dist_from_filename(requirement.rsplit("/", 1)[-1])
            version = version_from_url(requirement)  # None when a '#' or '?' cuts the file name off
            if found and version:
                col.add(found[0], version, True, where=where)
            else:
                col.note(f"{where}: local path requirement {requirement[:80]} is not read")
            continue
        add_pep508(col, requirement, where)
    if hashed:
        col.note(f"{source.name}: hash-pinned (a pip-compile / pip freeze style lock)")


def _logical_lines(raw_lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(first line number, text) with comments stripped and `\\` continuations joined."""
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(raw_lines, 1):
        if not buffer:
            start = number
        line = re.sub(r"(^|\s+)#.*$", "", raw)
        if line.endswith("\\"):
            buffer.append(line[:-1])
            continue
        buffer.append(line)
        text = " ".join(part.strip() for part in buffer).strip()
        buffer = []
        if text:
            yield start, text
    if buffer:
        text = " ".join(part.strip() for part in buffer).strip()
        if text:
            yield start, text


def _include(col: Collector, flag: str, target: str, source: Path, top: Path, stack: list[Path],
             included: set[Path] | None, where: str) -> None:
    constraint = flag in ("-c", "--constraint")
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) and not re.match(r"^[a-z]:[\\/]", target, re.IGNORECASE):
        col.note(f"{where}: {flag} {redact(target)} is remote; not fetched")
        return
    path = path_key(source.parent / os.path.expanduser(target))
    root = path_key(top)
    if path != root and root not in path.parents:
        col.note(f"{where}: {flag} {target} points outside the project ({root}); not read")
        return
    if path in stack:
        col.note(f"{where}: {flag} {target} includes itself (a cycle); ignored")
        return
    if len(stack) >= MAX_INCLUDE_DEPTH:
        col.note(f"{where}: {flag} {target}: includes nested deeper than {MAX_INCLUDE_DEPTH}; not read")
        return
    text, why = read_text(path, top, MAX_PROJECT_FILE_BYTES)
    if text is None:
        col.note(f"{where}: {flag} {target}: {why if path.exists() else 'no such file'}")
        return
    if included is not None:
        included.add(path)
    if constraint:
        col.note(f"{where}: constraints from {target} are included as evidence")
    requirement_lines(col, text.splitlines(), path, top, [*stack, path], included)
