"""TensorFlow SavedModel directories, read with the wire decoder (no protobuf library, no TF).

Field numbers come from TensorFlow's .proto files (tensorflow/core/protobuf/saved_model.proto,
meta_graph.proto, saved_object_graph.proto, struct.proto; core/framework/graph.proto,
node_def.proto, function.proto, op_def.proto, tensor_shape.proto, types.proto) and Keras'
saved_metadata.proto.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kresolve.artifact.facts import (
    CustomObject,
    LambdaLayer,
    ModelFacts,
    ModelFormat,
    TensorSpec,
)
from kresolve.artifact.jsontext import bad, parse_json, read_bounded
from kresolve.artifact.kerasconfig import keras_line, read_model_config, summarize_notes
from kresolve.artifact.limits import MAX_KERAS_METADATA_BYTES, MAX_PROTO_BYTES
from kresolve.artifact.protowire import Message, WireError, to_int64

SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"
KERAS_METADATA_PB = "keras_metadata.pb"

# SavedModel
_SM_SCHEMA_VERSION, _SM_META_GRAPHS = 1, 2
# MetaGraphDef
_MG_META_INFO, _MG_GRAPH, _MG_SIGNATURES, _MG_OBJECT_GRAPH = 1, 2, 5, 7
# MetaInfoDef
_MI_STRIPPED_OPS, _MI_TAGS, _MI_TF_VERSION, _MI_TF_GIT = 2, 4, 5, 6
# OpList.op / OpDef.name
_OPLIST_OP, _OPDEF_NAME = 1, 1
# GraphDef / NodeDef / FunctionDefLibrary / FunctionDef
_GRAPH_NODE, _GRAPH_LIBRARY = 1, 2
_NODE_NAME, _NODE_OP = 1, 2
_LIB_FUNCTION = 1
_FN_SIGNATURE, _FN_NODE_DEF = 1, 3
# map entries
_MAP_KEY, _MAP_VALUE = 1, 2
# SignatureDef / TensorInfo / TensorShapeProto / Dim
_SIG_INPUTS = 1
_TI_NAME, _TI_DTYPE, _TI_SHAPE = 1, 2, 3
_SHAPE_DIM, _SHAPE_UNKNOWN_RANK = 2, 3
_DIM_SIZE = 1
# SavedObjectGraph / SavedObject / SavedUserObject
_OG_NODES = 1
_SO_USER_OBJECT = 4
_UO_IDENTIFIER, _UO_METADATA = 1, 3
# Keras SavedMetadata / SavedObject (keras/protobuf/saved_metadata.proto)
_KM_NODES = 1
_KO_NODE_ID, _KO_NODE_PATH, _KO_IDENTIFIER, _KO_METADATA = 2, 3, 4, 5

# tensorflow/core/framework/types.proto DataType
DTYPES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128", 19: "float16",
    20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
}

_KERAS_LAYER_IDENTIFIERS = ("_tf_keras_layer", "_tf_keras_rnn_layer", "_tf_keras_input_layer",
                            "_tf_keras_network", "_tf_keras_model", "_tf_keras_sequential")


def read_savedmodel(directory: Path) -> ModelFacts:
    pb = directory / SAVED_MODEL_PB
    if not pb.is_file():
        if (directory / SAVED_MODEL_PBTXT).is_file():
            raise bad(directory, "text-format SavedModel (saved_model.pbtxt) is not supported; "
                                 "re-save it in binary form")
        raise bad(directory, f"no {SAVED_MODEL_PB}: not a SavedModel directory")
    data = read_bounded(pb, MAX_PROTO_BYTES, allow_empty=False)
    try:
        return _read(directory, pb, data)
    except WireError as exc:
        raise bad(pb, f"not a valid SavedModel protobuf ({exc})") from None


def _read(directory: Path, pb: Path, data: bytes) -> ModelFacts:
    saved_model = Message(data)
    schema = saved_model.varint(_SM_SCHEMA_VERSION)
    meta_graphs = saved_model.messages(_SM_META_GRAPHS)
    if not meta_graphs:
        raise bad(pb, "protobuf holds no meta graph: not a SavedModel")
    tagged = [(mg, _meta_info(mg)) for mg in meta_graphs]
    meta_graph, info = next(((mg, i) for mg, i in tagged if "serve" in i["tags"]), tagged[0])
    tf_version, tf_git = info["tf_version"], info["tf_git"]
    if tf_version is None and tf_git is None and not meta_graph.has(_MG_SIGNATURES) \
            and not meta_graph.has(_MG_GRAPH):
        raise bad(pb, "protobuf has neither a TensorFlow version, a graph nor signatures: "
                      "not a SavedModel")

    signatures = _signatures(meta_graph)
    ops = info["ops"] or _graph_ops(meta_graph)
    keras = _read_keras(directory, meta_graph)
    notes: list[str] = list(keras.notes) if keras else []

    if keras is not None:
        detail = f"TF2 SavedModel written by {keras_line(keras.keras_version) or 'Keras'} ({keras.source})"
        notes.append("Keras 3 cannot load_model() a SavedModel: use tf_keras "
                     "(TF_USE_LEGACY_KERAS=1) or keras.layers.TFSMLayer for inference")
    elif meta_graph.has(_MG_OBJECT_GRAPH):
        detail = "TF2 SavedModel (object graph; not written by Keras)"
    else:
        detail = "TF1 SavedModel (no object graph)"
    detail += f"; tags: {', '.join(info['tags']) or 'none'}"
    if len(meta_graphs) > 1:
        all_tags = "; ".join(",".join(i["tags"]) or "(none)" for _, i in tagged)
        notes.append(f"{len(meta_graphs)} meta graphs (tag sets: {all_tags}); read the 'serve' one")
    if schema not in (0, 1):
        notes.append(f"unusual saved_model_schema_version {schema}")
    if not (directory / "variables").is_dir():
        notes.append("no variables/ directory beside saved_model.pb: the weights are missing "
                     "unless the graph holds none")
    custom_ops = sorted(op for op in ops if ">" in op)
    if custom_ops:
        notes.append(f"graph uses ops from custom-op libraries: {', '.join(custom_ops[:8])}")
    mismatch = _version_mismatch(keras.keras_version if keras else None, tf_version)
    if mismatch:
        notes.append(mismatch)

    return ModelFacts(
        path=str(directory),
        format=ModelFormat.SAVEDMODEL,
        format_detail=detail,
        keras_version=keras.keras_version if keras else None,
        backend=keras.backend if keras else None,
        tensorflow_version=tf_version,
        tensorflow_git_version=tf_git,
        model_class=keras.model_class if keras else None,
        layer_classes=keras.layer_classes if keras else (),
        custom_objects=keras.custom_objects if keras else (),
        lambda_layers=keras.lambda_layers if keras else (),
        # Serving inputs are what a loader feeds; the Keras config is the fallback.
        inputs=signatures.get("serving_default") or (keras.inputs if keras else ()),
        has_training_config=keras.has_training_config if keras else False,
        signatures=tuple(signatures),
        graph_ops=tuple(sorted(ops)),
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class _KerasReading:
    source: str  # where the Keras metadata was found
    keras_version: str | None
    backend: str | None
    model_class: str | None
    layer_classes: tuple[str, ...]
    custom_objects: tuple[CustomObject, ...]
    lambda_layers: tuple[LambdaLayer, ...]
    inputs: tuple[TensorSpec, ...]
    has_training_config: bool
    notes: tuple[str, ...]


def _read_keras(directory: Path, meta_graph: Message) -> _KerasReading | None:
    """What Keras recorded when it wrote this SavedModel, if Keras wrote it."""
    if (directory / KERAS_METADATA_PB).is_file():
        source, found = KERAS_METADATA_PB, _keras_metadata(directory)
    else:
        source, found = "object graph metadata", _object_graph_keras(meta_graph)
    if found is None:
        return None
    root, layer_nodes = found
    model_class = _text(root.get("class_name"))
    model = root.get("model_config")
    if not (isinstance(model, dict) and isinstance(model.get("class_name"), str)):
        model = {"class_name": model_class, "config": root.get("config")} if model_class else None
    reading = None
    if model is not None:
        reading = read_model_config(model, f"{directory} (Keras metadata)",
                                    root.get("training_config"))
    layer_classes = reading.layer_classes if reading else ()
    if not layer_classes:  # subclassed model: no config, but its layers have nodes
        names = (_class_name_of(raw) for raw in layer_nodes)
        layer_classes = tuple(dict.fromkeys(name for name in names if name))
    return _KerasReading(
        source=source,
        keras_version=_text(root.get("keras_version")),
        backend=_text(root.get("backend")),
        model_class=reading.model_class if reading else model_class,
        layer_classes=layer_classes,
        custom_objects=reading.custom_objects if reading else (),
        lambda_layers=reading.lambda_layers if reading else (),
        inputs=reading.inputs if reading else (),
        has_training_config=isinstance(root.get("training_config"), dict),
        notes=tuple(summarize_notes(reading)) if reading else (),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _meta_info(meta_graph: Message) -> dict[str, Any]:
    info = meta_graph.message(_MG_META_INFO)
    if info is None:
        return {"tags": [], "tf_version": None, "tf_git": None, "ops": set()}
    ops: set[str] = set()
    stripped = info.message(_MI_STRIPPED_OPS)
    if stripped is not None:
        for op in stripped.messages(_OPLIST_OP):
            name = op.string(_OPDEF_NAME)
            if name:
                ops.add(name)
    return {
        "tags": info.strings(_MI_TAGS),
        "tf_version": info.string(_MI_TF_VERSION) or None,
        "tf_git": info.string(_MI_TF_GIT) or None,
        "ops": ops,
    }


def _graph_ops(meta_graph: Message) -> set[str]:
    """Op types used by the graph and its functions (when the writer stored no stripped op list)."""
    graph = meta_graph.message(_MG_GRAPH)
    if graph is None:
        return set()
    ops = {node.string(_NODE_OP) or "" for node in graph.messages(_GRAPH_NODE)}
    functions: set[str] = set()
    library = graph.message(_GRAPH_LIBRARY)
    if library is not None:
        for function in library.messages(_LIB_FUNCTION):
            signature = function.message(_FN_SIGNATURE)
            if signature is not None and (name := signature.string(_OPDEF_NAME)):
                functions.add(name)
            ops.update(node.string(_NODE_OP) or "" for node in function.messages(_FN_NODE_DEF))
    ops.discard("")
    return ops - functions  # calls to library functions are not ops


def _signatures(meta_graph: Message) -> dict[str, tuple[TensorSpec, ...]]:
    """signature_def keys (file order) -> their inputs, sorted by input key."""
    out: dict[str, tuple[TensorSpec, ...]] = {}
    for entry in meta_graph.messages(_MG_SIGNATURES):
        key = entry.string(_MAP_KEY) or ""
        signature = entry.message(_MAP_VALUE)
        specs = []
        if signature is not None:
            for item in signature.messages(_SIG_INPUTS):
                name = item.string(_MAP_KEY) or ""
                info = item.message(_MAP_VALUE)
                specs.append(_tensor_spec(name, info) if info is not None else TensorSpec(name, None))
        out[key] = tuple(sorted(specs, key=lambda spec: spec.name))
    return out


def _tensor_spec(name: str, info: Message) -> TensorSpec:
    dtype_id = info.varint(_TI_DTYPE)
    dtype = DTYPES.get(dtype_id, "unknown" if dtype_id == 0 else f"dtype#{dtype_id}")
    shape_msg = info.message(_TI_SHAPE)
    shape: tuple[int | None, ...] | None = None
    if shape_msg is not None and not shape_msg.varint(_SHAPE_UNKNOWN_RANK):
        dims = []
        for dim in shape_msg.messages(_SHAPE_DIM):
            size = to_int64(dim.varint(_DIM_SIZE))
            dims.append(None if size < 0 else size)
        shape = tuple(dims)
    return TensorSpec(name, shape, dtype)


def _keras_metadata(directory: Path) -> tuple[dict[str, Any], list[bytes]] | None:
    """Root metadata JSON and the layer nodes' raw metadata from keras_metadata.pb
    (TF >= 2.5 Keras saves)."""
    path = directory / KERAS_METADATA_PB
    data = read_bounded(path, MAX_KERAS_METADATA_BYTES, allow_empty=False)
    try:
        saved = Message(data)
        root: dict[str, Any] | None = None
        layers: list[bytes] = []
        for node in saved.messages(_KM_NODES):
            node_path = node.string(_KO_NODE_PATH)
            raw = node.raw(_KO_METADATA)
            if not raw:
                continue
            if node_path == "root":
                root = _metadata_json(bytes(raw[-1]), path)
            elif (node.string(_KO_IDENTIFIER) or "") in _KERAS_LAYER_IDENTIFIERS:
                layers.append(bytes(raw[-1]))
    except WireError as exc:
        raise bad(path, f"not a valid Keras metadata protobuf ({exc})") from None
    if root is None:
        raise bad(path, "Keras metadata has no root node")
    return root, layers


def _object_graph_keras(meta_graph: Message) -> tuple[dict[str, Any], list[bytes]] | None:
    """TF 2.0-2.4 Keras saves keep the metadata JSON in the object graph's user objects."""
    graph = meta_graph.message(_MG_OBJECT_GRAPH)
    if graph is None:
        return None
    nodes = graph.raw(_OG_NODES)
    if not nodes:
        return None
    root_user = Message(nodes[0], graph.depth + 1).message(_SO_USER_OBJECT)
    if root_user is None or not (root_user.string(_UO_IDENTIFIER) or "").startswith("_tf_keras"):
        return None
    raw_root = root_user.raw(_UO_METADATA)
    if not raw_root:
        return None  # TF >= 2.5 moved the JSON to keras_metadata.pb
    root = _metadata_json(bytes(raw_root[-1]), "saved_model.pb (object graph)")
    layers: list[bytes] = []
    for node in nodes[1:]:
        user = Message(node, graph.depth + 1).message(_SO_USER_OBJECT)
        if user is not None and (user.string(_UO_IDENTIFIER) or "") in _KERAS_LAYER_IDENTIFIERS:
            raw = user.raw(_UO_METADATA)
            if raw:
                layers.append(bytes(raw[-1]))
    return root, layers


