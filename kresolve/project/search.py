"""Evidence from the model's project: requirements.txt, environment.yml, pyproject.toml, ...

Search: from the directory holding the model (for a directory model, the model directory
itself first) upward through at most MAX_LEVELS_UP parents, stopping after a directory that
holds `.git` (the repository root) and at the filesystem root. The nearest file of each kind
wins (for requirements: every `requirements*.txt` in the nearest directory that has one, except
those another one includes with -r/-c). Files are parsed, never executed (one module per
format in this package); symlinks that lead out of the searched directories are not followed;
a file that cannot be parsed still gives a ProjectEvidence carrying a note, never an error.

Result order is strongest evidence first: an installed conda env (conda-meta), lock files,
conda env files, requirements files, MLflow python_env.yaml, declared ranges (pyproject.toml,
Pipfile, setup.cfg), then Python-only hints (.python-version, runtime.txt); nearer first within
a rank.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kresolve.project import requirements
from kresolve.project.conda_meta import parse_conda_meta
from kresolve.project.environment_yml import parse_conda_env
from kresolve.project.evidence import ProjectEvidence, ProjectKind
from kresolve.project.lockfiles import parse_pipfile_lock, parse_toml_lock
from kresolve.project.mlflow import parse_mlflow_python_env
from kresolve.project.pipfile import parse_pipfile
from kresolve.project.pyproject import parse_pyproject
from kresolve.project.pythonversion import parse_python_version_file
from kresolve.project.reading import path_key
from kresolve.project.setup_cfg import parse_setup_cfg

MAX_LEVELS_UP = 3
MAX_REQUIREMENTS_FILES = 8
# Where an env prefix beside the project usually lives (project/.conda, project/env, ...).
CONDA_PREFIX_DIRS = ("", ".conda", "env", ".env", "venv", ".venv", "conda-env")

# kind -> (file names in preference order, rank); requirements and conda-meta are matched apart
_FILES: dict[ProjectKind, tuple[tuple[str, ...], int]] = {
    ProjectKind.PIPFILE_LOCK: (("Pipfile.lock",), 1),
    ProjectKind.POETRY_LOCK: (("poetry.lock",), 1),
    ProjectKind.UV_LOCK: (("uv.lock",), 1),
    ProjectKind.CONDA_ENV: (("environment.yml", "environment.yaml", "conda.yaml", "conda.yml"), 2),
    ProjectKind.MLFLOW_PYTHON_ENV: (("python_env.yaml", "python_env.yml"), 3),
    ProjectKind.PYPROJECT: (("pyproject.toml",), 4),
    ProjectKind.PIPFILE: (("Pipfile",), 4),
    ProjectKind.SETUP_CFG: (("setup.cfg",), 4),
    ProjectKind.PYTHON_VERSION: ((".python-version",), 5),
    ProjectKind.RUNTIME_TXT: (("runtime.txt",), 5),
}
_RANK = {kind: rank for kind, (_, rank) in _FILES.items()} | {ProjectKind.CONDA_META: 0, ProjectKind.REQUIREMENTS: 3}

Parser = Callable[[Path, Path], ProjectEvidence]
_PARSERS: dict[ProjectKind, Parser] = {
    ProjectKind.PIPFILE_LOCK: parse_pipfile_lock,
    ProjectKind.POETRY_LOCK: lambda path, top: parse_toml_lock(path, top, ProjectKind.POETRY_LOCK),
    ProjectKind.UV_LOCK: lambda path, top: parse_toml_lock(path, top, ProjectKind.UV_LOCK),
    ProjectKind.CONDA_ENV: parse_conda_env,
    ProjectKind.MLFLOW_PYTHON_ENV: parse_mlflow_python_env,
    ProjectKind.PYPROJECT: parse_pyproject,
    ProjectKind.PIPFILE: parse_pipfile,
    ProjectKind.SETUP_CFG: parse_setup_cfg,
    ProjectKind.PYTHON_VERSION: lambda path, top: parse_python_version_file(path, top, ProjectKind.PYTHON_VERSION),
    ProjectKind.RUNTIME_TXT: lambda path, top: parse_python_version_file(path, top, ProjectKind.RUNTIME_TXT),
    ProjectKind.CONDA_META: parse_conda_meta,
}

class Cache:
    """Shared by the models of one run (`inspect DIR`): each project file's evidence (plus the
    requirement files it includes), and each searched directory's names. Models side by side
    share their parent directories: listed once per run, not once per model (a directory of
    2,200 models was listed 2,200 times)."""

    def __init__(self) -> None:
        self.evidence: dict[tuple[object, ...], tuple[ProjectEvidence, frozenset[Path]]] = {}
        self.listings: dict[Path, _Names | None] = {}


class _Names:
    """A directory's entry names, and its requirements*.txt files in the order they are read."""

    def __init__(self, names: set[str]):
        self.names = names
        self.requirement_files = _requirements_files(names)


