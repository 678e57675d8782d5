"""Runs INSIDE the smoke-test environment (its own interpreter): load the model, predict, report.

Standalone on purpose: only the standard library, NumPy and the TensorFlow/Keras of the locked
environment are imported. Usage: python -I loader.py REQUEST.json RESULT.json
The request names the model, the loader (a route's `loader` from the rules DB), whether the model
is trusted, extra import paths, custom objects, and the probe inputs (or none: shaped from the
model). The result is JSON: ok/error, versions, outputs.
"""

import importlib
import json
import sys
import traceback


def _custom_objects(spec):
    found = {}
    for name, path in spec.items():
        module, _, attr = path.rpartition(".")
        found[name] = getattr(importlib.import_module(module), attr)
    return found


def _probe_inputs(np, request, shapes):
    if request.get("probe_inputs"):
        return [np.asarray(t["data"], dtype=t["dtype"]) for t in request["probe_inputs"]]
    # No recorded probe: a deterministic one shaped from the model; unknown dims become 2.
    rng = np.random.default_rng(0)
    arrays = []
    for shape, dtype in shapes:
        concrete = [2 if d is None else int(d) for d in shape]
        arrays.append(rng.standard_normal(concrete).astype(dtype if "float" in dtype else "float32").astype(dtype))
    return arrays


def _to_list(np, value):
    if isinstance(value, dict):
        return [_to_list(np, value[k])[0] for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _to_list(np, v)]
    return [np.asarray(value)]


def _keras_model_io(model):
    return [(tuple(t.shape), getattr(t.dtype, "name", str(t.dtype))) for t in model.inputs]


def run(request):
    import numpy as np

    sys.path[:0] = request.get("paths", [])
    for module in request.get("modules", []):  # user code that defines/registers custom objects
        importlib.import_module(module)
    loader, path, trust = request["loader"], request["model"], request.get("trust", False)
    custom = _custom_objects(request.get("custom_objects", {}))
    versions = {}
    if loader in ("tf.keras", "tf_keras", "keras"):
        if loader == "tf.keras":
            import tensorflow as tf

            keras = tf.keras
            versions["tensorflow"] = tf.__version__
        elif loader == "tf_keras":
            import tensorflow as tf
            import tf_keras as keras

            versions["tensorflow"] = tf.__version__
        else:
            import keras

            versions["keras_backend"] = keras.backend.backend()
        versions["keras"] = getattr(keras, "__version__", "")
        kwargs = {"compile": False, "custom_objects": custom or None}
        if str(path).endswith(".keras") or loader == "keras":
            kwargs["safe_mode"] = not trust
        try:
            model = keras.models.load_model(path, **kwargs)
        except TypeError as exc:  # tf.keras before 2.13 has no safe_mode
            if "safe_mode" not in str(exc):
                raise
            kwargs.pop("safe_mode")
            model = keras.models.load_model(path, **kwargs)
        inputs = _probe_inputs(np, request, _keras_model_io(model))
        raw = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    elif loader in ("tfsmlayer", "tf.saved_model"):
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
        if loader == "tfsmlayer":
            import keras

            versions["keras"] = keras.__version__
            layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
            fn = tf.saved_model.load(path).signatures["serving_default"]
        else:
            fn = tf.saved_model.load(path).signatures["serving_default"]
            layer = None
        spec = fn.structured_input_signature[1]
        names = sorted(spec)
        shapes = [(tuple(spec[n].shape), spec[n].dtype.name) for n in names]
        inputs = _probe_inputs(np, request, shapes)
        feed = {n: tf.constant(a) for n, a in zip(names, inputs)}
        raw = layer(feed) if layer is not None and len(feed) > 1 else (layer(inputs[0]) if layer is not None else fn(**feed))
    else:
        raise ValueError(f"unknown loader {loader!r}")
    outputs = _to_list(np, raw)
    return {
        "ok": True,
        "versions": versions,
        "inputs": [{"shape": list(a.shape), "dtype": str(a.dtype)} for a in inputs],
        "outputs": [
            {"shape": list(o.shape), "dtype": str(o.dtype), "data": o.astype("float64").tolist()} for o in outputs
        ],
    }


def main():
    request_path, result_path = sys.argv[1], sys.argv[2]
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    try:
        result = run(request)
    except BaseException as exc:  # report every failure, including SystemExit from a library
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
