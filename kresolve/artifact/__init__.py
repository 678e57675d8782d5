"""The artifact stage: what a saved Keras/TensorFlow model says about itself.

`inspect(path)` decides what the path *is* from its bytes and layout (never its extension),
hands it to the matching reader and attaches the `kresolve.json` sidecar when there is one.
Nothing is imported from the model, nothing in it is executed or unpickled, and weights are
never read, so inspecting is fast and safe on untrusted files.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from kresolve.artifact.facts import (
    FORMAT_H5,
    FORMAT_H5_WEIGHTS,
    FORMAT_KERAS_ZIP,
    FORMAT_SAVEDMODEL,
    CustomObject,
    LambdaLayer,
    ModelFacts,
    Probe,
    ProbeTensor,
    Sidecar,
    TensorSpec,
)
from kresolve.artifact.h5 import read_h5
from kresolve.artifact.kerazip import read_keras_dir, read_keras_zip
from kresolve.artifact.savedmodel import read_savedmodel
from kresolve.artifact.sidecar import find_sidecar, read_sidecar
from kresolve.artifact.sniff import Kind, sniff
from kresolve.errors import BadInput

__all__ = [
    "FORMAT_H5",
    "FORMAT_H5_WEIGHTS",
    "FORMAT_KERAS_ZIP",
    "FORMAT_SAVEDMODEL",
    "BadInput",
    "CustomObject",
    "LambdaLayer",
    "ModelFacts",
    "Probe",
    "ProbeTensor",
    "Sidecar",
    "TensorSpec",
    "inspect",
]


def inspect(path: str | os.PathLike[str]) -> ModelFacts:
    """Read the model at `path` (file or directory); raise BadInput with one clear line if it is
    not a readable Keras/TensorFlow model."""
    model = Path(os.fspath(path))
    kind, where = sniff(model)
    if kind is Kind.HDF5:
        facts = read_h5(where)
    elif kind is Kind.ZIP:
        facts = read_keras_zip(where)
    elif kind is Kind.SAVEDMODEL:
        facts = read_savedmodel(where)
    else:
        facts = read_keras_dir(where)

    sidecar_path = find_sidecar(where)
    if sidecar_path is None:
        return facts
    sidecar = read_sidecar(sidecar_path)
    return replace(facts, sidecar=sidecar, notes=facts.notes + _cross_check(facts, sidecar))


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
