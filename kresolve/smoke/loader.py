"""Runs INSIDE the smoke-test environment (its own interpreter): load the model, predict, report.

Standalone on purpose: only the standard library, NumPy and the TensorFlow/Keras of the locked
environment are imported (NumPy and TensorFlow lazily, so the probe rules below are importable
and testable without them). Usage: python -I loader.py REQUEST.json RESULT.json
The request names the model, the loader (a route's `loader` from the rules DB), whether the model
is trusted, extra import paths, custom objects, the architecture JSON (weights + JSON pairs) and
the probe inputs (or none: built from the model's real input specs). The result is JSON:
ok/error, versions, the probe rule per input, outputs.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

BATCH = 2  # rows in a generated probe
FREE_DIM = 8  # a None dim other than the batch: small, but large enough for 3x3 kernels
SMALL_INT_HIGH = 10  # integer inputs with no Embedding to bound them: [0, 10)
GUESSED_RANK = 2  # a signature input whose rank is unknown: try (batch, FREE_DIM) and say so
SHORT_WORDS = ("the", "a", "model", "loads", "fine")
RULE_RECORDED = "recorded-sidecar"


# ----------------------------------------------------------------------------- probe rules (pure)


@dataclass(frozen=True)
class InputSpec:
    """What the model says about one input; `shape` is None when even the rank is unknown."""

    name: str
    shape: tuple[int | None, ...] | None
    dtype: str  # "float32", "int32", "string", "bool", ...
    embedding_dim: int | None = None  # smallest input_dim of the Embedding layers it feeds
    vocabulary: tuple[str, ...] = ()  # StringLookup / TextVectorization vocabulary, when stored
    value_range: tuple[float, float] | None = None  # what a Rescaling/Normalization first layer expects


@dataclass(frozen=True)
class ProbePlan:
    """How to build one probe input: the rule's id (reported) and the concrete shape."""

    rule: str
    shape: tuple[int, ...]
    dtype: str
    low: float = 0.0
    high: float = 0.0
    words: tuple[str, ...] = ()


def is_string(dtype: str) -> bool:
    return dtype in ("string", "str", "object") or dtype.startswith(("<U", "|S", "bytes"))


def is_integer(dtype: str) -> bool:
    return dtype.startswith(("int", "uint"))


def concrete_shape(shape: tuple[int | None, ...] | None) -> tuple[tuple[int, ...], bool]:
    """(shape to feed, whether the rank was guessed). The batch dim becomes BATCH."""
    if shape is None:
        return (BATCH, *([FREE_DIM] * (GUESSED_RANK - 1))), True
    dims = [BATCH if i == 0 and d is None else (FREE_DIM if d is None else int(d)) for i, d in enumerate(shape)]
    return tuple(dims), False


def plan_probe(spec: InputSpec) -> ProbePlan:
    """The probe rule for one input: the first that fits, in order of how much the model says."""
    shape, guessed = concrete_shape(spec.shape)
    suffix = f"+rank-{GUESSED_RANK}-guessed" if guessed else ""
    if is_string(spec.dtype):
        if spec.vocabulary:
            return ProbePlan("vocabulary-strings" + suffix, shape, "string", words=spec.vocabulary[:16])
        return ProbePlan("short-words" + suffix, shape, "string", words=SHORT_WORDS)
    if spec.embedding_dim is not None:
        high = spec.embedding_dim
        return ProbePlan(f"embedding-indices<{high}" + suffix, shape, spec.dtype if is_integer(spec.dtype) else "int32", 0, high)
    if is_integer(spec.dtype):
        return ProbePlan(f"small-ints<{SMALL_INT_HIGH}" + suffix, shape, spec.dtype, 0, SMALL_INT_HIGH)
    if spec.dtype == "bool":
        return ProbePlan("bool" + suffix, shape, "bool", 0, 2)
    if spec.value_range is not None:
        low, top = spec.value_range
        return ProbePlan(f"uniform-{low:g}..{top:g}" + suffix, shape, spec.dtype, low, top)
    return ProbePlan("float-normal" + suffix, shape, spec.dtype if spec.dtype.startswith(("float", "bfloat")) else "float32")


