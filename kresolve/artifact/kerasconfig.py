"""Read a Keras model config (the JSON every Keras format embeds) into facts.

One walker for every Keras line, because the formats share the same config with small
differences:

* Keras 1 and early Keras 2 Sequential: `{"class_name": "Sequential", "config": [layer, ...]}`;
  later: `{"config": {"name": ..., "layers": [...]}}`; Functional models add `input_layers`.
* Keras 1/2 record only `class_name`; Keras >= 2.13 (`.keras`) and Keras 3 also record
  `module` and `registered_name`, which tell custom classes apart without guessing.
* tf.keras SavedModel metadata wraps tuples as `{"class_name": "__tuple__", "items": [...]}`.
* Lambda functions are `[code, defaults, closure]` (Keras 1/2) or
  `{"class_name": "__lambda__", "config": {"code": ...}}` (Keras 3).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kresolve.artifact.bytecode import function_bytes, python_hint
from kresolve.artifact.facts import CustomObject, LambdaEncoding, LambdaLayer, TensorSpec
from kresolve.artifact.jsontext import bad
from kresolve.artifact.kerasnames import (
    KNOWN_CLASSES,
    KNOWN_FUNCTION_NAMES,
    MODEL_CLASSES,
    OPTIMIZERS,
    is_keras_module,
)

# Keys under which a layer's config holds further layers (wrappers, RNN cells).
_INNER_LAYER_KEYS = ("layer", "backward_layer", "forward_layer", "cell", "cells")
# Layers whose `function` is an op name, not Python code.
_OP_LAMBDAS = frozenset({"TFOpLambda", "SlicingOpLambda", "TensorFlowOpLayer"})
# Modules a Lambda may name without anything custom being needed.
_LIBRARY_MODULES = ("keras", "tf_keras", "tensorflow", "numpy", "math", "builtins")
_OPTIMIZER_STRINGS = frozenset(name.lower() for name in OPTIMIZERS)
_MAX_MODEL_NESTING = 50
# base64 of a pickle header: 0x80 then protocol 2..5.
_PICKLE_BASE64 = ("gAJ", "gAN", "gAS", "gAW")


@dataclass(frozen=True)
class ConfigReading:
    model_class: str | None
    layer_classes: tuple[str, ...]
    custom_objects: tuple[CustomObject, ...]
    lambda_layers: tuple[LambdaLayer, ...]
    inputs: tuple[TensorSpec, ...]
    notes: tuple[str, ...]


def read_model_config(model: Any, source: object, compile_config: Any = None) -> ConfigReading:
    """Facts from a `{"class_name": ..., "config": ...}` model object (+ training/compile config)."""
    if not isinstance(model, dict) or not isinstance(model.get("class_name"), str):
        raise bad(source, "model config is not a Keras object (no class_name)")
    walker = _Walker()
    walker.walk_model(model)
    # .keras config.json and Keras 3 to_json() nest the compile config in the model object.
    walker.scan_objects({k: v for k, v in model.items() if k != "compile_config"})
    if isinstance(compile_config, dict):
        walker.compile_phase = True  # what only the compile config names is not needed to load
        walker.scan_objects(compile_config)
        walker.scan_compile_strings(compile_config)
    return ConfigReading(
        model_class=model["class_name"],
        layer_classes=tuple(walker.layer_classes),
        custom_objects=tuple(walker.custom.values()),
        lambda_layers=tuple(walker.lambdas),
        inputs=model_inputs(model),
        notes=tuple(walker.notes),
    )


def layers_of(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The layer list of a Sequential/Functional config, whatever the Keras line."""
    config = model.get("config")
    if isinstance(config, list):  # Keras 1 / Keras <= 2.2.2 Sequential
        layers = config
    elif isinstance(config, dict) and isinstance(config.get("layers"), list):
        layers = config["layers"]
    else:
        return []
    return [layer for layer in layers if isinstance(layer, dict)]


def _layer_config(layer: dict[str, Any]) -> dict[str, Any]:
    config = layer.get("config")
    return config if isinstance(config, dict) else {}


def layer_name(layer: dict[str, Any]) -> str | None:
    name = layer.get("name")
    if not isinstance(name, str):
        name = _layer_config(layer).get("name")
    return name if isinstance(name, str) else None


