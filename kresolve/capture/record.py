"""Record the training environment of a Keras/TensorFlow model: the `kresolve.json` sidecar (v1).

Runs INSIDE the training environment. Standalone on purpose: the standard library at import time;
NumPy, TensorFlow and Keras only inside the functions that need them; nothing else from kresolve.
That makes it runnable by path with any TF 2.12-2.21 / Keras 3 interpreter, including one where
kresolve itself is not installed (`kresolve capture --python /path/to/env/bin/python`):

    python record.py MODEL [--out FILE] [--trust] [--path DIR]... [--custom-object NAME=mod.Attr]...
                           [--import MODULE]... [--result RESULT.json]

What it records (schema v1, as `kresolve.artifact.sidecar` reads it):
- `python`: version and implementation; `platform`: conda-style name (linux-64, osx-arm64, ...);
- `packages`: EVERY installed distribution (PEP 503 name -> exact version), read from the
  `*.dist-info`/`*.egg-info` of the interpreter's import path as it was at startup. Folders that
  sit inside a site-packages folder (setuptools' `_vendor`, which importing TensorFlow can append
  to sys.path) are not install locations and are skipped, so vendored copies never show up;
- `tensorflow_build`: `tf.sysconfig.get_build_info()` (CUDA/cuDNN versions, is_cuda_build, ...)
  plus `gpu_visible`, the visible GPUs' names and the NVIDIA driver version when there is one;
- `custom_objects`: every class (and function: activations, losses, ...) the model uses that is
  not defined by keras/tensorflow/tf_keras, as class name -> `module.QualName`: layers at any
  depth, nested models, the model class itself, initializers/regularizers/constraints held by
  layers, and, when compiled, loss, metrics, optimizer and learning-rate schedule;
- `probe`: deterministic inputs - one `numpy.random.default_rng(0)` drawn in the model's input
  order, `standard_normal` for float inputs (integers 0/1 for integer inputs, so an Embedding
  accepts them), shaped from `model.inputs` with unknown dims set to 2 (the batch dim: 2) - and
  the outputs of `model(inputs, training=False)` computed on the CPU (a GPU may use TF32 and
  give results a CPU later cannot match), at full precision. Dict outputs are listed by sorted
  key, as the smoke loader flattens them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import math
import os
import platform
import re
import site
import sys
import sysconfig
import tempfile
import time
import traceback
import types
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    Spec = tuple[str, tuple[int | None, ...] | None, str]  # (input name, shape, dtype name)

SCHEMA_VERSION = 1
SIDECAR_NAME = "kresolve.json"
SIDECAR_SUFFIX = ".kresolve.json"
BATCH = 2
SEED = 0
# Must agree with kresolve.artifact.limits (the reader refuses sidecars over these; a test checks).
MAX_PROBE_ELEMENTS = 1_000_000
MAX_SIDECAR_BYTES = 64 * 1024 * 1024
# Top-level packages whose classes Keras knows without being told: not custom objects.
KERAS_PACKAGES = frozenset({"keras", "tensorflow", "tf_keras", "keras_core", "builtins"})

_HERE = os.path.dirname(os.path.abspath(__file__))
# The import path before anything (TensorFlow, setuptools) had a chance to extend it.
_STARTUP_PATH = list(sys.path)


class CaptureFailed(Exception):
    """A capture step failed; `stage` says which: "import", "load", "record" or "write"."""

    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage


# ----------------------------------------------------------------------------- environment


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def platform_name() -> str:
    """Conda-style platform name: linux-64, linux-aarch64, osx-64, osx-arm64, win-64, ..."""
    machine = platform.machine().lower()
    if sys.platform.startswith("linux"):
        system = "linux"
    elif sys.platform == "darwin":
        system = "osx"
    elif sys.platform in ("win32", "cygwin"):
        system = "win"
    else:
        system = sys.platform
    if machine in ("x86_64", "amd64"):
        arch = "64"
    elif machine in ("aarch64", "arm64"):
        arch = "arm64" if system in ("osx", "win") else "aarch64"
    elif machine in ("i386", "i686", "x86"):
        arch = "32"
    else:
        arch = machine  # ppc64le, s390x, armv7l: conda spells them the same way
    return f"{system}-{arch}"


def _site_dirs(path: list[str]) -> list[str]:
    dirs: set[str] = set()
    for getter in (getattr(site, "getsitepackages", None), getattr(site, "getusersitepackages", None)):
        try:
            found = getter() if getter else []
        except Exception:  # noqa: BLE001  virtualenv's old site.py lacks parts of the API
            found = []
        dirs.update([found] if isinstance(found, str) else found)
    for key in ("purelib", "platlib"):
        try:
            dirs.add(sysconfig.get_paths()[key])
        except Exception:  # noqa: BLE001, S110  sysconfig may lack a scheme key in odd installs: skip it
            pass
    dirs.update(p for p in path if os.path.basename(p.rstrip("/\\")) in ("site-packages", "dist-packages"))
    return [os.path.normcase(os.path.abspath(d)) for d in dirs if d]


def install_locations(path: list[str] | None = None) -> list[str]:
    """Import-path folders that hold installed distributions, in order.

    `path` defaults to sys.path as it was when this module was imported. A folder strictly
    inside a site-packages folder (e.g. `site-packages/setuptools/_vendor`, which importing
    TensorFlow can append to sys.path) is a package's private copy of other packages, not an
    install location, and is left out even when it was on the path already (capture_model()
    may import this module after TensorFlow).
    """
    path = _STARTUP_PATH if path is None else list(path)
    sites = _site_dirs(path)
    locations, seen = [], set()
    for entry in path:
        norm = os.path.normcase(os.path.abspath(entry or os.curdir))
        if norm == os.path.normcase(_HERE) or norm in seen:
            continue
        inside_site = any(norm != s and norm.startswith(s.rstrip(os.sep) + os.sep) for s in sites)
        if inside_site or "_vendor" in norm.split(os.sep):
            continue
        seen.add(norm)
        locations.append(entry)
    return locations


def installed_packages(path: list[str] | None = None) -> dict[str, str]:
    """Every installed distribution on `path` (default: install_locations()): canonical name ->
    version; the first on the path wins, as for `import` and `pip freeze`."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions(path=install_locations(path)):
        try:
            name, version = dist.metadata["Name"], dist.version
        except Exception:  # noqa: BLE001, S112  a broken .dist-info: skip it as pip does
            continue
        if name and version:
            found.setdefault(canonical_name(name), str(version))
    return dict(sorted(found.items()))


