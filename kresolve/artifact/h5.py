"""HDF5 models: Keras 1/2 `model.save('x.h5')`, Keras 3 legacy HDF5, and weights-only files
(paired with the architecture JSON beside them when there is one: see archjson.py).

Only root attributes and group names are read (h5py, in the worker process of h5worker.py); no
dataset is ever touched, so a multi-GB file is inspected in milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kresolve.artifact.archjson import Architecture, find_architecture
from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.artifact.h5worker import h5_metadata
from kresolve.artifact.jsontext import bad, parse_json
from kresolve.artifact.kerasconfig import (
    keras_line,
    layer_name,
    layers_of,
    read_model_config,
    summarize_notes,
)
from kresolve.artifact.limits import LIST_PREVIEW
from kresolve.errors import BadInput

# Root groups of a Keras 3 / .keras-style weights file (model.weights.h5).
_V3_WEIGHT_GROUPS = ("layers", "vars", "optimizer", "_layer_checkpoint_dependencies")


def read_h5(path: Path) -> ModelFacts:
    meta = h5_metadata(path, "model")
    attrs, weights_attrs = meta["attrs"], meta["weights_attrs"]
    keras_version = attrs["keras_version"] or weights_attrs.get("keras_version")
    backend = attrs["backend"] or weights_attrs.get("backend")
    if attrs["model_config"] is None:
        return _weights_only(path, meta, keras_version, backend)

    model = parse_json(attrs["model_config"], path, "attribute 'model_config'")
    notes: list[str] = []
    training_text = attrs["training_config"]
    training = None
    if training_text is not None:
        try:
            training = parse_json(training_text, path, "attribute 'training_config'")
        except BadInput:  # the model itself still loads with compile=False
            notes.append("training_config is not valid JSON: load with compile=False")
    reading = read_model_config(model, path, training)

    line = keras_line(keras_version)
    detail = f"HDF5 full model ({line})" if line else "HDF5 full model (writer version not recorded)"
    if line == "Keras 3":
        notes.append("written by Keras 3 in the legacy HDF5 format: its config uses Keras 3 "
                     "serialization, which tf.keras 2.x cannot read")
    if keras_version and keras_version.endswith("-tf"):
        notes.append(f"keras_version {keras_version!r}: written by tf.keras (TensorFlow's bundled"
                     " Keras), not standalone Keras")
    if training_text is None:
        notes.append("no training_config: saved uncompiled (or without optimizer); load it with "
                     "compile=False or recompile")
    notes.extend(summarize_notes(reading))
    return ModelFacts(
        path=str(path),
        format=ModelFormat.H5,
        format_detail=detail,
        keras_version=keras_version,
        backend=backend,
        model_class=reading.model_class,
        layer_classes=reading.layer_classes,
        custom_objects=reading.custom_objects,
        lambda_layers=reading.lambda_layers,
        inputs=reading.inputs,
        has_training_config=training_text is not None,
        notes=tuple(notes),
    )


def _weights_only(path: Path, meta: dict[str, Any], keras_version: str | None,
                  backend: str | None) -> ModelFacts:
    names: list[str] | None = meta["layer_names"]
    root_keys: list[str] = meta["root_keys"]
    if names is not None:
        what = f"HDF5 weights only (Keras save_weights, {len(names)} layers"
    elif any(key in _V3_WEIGHT_GROUPS or key.startswith("layers\\") for key in root_keys):
        what = "HDF5 weights only (Keras 3 / .keras-style weights file"
    else:
        shown = ", ".join(root_keys[:LIST_PREVIEW]) or "nothing"
        raise bad(path, "HDF5 file but not a Keras model: no model_config, layer_names or Keras "
                        f"weights layout (root holds: {shown})")
    notes: list[str] = []
    odd = [key for key in root_keys if "\\" in key]
    if odd:
        notes.append(f"HDF5 group names contain Windows backslashes (e.g. {odd[0]!r}): written on "
                     "Windows; Keras on Linux/macOS may not find these weights")
    pairing = find_architecture(path)
    notes.extend(pairing.notes)
    if pairing.architecture is not None:
        return _with_architecture(path, pairing.architecture, names, what, keras_version,
                                  backend, notes)
    line = keras_line(keras_version)
    notes.insert(0, "weights only: no architecture in the file; the code (or architecture JSON) "
                    "that builds the model is needed to load these weights")
    if names is not None:
        lambdas = [name for name in names if name.lower().startswith("lambda")]
        if lambdas:
            notes.append(f"layer names suggest Lambda layer(s) ({', '.join(lambdas[:LIST_PREVIEW])})"
                         " whose code is not in this file")
    return ModelFacts(
        path=str(path),
        format=ModelFormat.H5_WEIGHTS,
        format_detail=what + (f", {line})" if line else ")"),
        keras_version=keras_version,
        backend=backend,
        notes=tuple(notes),
    )


def _with_architecture(path: Path, arch: Architecture, names: list[str] | None, what: str,
                       h5_keras: str | None, h5_backend: str | None,
                       notes: list[str]) -> ModelFacts:
    """ModelFormat.WEIGHTS_JSON: the weights file with the `to_json()` architecture beside it."""
    model = arch.model
    json_keras = _text(model.get("keras_version"))
    keras_version = json_keras or h5_keras
    backend = _text(model.get("backend")) or h5_backend
    reading = read_model_config(model, arch.path)
    line = keras_line(keras_version)
    if line is None and "module" in model:  # Keras 3 to_json() records no version
        line = "Keras 3 serialization, version not recorded"
    notes.insert(0, f"weights only in {path.name}; the architecture is read from {arch.path.name} "
                    "beside it: load with model_from_json, then load_weights")
    if json_keras and h5_keras and json_keras != h5_keras:
        notes.append(f"{arch.path.name} records keras_version {json_keras} but the weights file "
                     f"{h5_keras}: the architecture's version is used")
    if line == "Keras 1":
        notes.append("a Keras 1 architecture: its layer arguments (nb_filter, init, border_mode, "
                     "output_dim, ...) are Keras 1 names that tf.keras 2 does not accept")
    if names is not None:
        known = {layer_name(layer) for layer in layers_of(model)}
        missing = [name for name in names if name not in known]
        if missing:
            notes.append(f"weights for layer(s) {', '.join(missing[:LIST_PREVIEW])} have no layer "
                         f"of that name in {arch.path.name}: it may describe another model, and "
                         "load_weights may fail")
    notes.extend(summarize_notes(reading))
    return ModelFacts(
        path=str(path),
        format=ModelFormat.WEIGHTS_JSON,
        format_detail=f"{what}) + architecture JSON {arch.path.name}" + (f" ({line})" if line else ""),
        keras_version=keras_version,
        backend=backend,
        model_class=reading.model_class,
        layer_classes=reading.layer_classes,
        custom_objects=reading.custom_objects,
        lambda_layers=reading.lambda_layers,
        inputs=reading.inputs,
        notes=tuple(notes),
        architecture=str(arch.path),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
