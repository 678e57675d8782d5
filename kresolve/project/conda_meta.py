"""An installed conda environment beside the project: conda-meta/*.json record names plus the
pip-installed distributions in its site-packages.

Names and versions come from file and directory names only, so large records are never read:
conda guarantees `name-version-build.json` with no '-' in version and build, and a
`name-version.dist-info` directory name is the wheel spec's escaped form (a small regex, as
packaging has no parser for directory names and reading each METADATA would cost a file read).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from packaging.utils import canonicalize_name

from kresolve.project.environment_yml import CONDA_TO_PYPI, conda_build_note
from kresolve.project.evidence import RELEVANT, Collector, ProjectEvidence, ProjectKind
from kresolve.project.reading import outside_project

MAX_CONDA_META_RECORDS = 20_000

_DIST_INFO = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)\.(dist-info|egg-info)$")


def parse_conda_meta(meta: Path, top: Path) -> ProjectEvidence:
    """Package records named `name-version-build.json`, plus pip-installed distributions from
    the env's site-packages *.dist-info names."""
    col = Collector(meta, ProjectKind.CONDA_META)
    why = outside_project(meta, top)
    if why:
        col.note(f"{meta}: {why}")
        return col.evidence()
    prefix = meta.parent
    try:
        names = sorted(entry.name for entry in os.scandir(meta)
                       if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False))
    except OSError as exc:
        col.note(f"{meta}: cannot list ({exc.strerror or exc})")
        return col.evidence()
    if len(names) > MAX_CONDA_META_RECORDS:
        col.note(f"{meta}: {len(names)} records; only the first {MAX_CONDA_META_RECORDS} are read")
        names = names[:MAX_CONDA_META_RECORDS]
    col.note(f"an installed conda environment at {prefix}: exact versions")
    bad = 0
    for name in names:
        parts = name[: -len(".json")].rsplit("-", 2)
        if len(parts) != 3 or not all(parts):
            bad += 1
            continue
        package, version, build = parts
        if package == "python":
            col.set_python(version, name)
        else:
            conda_build_note(col, package, build)
            col.add(CONDA_TO_PYPI.get(package, package), version, True, where=name)
    if bad:
        col.note(f"{meta}: {bad} record name(s) not of the form name-version-build.json; skipped")
    _site_packages(col, prefix)
    return col.evidence()


def _site_packages(col: Collector, prefix: Path) -> None:
    candidates = [prefix / "Lib" / "site-packages"]
    try:
        lib = prefix / "lib"
        if lib.is_dir() and not lib.is_symlink():
            candidates += sorted(p / "site-packages" for p in lib.iterdir() if p.name.startswith("python3"))
    except OSError:
        return
    pip_only = []
    for site in candidates:
        try:
            if not site.is_dir() or site.is_symlink():
                continue
            entries = sorted(entry.name for entry in os.scandir(site))
        except OSError:
            continue
        for entry in entries[:MAX_CONDA_META_RECORDS]:
            match = _DIST_INFO.match(entry)
            if not match:
                continue
            name = canonicalize_name(match.group("name"))
            version = match.group("version")
            if col.has(name) or (name == "tensorflow" and col.has("tensorflow-base")):
                continue
            col.add(name, version, True, where=entry)
            pip_only.append(name)
    relevant = [name for name in pip_only if name in RELEVANT]
    if relevant:
        col.note(f"pip-installed into the conda env (site-packages): {', '.join(relevant)}")
