"""What a saved model says about itself: the output of the artifact stage.

Everything here is read from the file's own bytes (HDF5 attributes, zip members, protobuf wire
fields, JSON) or a sidecar; nothing is imported from the model and no model code is executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Format identifiers (stable: they appear in `inspect --json` and in the rules DB's `format` keys).
FORMAT_H5 = "keras-h5"  # HDF5 full model (model_config attribute present)
FORMAT_H5_WEIGHTS = "keras-h5-weights"  # HDF5 weights only: needs code to rebuild the architecture
FORMAT_KERAS_ZIP = "keras-zip"  # `.keras` zip (config.json + metadata.json + model.weights.h5)
FORMAT_SAVEDMODEL = "savedmodel"  # TF SavedModel directory (saved_model.pb)
# HDF5 weights (`save_weights`) with the architecture JSON (`to_json()`) beside it: loads with
# `model_from_json` + `load_weights`; `ModelFacts.architecture` names the JSON file.
FORMAT_WEIGHTS_JSON = "keras-weights-json"


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
    encoding: str  # "marshal" (raw or base64 bytecode), "source", "unknown"
    python_hint: str | None = None  # Python minor range the bytecode belongs to, when inferable


@dataclass(frozen=True)
class ProbeTensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    data: tuple  # nested tuples of numbers, as recorded


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


# Kinds of project evidence (stable ids: they appear in `inspect --json`).
PROJECT_CONDA_META = "conda-meta"  # an installed conda env: exact versions from conda-meta/*.json
PROJECT_PIPFILE_LOCK = "pipfile-lock"
PROJECT_POETRY_LOCK = "poetry-lock"
PROJECT_UV_LOCK = "uv-lock"
PROJECT_CONDA_ENV = "conda-env"  # environment.yml / environment.yaml / conda.yaml (MLflow)
PROJECT_REQUIREMENTS = "requirements"  # requirements*.txt (with its -r / -c includes)
PROJECT_MLFLOW_PYTHON_ENV = "mlflow-python-env"  # MLflow's python_env.yaml
PROJECT_PYPROJECT = "pyproject"  # [project] (PEP 621) and [tool.poetry]
PROJECT_PIPFILE = "pipfile"
PROJECT_SETUP_CFG = "setup-cfg"
PROJECT_PYTHON_VERSION = "python-version"  # pyenv's .python-version
PROJECT_RUNTIME_TXT = "runtime-txt"  # runtime.txt ("python-3.7.3", Heroku and friends)


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
    kind: str  # one of the PROJECT_* ids
    python: str | None
    packages: tuple[tuple[str, str, bool], ...]
    notes: tuple[str, ...] = ()

    def package(self, name: str) -> tuple[str, str, bool] | None:
        """The first entry for `name` (PEP 503 canonical form expected)."""
        for entry in self.packages:
            if entry[0] == name:
                return entry
        return None


@dataclass(frozen=True)
class ModelFacts:
    path: str
    format: str  # one of the FORMAT_* ids
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
    # FORMAT_WEIGHTS_JSON: the architecture JSON file read with the weights file (`path`).
    architecture: str | None = None
