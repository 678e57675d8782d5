"""Parsers for the project files that sit near a model: what each says about the training env.

Nothing here executes anything: requirements files are read line by line (pip's syntax, `-r`
/ `-c` includes followed only inside the project), TOML with tomllib, YAML with the safe
subset reader in miniyaml, JSON with json, setup.cfg with configparser (no interpolation);
setup.py is never run. A file that cannot be read or parsed gives a ProjectEvidence with a note
saying why, never an exception: project files are only evidence.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name

from kresolve.artifact import miniyaml
from kresolve.artifact.facts import (
    PROJECT_CONDA_ENV,
    PROJECT_CONDA_META,
    PROJECT_MLFLOW_PYTHON_ENV,
    PROJECT_PIPFILE,
    PROJECT_PIPFILE_LOCK,
    PROJECT_POETRY_LOCK,
    PROJECT_PYPROJECT,
    PROJECT_PYTHON_VERSION,
    PROJECT_REQUIREMENTS,
    PROJECT_SETUP_CFG,
    ProjectEvidence,
)

MiB = 1024 * 1024
MAX_PROJECT_FILE_BYTES = 1 * MiB  # hand-written files: requirements, environment.yml, TOML, cfg
MAX_LOCK_FILE_BYTES = 16 * MiB  # Pipfile.lock / poetry.lock / uv.lock of big projects
MAX_INCLUDE_DEPTH = 8
MAX_CONDA_META_RECORDS = 20_000
MAX_NOTES = 40

# Packages that decide whether a Keras model loads; markers on these are worth a note.
RELEVANT = frozenset({
    "tensorflow", "tensorflow-gpu", "tensorflow-cpu", "tensorflow-macos", "tensorflow-metal",
    "tensorflow-intel", "tensorflow-aarch64", "tensorflow-cpu-aws", "intel-tensorflow",
    "tensorflow-rocm", "tensorflow-base", "keras", "tf-keras", "keras-nightly", "tf-nightly",
    "numpy", "h5py", "protobuf", "tensorflow-probability", "tensorflow-hub", "tensorflow-addons",
    "tensorflow-text", "jax", "jaxlib", "torch", "cudatoolkit", "cudnn",
})

_VARIANTS = {
    "tensorflow-gpu": "the GPU build of TensorFlow (a separate distribution before TF 2.12; "
                      "since TF 2.1 plain `tensorflow` has GPU support on Linux): the training env "
                      "likely had an NVIDIA GPU",
    "tensorflow-cpu": "the CPU-only build of TensorFlow: the training env did not need a GPU",
    "tensorflow-macos": "Apple's macOS build of TensorFlow: the training env was a Mac",
    "tensorflow-metal": "Apple's Metal GPU plugin for TensorFlow: trained on a Mac GPU",
    "tensorflow-intel": "TensorFlow's Windows build (pulled in by `tensorflow` on Windows)",
    "tensorflow-aarch64": "a Linux aarch64 build of TensorFlow",
    "tensorflow-cpu-aws": "AWS's Linux aarch64 CPU build of TensorFlow",
    "intel-tensorflow": "Intel's oneDNN-optimized CPU build of TensorFlow",
    "tensorflow-rocm": "the AMD ROCm GPU build of TensorFlow",
    "tensorflow-base": "conda's TensorFlow package (the `tensorflow` conda package is a metapackage over it)",
    "tf-nightly": "a TensorFlow nightly build",
    "cudatoolkit": "a conda CUDA toolkit: GPU training likely",
}
_CONDA_TO_PYPI = {"pytorch": "torch"}

_LONG_OPTION = re.compile(r"(?:^|\s)--?[A-Za-z][\w-]*")
_ENV_VAR = re.compile(r"\$\{[A-Za-z0-9_]+\}")
_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.!+]+?)(-\d[^-]*)?-(?P<py>[^-]+)-[^-]+-[^-]+\.whl$")
_SDIST = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+?)-(?P<version>\d[A-Za-z0-9_.!+]*)\.(tar\.gz|zip|tar\.bz2)$")
_PY_VERSION = re.compile(r"^(?:python-?|cpython-?)?(\d+\.\d+(?:\.\d+)?)(?:[-.]?[a-z]+\d*)?$", re.I)
_CONDA_SPEC = re.compile(r"^(?:(?P<channel>[^\s:]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(?P<rest>.*)$")
_OPERATOR = re.compile(r"^(===|==|>=|<=|!=|~=|>|<)")
_DIST_INFO = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)\.(dist-info|egg-info)$")


class Collector:
    """Accumulates one file's packages and notes; dedupes and adds the build-variant notes."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self.python: str | None = None
        self.packages: list[tuple[str, str, bool]] = []
        self.notes: list[str] = []
        self._seen: set[tuple[str, str, bool]] = set()
        self._variant_noted: set[str] = set()

    def note(self, text: str) -> None:
        if text in self.notes:
            return
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)
        elif len(self.notes) == MAX_NOTES:
            self.notes.append("further notes left out")

    def set_python(self, value: str | None, where: str) -> None:
        if not value:
            return
        if self.python is None:
            self.python = value
        elif self.python != value:
            self.note(f"{where} names Python {value}; {self.python} (seen first) is kept")

    def add(self, name: str, value: str, exact: bool, *, where: str = "", extras: Iterable[str] = ()) -> None:
        canonical = canonicalize_name(name).strip("-")  # conda's "_tflow_select" -> "tflow-select"
        if canonical == "python":
            self.set_python(_python_from(value, exact), where or self.path.name)
            return
        entry = (canonical, value, exact)
        if entry not in self._seen:
            self._seen.add(entry)
            self.packages.append(entry)
        shown = f"{canonical}=={value}" if exact else f"{canonical}{value}"
        if canonical in _VARIANTS and canonical not in self._variant_noted:
            self._variant_noted.add(canonical)
            self.note(f"{shown}: {_VARIANTS[canonical]}")
        if canonical == "tensorflow" and "and-cuda" in {canonicalize_name(e) for e in extras}:
            self.note("tensorflow[and-cuda]: TensorFlow with CUDA libraries from pip wheels: the "
                      "training env likely had an NVIDIA GPU")

    def has(self, name: str) -> bool:
        return any(entry[0] == name for entry in self.packages)

    def evidence(self) -> ProjectEvidence:
        return ProjectEvidence(path=str(self.path), kind=self.kind, python=self.python,
                               packages=tuple(self.packages), notes=tuple(self.notes))


