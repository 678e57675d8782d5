"""Which lockfiles `kresolve lock` writes: `--format pip,conda-lock,pylock,env`.

Without `--format`, kresolve writes requirements.txt (pip) plus every format the user's project
already uses: a `pylock.toml` (or `pylock.*.toml`) or `conda-lock.yml` beside the model or in the
current directory. `default_formats` says which file made it choose each one. An `environment.yml`
does not count: it is usually the user's own hand-written spec (often the very evidence just read),
which kresolve would refuse to replace, so `env` is written only when `--format env` asks for it.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInput

if TYPE_CHECKING:
    from ..solve.resolve import Environment
    from ..target import Target


class LockFormat(enum.Enum):
    PIP = "pip"  # requirements.txt with --hash lines
    CONDA_LOCK = "conda-lock"  # conda-lock.yml v1 (+ explicit files)
    PYLOCK = "pylock"  # PEP 751 pylock.toml
    ENV = "env"  # environment.yml from environment.template.yml


def parse_formats(text: str) -> tuple[LockFormat, ...]:
    """`"pip,pylock"` -> (PIP, PYLOCK): order kept, duplicates dropped; unknown names are bad input."""
    known = {f.value: f for f in LockFormat}
    chosen: list[LockFormat] = []
    names = [n.strip().lower() for n in text.split(",")]
    if not any(names):
        raise BadInput(f"--format {text!r}: expected a comma list of {', '.join(known)}")
    for name in names:
        if not name:
            continue
        if name not in known:
            raise BadInput(f"--format {text!r}: unknown format {name!r} (expected a comma list of {', '.join(known)})")
        if known[name] not in chosen:
            chosen.append(known[name])
    return tuple(chosen)


@dataclass(frozen=True)
class FormatChoice:
    """The formats to write, and for each one beyond pip the project file that asked for it."""

    formats: tuple[LockFormat, ...]
    because: tuple[tuple[LockFormat, Path], ...] = ()

    def describe(self) -> str:
        """e.g. `pip, pylock (the project has ./pylock.toml)`."""
        why = dict(self.because)
        return ", ".join(f.value + (f" (the project has {why[f]})" if f in why else "") for f in self.formats)


# The project files that show a format is in use, in the order they are looked for.
_EVIDENCE: tuple[tuple[LockFormat, tuple[str, ...]], ...] = (
    (LockFormat.CONDA_LOCK, ("conda-lock.yml", "conda-lock.yaml")),
    (LockFormat.PYLOCK, ("pylock.toml", "pylock.*.toml")),
)


def _found(directory: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        hits = sorted(directory.glob(pattern)) if "*" in pattern else [directory / pattern]
        for hit in hits:
            if hit.is_file():
                return hit
    return None


def default_formats(project_evidence: Iterable[str | Path]) -> FormatChoice:
    """pip, plus each format a project file in `project_evidence` already uses: directories (the
    one the model is in, the current one), searched in order; a file stands for its directory."""
    dirs: list[Path] = []
    for item in project_evidence:
        path = Path(item)
        directory = path if path.is_dir() else path.parent
        if directory not in dirs:
            dirs.append(directory)
    formats = [LockFormat.PIP]
    because: list[tuple[LockFormat, Path]] = []
    for fmt, patterns in _EVIDENCE:
        for directory in dirs:
            hit = _found(directory, patterns)
            if hit is not None:
                formats.append(fmt)
                because.append((fmt, hit))
                break
    return FormatChoice(tuple(formats), tuple(because))


# --- writers -----------------------------------------------------------------------------------
# Each format beyond pip has a writer module exposing `WRITER: FormatWriter`, imported only when
# that format is asked for (conda-lock's models are heavy to import).


@dataclass(frozen=True)
class LockInput:
    """What every writer gets: the solved environments (one per target) and the run's words."""

    environments: tuple[Environment, ...]
    model: str
    command: str
    version: str  # kresolve's
    options: Mapping[str, object] = field(default_factory=dict)  # format-specific (channels, template…)


@dataclass(frozen=True)
class FormatWriter:
    marker: str  # text in the first lines of every file it writes: how kresolve knows its own files
    names: Callable[[tuple[Target, ...]], tuple[str, ...]]  # the files it writes for these targets
    write: Callable[[LockInput], dict[str, str]]  # file name -> text


WRITER_MODULES: dict[LockFormat, str] = {
    LockFormat.PYLOCK: "kresolve.lock.pylock",
    LockFormat.CONDA_LOCK: "kresolve.lock.condalock",  # + conda-<platform>.lock explicit files
    LockFormat.ENV: "kresolve.lock.envyml",
}


def writer(fmt: LockFormat) -> FormatWriter:
    """The writer of `fmt` (not pip: requirements.txt is written by the lock itself)."""
    module = WRITER_MODULES.get(fmt)
    if module is None:
        raise BadInput(f"--format {fmt.value}: this kresolve cannot write it yet")
    try:
        found = importlib.import_module(module).WRITER
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise BadInput(f"--format {fmt.value}: this kresolve cannot write it yet") from None
    assert isinstance(found, FormatWriter)
    return found