class _Walker:
    def __init__(self) -> None:
        self.layer_classes: list[str] = []
        self.custom: dict[tuple[Any, ...], CustomObject] = {}
        self.lambdas: list[LambdaLayer] = []
        self.notes: list[str] = []
        self.compile_phase = False

    def _add_custom(self, obj: CustomObject) -> None:
        if self.compile_phase:
            obj = replace(obj, compile_only=True)
        # Keyed without compile_only: a class the model itself uses stays needed-to-load.
        self.custom.setdefault((obj.class_name, obj.module, obj.registered_name), obj)

    # Layers ---------------------------------------------------------------------------------
    def walk_model(self, model: dict[str, Any]) -> None:
        # Depth-first, in config order, so layer_classes lists classes as a reader meets them.
        stack: list[tuple[dict[str, Any], int]] = [(model, 0)]
        first = True
        while stack:
            layer, depth = stack.pop()
            if depth > _MAX_MODEL_NESTING:
                continue
            cls = layer.get("class_name")
            if not isinstance(cls, str):
                continue
            if not first and cls not in self.layer_classes:
                self.layer_classes.append(cls)
            first = False
            config = _layer_config(layer)
            self._check_function(cls, layer, config)
            self._check_activation(config)
            self._check_pickles(cls, layer, config)
            children: list[dict[str, Any]] = layers_of(layer)
            for key in _INNER_LAYER_KEYS:
                inner = config.get(key)
                for item in inner if isinstance(inner, list) else [inner]:
                    if isinstance(item, dict) and isinstance(item.get("class_name"), str):
                        children.append(item)
            stack.extend((child, depth + 1) for child in reversed(children))

    def _check_function(self, cls: str, layer: dict[str, Any], config: dict[str, Any]) -> None:
        function = config.get("function")
        if function is None or cls in _OP_LAMBDAS:
            return
        name = layer_name(layer) or cls
        blob = _bytecode_text(function, config)
        if blob is not None:
            decoded = function_bytes(blob)
            if decoded is None:
                self.lambdas.append(LambdaLayer(name, LambdaEncoding.UNKNOWN))
            else:
                self.lambdas.append(LambdaLayer(name, LambdaEncoding.MARSHAL, python_hint(decoded[0])))
            return
        # A Lambda naming a module-level function: that module must be importable at load time.
        fn_name, module = _named_function(function, config)
        if fn_name and not (module and module.split(".")[0] in _LIBRARY_MODULES):
            self._add_custom(CustomObject(fn_name.split(">")[-1], module or None,
                                          fn_name if ">" in fn_name else None))
            self.notes.append(
                f"{cls} layer '{name}' calls function {fn_name!r}"
                + (f" from module {module!r}" if module else "")
                + " by name: that code must be importable when loading"
            )

    def _check_pickles(self, cls: str, layer: dict[str, Any], config: dict[str, Any]) -> None:
        # e.g. TensorFlow Probability layers keep cloudpickled functions as base64 strings.
        for key, value in config.items():
            if isinstance(value, str) and len(value) > 16 and value.startswith(_PICKLE_BASE64):
                name = layer_name(layer) or cls
                self.notes.append(
                    f"{cls} layer '{name}' embeds a pickled Python object in '{key}': loading it "
                    "runs code and needs the writer's Python and pickling library"
                )

    def _check_activation(self, config: dict[str, Any]) -> None:
        for key in ("activation", "recurrent_activation"):
            value = config.get(key)
            if isinstance(value, str) and value not in KNOWN_FUNCTION_NAMES:
                self._add_custom(CustomObject(value))

    # Serialized objects anywhere (initializers, losses, optimizers, custom layers) ----------
    def scan_objects(self, root: Any) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
                continue
            if not isinstance(node, dict):
                continue
            cls = node.get("class_name")
            if isinstance(cls, str):
                self._classify(node, cls)
            for key, value in node.items():
                # A Lambda's code payload (closure included) is bytecode, not named objects.
                if key == "function" and _bytecode_text(value, node) is not None:
                    continue
                if isinstance(value, dict | list):
                    stack.append(value)

    def _classify(self, node: dict[str, Any], cls: str) -> None:
        if cls.startswith("__"):  # Keras markers: __tuple__, __lambda__, __keras_tensor__, ...
            return
        if "module" in node:  # Keras >= 2.13 / Keras 3: the module says where it comes from
            module = node.get("module")
            registered = node.get("registered_name")
            registered = registered if isinstance(registered, str) and registered else None
            if isinstance(module, str) and is_keras_module(module):
                return
            module = module if isinstance(module, str) and module else None
            if cls == "function":  # a plain Python function, named by its config
                fn_name = node.get("config")
                if not isinstance(fn_name, str):
                    return
                self._add_custom(CustomObject(fn_name.split(">")[-1],
                                              None if module == "builtins" else module,
                                              fn_name if ">" in fn_name else None))
                return
            self._add_custom(CustomObject(cls, module, registered))
            return
        if cls in KNOWN_CLASSES:
            return
        package, sep, base = cls.rpartition(">")
        if sep:
            # TF 2.11-2.15 tf.keras records its own new optimizers as "Custom>Adam".
            if base in OPTIMIZERS and package == "Custom":
                note = (f"the optimizer is recorded as {cls!r} (tf.keras >= 2.11 optimizers): "
                        "older TensorFlow cannot compile it; load with compile=False there")
                if note not in self.notes:
                    self.notes.append(note)
                return
            self._add_custom(CustomObject(base, None, cls))
            return
        self._add_custom(CustomObject(cls))

    def scan_compile_strings(self, compile_config: dict[str, Any]) -> None:
        """Losses/metrics/optimizers given by name: unknown names are custom functions."""
        names: list[str] = []
        for key in ("loss", "metrics", "weighted_metrics"):
            stack = [compile_config.get(key)]
            while stack:
                value = stack.pop()
                if isinstance(value, str):
                    names.append(value)
                elif isinstance(value, list):
                    stack.extend(value)
                elif isinstance(value, dict) and "class_name" not in value:
                    stack.extend(value.values())  # per-output dict
        for name in names:
            if name not in KNOWN_FUNCTION_NAMES:
                self._add_custom(CustomObject(name))
        optimizer = compile_config.get("optimizer")
        if isinstance(optimizer, str) and optimizer.lower() not in _OPTIMIZER_STRINGS:
            self._add_custom(CustomObject(optimizer))


