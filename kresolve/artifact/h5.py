"""HDF5 models: Keras 1/2 `model.save('x.h5')`, Keras 3 legacy HDF5, and weights-only files.

Only root attributes and group names are read (h5py, in the worker process of h5worker.py); no
dataset is ever touched, so a multi-GB file is inspected in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

from kresolve.artifact.facts import FORMAT_H5, FORMAT_H5_WEIGHTS, ModelFacts
from kresolve.artifact.h5worker import h5_metadata
from kresolve.artifact.jsontext import bad, parse_json
from kresolve.artifact.kerasconfig import keras_line, read_model_config, summarize_notes
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
        format=FORMAT_H5,
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


def _weights_only(path: Path, meta: dict, keras_version: str | None,
                  backend: str | None) -> ModelFacts:
    names: list[str] | None = meta["layer_names"]
    root_keys: list[str] = meta["root_keys"]
    notes = ["weights only: no architecture in the file; the code (or architecture JSON) that "
             "builds the model is needed to load these weights"]
    if names is not None:
        detail = f"HDF5 weights only (Keras save_weights, {len(names)} layers"
        lambdas = [name for name in names if name.lower().startswith("lambda")]
        if lambdas:
            notes.append(f"layer names suggest Lambda layer(s) ({', '.join(lambdas[:LIST_PREVIEW])})"
                         " whose code is not in this file")
    elif any(key in _V3_WEIGHT_GROUPS or key.startswith("layers\\") for key in root_keys):
        detail = "HDF5 weights only (Keras 3 / .keras-style weights file"
    else:
        shown = ", ".join(root_keys[:LIST_PREVIEW]) or "nothing"
        raise bad(path, "HDF5 file but not a Keras model: no model_config, layer_names or Keras "
                        f"weights layout (root holds: {shown})")
    line = keras_line(keras_version)
    detail += f", {line})" if line else ")"
    odd = [key for key in root_keys if "\\" in key]
    if odd:
        notes.append(f"HDF5 group names contain Windows backslashes (e.g. {odd[0]!r}): written on "
                     "Windows; Keras on Linux/macOS may not find these weights")
    sibling = _architecture_json_beside(path)
    if sibling:
        notes.append(f"an architecture JSON lies beside it ({sibling}): rebuild with "
                     "model_from_json, then load_weights")
    return ModelFacts(
        path=str(path),
        format=FORMAT_H5_WEIGHTS,
        format_detail=detail,
        keras_version=keras_version,
        backend=backend,
        notes=tuple(notes),
    )


def _architecture_json_beside(path: Path) -> str | None:
    for candidate in (path.with_suffix(".json"), path.parent / "model.json"):
        if candidate != path and candidate.is_file():
            return candidate.name
    return None