def rescaling_range(scale: float, offset: float) -> tuple[float, float] | None:
    """Inputs that a Rescaling(scale, offset) maps onto [0, 1] (offset >= 0) or [-1, 1] (offset < 0):
    Rescaling(1/255) and Rescaling(1/127.5, -1) both expect pixel values 0..255."""
    if not scale:
        return None
    out_low = -1.0 if offset < 0 else 0.0
    ends = sorted(((out_low - offset) / scale, (1.0 - offset) / scale))
    return round(ends[0], 6), round(ends[1], 6)


def normalization_range(mean: Any, variance: Any) -> tuple[float, float] | None:
    """Inputs around what a Normalization layer was adapted to: mean ± 2 standard deviations."""
    try:
        means = [float(m) for m in _flat(mean)]
        stds = [max(float(v), 0.0) ** 0.5 for v in _flat(variance)]
    except (TypeError, ValueError):
        return None
    if not means or not stds:
        return None
    low = min(m - 2 * s for m, s in zip(means, stds * len(means) if len(stds) == 1 else stds))
    high = max(m + 2 * s for m, s in zip(means, stds * len(means) if len(stds) == 1 else stds))
    return (round(low, 6), round(high, 6)) if high > low else None


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    if hasattr(value, "tolist"):
        return _flat(value.tolist())
    return [value]


def specs_from_keras_config(doc: dict[str, Any]) -> dict[str, InputSpec]:
    """Input specs from a Keras model config (`to_json()`, keras_metadata.pb's root node): each
    InputLayer's shape and dtype, and what the layers it feeds say (Embedding input_dim,
    Rescaling/Normalization ranges, a vocabulary stored in the config)."""
    config = doc.get("config") if isinstance(doc, dict) else None
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        return {}
    layers = [layer for layer in layers if isinstance(layer, dict) and isinstance(layer.get("config"), dict)]
    inputs = [layer for layer in layers if layer.get("class_name") == "InputLayer"]
    others = [layer for layer in layers if layer.get("class_name") != "InputLayer"]
    if not inputs and others and "batch_input_shape" in others[0]["config"]:
        inputs = [{"class_name": "InputLayer", "config": {**others[0]["config"], "name": others[0]["config"].get("name", "input")}}]
    sequential = doc.get("class_name") == "Sequential"
    found = {}
    for layer in inputs:
        cfg = layer["config"]
        name = str(cfg.get("name") or layer.get("name") or "input")
        shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
        dims = tuple(None if d is None else int(d) for d in shape) if isinstance(shape, list) else None
        if sequential:
            consumers = others[:1]
        else:
            consumers = [o for o in others if f'"{name}"' in json.dumps(o.get("inbound_nodes", []))]
        embed = [int(o["config"]["input_dim"]) for o in consumers if o.get("class_name") == "Embedding" and "input_dim" in o["config"]]
        vocabulary: tuple[str, ...] = ()
        value_range = None
        for o in consumers:
            ocfg = o["config"]
            vocab = ocfg.get("vocabulary")
            if not vocabulary and isinstance(vocab, list):
                vocabulary = tuple(str(w) for w in vocab if w)
            if value_range is None and o.get("class_name") == "Rescaling" and isinstance(ocfg.get("scale"), (int, float)):
                value_range = rescaling_range(float(ocfg["scale"]), float(ocfg.get("offset") or 0.0))
            elif value_range is None and o.get("class_name") == "Normalization" and ocfg.get("mean") is not None:
                value_range = normalization_range(ocfg.get("mean"), ocfg.get("variance"))
        found[name] = InputSpec(name, dims, str(cfg.get("dtype") or "float32"), min(embed) if embed else None, vocabulary, value_range)
    return found


def merge_specs(signature: list[InputSpec], config: dict[str, InputSpec]) -> list[InputSpec]:
    """A signature's specs completed from the Keras config: unknown rank or None dims (other than
    the batch) from the config's shape, and the layer facts (Embedding, ranges, vocabulary)."""
    if not config:
        return signature
    merged = []
    for spec in signature:
        known = config.get(spec.name) or (next(iter(config.values())) if len(signature) == len(config) == 1 else None)
        if known is None:
            merged.append(spec)
            continue
        shape = spec.shape
        if known.shape is not None and (shape is None or len(shape) == len(known.shape)):
            shape = tuple(k if s is None else s for s, k in zip(shape or known.shape, known.shape))
        merged.append(InputSpec(spec.name, shape, spec.dtype, known.embedding_dim, known.vocabulary, known.value_range))
    return merged