def _bytecode_text(function: Any, config: dict[str, Any]) -> str | None:
    """The stored code of a Lambda-style `function` entry, or None for a named function."""
    if isinstance(function, list) and function and isinstance(function[0], str):
        if config.get("function_type", "lambda") == "lambda":
            return function[0]
        return None
    if isinstance(function, dict) and function.get("class_name") == "__lambda__":
        inner = function.get("config")
        if isinstance(inner, dict):
            code = inner.get("code")
            if isinstance(code, str):
                return code
            value = inner.get("value")
            if isinstance(value, list) and value and isinstance(value[0], str):
                return value[0]
        return ""  # a lambda whose code we cannot find: still a lambda
    if isinstance(function, str) and config.get("function_type") == "lambda":
        return function
    return None


def _named_function(function: Any, config: dict[str, Any]) -> tuple[str | None, str | None]:
    if isinstance(function, str):
        module = config.get("module")
        return function, module if isinstance(module, str) else None
    if isinstance(function, dict) and function.get("class_name") == "function":
        name = function.get("config")
        module = function.get("module")
        return (name if isinstance(name, str) else None,
                module if isinstance(module, str) and module != "builtins" else None)
    return None, None


# Inputs -------------------------------------------------------------------------------------
def _unwrap(value: Any) -> Any:
    """tf.keras SavedModel metadata wraps tuples/shapes as {"class_name": ..., "items": [...]}."""
    if isinstance(value, dict) and isinstance(value.get("items"), list):
        return value["items"]
    return value


def shape_of(value: Any) -> tuple[int | None, ...] | None:
    value = _unwrap(value)
    if not isinstance(value, list):
        return None
    dims: list[int | None] = []
    for dim in value:
        dim = _unwrap(dim)
        if dim is None or (isinstance(dim, int) and not isinstance(dim, bool) and dim < 0):
            dims.append(None)
        elif isinstance(dim, int) and not isinstance(dim, bool):
            dims.append(dim)
        elif isinstance(dim, dict) and "value" in dim:  # Dimension objects in old metadata
            inner = dim["value"]
            dims.append(inner if isinstance(inner, int) and inner >= 0 else None)
        else:
            return None
    return tuple(dims)