# --- reading files safely -------------------------------------------------------------------

def read_text(path: Path, top: Path, limit: int) -> tuple[str | None, str | None]:
    """(text, None) or (None, why not). Refuses symlinks that leave `top`, special files and
    files over `limit`; decodes UTF-8 (BOM tolerated) and UTF-16 with a BOM (PowerShell's
    `pip freeze > requirements.txt` writes that)."""
    why = outside_project(path, top)
    if why:
        return None, why
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > limit:
            return None, f"{info.st_size // 1024} KiB, over the {limit // 1024} KiB limit for project files"
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        return None, f"cannot read ({exc.strerror or exc})"
    if len(data) > limit:
        return None, f"over the {limit // 1024} KiB limit for project files"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            return None, "not valid UTF-16 text"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


def outside_project(path: Path, top: Path) -> str | None:
    """Why `path` may not be read: a symlink (anywhere on the way) leading out of `top`."""
    try:
        real = path.resolve(strict=False)
        root = top.resolve(strict=False)
    except (OSError, RuntimeError):
        return "cannot resolve the path (symlink loop?)"
    if real != root and root not in real.parents:
        return f"a symbolic link leading out of the project ({root}), not followed"
    return None


def redact(url: str) -> str:
    """A URL without its credentials (index URLs often carry tokens)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        parts = parts._replace(netloc="***@" + host)
    return urlunsplit(parts)


# --- PEP 440 / PEP 508 helpers --------------------------------------------------------------

_OPERATOR_ORDER = {op: i for i, op in enumerate((">=", ">", "~=", "==", "===", "!=", "<=", "<"))}


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


def add_pep508(col: Collector, text: str, where: str) -> None:
    """One PEP 508 requirement string."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        col.note(f"{where}: cannot parse requirement {text[:80]!r} ({str(exc).splitlines()[0][:80]})")
        return
    name = canonicalize_name(req.name)
    if req.url:
        version = _version_from_url(req.url)
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


def _version_from_url(url: str) -> str | None:
    filename = urlsplit(url).path.rsplit("/", 1)[-1]
    match = _WHEEL.match(filename) or _SDIST.match(filename)
    return match.group("version") if match else None


# --- requirements.txt -----------------------------------------------------------------------

def parse_requirements(path: Path, top: Path, included: set[Path] | None = None) -> ProjectEvidence:
    col = Collector(path, PROJECT_REQUIREMENTS)
    text, why = read_text(path, top, MAX_PROJECT_FILE_BYTES)
    if text is None:
        col.note(f"{path.name}: {why}")
        return col.evidence()
    _requirement_lines(col, text.splitlines(), path, top, [_key(path)], included)
    return col.evidence()


