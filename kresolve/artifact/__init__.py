"""The artifact stage: what a saved Keras/TensorFlow model says about itself.

`inspect(path)` decides what the path *is* from its bytes and layout (never its extension),
hands it to the matching reader and attaches the `kresolve.json` sidecar when there is one,
plus the evidence of the project files around the model (requirements.txt, environment.yml,
pyproject.toml, ...; see project.py). A weights-only HDF5 file is read together with the
architecture JSON beside it, and `inspect model.json` reads that same pair (see archjson.py). Nothing is imported from the model, nothing in it is
executed or unpickled, and weights are never read, so inspecting is fast and safe on untrusted
files. `discover(dir)` / `inspect_all(dir)` find and read every model under a directory.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from kresolve.artifact.archjson import looks_like_json, weights_for
from kresolve.artifact.discovery import Discovery, discover, find_models
from kresolve.artifact.facts import (
    CustomObject,
    LambdaEncoding,
    LambdaLayer,
    ModelFacts,
    ModelFormat,
    Probe,
    ProbeTensor,
    Sidecar,
    TensorSpec,
)
from kresolve.artifact.h5 import read_h5
from kresolve.artifact.h5worker import READ_AHEAD, read_ahead
from kresolve.artifact.jsontext import bad
from kresolve.artifact.sidecar import find_sidecar, read_sidecar
from kresolve.artifact.sniff import Kind, sniff
from kresolve.errors import BadInput
from kresolve.project import Cache, project_evidence
from kresolve.project.evidence import ProjectEvidence

__all__ = [
    "BadInput",
    "CustomObject",
    "Discovery",
    "LambdaEncoding",
    "LambdaLayer",
    "ModelFacts",
    "ModelFormat",
    "Probe",
    "ProbeTensor",
    "ProjectEvidence",
    "Sidecar",
    "TensorSpec",
    "discover",
    "find_models",
    "inspect",
    "inspect_all",
]


def inspect(path: str | os.PathLike[str], *, project: bool = True) -> ModelFacts:
    """Read the model at `path` (file or directory); raise BadInput with one clear line if it is
    not a readable Keras/TensorFlow model. `project=False` skips the project-file search."""
    return _inspect(Path(os.fspath(path)), Cache() if project else None)


def inspect_all(path: str | os.PathLike[str], *, project: bool = True
                ) -> tuple[tuple[Path, ModelFacts | BadInput], ...]:
    """Every model under `path` (see discover()) with its facts, or the BadInput that refused
    it, so one run reports them all. Raises BadInput only when `path` itself is missing or
    holds no model; find_models(path).notes says what the scan skipped."""
    cache = Cache() if project else None
    results: list[tuple[Path, ModelFacts | BadInput]] = []
    models = list(discover(path))
    for i, model in enumerate(models):
        # The HDF5 reader works on the next files while this process parses this one.
        read_ahead(models[i + 1:i + 1 + READ_AHEAD])
        try:
            results.append((model, _inspect(model, cache)))
        except BadInput as exc:
            results.append((model, exc))
    return tuple(results)


def _inspect(model: Path, project_cache: Cache | None) -> ModelFacts:
    weights = weights_for(model) if looks_like_json(model) else None
    if weights is not None:  # `inspect model.json`: the pair is read from its weights file
        kind, where = Kind.HDF5, weights
    else:
        kind, where = sniff(model)
    if kind is Kind.HDF5:
        facts = read_h5(where)
        if weights is not None and not _same_file(facts.architecture, model):
            raise _not_the_pair(model, facts)
    # Each reader imported with its first model: a lock of an HDF5 file never loads the zip,
    # pickle and protobuf readers (~10 ms of a warm lock's start-up).
    elif kind is Kind.ZIP:
        from kresolve.artifact.kerazip import read_keras_zip

        facts = read_keras_zip(where)
    elif kind is Kind.SAVEDMODEL:
        from kresolve.artifact.savedmodel import read_savedmodel

        facts = read_savedmodel(where)
    else:
        from kresolve.artifact.kerazip import read_keras_dir

        facts = read_keras_dir(where)

    sidecar_path = find_sidecar(where)
    if sidecar_path is None and facts.architecture:  # a sidecar may name the JSON instead
        sidecar_path = find_sidecar(Path(facts.architecture))
    if sidecar_path is not None:
        sidecar = read_sidecar(sidecar_path)
        facts = replace(facts, sidecar=sidecar, notes=facts.notes + _cross_check(facts, sidecar))
    if project_cache is not None:
        evidence = project_evidence(where, project_cache)
        if evidence:
            facts = replace(facts, project=evidence)
    return facts


def _same_file(path: str | None, other: Path) -> bool:
    return path is not None and Path(path).resolve() == other.resolve()


def _not_the_pair(json_path: Path, facts: ModelFacts) -> BadInput:
    weights = Path(facts.path).name
    if facts.format is ModelFormat.H5:
        why = f"{weights} beside it is a full model (architecture included): inspect {weights}"
    elif facts.architecture:
        why = f"{weights} beside it pairs with {Path(facts.architecture).name}, not with this file"
    else:
        why = f"{weights} beside it does not pair with it (see `kresolve inspect {weights}`)"
    return bad(json_path, f"a Keras architecture JSON (model.to_json()) holds no weights; {why}")


def _cross_check(facts: ModelFacts, sidecar: Sidecar) -> tuple[str, ...]:
    """Where the sidecar and the file's own records disagree, say so (the sidecar wins)."""
    notes = []
    recorded = [("keras", facts.keras_version), ("tensorflow", facts.tensorflow_version)]
    for package, in_file in recorded:
        in_sidecar = sidecar.package_version(package)
        if in_file and in_sidecar and in_file.removesuffix("-tf") != in_sidecar:
            notes.append(f"the sidecar records {package} {in_sidecar} but the file says "
                         f"{in_file}; the sidecar's exact versions are preferred")
    return tuple(notes)