def _dtype_of(config: dict[str, Any]) -> str:
    dtype = config.get("dtype", config.get("input_dtype"))
    if isinstance(dtype, dict):  # Keras 3 DTypePolicy object
        inner = dtype.get("config")
        dtype = inner.get("name") if isinstance(inner, dict) else None
    return dtype if isinstance(dtype, str) and dtype else "float32"


def _spec_from_layer(layer: dict[str, Any], name: str | None = None) -> TensorSpec | None:
    config = _layer_config(layer)
    shape = None
    for key in ("batch_input_shape", "batch_shape"):
        if key in config:
            shape = shape_of(config[key])
            break
    else:
        if "input_shape" in config:  # Keras 1 style: no batch dim recorded
            inner = shape_of(config["input_shape"])
            shape = (None, *inner) if inner is not None else None
        else:
            return None
    spec_name = name or layer_name(layer) or "input"
    return TensorSpec(spec_name, shape, _dtype_of(config))


def _input_layer_names(value: Any) -> list[str]:
    value = _unwrap(value)
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        return []
    if len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int):
        return [value[0]]  # Keras 3 single input: ["name", 0, 0]
    names = []
    for item in value:
        item = _unwrap(item)
        if isinstance(item, list) and item and isinstance(item[0], str):
            names.append(item[0])
        elif isinstance(item, str):
            names.append(item)
    return names


def model_inputs(model: dict[str, Any], depth: int = 0) -> tuple[TensorSpec, ...]:
    """Declared inputs: InputLayers named by `input_layers`, or the first Sequential layer."""
    if depth > _MAX_MODEL_NESTING:
        return ()
    layers = layers_of(model)
    config = _layer_config(model)
    names = _input_layer_names(config.get("input_layers"))
    if names:
        by_name = {layer_name(layer): layer for layer in layers}
        specs = []
        for name in names:
            layer = by_name.get(name)
            spec = _spec_from_layer(layer, name) if layer else None
            specs.append(spec or TensorSpec(name, None))
        return tuple(specs)
    if not layers:
        return ()
    first = layers[0]
    if first.get("class_name") == "InputLayer":
        spec = _spec_from_layer(first)
        return (spec,) if spec else ()
    if first.get("class_name") in MODEL_CLASSES or layers_of(first):
        return model_inputs(first, depth + 1)
    first_name = layer_name(first) or "input"
    spec = _spec_from_layer(first, f"{first_name}_input")
    if spec:
        return (spec,)
    build_shape = shape_of(config.get("build_input_shape"))
    if build_shape is not None:
        return (TensorSpec(f"{first_name}_input", build_shape),)
    return ()


def summarize_notes(reading: ConfigReading) -> list[str]:
    """User-facing notes on what the config implies for loading."""
    notes = list(reading.notes)
    marshalled = [layer for layer in reading.lambda_layers if layer.encoding is LambdaEncoding.MARSHAL]
    if marshalled:
        hints = sorted({layer.python_hint or "unknown Python" for layer in marshalled})
        names = ", ".join(layer.layer_name for layer in marshalled[:5])
        notes.append(
            f"{len(marshalled)} layer(s) store marshalled Python bytecode ({names}; written by "
            f"Python {' / '.join(hints)}): it loads only on that Python minor and only when the "
            "model is trusted (safe_mode=False)"
        )
    unknown = [layer.layer_name for layer in reading.lambda_layers if layer.encoding is LambdaEncoding.UNKNOWN]
    if unknown:
        notes.append(f"Lambda layer(s) whose stored function could not be read: {', '.join(unknown)}")
    if reading.custom_objects:
        names = ", ".join(_display(obj) for obj in reading.custom_objects[:8])
        more = len(reading.custom_objects) - 8
        notes.append(
            f"needs code Keras does not ship: {names}{f' and {more} more' if more > 0 else ''}"
            " (custom_objects or the package that defines them)"
        )
    return notes


def _display(obj: CustomObject) -> str:
    if obj.registered_name and ">" in obj.registered_name:
        return obj.registered_name
    return f"{obj.module}.{obj.class_name}" if obj.module else obj.class_name


def keras_line(keras_version: str | None) -> str | None:
    """Which Keras wrote the file, in words, from its recorded version string."""
    if not keras_version:
        return None
    major = keras_version.split(".", 1)[0]
    if major == "1":
        return "Keras 1"
    if major == "2":
        return "tf.keras" if keras_version.endswith("-tf") else "Keras 2"
    if major == "3":
        return "Keras 3"
    return f"Keras {keras_version}"