def _key(path: Path) -> Path:
    return Path(os.path.normpath(os.path.abspath(path)))


def _requirement_lines(col: Collector, raw_lines: Iterable[str], source: Path, top: Path,
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
        if re.match(r"^[a-z][a-z0-9+.-]*://", requirement, re.I) or requirement.startswith(("git+", "hg+", "svn+", "bzr+")):
            egg = re.search(r"#egg=([A-Za-z0-9_.\-]+)", requirement)
            version = _version_from_url(requirement)
            match = _WHEEL.match(urlsplit(requirement).path.rsplit("/", 1)[-1]) if version else None
            name = (egg.group(1) if egg else None) or (match.group("name") if match else None)
            if name:
                col.add(name, version or "", bool(version), where=where)
            if not version:
                col.note(f"{where}: {redact(requirement)[:100]} is a URL/VCS requirement; its version is not known")
            continue
        if requirement.startswith((".", "/", "~")) or requirement.endswith((".whl", ".tar.gz", ".zip")) and "/" in requirement:
            version = _version_from_url(requirement)
            match = _WHEEL.match(requirement.rsplit("/", 1)[-1]) or _SDIST.match(requirement.rsplit("/", 1)[-1])
            if match and version:
                col.add(match.group("name"), version, True, where=where)
            else:
                col.note(f"{where}: local path requirement {requirement[:80]} is not read")
            continue
        add_pep508(col, requirement, where)
    if hashed:
        col.note(f"{source.name}: hash-pinned (a pip-compile / pip freeze style lock)")


def _logical_lines(raw_lines: Iterable[str]) -> Iterable[tuple[int, str]]:
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
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not re.match(r"^[a-z]:[\\/]", target, re.I):
        col.note(f"{where}: {flag} {redact(target)} is remote; not fetched")
        return
    path = _key(source.parent / os.path.expanduser(target))
    root = _key(top)
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
    _requirement_lines(col, text.splitlines(), path, top, [*stack, path], included)


# --- conda environment.yml / conda.yaml -----------------------------------------------------

def parse_conda_env(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, PROJECT_CONDA_ENV)
    document = _yaml_document(col, path, top)
    if document is None:
        return col.evidence()
    deps = document.get("dependencies")
    if deps is None:
        col.note(f"{path.name}: no dependencies list")
        return col.evidence()
    if not isinstance(deps, list):
        col.note(f"{path.name}: 'dependencies' is not a list")
        return col.evidence()
    for index, item in enumerate(deps):
        where = f"{path.name}: dependencies[{index}]"
        if isinstance(item, str):
            add_conda_spec(col, item, where)
        elif isinstance(item, dict) and set(item) == {"pip"}:
            pip = item["pip"]
            if isinstance(pip, list) and all(isinstance(line, str) for line in pip):
                _requirement_lines(col, pip, path, top, [_key(path)], None)
            elif pip is not None:
                col.note(f"{where}: the pip section is not a list of strings")
        else:
            col.note(f"{where}: unexpected entry {str(item)[:60]}")
    return col.evidence()


def _yaml_document(col: Collector, path: Path, top: Path) -> dict | None:
    text, why = read_text(path, top, MAX_PROJECT_FILE_BYTES)
    if text is None:
        col.note(f"{path.name}: {why}")
        return None
    try:
        document = miniyaml.load(text)
    except miniyaml.YamlError as exc:
        col.note(f"{path.name}: not parsed ({exc})")
        return None
    if not isinstance(document, dict):
        col.note(f"{path.name}: not a YAML mapping")
        return None
    return document


def add_conda_spec(col: Collector, text: str, where: str) -> None:
    """A conda MatchSpec: `name`, `name=1.15`, `name=1.15.0=build`, `name==1.15.0`,
    `name>=1.16,<1.19`, `name 1.15.* build`, `channel::name=...`, `name[version='>=1']`."""
    match = _CONDA_SPEC.match(text.strip())
    if not match:
        col.note(f"{where}: cannot parse conda spec {text[:60]!r}")
        return
    name, rest = match.group("name"), match.group("rest").strip()
    name = _CONDA_TO_PYPI.get(name.lower(), name)
    # "numpy >= 1.16, < 1.19": spaces around operators and commas are not a build separator
    rest = re.sub(r"\s*,\s*", ",", re.sub(r"(^|,)\s*(===|==|>=|<=|!=|~=|>|<)\s+", r"\1\2", rest))
    build = None
    if rest.startswith("["):
        version = re.search(r"version\s*=\s*['\"]?([^'\",\]]+(?:,[^'\"\]]+)*)['\"]?", rest)
        rest = version.group(1).strip() if version else ""
        if not version:
            col.note(f"{where}: bracket spec {text[:60]!r} names no version")
    elif " " in rest:
        rest, _, build = rest.partition(" ")
        build = build.strip() or None
    if build is None and rest.startswith("=") and rest.count("=") >= 2 and not rest.startswith("=="):
        build = rest.rsplit("=", 1)[1]
    elif build is None and rest.startswith("==") and rest.count("=") >= 3:
        build = rest.rsplit("=", 1)[1]
    conda_build_note(col, name, build)
    converted = conda_version(rest, bool(build))
    if converted is None:
        col.note(f"{where}: conda version spec {rest!r} for {name} kept as written")
        col.add(name, rest, False, where=where)
        return
    value, exact = converted
    col.add(name, value, exact, where=where)


def conda_build_note(col: Collector, name: str, build: str | None) -> None:
    """conda's TensorFlow builds say GPU / MKL / Eigen in their build string."""
    if not build or canonicalize_name(name).strip("-") not in ("tensorflow", "tensorflow-base", "tflow-select"):
        return
    flavour = next((f for f in ("gpu", "cuda", "mkl", "eigen") if f in build.lower()), None)
    if flavour in ("gpu", "cuda"):
        col.note(f"conda {name} build {build!r}: a GPU build of TensorFlow: the training env "
                 "likely had an NVIDIA GPU")
    elif flavour:
        col.note(f"conda {name} build {build!r}: a CPU build of TensorFlow ({flavour})")


def conda_version(rest: str, has_build: bool = False) -> tuple[str, bool] | None:
    """A conda version spec as (PEP 440 value, exact); None if it cannot be converted."""
    rest = rest.strip()
    if not rest or rest == "*":
        return "", False
    if rest.startswith("=") and not rest.startswith("=="):
        version, _, build = rest[1:].partition("=")
        has_build = has_build or bool(build)
        version = version.strip()
        if not version:
            return None
        if version.endswith("*"):
            return _wildcard(version)
        # conda's `=1.15` matches 1.15.*; a full x.y.z (or a build string) names one release
        if has_build or version.count(".") >= 2:
            return (version, True) if spec_value(f"=={version}") else None
        return spec_value(f"=={version}.*")
    if "|" in rest:
        return None
    if _OPERATOR.match(rest):
        pinned = re.fullmatch(r"==\s*([^=,<>!~\s*]+)=(\S+)", rest)  # name==1.2.3=build
        if pinned:
            return (pinned.group(1), True) if spec_value(f"=={pinned.group(1)}") else None
        text = ",".join(part.strip() for part in rest.split(","))
        # conda's `==1.15*` wildcard is PEP 440's `==1.15.*`
        text = re.sub(r"(==|!=)\s*([0-9][^,]*?)\.?\*(?=,|$)", r"\1\2.*", text)
        return spec_value(text)
    if rest.endswith("*"):
        return _wildcard(rest)
    # bare version ("tensorflow 1.15.0"): conda reads it as an exact match
    return (rest, True) if spec_value(f"=={rest}") else None


def _wildcard(version: str) -> tuple[str, bool] | None:
    prefix = version.rstrip("*").rstrip(".")
    if not prefix:
        return "", False
    return spec_value(f"=={prefix}.*")


# --- MLflow python_env.yaml -----------------------------------------------------------------

def parse_mlflow_python_env(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, PROJECT_MLFLOW_PYTHON_ENV)
    document = _yaml_document(col, path, top)
    if document is None:
        return col.evidence()
    python = document.get("python")
    if isinstance(python, str):
        col.set_python(python_version_text(python) or python, path.name)
    deps = document.get("dependencies")
    if isinstance(deps, list) and all(isinstance(line, str) for line in deps):
        _requirement_lines(col, deps, path, top, [_key(path)], None)
    elif deps is not None:
        col.note(f"{path.name}: 'dependencies' is not a list of strings")
    return col.evidence()


# --- pyproject.toml -------------------------------------------------------------------------

def _toml(col: Collector, path: Path, top: Path, limit: int = MAX_PROJECT_FILE_BYTES) -> dict | None:
    text, why = read_text(path, top, limit)
    if text is None:
        col.note(f"{path.name}: {why}")
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        col.note(f"{path.name}: not valid TOML ({exc})")
        return None
    except RecursionError:
        col.note(f"{path.name}: TOML nested too deeply; not read")
        return None


def parse_pyproject(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, PROJECT_PYPROJECT)
    document = _toml(col, path, top)
    if document is None:
        return col.evidence()
    project = document.get("project")
    secondary: list[tuple[str, Callable[[], None]]] = []
    if isinstance(project, dict):
        requires_python = project.get("requires-python")
        if isinstance(requires_python, str):
            col.set_python(_python_spec(requires_python), "requires-python")
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
                    secondary.append((f"[project.optional-dependencies].{group}", _pep508_list(items)))
    groups = document.get("dependency-groups")
    if isinstance(groups, dict):
        for group, items in groups.items():
            if isinstance(items, list):
                secondary.append((f"[dependency-groups].{group}",
                                  _pep508_list([i for i in items if isinstance(i, str)])))
    poetry = document.get("tool", {}).get("poetry") if isinstance(document.get("tool"), dict) else None
    if isinstance(poetry, dict):
        deps = poetry.get("dependencies")
        if isinstance(deps, dict):
            _poetry_table(col, deps, f"{path.name}: [tool.poetry.dependencies]")
        tables = []
        if isinstance(poetry.get("dev-dependencies"), dict):
            tables.append(("[tool.poetry.dev-dependencies]", poetry["dev-dependencies"]))
        for group, body in (poetry.get("group") or {}).items() if isinstance(poetry.get("group"), dict) else ():
            if isinstance(body, dict) and isinstance(body.get("dependencies"), dict):
                tables.append((f"[tool.poetry.group.{group}.dependencies]", body["dependencies"]))
        for label, table in tables:
            secondary.append((label, _poetry_list(table)))
    _secondary(col, path, secondary)
    return col.evidence()


def _pep508_list(items: list) -> Callable[[], list[tuple[str, Callable[[Collector, str], None]]]]:
    def entries():
        out = []
        for item in items:
            if isinstance(item, str):
                try:
                    name = canonicalize_name(Requirement(item).name)
                except InvalidRequirement:
                    continue
                out.append((name, lambda col, where, item=item: add_pep508(col, item, where)))
        return out
    return entries


def _poetry_list(table: dict) -> Callable[[], list[tuple[str, Callable[[Collector, str], None]]]]:
    def entries():
        return [(canonicalize_name(name), lambda col, where, name=name, value=value:
                 _poetry_entry(col, name, value, where)) for name, value in table.items()]
    return entries


def _secondary(col: Collector, path: Path, groups: list) -> None:
    """Optional / dev groups: only packages the main list does not name, each with a note."""
    for label, entries in groups:
        for name, add in entries():
            if name == "python" or col.has(name):
                continue
            add(col, f"{path.name}: {label}")
            if name in RELEVANT:
                col.note(f"{name} comes from {label}, not the main dependencies")


def _poetry_table(col: Collector, table: dict, where: str) -> None:
    for name, value in table.items():
        _poetry_entry(col, name, value, where)


def _poetry_entry(col: Collector, name: str, value: Any, where: str) -> None:
    if canonicalize_name(name) == "python":
        if isinstance(value, str):
            converted = poetry_constraint(value)
            col.set_python(_python_from(converted[0], converted[1]) if converted else value, where)
            if converted is None:
                col.note(f"{where}: python constraint {value!r} kept as written")
        return
    if isinstance(value, list):
        col.note(f"{where}: {name} has several constraints (by python/platform); all are kept")
        for item in value:
            _poetry_entry(col, name, item, where)
        return
    _table_entry(col, name, value, where, ("git", "path", "url"), poetry_constraint, "constraint")


def _table_entry(col: Collector, name: str, value: Any, where: str, sources: tuple[str, ...],
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


def poetry_constraint(text: str) -> tuple[str, bool] | None:
    """Poetry's constraint syntax (^, ~, *, x.*, bare versions, comma/space ANDs) as PEP 440."""
    text = text.strip()
    if "||" in text or " or " in text:
        return None
    parts = [p for p in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text) if p]
    converted = []
    for part in parts:
        part = part.strip()
        if part in ("*", ""):
            continue
        if part.startswith("^"):
            converted.append(_caret(part[1:].strip()))
        elif part.startswith("~") and not part.startswith("~="):
            converted.append(_tilde(part[1:].strip()))
        elif _OPERATOR.match(part):
            op = _OPERATOR.match(part).group(1)
            converted.append(op + part[len(op):].strip())
        elif part.endswith("*"):
            converted.append("==" + part.rstrip("*").rstrip(".") + ".*")
        else:
            converted.append("==" + part)
        if converted[-1] is None:
            return None
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


def _python_spec(text: str) -> str:
    converted = spec_value(text)
    if converted is None:
        return text.strip()
    return _python_from(*converted)


def _python_from(value: str, exact: bool) -> str:
    """Python as a version when pinned ("3.7"), else as the specifier."""
    if exact:
        return value
    match = re.fullmatch(r"==(\d+\.\d+(?:\.\d+)?)\.\*", value)
    return match.group(1) if match else value


# --- Pipfile / Pipfile.lock -----------------------------------------------------------------

def parse_pipfile(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, PROJECT_PIPFILE)
    document = _toml(col, path, top)
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
            _pipfile_entry(col, name, value, f"{path.name}: [packages]")
    elif packages is not None:
        col.note(f"{path.name}: [packages] is not a table")
    dev = document.get("dev-packages")
    if isinstance(dev, dict):
        _secondary(col, path, [("[dev-packages]", lambda: [
            (canonicalize_name(n), lambda c, w, n=n, v=v: _pipfile_entry(c, n, v, w)) for n, v in dev.items()])])
    return col.evidence()


def _pipfile_entry(col: Collector, name: str, value: Any, where: str) -> None:
    _table_entry(col, name, value, where, ("git", "path", "file", "editable"), spec_value, "specifier")


def parse_pipfile_lock(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, PROJECT_PIPFILE_LOCK)
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
            _pipfile_entry(col, name, value, f"{path.name}: default")
    else:
        col.note(f"{path.name}: no 'default' section")
    develop = document.get("develop")
    if isinstance(develop, dict):
        _secondary(col, path, [("develop", lambda: [
            (canonicalize_name(n), lambda c, w, n=n, v=v: _pipfile_entry(c, n, v, w)) for n, v in develop.items()])])
    return col.evidence()


# --- poetry.lock / uv.lock ------------------------------------------------------------------

def parse_toml_lock(path: Path, top: Path, kind: str) -> ProjectEvidence:
    col = Collector(path, kind)
    document = _toml(col, path, top, MAX_LOCK_FILE_BYTES)
    if document is None:
        return col.evidence()
    if kind == PROJECT_POETRY_LOCK:
        metadata = document.get("metadata")
        python = metadata.get("python-versions") if isinstance(metadata, dict) else None
        if isinstance(python, str):
            converted = poetry_constraint(python)
            col.set_python(_python_from(*converted) if converted else python, "[metadata]")
    else:
        python = document.get("requires-python")
        if isinstance(python, str):
            col.set_python(_python_spec(python), "requires-python")
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


# --- setup.cfg ------------------------------------------------------------------------------

def parse_setup_cfg(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, PROJECT_SETUP_CFG)
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
        col.set_python(_python_spec(python), "python_requires")
    requires = parser.get("options", "install_requires", fallback=None)
    if requires:
        _cfg_requirements(col, requires, f"{path.name}: install_requires")
    if parser.has_section("options.extras_require"):
        groups = []
        for group, value in parser.items("options.extras_require"):
            items = _cfg_items(value)
            groups.append((f"extras_require.{group}", _pep508_list(items)))
        _secondary(col, path, groups)
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


# --- .python-version / runtime.txt ----------------------------------------------------------

def python_version_text(text: str) -> str | None:
    match = _PY_VERSION.match(text.strip())
    return match.group(1) if match else None


def parse_python_version_file(path: Path, top: Path, kind: str) -> ProjectEvidence:
    col = Collector(path, kind)
    text, why = read_text(path, top, 64 * 1024)
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
    if kind == PROJECT_PYTHON_VERSION and len(lines) > 1:
        col.note(f"{path.name}: lists several Pythons; the first is taken")
    return col.evidence()


# --- conda-meta (an installed conda environment) --------------------------------------------

def parse_conda_meta(meta: Path, top: Path) -> ProjectEvidence:
    """Package records named `name-version-build.json` (conda guarantees no '-' in version and
    build), plus pip-installed distributions from the env's site-packages *.dist-info names.
    Names and versions come from file names only, so large records are never read."""
    col = Collector(meta, PROJECT_CONDA_META)
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
            col.add(_CONDA_TO_PYPI.get(package, package), version, True, where=name)
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