def make_probe(np: Any, plan: ProbePlan, seed: int) -> Any:  # np: the numpy module; a numpy array
    """A deterministic array for `plan` (strings as a NumPy array of str)."""
    rng = np.random.default_rng(seed)
    if plan.words:
        picks = rng.integers(0, len(plan.words), size=(*plan.shape, 3))
        flat = [" ".join(plan.words[i] for i in row) for row in picks.reshape(-1, 3)]
        return np.array(flat, dtype=object).reshape(plan.shape)
    if plan.dtype == "bool":
        return rng.integers(0, 2, size=plan.shape).astype(bool)
    if is_integer(plan.dtype):
        return rng.integers(int(plan.low), int(plan.high), size=plan.shape).astype(plan.dtype)
    if plan.high > plan.low:
        return rng.uniform(plan.low, plan.high, size=plan.shape).astype(plan.dtype)
    return rng.standard_normal(plan.shape).astype("float32").astype(plan.dtype)


# ----------------------------------------------------------------------------- reading the model


def _custom_objects(spec: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, path in spec.items():
        module, _, attr = path.rpartition(".")
        found[name] = getattr(importlib.import_module(module), attr)
    return found


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None) or str(dtype)
    return "string" if name in ("string", "str") else name


def _feeds(layer: Any, tensor: Any) -> bool:
    try:
        inputs = layer.input
    except (AttributeError, ValueError, RuntimeError):  # a layer with several or no inbound nodes
        return False
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return any(t is tensor for t in inputs)


def _layer_kind(layer: Any) -> str:
    return type(layer).__name__


def _vocabulary(layer: Any) -> tuple[str, ...]:
    getter = getattr(layer, "get_vocabulary", None)
    if getter is None:
        return ()
    try:
        words = getter()
    except Exception:  # noqa: BLE001 - an unadapted layer has no vocabulary; fall back to short words
        return ()
    found = []
    for w in words:
        w = w.decode("utf-8", "replace") if isinstance(w, bytes) else str(w)
        if w and w not in ("[UNK]", "[MASK]", "") and not w.startswith("["):
            found.append(w)
    return tuple(found)


def _array(layer: Any, attr: str) -> Any:
    import numpy as np

    value = getattr(layer, attr, None)
    return None if value is None else np.asarray(value).tolist()


def keras_input_specs(model: Any) -> list[InputSpec]:
    """Input specs of a loaded Keras model, read from the layers each input feeds."""
    layers = [layer for layer in getattr(model, "layers", []) if _layer_kind(layer) != "InputLayer"]
    inputs = list(getattr(model, "inputs", None) or [])
    if not inputs:
        raise ValueError("the loaded model declares no inputs (a subclassed model that was never called?), so no probe can be built")
    specs = []
    for i, tensor in enumerate(inputs):
        consumers = [layer for layer in layers if _feeds(layer, tensor)]
        if not consumers and len(inputs) == 1 and layers:
            consumers = layers[:1]  # Sequential: the first layer is fed by the only input
        dims = [layer.input_dim for layer in consumers if _layer_kind(layer) == "Embedding"]
        vocabulary: tuple[str, ...] = ()
        value_range = None
        for layer in consumers:
            vocabulary = vocabulary or _vocabulary(layer)
            if _layer_kind(layer) == "Rescaling" and value_range is None:
                value_range = rescaling_range(float(layer.scale), float(layer.offset))
            elif _layer_kind(layer) == "Normalization" and value_range is None:
                value_range = normalization_range(_array(layer, "mean"), _array(layer, "variance"))
        name = str(getattr(tensor, "name", f"input_{i}")).split(":")[0]
        shape = tuple(tensor.shape) if getattr(tensor.shape, "rank", 0) is not None else None
        specs.append(InputSpec(name, shape, _dtype_name(tensor.dtype), min(dims) if dims else None, vocabulary, value_range))
    return specs


def signature_input_specs(spec: dict[str, Any]) -> tuple[list[str], list[InputSpec]]:
    names = sorted(spec)
    found = []
    for n in names:
        shape = spec[n].shape
        dims = None if shape.rank is None else tuple(shape.as_list())
        found.append(InputSpec(n, dims, _dtype_name(spec[n].dtype)))
    return names, found


