"""What a saved model says about itself: the output of the artifact stage.

Everything here is read from the file's own bytes (HDF5 attributes, zip members, protobuf wire
fields, JSON) or a sidecar; nothing is imported from the model and no model code is executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Project-file evidence lives in kresolve.project; ModelFacts carries it.
from kresolve.project.evidence import ProjectEvidence


class ModelFormat(StrEnum):
    """What kind of saved model a path is. The values are stable: they appear in `inspect --json`
    and in the rules DB's `format` keys (a StrEnum, so JSON and f-strings give the value)."""

    H5 = "keras-h5"  # HDF5 full model (model_config attribute present)
    H5_WEIGHTS = "keras-h5-weights"  # HDF5 weights only: needs code to rebuild the architecture
    KERAS_ZIP = "keras-zip"  # `.keras` zip (config.json + metadata.json + model.weights.h5)
    SAVEDMODEL = "savedmodel"  # TF SavedModel directory (saved_model.pb)
    # HDF5 weights (`save_weights`) with the architecture JSON (`to_json()`) beside it: loads with
    # `model_from_json` + `load_weights`; `ModelFacts.architecture` names the JSON file.
    WEIGHTS_JSON = "keras-weights-json"


class LambdaEncoding(StrEnum):
    """How a Lambda layer's function is stored in the file."""

    MARSHAL = "marshal"  # raw or base64 marshalled bytecode
    UNKNOWN = "unknown"  # a bytecode field that does not decode


@dataclass(frozen=True)
class TensorSpec:
    """One model input as declared by the file; `None` in a shape is an unknown (batch) dim."""

    name: str
    shape: tuple[int | None, ...] | None
    dtype: str = "float32"


@dataclass(frozen=True)
class CustomObject:
    """A class the file references that Keras itself does not define."""

    class_name: str
    module: str | None = None  # e.g. "my_pkg.layers" when the config records it
    registered_name: str | None = None  # e.g. "MyPackage>MyLayer"
    # True when only the training/compile config names it (a custom loss, metric or optimizer):
    # `load_model(..., compile=False)` does not need its code.
    compile_only: bool = False


@dataclass(frozen=True)
class LambdaLayer:
    """A Lambda layer; its function is stored as code and only runs if the model is trusted."""

    layer_name: str
    encoding: LambdaEncoding
    python_hint: str | None = None  # Python minor range the bytecode belongs to, when inferable


@dataclass(frozen=True)
class ProbeTensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    data: tuple[Any, ...]  # nested tuples of numbers, as recorded


@dataclass(frozen=True)
class Probe:
    """Inputs fed to the model at capture time and the outputs it produced then."""

    inputs: tuple[ProbeTensor, ...]
    outputs: tuple[ProbeTensor, ...]


@dataclass(frozen=True)
class Sidecar:
    """The `kresolve.json` written next to a model in its training environment."""

    path: str
    python_version: str | None  # "3.11.7"
    platform: str | None  # "linux-64"
    packages: tuple[tuple[str, str], ...]  # (canonical name, version), sorted
    custom_objects: tuple[tuple[str, str], ...] = ()  # (class name, import path)
    probe: Probe | None = None
    # TensorFlow build info as recorded (e.g. ("cuda_version", "12.2")), values as JSON text
    # unless they were strings; sorted by key.
    tensorflow_build: tuple[tuple[str, str], ...] = ()

    def package_version(self, name: str) -> str | None:
        return dict(self.packages).get(name)


@dataclass(frozen=True)
class ModelFacts:
    path: str
    format: ModelFormat
    format_detail: str  # human words, e.g. "HDF5 full model (Keras 2 legacy format)"
    keras_version: str | None = None  # as recorded, e.g. "2.2.4-tf", "3.4.1"
    backend: str | None = None
    tensorflow_version: str | None = None  # SavedModel meta_info_def.tensorflow_version
    tensorflow_git_version: str | None = None
    date_saved: str | None = None
    model_class: str | None = None  # top-level class_name ("Sequential", "Functional", ...)
    layer_classes: tuple[str, ...] = ()  # distinct class names, first appearance order
    custom_objects: tuple[CustomObject, ...] = ()
    lambda_layers: tuple[LambdaLayer, ...] = ()
    inputs: tuple[TensorSpec, ...] = ()
    has_training_config: bool = False
    signatures: tuple[str, ...] = ()  # SavedModel signature keys
    sidecar: Sidecar | None = None
    notes: tuple[str, ...] = field(default=())  # things a user should know (risks, oddities)
    # SavedModel: distinct op types the graph uses (custom-op libraries show up here), sorted.
    graph_ops: tuple[str, ...] = ()
    # Project files found near the model (requirements.txt, environment.yml, ...), strongest
    # evidence first: installed env, lock files, env/requirements files, declared ranges.
    project: tuple[ProjectEvidence, ...] = ()
    # ModelFormat.WEIGHTS_JSON: the architecture JSON file read with the weights file (`path`).
    architecture: str | None = None