def environment_record() -> dict[str, Any]:
    """The interpreter, platform and installed distributions (no TensorFlow import)."""
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
        },
        "platform": platform_name(),
        "packages": installed_packages(),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _nvidia_driver() -> str | None:
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8", errors="replace") as fh:
            match = re.search(r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", fh.read(4096))
    except OSError:
        return None
    return match.group(1) if match else None


def tensorflow_build() -> dict[str, Any]:
    """`tf.sysconfig.get_build_info()` plus which GPUs this process can see ({} without TF)."""
    try:
        import tensorflow as tf
    except ImportError:
        return {}
    build: dict[str, Any] = _jsonable(dict(tf.sysconfig.get_build_info()))
    gpus = tf.config.list_physical_devices("GPU")
    build["gpu_visible"] = bool(gpus)
    if gpus:
        names = []
        for gpu in gpus:
            try:
                details = tf.config.experimental.get_device_details(gpu)
            except Exception:  # noqa: BLE001  device details are best effort: fall back to the device name
                details = {}
            name = details.get("device_name") or gpu.name
            capability = details.get("compute_capability")
            names.append(f"{name} (compute {capability[0]}.{capability[1]})" if capability else name)
        build["gpu_devices"] = names
    driver = _nvidia_driver()
    if driver:
        build["nvidia_driver_version"] = driver
    return build


# ----------------------------------------------------------------------------- custom objects


def _top_package(module: object) -> str:
    return str(module or "").split(".", 1)[0]


def _is_keras_defined(obj_type: Any) -> bool:
    return _top_package(getattr(obj_type, "__module__", "")) in KERAS_PACKAGES


def _keras_subclass(cls: Any) -> bool:
    """True for classes that derive from something Keras/TF defines (layers, losses, ...)."""
    return any(_is_keras_defined(base) for base in getattr(cls, "__mro__", ())[1:] if base is not object)


def _import_path(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "__main__"
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


class _CustomObjects:
    """Walks a model and collects what Keras would need `custom_objects` for."""

    _MAX_DEPTH = 6

    def __init__(self) -> None:
        self.found: dict[str, str] = {}  # name -> import path
        self.warnings: list[str] = []
        self._seen: set[int] = set()

    def add(self, name: str, obj: Any) -> None:
        path = _import_path(obj)
        if name in self.found:
            if self.found[name] != path:
                self.warnings.append(f"two custom objects are called {name}: {self.found[name]} and {path}; "
                                     f"recorded the first")
            return
        self.found[name] = path
        module = getattr(obj, "__module__", "") or ""
        if module == "__main__" or "<locals>" in path:
            where = "a function" if "<locals>" in path else "the main script"
            self.warnings.append(f"custom object {name} is defined in {where} ({path}); move it to an "
                                 f"importable module, or loading the model elsewhere cannot find it")

    def visit(self, value: Any, depth: int = 0) -> None:
        if depth > self._MAX_DEPTH or value is None or isinstance(value, (str, bytes, bool, int, float)):
            return
        if id(value) in self._seen:
            return
        self._seen.add(id(value))
        if isinstance(value, dict):
            for item in list(value.values())[:1000]:
                self.visit(item, depth + 1)
            return
        if isinstance(value, (list, tuple, set, frozenset)):
            for item in list(value)[:1000]:
                self.visit(item, depth + 1)
            return
        if isinstance(value, types.FunctionType):
            # Only module-level functions are custom objects (activations, losses, ...): methods
            # (Keras 3 wraps `build` per instance), closures and lambdas cannot be named in a config.
            name = getattr(value, "__name__", "")
            if not _is_keras_defined(value) and name != "<lambda>" and getattr(value, "__qualname__", name) == name:
                self.add(name, value)
            return
        if isinstance(value, type):
            if not _is_keras_defined(value) and _keras_subclass(value):
                self.add(value.__name__, value)
            return
        cls = type(value)
        if not _keras_subclass(cls) and not _is_keras_defined(cls):
            return  # not a Keras object (numpy arrays, tensors, user config objects, ...)
        if not _is_keras_defined(cls):
            self.add(cls.__name__, cls)
            try:  # a user's Keras object may hold functions or objects anywhere in its attributes
                attributes = list(vars(value).values())
            except TypeError:
                attributes = []
            for item in attributes[:1000]:
                self.visit(item, depth + 1)
            return
        if cls.__name__ == "Lambda":
            return  # its function is stored as code in the file, not looked up by name
        # Keras objects that wrap user functions or hold other objects worth a look.
        for attr in ("fn", "_fn", "activation", "kernel_initializer", "bias_initializer",
                     "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                     "kernel_constraint", "bias_constraint", "recurrent_initializer",
                     "recurrent_regularizer", "recurrent_constraint", "recurrent_activation",
                     "embeddings_initializer", "embeddings_regularizer", "embeddings_constraint",
                     "depthwise_initializer", "pointwise_initializer", "gamma_initializer",
                     "beta_initializer", "moving_mean_initializer", "moving_variance_initializer",
                     "_learning_rate", "learning_rate"):
            try:
                item = vars(value).get(attr)
            except TypeError:
                item = None
            if item is not None and not isinstance(item, (str, int, float, bool)):
                self.visit(item, depth + 1)


def _layers(model: Any) -> list[Any]:
    """The model and every layer inside it, at any depth (nested models included)."""
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is not None:
        try:
            return list(flatten(include_self=True, recursive=True))
        except Exception:  # noqa: BLE001, S110  private Keras API: fall back to walking the layers below
            pass
    found: list[Any] = []
    stack = [model]
    while stack:
        layer = stack.pop()
        if any(layer is f for f in found):
            continue
        found.append(layer)
        stack.extend(getattr(layer, "layers", None) or [])
    return found


def _compiled(model: Any) -> list[Any]:
    """What compile() was given: loss, metrics, optimizer (as objects, when compiled)."""
    items: list[Any] = []
    config = getattr(model, "_compile_config", None)
    config = getattr(config, "config", config)
    if isinstance(config, dict):
        items.extend(config.get(key) for key in ("loss", "metrics", "weighted_metrics", "optimizer"))
    items.append(getattr(model, "loss", None))
    for holder, attrs in (("compiled_loss", ("_user_losses",)),
                          ("compiled_metrics", ("_user_metrics", "_user_weighted_metrics")),
                          ("_compile_loss", ("_user_loss",)),
                          ("_compile_metrics", ("_user_metrics", "_user_weighted_metrics"))):
        obj = getattr(model, holder, None)
        items.extend(getattr(obj, attr, None) for attr in attrs)
    try:
        items.append(model.optimizer)
    except Exception:  # noqa: BLE001, S110  no optimizer (or one that will not build): nothing to record
        pass
    return items


def custom_objects_report(model: Any) -> tuple[dict[str, str], list[str]]:
    """(class or function name -> `module.QualName`, warnings) for everything the model uses that
    keras/tensorflow do not define."""
    walker = _CustomObjects()
    for layer in _layers(model):
        walker.visit(layer)
    for item in _compiled(model):
        walker.visit(item)
    return dict(sorted(walker.found.items())), walker.warnings


def custom_objects(model: Any) -> dict[str, str]:
    """Class (or function) name -> `module.QualName` for what the model uses beyond Keras/TF."""
    return custom_objects_report(model)[0]


# ----------------------------------------------------------------------------- probe


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None) or str(dtype)
    return {"str": "string", "object": "string", "bytes": "string"}.get(name, name)


def _spec_shape(shape: Any) -> tuple[int | None, ...] | None:
    """A shape as a tuple with None for unknown dims; None when even the rank is unknown."""
    if shape is None:
        return None
    try:
        dims = list(shape)  # a tf.TensorShape of unknown rank refuses to iterate
    except (TypeError, ValueError):
        return None
    return tuple(None if getattr(d, "value", d) is None else int(getattr(d, "value", d)) for d in dims)


def input_specs(model: Any) -> list[Spec]:
    """[(name, shape with None for unknown dims, dtype name)] in the model's input order."""
    tensors = getattr(model, "inputs", None) or []
    names = list(getattr(model, "input_names", None) or [])
    specs: list[Spec] = []
    for index, tensor in enumerate(tensors):
        name = names[index] if index < len(names) else getattr(tensor, "name", None)
        name = str(name or f"input_{index}").split(":")[0]
        specs.append((name, _spec_shape(getattr(tensor, "shape", None)), _dtype_name(tensor.dtype)))
    return specs


def probe_inputs(specs: Iterable[Spec], batch: int = BATCH) -> list[Any]:
    """Deterministic arrays for `specs`: one default_rng(SEED) drawn in order."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    arrays = []
    for _name, shape, dtype in specs:
        if shape is None:
            raise CaptureFailed("record", "an input has an unknown rank, so no probe can be shaped")
        concrete = tuple((batch if i == 0 else 2) if d is None else d for i, d in enumerate(shape))
        if dtype == "string":
            array = np.full(concrete, "kresolve probe", dtype=object)
        elif dtype == "bool":
            array = rng.standard_normal(concrete) > 0
        elif dtype.startswith(("int", "uint")):
            array = rng.integers(0, 2, size=concrete).astype(dtype)
        elif dtype == "float64":
            array = rng.standard_normal(concrete)
        else:
            array = rng.standard_normal(concrete).astype(np.float32)
            if dtype != "float32":
                array = _cast(array, dtype)
        arrays.append(array)
    return arrays


def _cast(array: Any, dtype: str) -> Any:
    try:
        return array.astype(dtype)
    except TypeError:  # bfloat16 needs ml_dtypes (it comes with TF)
        import ml_dtypes

        return array.astype(getattr(ml_dtypes, dtype))


def _pack(model: Any, arrays: list[Any]) -> Any:
    """Arrange flat input arrays the way the model's call expects them (array, list or dict)."""
    structure = getattr(model, "_inputs_struct", None)  # Keras 3
    if structure is None:
        structure = getattr(model, "_nested_inputs", None)  # tf.keras 2
    if isinstance(structure, dict):
        keys = sorted(structure)  # keras.tree and tf.nest flatten dicts by sorted key
        if len(keys) == len(arrays):
            return dict(zip(keys, arrays))
    if len(arrays) == 1 and not isinstance(structure, (list, tuple)):
        return arrays[0]
    return list(arrays)


def _flatten_outputs(raw: Any, names: list[str]) -> list[tuple[str, Any]]:
    """[(name, value)]: dicts by sorted key (as the smoke loader does), sequences in order."""
    if isinstance(raw, dict):
        return [(str(k), raw[k]) for k in sorted(raw)]
    if isinstance(raw, (list, tuple)):
        values = list(raw)
    else:
        values = [raw]
    if len(names) != len(values):
        names = [f"output_{i}" for i in range(len(values))]
    return list(zip(names, values))


def output_names(model: Any) -> list[str]:
    names = getattr(model, "output_names", None)
    if names:
        return [str(n) for n in names]
    found = []
    for tensor in getattr(model, "outputs", None) or []:
        history = getattr(tensor, "_keras_history", None)
        op = history[0] if history else None
        found.append(str(getattr(op, "name", None) or getattr(tensor, "name", "output")).split(":")[0])
    return found


def _to_numpy(value: Any) -> Any:
    import numpy as np

    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def _data(array: Any) -> Any:
    """Nested lists of JSON values for `array` (floats at full precision; non-finite as text)."""
    import numpy as np

    kind = array.dtype.kind
    flat: list[Any]
    if kind == "f" or str(array.dtype) == "bfloat16":
        def number(x: float) -> float | str:
            return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))
        flat = [number(x) for x in np.asarray(array, dtype=np.float64).ravel().tolist()]
        return _reshape(flat, list(array.shape))
    if kind == "c":
        flat = [[float(x.real), float(x.imag)] for x in array.ravel().tolist()]
        return _reshape(flat, list(array.shape))
    if kind in ("O", "S", "U"):
        flat = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in array.ravel().tolist()]
        return _reshape(flat, list(array.shape))
    return array.tolist()