@dataclass(frozen=True)
class ExampleFeature:
    """One feature a signature's ParseExample op reads from each serialized tf.train.Example."""

    key: str
    dtype: str  # "float32", "int64" or "string" (the three tf.train.Feature lists)
    shape: tuple[int, ...]  # values per example: a FixedLenFeature's shape; () for a sparse feature


def example_rule(features: list[ExampleFeature]) -> str:
    """The probe rule's id: serialized tf.train.Example protos with these features."""
    return "tf-example(" + ",".join(f"{f.key}:{f.dtype}{list(f.shape)}" for f in features) + ")"


def example_values(np: Any, feature: ExampleFeature, rng: Any) -> list[Any]:
    count = 1
    for d in feature.shape:
        count *= max(int(d), 1)  # a FixedLenSequenceFeature's unknown dim (-1): one value
    if feature.dtype == "string":
        return [SHORT_WORDS[i].encode() for i in rng.integers(0, len(SHORT_WORDS), size=count)]
    if feature.dtype == "int64":
        return [int(v) for v in rng.integers(0, SMALL_INT_HIGH, size=count)]
    return [float(v) for v in rng.standard_normal(count).astype("float32")]


def _static_strings(tf: Any, tensors: Any) -> list[str]:
    found = []
    for t in tensors:
        value = tf.get_static_value(t)
        if value is None:
            raise ValueError(f"ParseExample key {t.name} is not a constant")
        for v in _values_of(value):
            found.append(v.decode() if isinstance(v, bytes) else str(v))
    return found


def _values_of(value: Any) -> list[Any]:
    return value.reshape(-1).tolist() if hasattr(value, "reshape") else [value]


def _type_name(dtype: Any) -> str:
    name = _dtype_name(dtype)
    return name if name in ("int64", "string") else "float32"


CALL_OPS = ("StatefulPartitionedCall", "PartitionedCall")


def _graphs(graph: Any, depth: int = 4) -> Iterator[Any]:
    """`graph` and the graphs of the functions it calls: a TF2 signature wraps the traced function
    in a (Stateful)PartitionedCall, a pruned TF1 signature holds its ops itself."""
    yield graph
    if depth == 0:
        return
    for op in graph.get_operations():
        if op.type not in CALL_OPS:
            continue
        try:  # FuncGraph._get_function is private: without it, only the outer graph is read
            inner = graph._get_function(op.get_attr("f").name).graph
        except Exception:  # noqa: BLE001, S112 - a call whose function cannot be read is skipped
            continue
        yield from _graphs(inner, depth - 1)


def parsed_features(tf: Any, graph: Any) -> list[ExampleFeature] | None:
    """The features of the one ParseExample(V2) op of a signature's graph that parses a
    placeholder (TF1 classify/regress and Estimator serving signatures take serialized
    tf.train.Example protos, not tensors); None when the graph has no such single op."""
    ops = [op for g in _graphs(graph) for op in g.get_operations()
           if op.type in ("ParseExample", "ParseExampleV2") and op.inputs[0].op.type == "Placeholder"]
    if len(ops) != 1:
        return None
    op = ops[0]
    shapes = [tuple(tf.TensorShape(s).as_list()) for s in op.get_attr("dense_shapes")]
    dense_types = op.get_attr("Tdense")
    sparse_types = op.get_attr("sparse_types")
    if op.type == "ParseExample":  # serialized, names, sparse_keys..., dense_keys..., dense_defaults...
        n_sparse, n_dense = op.get_attr("Nsparse"), op.get_attr("Ndense")
        sparse_keys = _static_strings(tf, op.inputs[2:2 + n_sparse])
        dense_keys = _static_strings(tf, op.inputs[2 + n_sparse:2 + n_sparse + n_dense])
    else:  # serialized, names, sparse_keys, dense_keys, ragged_keys, dense_defaults...
        sparse_keys = _static_strings(tf, [op.inputs[2]])
        dense_keys = _static_strings(tf, [op.inputs[3]])
        if _static_strings(tf, [op.inputs[4]]):
            return None  # ragged features: not built here
    features = [ExampleFeature(k, _type_name(t), tuple(-1 if d is None else d for d in s))
                for k, t, s in zip(dense_keys, dense_types, shapes)]
    features += [ExampleFeature(k, _type_name(t), ()) for k, t in zip(sparse_keys, sparse_types)]
    return features