def _metadata_json(raw: bytes, source: object) -> dict[str, Any]:
    value = parse_json(raw, source, "Keras metadata JSON")
    if not isinstance(value, dict):
        raise bad(source, "Keras metadata JSON is not an object")
    return value


def _class_name_of(raw: bytes) -> str | None:
    # Layer nodes are many and only their class name is wanted: a bad one is skipped, not fatal.
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value.get("class_name") if isinstance(value, dict) and isinstance(
        value.get("class_name"), str) else None


def _version_mismatch(keras_version: str | None, tf_version: str | None) -> str | None:
    """From TF 2.6 on, Keras releases track TensorFlow's minor; a gap says two stacks met."""
    def minor(version: str | None) -> tuple[int, int] | None:
        match = re.match(r"(\d+)\.(\d+)", version or "")
        return (int(match[1]), int(match[2])) if match else None

    keras, tf = minor(keras_version), minor(tf_version)
    if keras is None or tf is None or keras[0] != 2 or tf < (2, 6) or keras == tf:
        return None
    return (f"Keras metadata says keras {keras_version} while TensorFlow {tf_version} wrote the "
            "graph: the saving environment mixed the two")



# Ops that create variables (TensorFlow's op registry: resource_variable_ops.cc VarHandleOp,
# state_ops.cc VariableV2 and the TF 1.0 Variable): a graph with any restores them from variables/.
VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable"})


def missing_variables(facts: ModelFacts) -> str | None:
    """Why a SavedModel cannot load at all: its graph creates variables, but no checkpoint came
    with it (neither variables/variables.index nor a variables.index beside saved_model.pb,
    the misplaced layout the smoke test repairs). None when nothing is missing."""
    if facts.format is not ModelFormat.SAVEDMODEL:
        return None
    directory = Path(facts.path)
    if (directory / "variables" / "variables.index").is_file() or (directory / "variables.index").is_file():
        return None
    ops = sorted(VARIABLE_OPS & set(facts.graph_ops))
    if not ops:
        return None
    return (f"{directory}: the SavedModel's graph creates variables ({', '.join(ops)}) but no checkpoint came with it"
            f" (no variables/variables.index): the weights were not saved or not copied, so it cannot load;"
            f" add the variables/ directory written with {SAVED_MODEL_PB}")