def search_dirs(model: Path) -> list[Path]:
    """The directories searched for `model`, nearest first (lexical paths: a symlinked model
    belongs to the project it is linked from, e.g. DVC or git-annex checkouts)."""
    model = Path(os.path.abspath(model))
    start = model.parent
    dirs = [model] if _is_dir(model) else []
    if dirs and _has_git(model):
        return dirs
    current = start
    for _ in range(MAX_LEVELS_UP + 1):
        dirs.append(current)
        if _has_git(current) or current.parent == current:
            break
        current = current.parent
    return dirs


def project_evidence(model: str | os.PathLike[str], cache: Cache | None = None) -> tuple[ProjectEvidence, ...]:
    """Every project file's evidence for the model at `model`, strongest first (see module doc)."""
    dirs = search_dirs(Path(os.fspath(model)))
    top = dirs[-1]
    found: list[tuple[int, int, str, ProjectEvidence]] = []
    done: set[ProjectKind] = set()
    for distance, directory in enumerate(dirs):
        if cache is None:
            listed = _listing(directory)
        elif directory in cache.listings:
            listed = cache.listings[directory]
        else:
            listed = cache.listings[directory] = _listing(directory)
        if listed is None:
            continue
        names = listed.names
        if ProjectKind.REQUIREMENTS not in done:
            requirement_files = listed.requirement_files
            if requirement_files:
                done.add(ProjectKind.REQUIREMENTS)
                included: set[Path] = set()
                for name in requirement_files:
                    path = directory / name
                    if path_key(path) in included:
                        continue
                    evidence, inner = _cached(cache, ProjectKind.REQUIREMENTS, path, top)
                    included |= inner
                    found.append((_RANK[ProjectKind.REQUIREMENTS], distance, name, evidence))
        for kind, (candidates, rank) in _FILES.items():
            if kind in done:
                continue
            for name in candidates:
                if name in names:
                    done.add(kind)
                    evidence, _ = _cached(cache, kind, directory / name, top)
                    found.append((rank, distance, name, evidence))
        if ProjectKind.CONDA_META not in done:
            for sub in CONDA_PREFIX_DIRS:
                meta = directory / sub / "conda-meta" if sub else directory / "conda-meta"
                if (sub == "" and "conda-meta" in names or sub and sub in names) and _is_dir(meta):
                    done.add(ProjectKind.CONDA_META)
                    evidence, _ = _cached(cache, ProjectKind.CONDA_META, meta, top)
                    found.append((0, distance, str(meta), evidence))
                    break
    found.sort(key=lambda item: (item[0], item[1]))
    return tuple(item[3] for item in found)


def _cached(cache: Cache | None, kind: ProjectKind, path: Path, top: Path) -> tuple[ProjectEvidence, frozenset[Path]]:
    key = None
    if cache is not None:
        try:
            info = path.stat()
            key = (kind, str(path), str(top), info.st_mtime_ns, info.st_size)
        except OSError:
            key = None
        if key is not None and key in cache.evidence:
            return cache.evidence[key]
    try:
        if kind is ProjectKind.REQUIREMENTS:
            included: set[Path] = set()
            evidence = requirements.parse_requirements(path, top, included)
            result = (evidence, frozenset(included))
        else:
            result = (_PARSERS[kind](path, top), frozenset())
    except Exception as exc:  # noqa: BLE001 - evidence only: a parser fault must not fail inspect
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}"
        result = (ProjectEvidence(path=str(path), kind=kind, python=None, packages=(),
                                  notes=(f"{path.name}: not read ({problem})",)), frozenset())
    if cache is not None and key is not None:
        cache.evidence[key] = result
    return result


def _requirements_files(names: set[str]) -> list[str]:
    matches = sorted(name for name in names
                     if name.startswith("requirements") and name.endswith(".txt"))
    if "requirements.txt" in matches:
        matches.remove("requirements.txt")
        matches.insert(0, "requirements.txt")
    return matches[:MAX_REQUIREMENTS_FILES]


def _listing(directory: Path) -> _Names | None:
    try:
        with os.scandir(directory) as entries:
            return _Names({entry.name for entry in entries})
    except OSError:
        return None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _has_git(directory: Path) -> bool:
    try:
        return (directory / ".git").exists()  # a directory, or a file in worktrees/submodules
    except OSError:
        return False