def serialized_examples(tf: Any, np: Any, features: list[ExampleFeature], seed: int) -> Any:
    """BATCH serialized tf.train.Example protos (deterministic) holding every feature."""
    rng = np.random.default_rng(seed)
    lists = {"string": ("bytes_list", tf.train.BytesList), "int64": ("int64_list", tf.train.Int64List),
             "float32": ("float_list", tf.train.FloatList)}
    protos = []
    for _ in range(BATCH):
        feature = {}
        for f in features:
            field, kind = lists[f.dtype]
            feature[f.key] = tf.train.Feature(**{field: kind(value=example_values(np, f, rng))})
        protos.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return np.array(protos, dtype=object)


def saved_keras_config(path: str) -> dict[str, Any]:
    """The Keras config a Keras 2 SavedModel keeps in keras_metadata.pb (root node), or {}."""
    import os

    metadata = os.path.join(path, "keras_metadata.pb")
    if not os.path.isfile(metadata):
        return {}
    schema = None
    for module in ("tf_keras.protobuf.saved_metadata_pb2", "keras.protobuf.saved_metadata_pb2",
                   "tensorflow.python.keras.protobuf.saved_metadata_pb2"):
        try:
            schema = importlib.import_module(module)
            break
        except ImportError:
            continue
    if schema is None:
        return {}
    meta = schema.SavedMetadata()
    with open(metadata, "rb") as fh:
        meta.ParseFromString(fh.read())
    for node in meta.nodes:
        if node.node_path == "root":
            data = json.loads(node.metadata)
            return {"class_name": data.get("class_name"), "config": data.get("config")}
    return {}


def _probe_inputs(np: Any, request: dict[str, Any], specs: list[InputSpec]) -> tuple[list[Any], list[str]]:
    if request.get("probe_inputs"):
        arrays = []
        for t in request["probe_inputs"]:
            dtype = object if is_string(t["dtype"]) else t["dtype"]
            arrays.append(np.asarray(t["data"], dtype=dtype))
        return arrays, [RULE_RECORDED] * len(arrays)
    plans = [plan_probe(s) for s in specs]
    return [make_probe(np, p, seed=i) for i, p in enumerate(plans)], [p.rule for p in plans]


def _tensor(tf: Any, array: Any) -> Any:
    """Strings go in as tf.string tensors (Keras 3 refuses object arrays)."""
    if tf is not None and array.dtype == object:
        return tf.constant(array.tolist())
    return array


