"""What one project file says about the training environment, and the collector that builds it.

The dataclass is frozen data handed to later stages (it is part of `ModelFacts.project` and of
`inspect --json`); `Collector` is the mutable accumulator every format parser fills in, so that
deduplication, the cap on notes and the build-variant notes (tensorflow-gpu, -macos, ...) are
written once for all formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from packaging.utils import canonicalize_name


class ProjectKind(StrEnum):
    """Which kind of project file the evidence came from (stable ids: they appear in `inspect --json`)."""

    CONDA_META = "conda-meta"  # an installed conda env: exact versions from conda-meta/*.json
    PIPFILE_LOCK = "pipfile-lock"
    POETRY_LOCK = "poetry-lock"
    UV_LOCK = "uv-lock"
    CONDA_ENV = "conda-env"  # environment.yml / environment.yaml / conda.yaml (MLflow)
    REQUIREMENTS = "requirements"  # requirements*.txt (with its -r / -c includes)
    MLFLOW_PYTHON_ENV = "mlflow-python-env"  # MLflow's python_env.yaml
    PYPROJECT = "pyproject"  # [project] (PEP 621) and [tool.poetry]
    PIPFILE = "pipfile"
    SETUP_CFG = "setup-cfg"
    PYTHON_VERSION = "python-version"  # pyenv's .python-version
    RUNTIME_TXT = "runtime-txt"  # runtime.txt ("python-3.7.3", Heroku and friends)

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


@dataclass(frozen=True)
class ProjectEvidence:
    """What one project file near the model says about the environment it was trained in.

    Only evidence: a project file may be stale or describe more than the model needs.
    `python` is a version ("3.7", "3.7.12") when the file names one, else a PEP 440 specifier
    as converted from the file (">=3.8,<4.0"). `packages` holds (PEP 503 name, value, exact):
    value is the version when exact is True ("2.4.1"), else a PEP 440 specifier (">=2.4,<2.5",
    "==1.15.*"; "" when unconstrained; the file's own text when it cannot be converted, with a
    note). Python itself is only in `python`, never in `packages`. Order is the file's.
    """

    path: str  # the file read (for conda-meta: the conda-meta directory)
    kind: ProjectKind
    python: str | None
    packages: tuple[tuple[str, str, bool], ...]
    notes: tuple[str, ...] = ()

    def package(self, name: str) -> tuple[str, str, bool] | None:
        """The first entry for `name` (PEP 503 canonical form expected)."""
        for entry in self.packages:
            if entry[0] == name:
                return entry
        return None


def python_from(value: str, exact: bool) -> str:
    """Python as a version when pinned ("3.7"), else as the specifier."""
    if exact:
        return value
    match = re.fullmatch(r"==(\d+\.\d+(?:\.\d+)?)\.\*", value)
    return match.group(1) if match else value


class Collector:
    """Accumulates one file's packages and notes; dedupes and adds the build-variant notes."""

    def __init__(self, path: Path, kind: ProjectKind) -> None:
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
            self.set_python(python_from(value, exact), where or self.path.name)
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