def _reshape(flat: list[Any], shape: list[int]) -> Any:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [_reshape(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def tensor_record(name: str, value: Any) -> dict[str, Any]:
    array = _to_numpy(value)
    dtype = "string" if array.dtype.kind in ("O", "S", "U") else _dtype_name(array.dtype)
    return {"name": name, "dtype": dtype, "shape": [int(d) for d in array.shape], "data": _data(array)}


def _on_cpu() -> Any:  # a context manager
    """A context that places ops on the CPU (TF only; a no-op elsewhere)."""
    try:
        import tensorflow as tf
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return tf.device("/CPU:0")


def _probe_at(model: Any, batch: int) -> dict[str, Any]:
    specs = input_specs(model)
    if not specs:
        raise CaptureFailed("record", "the model has no known inputs (a subclassed model that was never "
                                      "called?), so no probe can be shaped")
    arrays = probe_inputs(specs, batch)
    with _on_cpu():
        raw = model(_pack(model, arrays), training=False)
    return {
        "inputs": [tensor_record(name, array) for (name, _, _), array in zip(specs, arrays)],
        "outputs": [tensor_record(name, value) for name, value in _flatten_outputs(raw, output_names(model))],
    }


def _probe_size(probe: dict[str, Any]) -> tuple[int, int]:
    elements = [math.prod(t["shape"]) for t in probe["inputs"] + probe["outputs"]]
    return max(elements or [0]), len(json.dumps(probe))


def probe(model: Any) -> dict[str, Any]:
    """Inputs (default_rng(0), batch 2) and the model's outputs on them, computed on the CPU.

    When a tensor would exceed what the sidecar reader accepts, the batch shrinks to 1; beyond
    that CaptureFailed("record") says so (write_sidecar then records no probe, with a warning).
    """
    for batch in (BATCH, 1):
        result = _probe_at(model, batch)
        largest, size = _probe_size(result)
        if largest <= MAX_PROBE_ELEMENTS and size <= MAX_SIDECAR_BYTES // 2:
            return result
    raise CaptureFailed("record", f"the probe is too large to record (a tensor of {largest} elements at "
                                  f"batch 1; the limit is {MAX_PROBE_ELEMENTS})")


def savedmodel_probe(path: str, signature: str = "serving_default") -> dict[str, Any]:
    """Probe a SavedModel through its signature (Keras 3 cannot load Keras 2 SavedModels as models):
    inputs by sorted name, outputs by sorted key, as the smoke loader feeds them."""
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    if signature not in loaded.signatures:
        raise CaptureFailed("record", f"the SavedModel has no {signature!r} signature "
                                      f"(it has: {', '.join(sorted(loaded.signatures)) or 'none'})")
    fn = loaded.signatures[signature]
    spec = fn.structured_input_signature[1]
    names = sorted(spec)
    specs = [(n, _spec_shape(spec[n].shape), _dtype_name(spec[n].dtype)) for n in names]
    arrays = probe_inputs(specs)
    with tf.device("/CPU:0"):
        raw = fn(**{n: tf.constant(a) for n, a in zip(names, arrays)})
    return {
        "inputs": [tensor_record(n, a) for n, a in zip(names, arrays)],
        "outputs": [tensor_record(n, v) for n, v in _flatten_outputs(raw, [])],
    }


# ----------------------------------------------------------------------------- the sidecar


def kresolve_version() -> str:
    try:
        return importlib.metadata.version("kresolve")
    except importlib.metadata.PackageNotFoundError:
        pass
    try:  # running from a checkout: kresolve/__init__.py next to this package
        with open(os.path.join(_HERE, os.pardir, "__init__.py"), encoding="utf-8") as fh:
            match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', fh.read(), re.MULTILINE)
        return match.group(1) if match else "unknown"
    except OSError:
        return "unknown"


def sidecar_path_for(model_path: str | os.PathLike[str]) -> str:
    """Where the sidecar for `model_path` goes, so that kresolve's lookup finds this one:
    `<model>.kresolve.json` when one already exists (the reader looks there first) or when a
    `kresolve.json` beside the model belongs to another model (or is not a sidecar); else
    `kresolve.json` in the model's folder."""
    model_path = os.path.abspath(os.fspath(model_path))
    folder, name = os.path.split(model_path.rstrip(os.sep)) if model_path != os.sep else (os.sep, "")
    beside = os.path.join(folder, name + SIDECAR_SUFFIX)
    shared = os.path.join(folder, SIDECAR_NAME)
    if os.path.exists(beside) or not os.path.exists(shared):
        return beside if os.path.exists(beside) else shared
    try:
        with open(shared, encoding="utf-8") as fh:
            document = json.load(fh)
    except (OSError, ValueError):
        return beside
    if isinstance(document, dict) and document.get("kresolve_sidecar") is not None and document.get("model") == name:
        return shared
    return beside


def model_name(model_path: str | os.PathLike[str]) -> str:
    """The name the sidecar's `model` field records: the file or folder name."""
    return os.path.basename(os.path.abspath(os.fspath(model_path)).rstrip(os.sep))


def _document(model_path: str | os.PathLike[str], build: dict[str, Any] | None, customs: dict[str, str],
              recorded_probe: dict[str, Any] | None) -> dict[str, Any]:
    document: dict[str, Any] = {"kresolve_sidecar": SCHEMA_VERSION, "model": model_name(model_path),
                "written_by": f"kresolve capture {kresolve_version()}"}
    document.update(environment_record())
    document["tensorflow_build"] = tensorflow_build() if build is None else build
    document["custom_objects"] = customs
    document["probe"] = recorded_probe
    return document


def sidecar_document(model: Any, model_path: str | os.PathLike[str],
                     build: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """(the sidecar v1 document for the in-memory `model`, saved at `model_path`, warnings).
    `build`: tensorflow_build() as taken earlier (default: now)."""
    customs, warnings = custom_objects_report(model)
    try:
        recorded_probe = probe(model)
    except CaptureFailed as exc:
        warnings.append(f"no probe recorded: {exc}")
        recorded_probe = None
    except Exception as exc:  # noqa: BLE001  the model would not run on generated inputs
        warnings.append(f"no probe recorded: calling the model on generated inputs failed ({_first_line(exc)})")
        recorded_probe = None
    return _document(model_path, build, customs, recorded_probe), warnings


def write_json_atomically(document: dict[str, Any], path: str, validate: Callable[[str], object] | None = None) -> str:
    """Write `document` to `path` via a temporary file in the same folder and a rename, so a
    reader never sees half a file and a failure leaves the old file untouched. `validate(tmp)`,
    when given, checks the written file before it replaces `path` (raise to refuse it)."""
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    if len(text.encode("utf-8")) > MAX_SIDECAR_BYTES:
        raise CaptureFailed("write", f"the sidecar would be {len(text) >> 20} MiB, over the "
                                     f"{MAX_SIDECAR_BYTES >> 20} MiB limit")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".kresolve-", suffix=".json.tmp", dir=folder)
    except OSError as exc:
        raise CaptureFailed("write", f"cannot write in {folder} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        if validate is not None:
            validate(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_sidecar(model: Any, model_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None,
                  validate: Callable[[str], object] | None = None, warnings: list[str] | None = None) -> str:
    """Record the in-memory `model` (as saved at `model_path`) and write its sidecar atomically.

    `out_path` defaults to sidecar_path_for(model_path); `validate(tmp_path)` may refuse the
    written file before it takes its place; what the recording warns about (custom objects
    defined in `__main__`, no probe, ...) is appended to the list `warnings` when given.
    Returns the path written.
    """
    document, found = sidecar_document(model, model_path)
    if warnings is not None:
        warnings.extend(found)
    return write_json_atomically(document, os.fspath(out_path or sidecar_path_for(model_path)), validate)


# ----------------------------------------------------------------------------- loading (script)


def _truthy(value: object) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def keras_module() -> tuple[Any, str]:
    """(the Keras this environment trains with, its label): tf_keras when TF_USE_LEGACY_KERAS is
    set, tf.keras for TF <= 2.15, else Keras 3's `keras`."""
    if _truthy(os.environ.get("TF_USE_LEGACY_KERAS")):
        try:
            import tf_keras

            return tf_keras, "tf_keras"
        except ImportError:
            pass  # TF <= 2.15 ignores the variable: tf.keras is Keras 2 there anyway
    try:
        import tensorflow as tf
    except ImportError:
        tf = None
    if tf is not None:
        version = tuple(int(p) for p in re.findall(r"\d+", tf.__version__)[:2])
        if version < (2, 16):
            return tf.keras, "tf.keras"
    import keras

    return keras, "keras"


def _resolve(spec: str) -> Any:
    module, _, attr = spec.rpartition(".")
    if not module:
        raise ImportError(f"{spec!r} is not a dotted import path")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _first_line(exc: BaseException, limit: int = 400) -> str:
    """`Type: message` on one line. Keras messages run to pages (configs, nested exceptions):
    keep the first line and the innermost "Exception encountered:" line, without configs."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    parts = [lines[0]] if lines else []
    inner = [line for line in lines[1:] if line.startswith("Exception encountered:")]
    if inner:
        parts.append(inner[-1])
    message = " ... ".join(re.split(r"\s*(?:using )?config=\{", part)[0].rstrip(" .:") for part in parts)
    message = message if len(message) <= limit else message[:limit - 3] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _is_savedmodel(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "saved_model.pb"))


def load_model(path: str, trust: bool = False,
               custom_objects: dict[str, Any] | None = None) -> tuple[Any, str, list[str]]:
    """(model or None, loaded_with, warnings): the model loaded as the training code would.

    The training configuration is compiled when it deserializes (so compiled losses and metrics
    are seen); when it does not, the model is loaded with compile=False and a warning says so.
    A Keras 3 environment cannot load a SavedModel as a Keras model: then the result is
    (None, "tf.saved_model", ...) and savedmodel_probe() probes its signature instead.
    """
    warnings: list[str] = []
    keras, label = keras_module()
    if _is_savedmodel(path) and label == "keras" and int(keras.__version__.split(".")[0]) >= 3:
        return None, "tf.saved_model", warnings
    kwargs: dict[str, Any] = {"custom_objects": custom_objects or None, "safe_mode": not trust}

    def attempt(compile_: bool) -> Any:
        try:
            return keras.models.load_model(path, compile=compile_, **kwargs)
        except TypeError as exc:  # tf.keras before 2.13 has no safe_mode
            if "safe_mode" not in str(exc):
                raise
            kwargs.pop("safe_mode", None)
            return keras.models.load_model(path, compile=compile_, **kwargs)

    try:
        return attempt(True), label, warnings
    except Exception as first:  # noqa: BLE001  any load error: retry once without the training config
        try:
            model = attempt(False)
        except Exception:  # noqa: BLE001  the compile=False retry failed too: report the first error
            raise first from None
        warnings.append(f"the training configuration did not deserialize ({_first_line(first)}); "
                        f"loaded with compile=False, so loss/metrics custom objects were not recorded")
        return model, label, warnings


def capture_file(model_path: str, out_path: str | None = None, trust: bool = False,
                 custom_objects: dict[str, str] | None = None, imports: Iterable[str] = ()) -> dict[str, Any]:
    """Load the model at `model_path` in this process, record it and write the sidecar.
    Returns {"path", "loaded_with", "warnings", "seconds"}; raises CaptureFailed."""
    start = time.monotonic()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model_path = os.path.abspath(model_path)
    try:
        import numpy  # noqa: F401
        keras_module()
    except Exception as exc:  # noqa: BLE001  any import failure means the wrong interpreter
        raise CaptureFailed("import", f"{sys.executable} cannot import Keras/TensorFlow ({_first_line(exc)}); "
                                      f"run capture with the training environment's Python") from None
    build = tensorflow_build()  # GPUs listed first: the record says what the machine has
    try:  # no op has run yet: keep GPUs out of this process (no memory grabbed, CPU numerics)
        import tensorflow as tf

        tf.config.set_visible_devices([], "GPU")
    except Exception:  # noqa: BLE001, S110  hiding GPUs is best effort: CPU numerics are only preferred
        pass
    resolved = {}
    for module in imports:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001  user modules raise anything on import
            raise CaptureFailed("load", f"cannot import {module} ({_first_line(exc)})") from None
    problems = {}
    for name, spec in (custom_objects or {}).items():
        if spec.startswith("__main__."):
            continue  # defined in the training script: nothing to import here
        try:
            resolved[name] = _resolve(spec)
        except Exception as exc:  # noqa: BLE001  user code raises anything
            problems[name] = f"{name} from {spec}: {_first_line(exc)}"
    try:
        model, loaded_with, warnings = load_model(model_path, trust, resolved)
    except Exception as exc:  # noqa: BLE001  Keras raises anything on a bad model
        message = _first_line(exc)
        if problems:
            note = (f"could not import custom object {'; '.join(problems.values())} (run from the project "
                    f"folder or add its folder to the import path)")
            if any(name in message for name in problems) or "deserializ" in message:
                message = f"{note}, then: {message}"  # the likely cause first
            else:
                message = f"{message} ({note})"
        if not trust and ("safe_mode" in message or "lambda" in message.lower()):
            message += " (the model stores code: load it only if you trust it, with trust=True / --trust-model)"
        raise CaptureFailed("load", message) from None
    try:
        if model is None:
            document = _document(model_path, build, {}, savedmodel_probe(model_path))
            warnings.append("Keras 3 cannot load this SavedModel as a Keras model: probed its "
                            "serving_default signature; custom objects not recorded")
        else:
            document, more = sidecar_document(model, model_path, build)
            warnings.extend(more)
    except CaptureFailed:
        raise
    except Exception as exc:  # noqa: BLE001  reported as the record stage's failure
        raise CaptureFailed("record", _first_line(exc)) from None
    path = out_path or sidecar_path_for(model_path)
    try:
        write_json_atomically(document, path)
    except CaptureFailed:
        raise
    except Exception as exc:  # noqa: BLE001  reported as the write stage's failure
        raise CaptureFailed("write", _first_line(exc)) from None
    return {"path": os.path.abspath(path), "loaded_with": loaded_with, "warnings": warnings,
            "seconds": round(time.monotonic() - start, 2)}


def main(argv: list[str] | None = None) -> int:
    # Run by path, Python puts this folder first on sys.path: take it off (its module names
    # must not shadow the user's) and put the working directory there instead, as `python -m`
    # would, so the project's own modules (custom layers) import as they did in training.
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == _HERE:
        sys.path[0] = os.getcwd()
    parser = argparse.ArgumentParser(prog="record.py", description="Write the kresolve.json sidecar "
                                     "for a saved model, from inside its training environment.")
    parser.add_argument("model")
    parser.add_argument("--out", help="sidecar path (default: beside the model)")
    parser.add_argument("--trust", action="store_true", help="allow Lambda/unsafe deserialization")
    parser.add_argument("--path", action="append", default=[], help="extra import path (repeatable)")
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        help="module to import before loading, e.g. one that registers custom layers")
    parser.add_argument("--custom-object", action="append", default=[], metavar="NAME=module.Attr")
    parser.add_argument("--result", help="write the outcome as JSON here (for kresolve capture)")
    args = parser.parse_args(argv)
    sys.path[:0] = [os.path.abspath(p) for p in args.path]
    customs = {}
    for item in args.custom_object:
        name, sep, spec = item.partition("=")
        if not sep:
            name, spec = item.rpartition(".")[2], item
        customs[name] = spec
    try:
        outcome = dict(ok=True, **capture_file(args.model, args.out, args.trust, customs, args.imports))
    except CaptureFailed as exc:
        outcome = {"ok": False, "stage": exc.stage, "error": str(exc)}
    except BaseException as exc:  # noqa: BLE001  report everything, SystemExit from a library included
        outcome = {"ok": False, "stage": "record", "error": _first_line(exc), "traceback": traceback.format_exc()}
    if args.result:
        with open(args.result, "w", encoding="utf-8") as fh:
            json.dump(outcome, fh)
    if outcome["ok"]:
        for warning in outcome["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        print(outcome["path"])
        return 0
    print(f"error: {args.model}: {outcome['error']}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