def _to_list(np: Any, value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [_to_list(np, value[k])[0] for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _to_list(np, v)]
    return [np.asarray(value)]


WEIGHTS_MEMBER = "model.weights.h5"
WINDOWS_SEP = "\\"
WINDOWS_NAMES_NOTE = ("loaded from a repaired copy: the weights' HDF5 group names used Windows backslashes"
                      " (written by tf.keras on Windows, keras-team/keras#18528), rewritten with '/'")


def posix_names(names: Iterable[str]) -> dict[str, str] | None:
    """Windows-written name -> the '/' name Keras looks up; None when no name has a backslash.
    tf.keras 2.13-2.15 joined a .keras file's weight paths with os.path.join, so on Windows
    'layers\\dense' became one group name that Keras elsewhere never finds."""
    names = list(names)
    if not any(WINDOWS_SEP in n for n in names):
        return None
    mapping = {n: n.replace(WINDOWS_SEP, "/") for n in names}
    if len(set(mapping.values())) != len(mapping):
        raise ValueError(f"{WEIGHTS_MEMBER}: Windows and '/' group names collide; the weights are ambiguous")
    return mapping


def _copy_h5_posix(h5py: Any, src: Any, dst: Any) -> bool:
    """Copy HDF5 file object `src` to `dst` with '/' for backslashes in names; False when none had one."""
    with h5py.File(src, "r") as fin:
        found: list[tuple[str, Any]] = []

        def collect(name: str, obj: Any) -> None:  # visititems stops at the first callback that returns non-None
            found.append((name, obj))

        fin.visititems(collect)
        mapping = posix_names(name for name, _ in found)
        if mapping is None:
            return False
        with h5py.File(dst, "w") as fout:
            fout.attrs.update(fin.attrs)
            for name, obj in found:
                new = mapping[name]
                if isinstance(obj, h5py.Dataset):
                    copy = fout.create_dataset(new, data=obj[()], dtype=obj.dtype)
                else:
                    copy = fout.require_group(new)
                copy.attrs.update(obj.attrs)
    return True


def repaired_keras_zip(path: str, into: str) -> str | None:
    """A copy (under `into`) of a .keras zip whose weights use Windows group names, renamed; None
    when the file needs no repair. The user's file is only read."""
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(path) as archive:
        if WEIGHTS_MEMBER not in archive.namelist():
            return None
        fixed = io.BytesIO()
        with archive.open(WEIGHTS_MEMBER) as member:
            if not _copy_h5_posix(h5py, io.BytesIO(member.read()), fixed):
                return None
        copy = os.path.join(into, os.path.basename(path))
        with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as out:
            for info in archive.infolist():
                out.writestr(info, fixed.getvalue() if info.filename == WEIGHTS_MEMBER else archive.read(info))
    return copy


def _load_keras(keras: Any, loader: str, path: str, architecture: str | None, custom: dict[str, Any],
                trust: bool) -> Any:
    if architecture:
        # save_weights() + to_json(): rebuild the architecture, then read the weights into it.
        with open(architecture, encoding="utf-8") as fh:
            text = fh.read()
        if trust and hasattr(keras, "config") and hasattr(keras.config, "enable_unsafe_deserialization"):
            keras.config.enable_unsafe_deserialization()  # Keras 3: Lambda only when trusted
        model = keras.models.model_from_json(text, custom_objects=custom or None)
        model.load_weights(path)
        return model
    kwargs = {"compile": False, "custom_objects": custom or None}
    if str(path).endswith(".keras") or loader == "keras":
        kwargs["safe_mode"] = not trust
    try:
        return keras.models.load_model(path, **kwargs)
    except TypeError as exc:  # tf.keras before 2.13 has no safe_mode
        if "safe_mode" not in str(exc):
            raise
        kwargs.pop("safe_mode")
        return keras.models.load_model(path, **kwargs)


def run(request: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    sys.path[:0] = request.get("paths", [])
    for module in request.get("modules", []):  # user code that defines/registers custom objects
        importlib.import_module(module)
    loader, path, trust = request["loader"], request["model"], request.get("trust", False)
    architecture = request.get("architecture")
    custom = _custom_objects(request.get("custom_objects", {}))
    versions: dict[str, str] = {}
    repaired: str | None = None
    tf: Any = None  # the tensorflow module, when the loader imports it
    keras: Any  # the Keras module the loader uses
    if loader in ("tf.keras", "tf_keras", "keras"):
        if loader == "tf.keras":
            import tensorflow as tf  # type: ignore[no-redef]  # the loader picks its TF/Keras module at run time

            keras = tf.keras
            versions["tensorflow"] = tf.__version__
        elif loader == "tf_keras":
            import tensorflow as tf  # type: ignore[no-redef]
            import tf_keras as keras  # type: ignore[no-redef]

            versions["tensorflow"] = tf.__version__
        else:
            import keras  # type: ignore[no-redef]

            versions["keras_backend"] = keras.backend.backend()
            if versions["keras_backend"] == "tensorflow":
                import tensorflow as tf  # type: ignore[no-redef]
        versions["keras"] = getattr(keras, "__version__", "")
        if not architecture and str(path).endswith(".keras") and os.path.isfile(path):
            # The copy goes to the working directory: the smoke run's temporary directory.
            copy = repaired_keras_zip(path, os.getcwd())
            if copy is not None:
                path, repaired = copy, WINDOWS_NAMES_NOTE
        model = _load_keras(keras, loader, path, architecture, custom, trust)
        specs = keras_input_specs(model)
        inputs, rules = _probe_inputs(np, request, specs)
        fed = [_tensor(tf, a) for a in inputs]
        raw = model(fed if len(fed) > 1 else fed[0], training=False)
        names = [s.name for s in specs]
    elif loader in ("tfsmlayer", "tf.saved_model"):
        import tensorflow as tf  # type: ignore[no-redef]

        versions["tensorflow"] = tf.__version__
        fn = tf.saved_model.load(path).signatures["serving_default"]
        layer = None
        if loader == "tfsmlayer":
            import keras  # type: ignore[no-redef]

            versions["keras"] = keras.__version__
            layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
        names, specs = signature_input_specs(fn.structured_input_signature[1])
        if not request.get("probe_inputs"):
            try:
                config = specs_from_keras_config(saved_keras_config(path))
            except Exception:  # noqa: BLE001 - the metadata only refines the probe; the signature suffices
                config = {}
            specs = merge_specs(specs, config)
        inputs, rules = _probe_inputs(np, request, specs)
        features = None
        if not request.get("probe_inputs") and len(specs) == 1 and is_string(specs[0].dtype):
            features = parsed_features(tf, fn.graph)
        if features:
            inputs, rules = [serialized_examples(tf, np, features, seed=0)], [example_rule(features)]
        feed = {n: tf.constant(a.tolist() if a.dtype == object else a) for n, a in zip(names, inputs)}
        if layer is not None:
            raw = layer(feed) if len(feed) > 1 else layer(next(iter(feed.values())))
        else:
            raw = fn(**feed)
    elif loader == "keras.multibackend":
        # Standalone Keras 1.x-2.3 on the backend the route's KERAS_BACKEND names. Targets of that
        # era run Python <= 3.7, which this host lacks: this branch is not proven here.
        import keras  # type: ignore[no-redef]

        versions["keras"] = keras.__version__
        versions["keras_backend"] = keras.backend.backend()
        if versions["keras_backend"] == "tensorflow":
            import tensorflow as backend_tf

            versions["tensorflow"] = backend_tf.__version__
        elif versions["keras_backend"] == "theano":
            import theano

            versions["theano"] = theano.__version__
        if architecture:
            model = _load_keras(keras, loader, path, architecture, custom, trust)
        else:
            try:
                model = keras.models.load_model(path, compile=False, custom_objects=custom or None)
            except TypeError as exc:  # Keras 1.x load_model has no `compile`
                if "compile" not in str(exc):
                    raise
                model = keras.models.load_model(path, custom_objects=custom or None)
        specs = keras_input_specs(model)
        inputs, rules = _probe_inputs(np, request, specs)
        raw = model.predict(inputs if len(inputs) > 1 else inputs[0], batch_size=len(inputs[0]))
        names = [s.name for s in specs]
    elif loader == "tf.compat.v1.saved_model":
        # A TF1 SavedModel through a session and its serving signature (not proven on this host:
        # TensorFlow 1.x has no wheels for Python >= 3.8).
        import tensorflow as tf  # type: ignore[no-redef]

        versions["tensorflow"] = tf.__version__
        v1 = tf.compat.v1 if hasattr(tf, "compat") and hasattr(tf.compat, "v1") else tf  # compat.v1 from 1.13
        graph = tf.Graph()
        with v1.Session(graph=graph) as sess:
            meta = v1.saved_model.loader.load(sess, ["serve"], path)
            sig = meta.signature_def["serving_default"]
            names = sorted(sig.inputs)
            specs = []
            for n in names:
                shape = sig.inputs[n].tensor_shape
                dims = None if shape.unknown_rank else tuple(None if d.size < 0 else d.size for d in shape.dim)
                specs.append(InputSpec(n, dims, tf.as_dtype(sig.inputs[n].dtype).name))
            inputs, rules = _probe_inputs(np, request, specs)
            feed = {graph.get_tensor_by_name(sig.inputs[n].name): (a.tolist() if a.dtype == object else a)
                    for n, a in zip(names, inputs)}
            keys = sorted(sig.outputs)
            fetched = sess.run([graph.get_tensor_by_name(sig.outputs[k].name) for k in keys], feed_dict=feed)
            raw = dict(zip(keys, fetched))
    else:
        raise ValueError(f"unknown loader {loader!r}")
    outputs = _to_list(np, raw)
    return {
        "ok": True,
        "versions": versions,
        "probe_rules": [[n, r] for n, r in zip(names or [f"input_{i}" for i in range(len(rules))], rules)],
        "inputs": [{"shape": list(a.shape), "dtype": "string" if a.dtype == object else str(a.dtype)} for a in inputs],
        "outputs": [
            {"shape": list(o.shape), "dtype": str(o.dtype), "data": o.astype("float64").tolist()} for o in outputs
        ],
        "peak_rss_kib": _peak_rss_kib(),
        "repaired": repaired,
    }


def _peak_rss_kib() -> int | None:
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
    except (ImportError, OSError):
        return None


def main() -> None:
    request_path, result_path = sys.argv[1], sys.argv[2]
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    try:
        result = run(request)
    except BaseException as exc:  # noqa: BLE001 - report every failure, including SystemExit and MemoryError
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
