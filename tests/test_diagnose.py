"""`kresolve diagnose`: real load-error texts map to the known causes in rules/known-bad.toml.

Every `[[known_bad]]` rule has at least one sample here on which it ranks first, and every one of
its signatures matches at least one sample. Two kinds of samples:

- `real:` produced by actually loading in the wrong environment (CPython 3.11; tensorflow-cpu
  2.21.0, keras 3.15.1, tf-keras 2.21.0, h5py 3.14, numpy 1.26.4/2.0.2/2.4.6, protobuf
  4.21.12/7.36.2, ml-dtypes 0.2.0/0.6.0, typing-extensions 4.5.0, each in a throwaway venv), the
  tail of the traceback kept and the venv paths shortened to /srv/venv;
- `source:` for combinations that cannot be installed on Python 3.11 any more (Keras 1/2.2,
  TensorFlow 1.x-2.4, old CPython): the message exactly as written in the library source at the
  location named in the label, inside a traceback shaped like that library's.
"""

from __future__ import annotations

import re
import time
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from kresolve.diagnose import MAX_TEXT_CHARS, Diagnosis, bound_text, diagnose, render_diagnoses
from kresolve.rules.db import KnownBad, RulesDB, load_rules

DB = load_rules()


class Sample(NamedTuple):
    rule: str  # the rule expected to rank first
    label: str  # where the text comes from
    text: str
    installed: dict[str, str] | None = None


REAL_SAMPLES = [
    Sample(
        'bad-keras3-savedmodel',
        'real: keras 3.15.1 load_model() on a SavedModel directory written by tf-keras 2.21',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_api.py", line 220, in load_model
    raise ValueError(
ValueError: File format not supported: filepath=tfk_savedmodel. Keras 3 only supports V3 `.keras` files, legacy H5 format files (`.h5` extension). Note that the legacy SavedModel format is not supported by `load_model()` in Keras 3. In order to reload a TensorFlow SavedModel as an inference-only layer in Keras 3, use `keras.layers.TFSMLayer(tfk_savedmodel, call_endpoint='serving_default')` (note that your `call_endpoint` might have a different name).
""",
        installed={'keras': '3.15.1', 'tensorflow': '2.21.0'},
    ),
    Sample(
        'bad-keras3-tf-op-layers',
        'real: keras 3.15.1 loading an .h5 whose tf-keras 2.21 model applied tf.math.sin to a Keras tensor',
        """\
    deserialized_obj = cls.from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/model.py", line 891, in from_config
    return functional_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/functional.py", line 607, in functional_from_config
    process_layer(layer_data)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/functional.py", line 570, in process_layer
    layer = saving_utils.model_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/saving_utils.py", line 89, in model_from_config
    return serialization.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/serialization.py", line 476, in deserialize_keras_object
    (cls, cls_config) = class_and_config_for_serialized_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/serialization.py", line 353, in class_and_config_for_serialized_keras_object
    raise ValueError(
ValueError: Unknown layer: 'TFOpLambda'. Please ensure you are using a `keras.utils.custom_object_scope` and that this object is included in the scope. See https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object for details.
""",
        installed={'keras': '3.15.1'},
    ),
    Sample(
        'bad-keras3-tf-op-layers',
        'real: tf.keras (= Keras 3) of TensorFlow 2.21 loading the same .h5',
        """\
    deserialized_obj = cls.from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/model.py", line 891, in from_config
    return functional_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/functional.py", line 607, in functional_from_config
    process_layer(layer_data)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/functional.py", line 570, in process_layer
    layer = saving_utils.model_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/saving_utils.py", line 89, in model_from_config
    return serialization.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/serialization.py", line 476, in deserialize_keras_object
    (cls, cls_config) = class_and_config_for_serialized_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/serialization.py", line 353, in class_and_config_for_serialized_keras_object
    raise ValueError(
ValueError: Unknown layer: 'TFOpLambda'. Please ensure you are using a `keras.utils.custom_object_scope` and that this object is included in the scope. See https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object for details.
""",
    ),
    Sample(
        'bad-keras3-kerastensor-in-tf-op',
        'real: TensorFlow 2.21 op applied to a keras 3.15.1 Input',
        """\
    raise ValueError(
ValueError: A KerasTensor cannot be used as input to a TensorFlow function. A KerasTensor is a symbolic placeholder for a shape and dtype, used when constructing Keras Functional models or Keras Functions. You can only use it as input to a Keras layer or a Keras operation (from the namespaces `keras.layers` and `keras.ops`). You are likely doing something like:

```
x = Input(...)
...
tf_fn(x)  # Invalid.
```

What you should do instead is wrap `tf_fn` in a layer:

```
class MyLayer(Layer):
    def call(self, x):
        return tf_fn(x)

x = MyLayer()(x)
```
""",
    ),
    Sample(
        'bad-keras-mixed-with-tf-keras',
        'real: keras 3.15.1 Sequential given a tf-keras 2.21 Dense',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/sequential.py", line 75, in __init__
    self.add(layer, rebuild=False)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/sequential.py", line 97, in add
    raise ValueError(
ValueError: Only instances of `keras.Layer` can be added to a Sequential model. Received: <tf_keras.src.layers.core.dense.Dense object at 0x7f0000000000> (of type <class 'tf_keras.src.layers.core.dense.Dense'>)
""",
    ),
    Sample(
        'bad-keras-mixed-with-tf-keras',
        'real: tf-keras 2.21 Sequential given a keras 3.15.1 Dense',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tensorflow/python/trackable/base.py", line 204, in _method_wrapper
    result = method(self, *args, **kwargs)
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/sequential.py", line 177, in add
    raise TypeError(
TypeError: The added layer must be an instance of class Layer. Received: layer=<Dense name=dense, built=False> of type <class 'keras.src.layers.core.dense.Dense'>.
""",
    ),
    Sample(
        'bad-tfkeras-zip-in-keras3',
        'real: keras 3.15.1 loading a .keras zip written by tf-keras 2.21',
        """\
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_api.py", line 190, in load_model
    return saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_lib.py", line 368, in load_model
    return _load_model_from_fileobj(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_lib.py", line 503, in _load_model_from_fileobj
    model = _model_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_lib.py", line 434, in _model_from_config
    model = deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 751, in deserialize_keras_object
    cls = _retrieve_class_or_fn(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 899, in _retrieve_class_or_fn
    raise TypeError(
TypeError: Could not locate class 'Functional'. Make sure custom classes and functions are decorated with `@keras.saving.register_keras_serializable()`. If they are already decorated, make sure they are all imported so that the decorator is run before trying to load them. Full object config: {'module': 'tf_keras.src.engine.functional', 'class_name': 'Functional', 'config': {'name': 'model', 'trainable': True, 'layers': [{'module': 'keras.layers', 'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, 4], 'dtype': 'float32', 'sparse': False, 'ragged': False, 'name': 'input_1', 'optional': False}, 'registered_name': None, 'name': 'input_1', 'inbound_nodes': []}, {'module': 'keras.layers', 'class_name': 'Dense', 'config': {'name': 'dense', 'trainable': True, 'dtype': 'float32', 'units': 2, 'activation': 'linear', 'use_bias': True, 'kernel_initializer': {'module': 'keras.initializers', 'class_name': 'GlorotUniform', 'config': {'seed': None}, 'registered_name': None}, 'bias_initializer': {'module': 'keras.initializers', 'class_name': 'Zeros', 'config': {}, 'registered_name': None}, 'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None, 'kernel_constraint': None, 'bias_constraint': None}, 'registered_name': None, 'build_config': {'input_shape': [None, 4]}, 'name': 'dense', 'inbound_nodes': [[['input_1', 0, 0, {}]]]}], 'input_layers': [['input_1', 0, 0]], 'output_layers': [['dense', 0, 0]]}, 'registered_name': 'Functional', 'build_config': {'input_shape': [None, 4]}}
""",
        installed={'keras': '3.15.1'},
    ),
    Sample(
        'bad-keras3-file-in-keras2',
        'real: tf-keras 2.21 loading a .keras zip written by keras 3.15.1',
        """\
    instance = cls.from_config(inner_config)
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/sequential.py", line 478, in from_config
    layer = layer_module.deserialize(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/layers/serialization.py", line 276, in deserialize
    return serialization_lib.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 608, in deserialize_keras_object
    return deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 727, in deserialize_keras_object
    instance = cls.from_config(inner_config)
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/base_layer.py", line 871, in from_config
    raise TypeError(
TypeError: Error when deserializing class 'InputLayer' using config={'batch_shape': [None, 4], 'dtype': 'float32', 'sparse': False, 'ragged': False, 'name': 'input_layer_2', 'optional': False}.

Exception encountered: Unrecognized keyword arguments: ['batch_shape']
""",
    ),
    Sample(
        'bad-keras3-file-in-keras2',
        'real: tf-keras 2.21 loading a keras 3.15.1 Functional .keras',
        """\

Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_api.py", line 293, in load_model
    return saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_lib.py", line 261, in load_model
    raise e
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_lib.py", line 226, in load_model
    model = deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 704, in deserialize_keras_object
    cls = _retrieve_class_or_fn(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 800, in _retrieve_class_or_fn
    raise TypeError(
TypeError: Could not deserialize class 'Functional' because its parent module tf_keras.src.models.functional cannot be imported. Full object config: {'module': 'keras.src.models.functional', 'class_name': 'Functional', 'config': {'name': 'functional_2', 'trainable': True, 'layers': [{'module': 'keras.layers', 'class_name': 'InputLayer', 'config': {'batch_shape': [None, 4], 'dtype': 'float32', 'sparse': False, 'ragged': False, 'name': 'input_layer_1', 'optional': False}, 'registered_name': None, 'name': 'input_layer_1', 'inbound_nodes': []}, {'module': None, 'class_name': 'MyLayer', 'config': {'name': 'my_layer', 'activity_regularizer': None, 'trainable': True, 'dtype': {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}, 'autocast': True}, 'registered_name': 'my_pkg>MyLayer', 'build_config': {'input_shape': [None, 4]}, 'name': 'my_layer', 'inbound_nodes': [{'args': [{'class_name': '__keras_tensor__', 'config': {'shape': [None, 4], 'dtype': 'float32', 'keras_history': ['input_layer_1', 0, 0]}}], 'kwargs': {}}]}, {'module': 'keras.layers', 'class_name': 'Dense', 'config': {'name': 'dense_1', 'trainable': True, 'dtype': {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None, 'shared_object_id': 139751177736464}, 'units': 2, 'activation': 'linear', 'use_bias': True, 'kernel_initializer': {'module': 'keras.initializers', 'class_name': 'GlorotUniform', 'config': {'seed': None, 'input_axes': None, 'output_axes': None}, 'registered_name': None}, 'bias_initializer': {'module': 'keras.initializers', 'class_name': 'Zeros', 'config': {}, 'registered_name': None}, 'kernel_regularizer': None, 'bias_regularizer': None, 'kernel_constraint': None, 'bias_constraint': None, 'quantization_config': None}, 'registered_name': None, 'build_config': {'input_shape': [None, 4]}, 'name': 'dense_1', 'inbound_nodes': [{'args': [{'class_name': '__keras_tensor__', 'config': {'shape': [None, 4], 'dtype': 'float32', 'keras_history': ['my_layer', 0, 0]}}], 'kwargs': {}}]}], 'input_layers': ['input_layer_1', 0, 0], 'output_layers': ['dense_1', 0, 0]}, 'registered_name': 'Functional', 'build_config': {'input_shape': None}, 'compile_config': {}}
""",
    ),
    Sample(
        'bad-keras3-sequential-list-config',
        'real: keras 3.15.1 loading an .h5 whose Sequential config is a list (Keras <= 2.2.2 layout)',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_api.py", line 197, in load_model
    return legacy_h5_format.load_model_from_hdf5(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/legacy_h5_format.py", line 139, in load_model_from_hdf5
    model = saving_utils.model_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/saving_utils.py", line 63, in model_from_config
    batch_input_shape = config["config"].pop("batch_input_shape", None)
TypeError: pop expected at most 1 argument, got 2
""",
        installed={'keras': '3.15.1'},
    ),
    Sample(
        'bad-keras3-sequential-list-config',
        'real: keras 3.15.1 model_from_json on a list-style Sequential config',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/model.py", line 1122, in model_from_json
    return serialization_lib.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 740, in deserialize_keras_object
    raise TypeError(
TypeError: Expected 'config' to be a dict for Sequential,
instead got <class 'list'>
Full config: {'class_name': 'Sequential', 'config': [{'class_name': 'Dense', 'config': {'name': 'dense_1', 'trainable': True, 'batch_input_shape': [None, 4], 'input_dtype': 'float32', 'output_dim': 2, 'init': 'glorot_uniform', 'activation': 'linear', 'W_regularizer': None, 'b_regularizer': None, 'activity_regularizer': None, 'W_constraint': None, 'b_constraint': None, 'bias': True, 'input_dim': 4}}], 'keras_version': '1.2.2', 'backend': 'tensorflow'}
""",
        installed={'keras': '3.15.1'},
    ),
    Sample(
        'bad-keras1-config',
        'real: tf-keras 2.21 model_from_json on a Keras 1.2.2 Functional config',
        """\
    process_layer(layer_data)
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/functional.py", line 1494, in process_layer
    layer = deserialize_layer(layer_data, custom_objects=custom_objects)
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/layers/serialization.py", line 276, in deserialize
    return serialization_lib.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 608, in deserialize_keras_object
    return deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 727, in deserialize_keras_object
    instance = cls.from_config(inner_config)
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/base_layer.py", line 871, in from_config
    raise TypeError(
TypeError: Error when deserializing class 'InputLayer' using config={'batch_input_shape': [None, 4], 'input_dtype': 'float32', 'sparse': False, 'name': 'input_1'}.

Exception encountered: Unrecognized keyword arguments: ['input_dtype']
""",
    ),
    Sample(
        'bad-keras1-config',
        'real: tf-keras 2.21 model_from_json on a Keras 1.2.2 Dense config',
        """\
    return deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 727, in deserialize_keras_object
    instance = cls.from_config(inner_config)
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/sequential.py", line 478, in from_config
    layer = layer_module.deserialize(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/layers/serialization.py", line 269, in deserialize
    return legacy_serialization.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/legacy/serialization.py", line 508, in deserialize_keras_object
    deserialized_obj = cls.from_config(cls_config)
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/base_layer.py", line 871, in from_config
    raise TypeError(
TypeError: Error when deserializing class 'Dense' using config={'name': 'dense_1', 'trainable': True, 'batch_input_shape': [None, 4], 'input_dtype': 'float32', 'output_dim': 2, 'init': 'glorot_uniform', 'activation': 'linear', 'W_regularizer': None, 'b_regularizer': None, 'activity_regularizer': None, 'W_constraint': None, 'b_constraint': None, 'bias': True, 'input_dim': 4}.

Exception encountered: Dense.__init__() missing 1 required positional argument: 'units'
""",
    ),
    Sample(
        'bad-keras1-config',
        'real: keras 3.15.1 model_from_json on a Keras 1.2.2 Functional config',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/model.py", line 1122, in model_from_json
    return serialization_lib.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 751, in deserialize_keras_object
    cls = _retrieve_class_or_fn(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 899, in _retrieve_class_or_fn
    raise TypeError(
TypeError: Could not locate class 'Model'. Make sure custom classes and functions are decorated with `@keras.saving.register_keras_serializable()`. If they are already decorated, make sure they are all imported so that the decorator is run before trying to load them. Full object config: {'class_name': 'Model', 'config': {'name': 'model_1', 'layers': [{'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, 4], 'input_dtype': 'float32', 'sparse': False, 'name': 'input_1'}, 'inbound_nodes': [], 'name': 'input_1'}, {'class_name': 'Dense', 'config': {'name': 'dense_1', 'trainable': True, 'output_dim': 2, 'init': 'glorot_uniform', 'activation': 'linear', 'W_regularizer': None, 'b_regularizer': None, 'activity_regularizer': None, 'W_constraint': None, 'b_constraint': None, 'bias': True, 'input_dim': 4}, 'inbound_nodes': [[['input_1', 0, 0]]], 'name': 'dense_1'}], 'input_layers': [['input_1', 0, 0]], 'output_layers': [['dense_1', 0, 0]]}, 'keras_version': '1.2.2', 'backend': 'tensorflow'}
""",
    ),
    Sample(
        'bad-keras2-config-in-keras3',
        'real: keras 3.15.1 DepthwiseConv2D.from_config with the `groups` key tf.keras 2.x wrote',
        """\
    super().__init__(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/layers/layer.py", line 294, in __init__
    raise ValueError(
ValueError: Unrecognized keyword arguments passed to DepthwiseConv2D: {'groups': 1}

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/ops/operation.py", line 359, in from_config
    raise TypeError(
TypeError: Error when deserializing class 'DepthwiseConv2D' using config={'name': 'dw', 'kernel_size': [3, 3], 'groups': 1, 'depth_multiplier': 1}.

Exception encountered: Unrecognized keyword arguments passed to DepthwiseConv2D: {'groups': 1}
""",
        installed={'keras': '3.15.1'},
    ),
    Sample(
        'bad-lambda-safe-mode',
        'real: keras 3.15.1 loading a .keras with a Lambda, safe_mode on',
        """\
    instance = cls.from_config(inner_config)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/model.py", line 891, in from_config
    return functional_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/functional.py", line 607, in functional_from_config
    process_layer(layer_data)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/functional.py", line 574, in process_layer
    layer = serialization_lib.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 775, in deserialize_keras_object
    instance = cls.from_config(inner_config)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/layers/core/lambda_layer.py", line 200, in from_config
    cls._raise_for_lambda_deserialization(safe_mode)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/layers/core/lambda_layer.py", line 172, in _raise_for_lambda_deserialization
    raise ValueError(
ValueError: Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda. This carries a potential risk of arbitrary code execution and thus it is disallowed by default. If you trust the source of the artifact, you can override this error by passing `safe_mode=False` to the loading function, or calling `keras.config.enable_unsafe_deserialization().
""",
    ),
    Sample(
        'bad-lambda-safe-mode',
        'real: keras 3.15.1 loading a tf-keras 2.21 .h5 with a Lambda',
        """\
    return functional_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/functional.py", line 607, in functional_from_config
    process_layer(layer_data)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/models/functional.py", line 570, in process_layer
    layer = saving_utils.model_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/saving_utils.py", line 89, in model_from_config
    return serialization.deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/serialization.py", line 492, in deserialize_keras_object
    deserialized_obj = cls.from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/layers/core/lambda_layer.py", line 200, in from_config
    cls._raise_for_lambda_deserialization(safe_mode)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/layers/core/lambda_layer.py", line 172, in _raise_for_lambda_deserialization
    raise ValueError(
ValueError: Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda. This carries a potential risk of arbitrary code execution and thus it is disallowed by default. If you trust the source of the artifact, you can override this error by passing `safe_mode=False` to the loading function, or calling `keras.config.enable_unsafe_deserialization().
""",
    ),
    Sample(
        'bad-lambda-bytecode-python-minor',
        'real: tf-keras 2.21 func_load on Lambda bytecode this CPython 3.11 cannot unmarshal',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_api.py", line 301, in load_model
    return legacy_sm_saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/utils/generic_utils.py", line 101, in func_load
    code = marshal.loads(raw_code)
ValueError: bad marshal data (unknown type code)
""",
    ),
    Sample(
        'bad-lambda-bytecode-python-minor',
        'real: CPython 3.11 marshal on truncated bytecode',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
EOFError: EOF read where object expected
""",
    ),
    Sample(
        'bad-custom-layer-not-registered',
        'real: tf-keras 2.21 loading an .h5 with an unregistered custom layer',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_api.py", line 301, in load_model
    return legacy_sm_saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/legacy/serialization.py", line 365, in class_and_config_for_serialized_keras_object
    raise ValueError(
ValueError: Unknown layer: 'MyLayer'. Please ensure you are using a `keras.utils.custom_object_scope` and that this object is included in the scope. See https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object for details.
""",
    ),
    Sample(
        'bad-custom-layer-not-registered',
        'real: keras 3.15.1 loading a .keras with an unregistered custom layer',
        """\
    return saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_lib.py", line 368, in load_model
    return _load_model_from_fileobj(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_lib.py", line 503, in _load_model_from_fileobj
    model = _model_from_config(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_lib.py", line 434, in _model_from_config
    model = deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 777, in deserialize_keras_object
    raise TypeError(
TypeError: <class 'keras.src.models.functional.Functional'> could not be deserialized properly. Please ensure that components that are Python object instances (layers, models, etc.) returned by `get_config()` are explicitly deserialized in the model's `from_config()` method.

config={'module': 'keras.src.models.functional', 'class_name': 'Functional', 'config': {}, 'registered_name': 'Functional', 'build_config': {'input_shape': None}, 'compile_config': {}}.

Exception encountered: Could not locate class 'MyLayer'. Make sure custom classes and functions are decorated with `@keras.saving.register_keras_serializable()`. If they are already decorated, make sure they are all imported so that the decorator is run before trying to load them. Full object config: {'module': None, 'class_name': 'MyLayer', 'config': {'name': 'my_layer', 'activity_regularizer': None, 'trainable': True, 'dtype': {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}, 'autocast': True}, 'registered_name': 'my_pkg>MyLayer', 'build_config': {'input_shape': [None, 4]}, 'name': 'my_layer', 'inbound_nodes': [{'args': [{'class_name': '__keras_tensor__', 'config': {'shape': [None, 4], 'dtype': 'float32', 'keras_history': ['input_layer_1', 0, 0]}}], 'kwargs': {}}]}
""",
    ),
    Sample(
        'bad-custom-layer-not-registered',
        'real: tf-keras 2.21 deserializing a custom class whose module is not importable',
        """\
  File "<frozen importlib._bootstrap>", line 1204, in _gcd_import
  File "<frozen importlib._bootstrap>", line 1176, in _find_and_load
  File "<frozen importlib._bootstrap>", line 1140, in _find_and_load_unlocked
ModuleNotFoundError: No module named 'my_pkg'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 704, in deserialize_keras_object
    cls = _retrieve_class_or_fn(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/serialization_lib.py", line 800, in _retrieve_class_or_fn
    raise TypeError(
TypeError: Could not deserialize class 'AttentionPool' because its parent module my_pkg.layers cannot be imported. Full object config: {'module': 'my_pkg.layers', 'class_name': 'AttentionPool', 'config': {'name': 'attention_pool'}, 'registered_name': None}
""",
    ),
    Sample(
        'bad-custom-function-not-registered',
        'real: tf-keras 2.21 loading an .h5 compiled with a custom loss',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_api.py", line 301, in load_model
    return legacy_sm_saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/legacy/serialization.py", line 538, in deserialize_keras_object
    raise ValueError(
ValueError: Unknown loss function: 'my_loss'. Please ensure you are using a `keras.utils.custom_object_scope` and that this object is included in the scope. See https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object for details.
""",
    ),
    Sample(
        'bad-custom-function-not-registered',
        'real: tf-keras 2.21 loading an .h5 with a custom activation',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_api.py", line 301, in load_model
    return legacy_sm_saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/base_layer.py", line 871, in from_config
    raise TypeError(
TypeError: Error when deserializing class 'Dense' using config={'name': 'dense_1', 'trainable': True, 'dtype': 'float32', 'units': 2, 'activation': {'module': 'builtins', 'class_name': 'function', 'config': 'my_act', 'registered_name': 'function'}, 'use_bias': True, 'kernel_initializer': {'module': 'keras.initializers', 'class_name': 'GlorotUniform', 'config': {'seed': None}, 'registered_name': None}, 'bias_initializer': {'module': 'keras.initializers', 'class_name': 'Zeros', 'config': {}, 'registered_name': None}, 'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None, 'kernel_constraint': None, 'bias_constraint': None}.

Exception encountered: Unknown activation function: 'function'. Please ensure you are using a `keras.utils.custom_object_scope` and that this object is included in the scope. See https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object for details.
""",
    ),
    Sample(
        'bad-custom-function-not-registered',
        'real: tf-keras 2.21 loading an .h5 with a custom initializer',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_api.py", line 301, in load_model
    return legacy_sm_saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/engine/base_layer.py", line 871, in from_config
    raise TypeError(
TypeError: Error when deserializing class 'Dense' using config={'name': 'dense_1', 'trainable': True, 'dtype': 'float32', 'units': 2, 'activation': 'linear', 'use_bias': True, 'kernel_initializer': {'module': None, 'class_name': 'MyInit', 'config': {}, 'registered_name': 'MyInit'}, 'bias_initializer': {'module': 'keras.initializers', 'class_name': 'Zeros', 'config': {}, 'registered_name': None}, 'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None, 'kernel_constraint': None, 'bias_constraint': None}.

Exception encountered: Unknown initializer: 'MyInit'. Please ensure you are using a `keras.utils.custom_object_scope` and that this object is included in the scope. See https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object for details.
""",
    ),
    Sample(
        'bad-custom-function-not-registered',
        'real: keras 3.15.1 loading a tf-keras .keras compiled with a custom loss',
        """\
    model = deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 791, in deserialize_keras_object
    instance.compile_from_config(compile_config)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/trainers/trainer.py", line 1016, in compile_from_config
    config = serialization_lib.deserialize_keras_object(config)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 632, in deserialize_keras_object
    return {
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 633, in <dictcomp>
    key: deserialize_keras_object(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 730, in deserialize_keras_object
    return _retrieve_class_or_fn(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/serialization_lib.py", line 899, in _retrieve_class_or_fn
    raise TypeError(
TypeError: Could not locate function 'my_loss'. Make sure custom classes and functions are decorated with `@keras.saving.register_keras_serializable()`. If they are already decorated, make sure they are all imported so that the decorator is run before trying to load them. Full object config: {'module': 'builtins', 'class_name': 'function', 'config': 'my_loss', 'registered_name': 'function'}
""",
    ),
    Sample(
        'bad-layer-get-config-missing',
        'real: tf-keras 2.21 saving a layer with a non-serializable constructor argument',
        """\
Layer Scale was created by passing
non-serializable argument values in `__init__()`,
and therefore the layer must override `get_config()` in
order to be serializable. Please implement `get_config()`.

Example:

class CustomLayer(keras.layers.Layer):
    def __init__(self, arg1, arg2, **kwargs):
        super().__init__(**kwargs)
        self.arg1 = arg1
        self.arg2 = arg2

    def get_config(self):
        config = super().get_config()
        config.update({
            "arg1": self.arg1,
            "arg2": self.arg2,
        })
        return config
""",
    ),
    Sample(
        'bad-layer-get-config-missing',
        'real: keras 3.15.1 saving the same layer',
        """\
NotImplementedError: 
Object Scale was created by passing
non-serializable argument values in `__init__()`,
and therefore the object must override `get_config()` in
order to be serializable. Please implement `get_config()`.

Example:


class CustomLayer(keras.layers.Layer):
    def __init__(self, arg1, arg2, **kwargs):
        super().__init__(**kwargs)
        self.arg1 = arg1
        self.arg2 = arg2

    def get_config(self):
        config = super().get_config()
        config.update({
            "arg1": self.arg1,
            "arg2": self.arg2,
        })
        return config
""",
    ),
    Sample(
        'bad-keras2-internals-in-keras3',
        'real: keras 3.15.1 unpickling a (hand-built) pickle that names keras.src.engine.functional.Functional, a Keras 2.13-2.15 class',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
ModuleNotFoundError: No module named 'keras.src.engine'
""",
        installed={'keras': '3.15.1'},
    ),
    Sample(
        'bad-keras2-internals-in-keras3',
        'real: keras 3.15.1 unpickling a (hand-built) pickle naming keras.src.saving.pickle_utils.deserialize_model_from_bytecode, what Model.__reduce__ of Keras 2.13-2.15 writes',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
ModuleNotFoundError: No module named 'keras.src.saving.pickle_utils'
""",
    ),
    Sample(
        'bad-keras-engine-moved',
        'real: keras 3.15.1 unpickling a (hand-built) pickle naming keras.saving.pickle_utils.deserialize_model_from_bytecode, what Model.__reduce__ of Keras 2.6-2.12 writes',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
ModuleNotFoundError: No module named 'keras.saving.pickle_utils'
""",
        installed={'keras': '3.15.1'},
    ),
    Sample(
        'bad-keras-src-missing',
        'real: CPython 3.11 unpickling a keras.src.engine reference with a stand-in keras package that, like keras <= 2.12, has no keras.src',
        """\
Traceback (most recent call last):
  File "<string>", line 4, in <module>
ModuleNotFoundError: No module named 'keras.src'
""",
        installed={'keras': '2.12.0'},
    ),
    Sample(
        'bad-protobuf4-old-generated-code',
        'real: protobuf 4.21.12 importing descriptors built the pre-3.19 protoc way',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/home/ml/project/old_pb2.py", line 4, in <module>
    _DIM = _descriptor.FieldDescriptor(name='dim', full_name='tensorflow.TensorShapeProto.dim', index=0, number=2, type=3, cpp_type=2, label=1, has_default_value=False, default_value=0, message_type=None, enum_type=None, containing_type=None, is_extension=False, extension_scope=None, serialized_options=None, file=DESCRIPTOR)
  File "/srv/venv/lib/python3.11/site-packages/google/protobuf/descriptor.py", line 560, in __new__
    _message.Message._CheckCalledFromGeneratedFile()
TypeError: Descriptors cannot not be created directly.
If this call came from a _pb2.py file, your generated code is out of date and must be regenerated with protoc >= 3.19.0.
If you cannot immediately regenerate your protos, some other possible workarounds are:
 1. Downgrade the protobuf package to 3.20.x or lower.
 2. Set PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python (but this will use pure-Python parsing and will be much slower).

More information: https://developers.google.com/protocol-buffers/docs/news/2022-05-06#python-updates
""",
        installed={'tensorflow': '2.7.1', 'protobuf': '4.21.12'},
    ),
    Sample(
        'bad-protobuf4-old-generated-code',
        'real: protobuf 7.36.2, same module',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/home/ml/project/old_pb2.py", line 4, in <module>
    _DIM = _descriptor.FieldDescriptor(name='dim', full_name='tensorflow.TensorShapeProto.dim', index=0, number=2, type=3, cpp_type=2, label=1, has_default_value=False, default_value=0, message_type=None, enum_type=None, containing_type=None, is_extension=False, extension_scope=None, serialized_options=None, file=DESCRIPTOR)
  File "/srv/venv/lib/python3.11/site-packages/google/protobuf/descriptor.py", line 679, in __new__
    _message.Message._CheckCalledFromGeneratedFile()
TypeError: Descriptors cannot be created directly.
If this call came from a _pb2.py file, your generated code is out of date and must be regenerated with protoc >= 3.19.0.
If you cannot immediately regenerate your protos, some other possible workarounds are:
 1. Downgrade the protobuf package to 3.20.x or lower.
 2. Set PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python (but this will use pure-Python parsing and will be much slower).

More information: https://developers.google.com/protocol-buffers/docs/news/2022-05-06#python-updates
""",
    ),
    Sample(
        'bad-numpy-expired-aliases',
        'real: numpy 1.26.4: np.object',
        """\
<string>:1: FutureWarning: In the future `np.object` will be defined as the corresponding NumPy scalar.
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/numpy/__init__.py", line 324, in __getattr__
    raise AttributeError(__former_attrs__[attr])
AttributeError: module 'numpy' has no attribute 'object'.
`np.object` was a deprecated alias for the builtin `object`. To avoid this error in existing code, use `object` by itself. Doing this will not modify any behavior and is safe. 
The aliases was originally deprecated in NumPy 1.20; for more details and guidance see the original release note at:
    https://numpy.org/devdocs/release/1.20.0-notes.html#deprecations. Did you mean: 'object_'?
""",
        installed={'numpy': '1.26.4'},
    ),
    Sample(
        'bad-numpy-expired-aliases',
        'real: numpy 2.4.6: np.object',
        """\
<string>:1: FutureWarning: In the future `np.object` will be defined as the corresponding NumPy scalar.
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/numpy/__init__.py", line 775, in __getattr__
    raise AttributeError(__former_attrs__[attr], name=None)
AttributeError: module 'numpy' has no attribute 'object'.
`np.object` was a deprecated alias for the builtin `object`. To avoid this error in existing code, use `object` by itself. Doing this will not modify any behavior and is safe. 
The aliases was originally deprecated in NumPy 1.20; for more details and guidance see the original release note at:
    https://numpy.org/devdocs/release/1.20.0-notes.html#deprecations
""",
    ),
    Sample(
        'bad-numpy124-bool',
        'real: numpy 1.26.4: np.bool',
        """\
<string>:1: FutureWarning: In the future `np.bool` will be defined as the corresponding NumPy scalar.
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/numpy/__init__.py", line 324, in __getattr__
    raise AttributeError(__former_attrs__[attr])
AttributeError: module 'numpy' has no attribute 'bool'.
`np.bool` was a deprecated alias for the builtin `bool`. To avoid this error in existing code, use `bool` by itself. Doing this will not modify any behavior and is safe. If you specifically wanted the numpy scalar type, use `np.bool_` here.
The aliases was originally deprecated in NumPy 1.20; for more details and guidance see the original release note at:
    https://numpy.org/devdocs/release/1.20.0-notes.html#deprecations. Did you mean: 'bool_'?
""",
        installed={'numpy': '1.26.4'},
    ),
    Sample(
        'bad-numpy2-abi',
        'real: ml-dtypes 0.2.0 (built for NumPy 1.x) imported under numpy 2.0.2',
        """\

A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.0.2 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.
Some module may need to rebuild instead e.g. with 'pybind11>=2.12'.

If you are a user of the module, the easiest solution will be to
downgrade to 'numpy<2' or try to upgrade the affected module.
We expect that some modules will need time to support NumPy 2.

Traceback (most recent call last):  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/ml_dtypes/__init__.py", line 32, in <module>
    from ml_dtypes._custom_floats import bfloat16
AttributeError: _ARRAY_API not found
ImportError: numpy.core._multiarray_umath failed to import
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/ml_dtypes/__init__.py", line 32, in <module>
    from ml_dtypes._custom_floats import bfloat16
ImportError: numpy.core.umath failed to import
""",
        installed={'numpy': '2.0.2'},
    ),
    Sample(
        'bad-numpy2-abi',
        'real: h5py 3.10.0 (built for NumPy 1.x) imported under numpy 2.0.2',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/h5py/__init__.py", line 25, in <module>
    from . import _errors
  File "h5py/_errors.pyx", line 1, in init h5py._errors
ValueError: numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject
""",
    ),
    Sample(
        'bad-ml-dtypes-e4m3b11-removed',
        'real: ml-dtypes 0.6.0: ml_dtypes.float8_e4m3b11',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
AttributeError: module 'ml_dtypes' has no attribute 'float8_e4m3b11'. Did you mean: 'float8_e4m3'?
""",
        installed={'ml-dtypes': '0.6.0'},
    ),
    Sample(
        'bad-ml-dtypes-e4m3b11-removed',
        'real: ml-dtypes 0.6.0: from ml_dtypes import float8_e4m3b11',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
ImportError: cannot import name 'float8_e4m3b11' from 'ml_dtypes' (/srv/venv/lib/python3.11/site-packages/ml_dtypes/__init__.py)
""",
    ),
    Sample(
        'bad-ml-dtypes-too-old',
        'real: ml-dtypes 0.2.0: ml_dtypes.float8_e4m3',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/ml_dtypes/__init__.py", line 71, in __getattr__
    raise AttributeError(f'cannot import name {name!r} from {__name__!r}')
AttributeError: cannot import name 'float8_e4m3' from 'ml_dtypes'. Did you mean: 'float8_e4m3fn'?
""",
        installed={'ml-dtypes': '0.2.0'},
    ),
    Sample(
        'bad-typing-extensions-typealiastype',
        'real: optree 0.20 with typing-extensions 4.5.0',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/optree/__init__.py", line 17, in <module>
    from optree import accessors, dataclasses, functools, integrations, pytree, treespec, typing
  File "/srv/venv/lib/python3.11/site-packages/optree/functools.py", line 24, in <module>
    from optree import registry
  File "/srv/venv/lib/python3.11/site-packages/optree/registry.py", line 41, in <module>
    from optree.typing import (
  File "/srv/venv/lib/python3.11/site-packages/optree/typing.py", line 56, in <module>
    from typing_extensions import (
ImportError: cannot import name 'TypeAliasType' from 'typing_extensions' (/srv/venv/lib/python3.11/site-packages/typing_extensions.py)
""",
        installed={'typing-extensions': '4.5.0'},
    ),
    Sample(
        'bad-typing-extensions-typealiastype',
        'real: keras 3.15.1 import with typing-extensions 4.5.0',
        """\
    from keras.src.backend.common.variables import standardize_dtype
  File "/srv/venv/lib/python3.11/site-packages/keras/src/backend/common/variables.py", line 11, in <module>
    from keras.src.utils.module_utils import tensorflow as tf
  File "/srv/venv/lib/python3.11/site-packages/keras/src/utils/__init__.py", line 1, in <module>
    from keras.src.utils.audio_dataset_utils import audio_dataset_from_directory
  File "/srv/venv/lib/python3.11/site-packages/keras/src/utils/audio_dataset_utils.py", line 4, in <module>
    from keras.src.utils import dataset_utils
  File "/srv/venv/lib/python3.11/site-packages/keras/src/utils/dataset_utils.py", line 10, in <module>
    from keras.src import tree
  File "/srv/venv/lib/python3.11/site-packages/keras/src/tree/__init__.py", line 1, in <module>
    from keras.src.tree.tree_api import assert_same_paths
  File "/srv/venv/lib/python3.11/site-packages/keras/src/tree/tree_api.py", line 17, in <module>
    raise ImportError(
ImportError: To use Keras, you need to have `optree` installed. Install it via `pip install optree`
""",
    ),
    Sample(
        'bad-h5-not-hdf5',
        'real: keras 3.15.1 load_model on a Git LFS pointer named .h5',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_api.py", line 197, in load_model
    return legacy_h5_format.load_model_from_hdf5(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/legacy_h5_format.py", line 120, in load_model_from_hdf5
    f = h5py.File(filepath, mode="r")
  File "/srv/venv/lib/python3.11/site-packages/h5py/_hl/files.py", line 564, in __init__
    fid = make_fid(name, mode, userblock_size, fapl, fcpl, swmr=swmr)
  File "/srv/venv/lib/python3.11/site-packages/h5py/_hl/files.py", line 238, in make_fid
    fid = h5f.open(name, flags, fapl=fapl)
  File "h5py/_objects.pyx", line 56, in h5py._objects.with_phil.wrapper
  File "h5py/_objects.pyx", line 57, in h5py._objects.with_phil.wrapper
  File "h5py/h5f.pyx", line 102, in h5py.h5f.open
OSError: Unable to synchronously open file (file signature not found)
""",
    ),
    Sample(
        'bad-h5-not-hdf5',
        'real: keras 3.15.1 load_model on a truncated .h5',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/saving/saving_api.py", line 197, in load_model
    return legacy_h5_format.load_model_from_hdf5(
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/legacy_h5_format.py", line 120, in load_model_from_hdf5
    f = h5py.File(filepath, mode="r")
  File "/srv/venv/lib/python3.11/site-packages/h5py/_hl/files.py", line 564, in __init__
    fid = make_fid(name, mode, userblock_size, fapl, fcpl, swmr=swmr)
  File "/srv/venv/lib/python3.11/site-packages/h5py/_hl/files.py", line 238, in make_fid
    fid = h5f.open(name, flags, fapl=fapl)
  File "h5py/_objects.pyx", line 56, in h5py._objects.with_phil.wrapper
  File "h5py/_objects.pyx", line 57, in h5py._objects.with_phil.wrapper
  File "h5py/h5f.pyx", line 102, in h5py.h5f.open
OSError: Unable to synchronously open file (truncated file: eof = 3000, sblock->base_addr = 0, stored_eof = 12400)
""",
    ),
    Sample(
        'bad-savedmodel-missing',
        'real: tf-keras 2.21 load_model on a directory without saved_model.pb',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/saving/saving_api.py", line 301, in load_model
    return legacy_sm_saving_lib.load_model(
  File "/srv/venv/lib/python3.11/site-packages/tf_keras/src/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/srv/venv/lib/python3.11/site-packages/tensorflow/python/saved_model/loader_impl.py", line 119, in parse_saved_model
    raise IOError(
OSError: SavedModel file does not exist at: out/{saved_model.pbtxt|saved_model.pb}
""",
    ),
    Sample(
        'bad-savedmodel-missing',
        'real: keras 3.15.1 TFSMLayer on a directory without saved_model.pb',
        """\
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/srv/venv/lib/python3.11/site-packages/keras/src/export/tfsm_layer.py", line 67, in __init__
    self._reloaded_obj = tf.saved_model.load(filepath)
  File "/srv/venv/lib/python3.11/site-packages/tensorflow/python/saved_model/load.py", line 912, in load
    result = load_partial(export_dir, None, tags, options)["root"]
  File "/srv/venv/lib/python3.11/site-packages/tensorflow/python/saved_model/load.py", line 1016, in load_partial
    loader_impl.parse_saved_model_with_debug_info(export_dir))
  File "/srv/venv/lib/python3.11/site-packages/tensorflow/python/saved_model/loader_impl.py", line 59, in parse_saved_model_with_debug_info
    saved_model = parse_saved_model(export_dir)
  File "/srv/venv/lib/python3.11/site-packages/tensorflow/python/saved_model/loader_impl.py", line 119, in parse_saved_model
    raise IOError(
OSError: SavedModel file does not exist at: out/{saved_model.pbtxt|saved_model.pb}
""",
    ),
]

SOURCE_SAMPLES = [
    Sample(
        "bad-keras3-savedmodel",
        "source: keras-core era message quoted in keras-team/keras#18709 (saving_api.py before the TFSMLayer hint)",
        """\
  File "/srv/venv/lib/python3.11/site-packages/keras/saving/saving_api.py", line 192, in load_model
    raise ValueError(
ValueError: File format not supported: filepath=my_model Keras Core only supports V3 `.keras` and `.weights.h5` files.
""",
    ),
    Sample(
        "bad-keras3-tf-op-layers",
        "source: keras/src/legacy/saving/serialization.py message format (as in the real TFOpLambda sample) for a slicing op",
        """\
  File "/srv/venv/lib/python3.11/site-packages/keras/src/legacy/saving/serialization.py", line 353, in class_and_config_for_serialized_keras_object
    raise ValueError(
ValueError: Unknown layer: 'SlicingOpLambda'. Please ensure you are using a `keras.utils.custom_object_scope` and that this object is included in the scope. See https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object for details.
""",
        installed={"keras": "3.3.3", "tensorflow": "2.16.1"},
    ),
    Sample(
        "bad-tfkeras-zip-in-keras3",
        "source: keras 3.0.4 serialization_lib.py message for a TF 2.15 `.keras` file, as in keras-team/keras#19089",
        """\
  File "/usr/local/lib/python3.10/dist-packages/keras/src/saving/serialization_lib.py", line 787, in _retrieve_class_or_fn
    raise TypeError(
TypeError: Could not deserialize class 'Functional' because its parent module keras.src.engine.functional cannot be imported. Full object config: {'module': 'keras.src.engine.functional', 'class_name': 'Functional', 'config': {'name': 'model', 'trainable': True}}
""",
        installed={"keras": "3.0.4"},
    ),
    Sample(
        "bad-keras1-config",
        "source: keras 2.2.4 keras/engine/base_layer.py:128 (TypeError('Keyword argument not understood:', kwarg))",
        """\
  File "/opt/conda/lib/python3.6/site-packages/keras/layers/core.py", line 843, in __init__
    super(Dense, self).__init__(**kwargs)
  File "/opt/conda/lib/python3.6/site-packages/keras/engine/base_layer.py", line 128, in __init__
    raise TypeError('Keyword argument not understood:', kwarg)
TypeError: ('Keyword argument not understood:', 'border_mode')
""",
    ),
    Sample(
        "bad-keras1-config",
        "source: Keras 2.0 loading a Keras 1.2.2 ResNet50, message quoted in keras-team/keras#6248",
        """\
  File "/usr/local/lib/python2.7/dist-packages/keras/utils/generic_utils.py", line 140, in deserialize_keras_object
    return cls.from_config(config['config'])
  File "/usr/local/lib/python2.7/dist-packages/keras/engine/topology.py", line 1252, in from_config
    return cls(**config)
TypeError: __init__() got an unexpected keyword argument 'input_dtype'
""",
    ),
    Sample(
        "bad-keras1-config",
        "source: tf.keras 2.1 InputLayer (ValueError('Unrecognized keyword arguments:', kwargs.keys()))",
        """\
  File "/usr/local/lib/python3.7/site-packages/tensorflow_core/python/keras/engine/input_layer.py", line 92, in __init__
    raise ValueError('Unrecognized keyword arguments:', kwargs.keys())
ValueError: ('Unrecognized keyword arguments:', dict_keys(['input_dtype']))
""",
    ),
    Sample(
        "bad-tfkeras-file-in-old-keras",
        "source: keras 2.2.4 keras/utils/generic_utils.py:137 ('Unknown ' + printable_module_name + ': ' + class_name)",
        """\
  File "/home/u/miniconda3/lib/python3.7/site-packages/keras/initializers.py", line 508, in deserialize
    printable_module_name='initializer')
  File "/home/u/miniconda3/lib/python3.7/site-packages/keras/utils/generic_utils.py", line 138, in deserialize_keras_object
    ': ' + class_name)
ValueError: Unknown initializer: GlorotUniform
""",
        installed={"keras": "2.2.4", "tensorflow": "1.14.0"},
    ),
    Sample(
        "bad-tfkeras-file-in-old-keras",
        "source: keras 2.2.4 keras/utils/generic_utils.py:137, a TF 1.14 tf.keras BatchNormalization",
        """\
  File "/home/u/miniconda3/lib/python3.7/site-packages/keras/utils/generic_utils.py", line 138, in deserialize_keras_object
    ': ' + class_name)
ValueError: Unknown layer: BatchNormalizationV1
""",
        installed={"keras": "2.2.4"},
    ),
    Sample(
        "bad-functional-class-old-reader",
        "source: TensorFlow 2.2 tensorflow/python/keras/utils/generic_utils.py ('Unknown ' + printable_module_name + ': ' + class_name)",
        """\
  File "/usr/local/lib/python3.6/dist-packages/tensorflow/python/keras/utils/generic_utils.py", line 321, in class_and_config_for_serialized_keras_object
    raise ValueError('Unknown ' + printable_module_name + ': ' + class_name)
ValueError: Unknown layer: Functional
""",
        installed={"tensorflow": "2.2.0"},
    ),
    Sample(
        "bad-lambda-safe-mode",
        "source: keras v3.0.0 keras/layers/core/lambda_layer.py:175 (the `{arg_name}` is literal there)",
        """\
  File "/srv/venv/lib/python3.11/site-packages/keras/layers/core/lambda_layer.py", line 174, in _raise_for_lambda_deserialization
    raise ValueError(
ValueError: The `{arg_name}` of this `Lambda` layer is a Python lambda. Deserializing it is unsafe. If you trust the source of the config artifact, you can override this error by passing `safe_mode=False` to `from_config()`, or calling `keras.config.enable_unsafe_deserialization().
""",
    ),
    Sample(
        "bad-lambda-safe-mode",
        "source: keras v3.0.0 keras/saving/serialization_lib.py:635",
        """\
  File "/srv/venv/lib/python3.11/site-packages/keras/saving/serialization_lib.py", line 634, in deserialize_keras_object
    raise ValueError(
ValueError: Requested the deserialization of a `lambda` object. This carries a potential risk of arbitrary code execution and thus it is disallowed by default. If you trust the source of the saved model, you can pass `safe_mode=False` to the loading function in order to allow `lambda` loading, or call `keras.config.enable_unsafe_deserialization()`.
""",
    ),
    Sample(
        "bad-lambda-safe-mode",
        "source: keras v2.13.1 keras/layers/core/lambda_layer.py:395 (tf.keras 2.13-2.15, keras-team/keras#18284)",
        """\
  File "/usr/local/lib/python3.10/dist-packages/keras/src/layers/core/lambda_layer.py", line 394, in _parse_function_from_config
    raise ValueError(
ValueError: Requested the deserialization of a Lambda layer with a Python `lambda` inside it. This carries a potential risk of arbitrary code execution and thus it is disallowed by default. If you trust the source of the saved model, you can pass `safe_mode=False` to the loading function in order to allow Lambda layer loading.
""",
    ),
    Sample(
        "bad-lambda-bytecode-python-minor",
        "source: CPython 3.6 ceval loading a Python 3.5 Lambda, as reported in keras-team/keras#9595",
        """\
XXX lineno: 7, opcode: 0
Traceback (most recent call last):
  File "/home/david/.virtualenvs/py36/lib/python3.6/site-packages/keras/layers/core.py", line 651, in call
    return self.function(inputs, **arguments)
  File "save_model.py", line 7, in noop
SystemError: unknown opcode
""",
    ),
    Sample(
        "bad-custom-function-not-registered",
        "source: keras v2.15.0 keras/activations.py:695",
        """\
  File "/usr/local/lib/python3.10/dist-packages/keras/src/activations.py", line 695, in get
    raise TypeError(
TypeError: Could not interpret activation function identifier: {'class_name': 'swish_custom', 'config': {}}
""",
    ),
    Sample(
        "bad-layer-get-config-missing",
        "source: keras v2.6.0 keras/engine/base_layer.py:727",
        """\
  File "/usr/local/lib/python3.8/site-packages/keras/engine/base_layer.py", line 727, in get_config
    raise NotImplementedError('Layer %s has arguments in `__init__` and '
NotImplementedError: Layer AddCoords2D has arguments in `__init__` and therefore must override `get_config`.
""",
    ),
    Sample(
        "bad-layer-get-config-missing",
        "source: tf.keras 2.7 message with the argument list, quoted in email81227/Time2Vec-TensorFlow2#2",
        """\
NotImplementedError: 
Layer Time2Vec has arguments ['self', 'kernel_size', 'periodic_activation']
in `__init__` and therefore must override `get_config()`.
""",
    ),
    Sample(
        "bad-layer-get-config-missing",
        "source: keras v2.6.0 keras/engine/base_layer_v1.py:497 (TF 2.0 wording, tensorflow/tensorflow#33947)",
        """\
  File "/usr/local/lib/python3.6/dist-packages/tensorflow_core/python/keras/engine/base_layer.py", line 892, in get_config
    raise NotImplementedError('Layers with arguments in `__init__` must '
NotImplementedError: Layers with arguments in `__init__` must override `get_config`.
""",
    ),
    Sample(
        "bad-keras-engine-moved",
        "source: TF 2.13 keras, message quoted in keras-team/tf-keras#196",
        """\
>>> from keras.engine import data_adapter
Traceback (most recent call last):
  File "<stdin>", line 1, in <module>
ModuleNotFoundError: No module named 'keras.engine'
""",
        installed={"keras": "2.13.1", "tensorflow": "2.13.0"},
    ),
    Sample(
        "bad-h5py3-str-decode-tf",
        "source: TensorFlow 2.3 tensorflow/python/keras/saving/hdf5_format.py:176 (model_config.decode) with h5py 3.1; "
        "the AttributeError text is CPython 3.11's",
        """\
  File "/usr/local/lib/python3.8/site-packages/tensorflow/python/keras/saving/save.py", line 182, in load_model
    return hdf5_format.load_model_from_hdf5(filepath, custom_objects, compile)
  File "/usr/local/lib/python3.8/site-packages/tensorflow/python/keras/saving/hdf5_format.py", line 176, in load_model_from_hdf5
    model_config = json.loads(model_config.decode('utf-8'))
AttributeError: 'str' object has no attribute 'decode'. Did you mean: 'encode'?
""",
        installed={"tensorflow": "2.3.1", "h5py": "3.1.0"},
    ),
    Sample(
        "bad-h5py3-str-decode-keras",
        "source: keras 2.3.1 keras/engine/saving.py:273 with h5py 3.1",
        """\
  File "/usr/local/lib/python3.7/site-packages/keras/engine/saving.py", line 419, in load_model
    model = _deserialize_model(h5dict, custom_objects, compile)
  File "/usr/local/lib/python3.7/site-packages/keras/engine/saving.py", line 273, in _deserialize_model
    model_config = json.loads(model_config.decode('utf-8'))
AttributeError: 'str' object has no attribute 'decode'
""",
        installed={"keras": "2.3.1", "h5py": "3.1.0"},
    ),
    Sample(
        "bad-ml-dtypes-too-old",
        "source: CPython's module-attribute message for ml-dtypes 0.4.1, as in onnx/ir-py#187",
        """\
  File "<stdin>", line 1, in <module>
AttributeError: module 'ml_dtypes' has no attribute 'float8_e8m0fnu'. Did you mean: 'float8_e4m3fn'?
""",
        installed={"ml-dtypes": "0.4.1"},
    ),
    Sample(
        "bad-savedmodel-missing",
        "source: keras v2.6.0 keras/saving/save.py:207",
        """\
  File "/usr/local/lib/python3.8/site-packages/keras/saving/save.py", line 207, in load_model
    raise IOError(
OSError: Unable to load model. Filepath is not an hdf5 file (or h5py is not available) or SavedModel.
""",
    ),
    Sample(
        "bad-keras3-savedmodel",
        "source: the smoke test's failure reason (SmokeResult.reason) wrapping the keras 3 message",
        "keras could not load the model: ValueError: File format not supported: filepath=/models/classifier. Keras 3 only "
        "supports V3 `.keras` files and legacy H5 format files (`.h5` extension). Note that the legacy SavedModel format "
        "is not supported by `load_model()` in Keras 3.",
    ),
]

SAMPLES = REAL_SAMPLES + SOURCE_SAMPLES

# Texts from loads and runs that fail (or warn) for reasons no known-bad rule is about.
UNRELATED = {
    "cuda-oom": """\
Traceback (most recent call last):
  File "train.py", line 88, in <module>
    model.fit(x, y, batch_size=4096)
  File "/srv/venv/lib/python3.11/site-packages/tensorflow/python/eager/execute.py", line 53, in quick_execute
    tensors = pywrap_tfe.TFE_Py_Execute(ctx._handle, device_name, op_name,
tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:

OOM when allocating tensor with shape[4096,512,512] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc
\t [[{{node model/conv2d/Conv2D}}]]
Hint: If you want to see a list of allocated tensors when OOM happens, add report_tensor_allocations_upon_oom to RunOptions for current allocation info.
""",
    "cudnn-init": """\
tensorflow.python.framework.errors_impl.UnknownError: Failed to get convolution algorithm. This is probably because cuDNN failed to initialize, so try looking to see if a warning log message was printed above.
""",
    "missing-data-file": """\
Traceback (most recent call last):
  File "predict.py", line 12, in <module>
    df = pd.read_csv("data/test.csv")
  File "/srv/venv/lib/python3.11/site-packages/pandas/io/common.py", line 873, in get_handle
    handle = open(
FileNotFoundError: [Errno 2] No such file or directory: 'data/test.csv'
""",
    "missing-unrelated-module": """\
Traceback (most recent call last):
  File "serve.py", line 3, in <module>
    import cv2
ModuleNotFoundError: No module named 'cv2'
""",
    "input-shape-mismatch": """\
  File "/srv/venv/lib/python3.11/site-packages/keras/src/engine/input_spec.py", line 298, in assert_input_compatibility
    raise ValueError(
ValueError: Input 0 of layer "dense" is incompatible with the layer: expected axis -1 of input shape to have value 784, but received input with shape (None, 28, 28)
""",
    "other-str-attribute": """\
  File "clean.py", line 9, in normalise
    return label.lower().strip().decoded
AttributeError: 'str' object has no attribute 'decoded'
""",
    "warnings-of-a-good-load": """\
2026-01-05 10:12:01.123456: W tensorflow/compiler/xla/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file or directory
/srv/venv/lib/python3.11/site-packages/tensorflow/python/framework/dtypes.py:585: FutureWarning: In the future `np.bool` will be defined as the corresponding NumPy scalar.
WARNING:tensorflow:No training configuration found in the save file, so the model was *not* compiled. Compile it manually.
/srv/venv/lib/python3.11/site-packages/keras/src/engine/training.py:3000: UserWarning: You are saving your model as an HDF5 file via `model.save()`. This file format is considered legacy.
""",
    "keras-src-paths-in-an-ordinary-traceback": """\
  File "/srv/venv/lib/python3.11/site-packages/keras/src/engine/training.py", line 2440, in predict
    tmp_batch_outputs = self.predict_function(iterator)
  File "/srv/venv/lib/python3.11/site-packages/keras/src/engine/functional.py", line 569, in call
    return self._run_internal_graph(inputs, training=training, mask=mask)
tensorflow.python.framework.errors_impl.InvalidArgumentError: indices[3] = 1204 is not in [0, 1000)
""",
    "numpy-2-bool-is-fine": "<class 'numpy.bool'>\n",
}


def _texts_for(rule_id: str) -> list[str]:
    return [s.text for s in SAMPLES if s.rule == rule_id]


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{s.rule}:{i}" for i, s in enumerate(SAMPLES)])
def test_sample_ranks_its_rule_first(sample):
    found = diagnose(sample.text, DB, sample.installed)
    assert found, f"nothing matched ({sample.label})"
    assert found[0].rule_id == sample.rule, [d.rule_id for d in found]
    fragment = found[0].matched.strip("…")
    assert fragment and fragment in sample.text  # one line of the text, around the match


@pytest.mark.parametrize("rule", DB.known_bad, ids=lambda r: r.id)
def test_every_rule_has_a_sample_and_every_signature_matches_one(rule):
    texts = _texts_for(rule.id)
    assert texts, f"{rule.id} has no sample text in tests/test_diagnose.py"
    for pattern in rule.signatures:
        assert any(re.search(pattern, t) for t in texts), f"{rule.id}: no sample exercises {pattern!r}"


@pytest.mark.parametrize("rule", DB.known_bad, ids=lambda r: r.id)
def test_rules_are_sourced_and_patterns_sane(rule):
    assert rule.source.startswith("https://"), rule.id
    assert rule.cause.strip() and rule.fix.strip() and rule.reason.strip()
    assert rule.file == "known-bad.toml"
    for pattern in rule.signatures:
        compiled = re.compile(pattern)
        assert compiled.search("") is None, f"{rule.id}: {pattern!r} matches the empty string"
        assert compiled.search("\n" * 50 + " " * 50) is None
    for req in rule.when:
        assert req.name in {"tensorflow", "keras", "h5py", "protobuf", "numpy", "ml-dtypes", "typing-extensions", "python"}


def test_every_real_sample_names_only_known_rules():
    ids = {r.id for r in DB.known_bad}
    assert {s.rule for s in SAMPLES} <= ids


@pytest.mark.parametrize("name", sorted(UNRELATED))
def test_no_false_positives_on_unrelated_failures(name):
    assert diagnose(UNRELATED[name], DB) == ()


# ---- `when` against the installed versions -------------------------------------------------------

DECODE = "AttributeError: 'str' object has no attribute 'decode'\n"


def test_when_holds_for_the_combination_that_breaks():
    found = diagnose(DECODE, DB, {"tensorflow": "2.3.1", "h5py": "3.1.0"})
    assert [d.rule_id for d in found] == ["bad-h5py3-str-decode-tf", "bad-h5py3-str-decode-keras"]
    assert found[0].applies is True and "h5py 3.1.0 is >=3" in found[0].why
    assert found[1].applies is None and "keras" in found[1].why  # keras version not given


def test_when_fails_yet_the_cause_is_still_shown_last():
    found = diagnose(DECODE, DB, {"tensorflow": "2.15.0", "keras": "2.15.0", "h5py": "3.10.0"})
    assert {d.rule_id for d in found} == {"bad-h5py3-str-decode-tf", "bad-h5py3-str-decode-keras"}
    assert all(d.applies is False for d in found)
    assert "tensorflow 2.15.0 is not <2.5" in found[0].why


def test_standalone_keras_variant_ranks_first_when_only_it_holds():
    found = diagnose(DECODE, DB, {"keras": "2.2.4", "h5py": "3.1.0", "tensorflow": "2.15.0"})
    assert [(d.rule_id, d.applies) for d in found] == [
        ("bad-h5py3-str-decode-keras", True), ("bad-h5py3-str-decode-tf", False)]


def test_without_installed_versions_applies_is_unknown():
    found = diagnose(DECODE, DB)
    assert found and all(d.applies is None for d in found)
    assert found[0].why == "installed versions unknown"


def test_rule_without_when_is_unknown_even_with_versions():
    text = "OSError: Unable to synchronously open file (file signature not found)"
    (d,) = diagnose(text, DB, {"h5py": "3.14.0"})
    assert d.rule_id == "bad-h5-not-hdf5" and d.applies is None and d.when == ()


def test_protobuf_rule_against_real_release_pairs():
    text = "TypeError: Descriptors cannot not be created directly.\n"
    assert diagnose(text, DB, {"tensorflow": "2.7.1", "protobuf": "4.21.0"})[0].applies is True
    assert diagnose(text, DB, {"tensorflow": "2.13.1", "protobuf": "4.25.3"})[0].applies is False
    assert diagnose(text, DB, {"tensorflow": "2.9.0", "protobuf": "3.20.3"})[0].applies is False


def test_numpy_bool_rule_holds_only_between_1_24_and_2():
    text = "AttributeError: module 'numpy' has no attribute 'bool'.\n"
    assert diagnose(text, DB, {"numpy": "1.24.3"})[0].applies is True
    assert diagnose(text, DB, {"numpy": "2.0.2"})[0].applies is False
    assert diagnose(text, DB, {"numpy": "1.23.5"})[0].applies is False


def test_tensorflow_variants_and_odd_version_strings_count():
    text = "TypeError: Descriptors cannot be created directly.\n"
    d = diagnose(text, DB, {"tensorflow-cpu": "2.8.0", "protobuf": "4.21.12"})[0]
    assert d.applies is True and "tensorflow-cpu 2.8.0" in d.why
    d = diagnose(DECODE, DB, {"keras": "2.2.4-tf", "h5py": "3.1.0"})
    assert [x.applies for x in d if x.rule_id == "bad-h5py3-str-decode-keras"] == [True]
    # names are compared canonically: ml_dtypes == ml-dtypes, Typing_Extensions == typing-extensions
    text = "ImportError: cannot import name 'TypeAliasType' from 'typing_extensions' (/srv/venv/typing_extensions.py)"
    assert diagnose(text, DB, {"Typing_Extensions": "4.5.0"})[0].applies is True
    text = "AttributeError: module 'ml_dtypes' has no attribute 'float8_e4m3b11'"
    assert diagnose(text, DB, {"ml_dtypes": "0.3.1"})[0].applies is True


def test_unparseable_version_is_unknown_not_an_error():
    d = diagnose(DECODE, DB, {"tensorflow": "nightly", "h5py": "3.1.0"})[0]
    assert d.applies is None and "tensorflow" in d.why


def test_installed_as_pairs_like_smoke_result_versions():
    versions = (("h5py", "3.1.0"), ("tensorflow", "2.4.1"))
    assert diagnose(DECODE, DB, versions)[0].applies is True


def test_keras3_rules_hold_on_keras3_and_fail_on_keras2():
    text = "ValueError: Unknown layer: 'TFOpLambda'. Please ensure you are using a `keras.utils.custom_object_scope`"
    on3 = diagnose(text, DB, {"keras": "3.3.3"})
    assert (on3[0].rule_id, on3[0].applies) == ("bad-keras3-tf-op-layers", True)
    on2 = diagnose(text, DB, {"keras": "2.15.0"})
    assert on2[0].rule_id == "bad-custom-layer-not-registered"  # unknown beats a failed `when`
    assert [d.applies for d in on2 if d.rule_id == "bad-keras3-tf-op-layers"] == [False]


def _db(*rules: KnownBad) -> RulesDB:
    return RulesDB(root="test", constraints=(), eras=(), routes=(), known_bad=rules)


def _rule(rule_id: str, when: tuple[str, ...], signature: str = "boom") -> KnownBad:
    return KnownBad(id=rule_id, signatures=(signature,), when=tuple(Requirement(w) for w in when),
                    cause=f"cause {rule_id}", fix=f"fix {rule_id}", reason="r", source=f"https://example.org/{rule_id}",
                    file="t.toml")


def test_ranking_holds_then_unknown_then_fails_then_db_order():
    db = _db(_rule("fails", ("numpy<1",)), _rule("unknown-a", ()), _rule("holds", ("numpy>=1",)),
             _rule("unknown-b", ("h5py>=3",)), _rule("no-match", (), signature="never here"))
    found = diagnose("ValueError: boom\n", db, {"numpy": "1.26.4"})
    assert [d.rule_id for d in found] == ["holds", "unknown-a", "unknown-b", "fails"]
    assert [d.applies for d in found] == [True, None, None, False]


# ---- big and hostile inputs -------------------------------------------------------------------------

def test_whole_traceback_file_is_bounded_and_both_ends_are_read():
    filler = "  File \"/srv/venv/lib/python3.11/site-packages/x.py\", line 1, in f\n    g()\n" * 60_000  # ~4.5 MB
    head = "ImportError: cannot import name 'TypeAliasType' from 'typing_extensions'\n"
    tail = "OSError: Unable to open file (file signature not found)\n"
    text = head + filler + tail
    assert len(text) > 4 * MAX_TEXT_CHARS
    start = time.perf_counter()
    found = diagnose(text, DB)
    assert time.perf_counter() - start < 5
    assert {d.rule_id for d in found} == {"bad-typing-extensions-typealiastype", "bad-h5-not-hdf5"}
    assert len(bound_text(text)) <= MAX_TEXT_CHARS + 1
    middle = filler[: len(filler) // 2] + "ValueError: Unknown layer: 'Foo'\n" + filler[len(filler) // 2:]
    assert diagnose(middle, DB) == ()  # beyond the bound: documented, not read


def test_hostile_single_line_inputs_stay_fast():
    # every matched line of every sample, repeated into one ~1 MB line without newlines
    lines = {d.matched for s in SAMPLES for d in diagnose(s.text, DB)}
    lines |= {"Could not locate class 'Functional'", "using config={", "File format not supported: filepath="}
    start = time.perf_counter()
    for line in lines:
        diagnose((line + " ") * (MAX_TEXT_CHARS // (len(line) + 1)), DB)
    assert time.perf_counter() - start < 30


def test_matched_fragment_is_one_line_and_bounded():
    text = "x" * 5000 + " ValueError: Unknown layer: 'Foo' " + "y" * 5000 + "\nnext line\n"
    (d,) = diagnose(text, DB)
    assert "\n" not in d.matched and "Unknown layer: 'Foo'" in d.matched and len(d.matched) < 300


def test_bytes_empty_and_blank_input():
    assert diagnose("", DB) == () and diagnose("   \n\n", DB) == ()
    found = diagnose(b"OSError: SavedModel file does not exist at: m/{saved_model.pbtxt|saved_model.pb}\xff", DB)
    assert [d.rule_id for d in found] == ["bad-savedmodel-missing"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_gives_a_tuple_of_diagnoses(text):
    found = diagnose(text, DB, {"keras": "3.3.3"})
    assert isinstance(found, tuple) and all(isinstance(d, Diagnosis) for d in found)


# ---- rendering ----------------------------------------------------------------------------------------

def test_render_one_line_per_cause_with_fix_and_source():
    found = diagnose(DECODE, DB, {"tensorflow": "2.3.1", "h5py": "3.1.0"})
    text = render_diagnoses(found)
    lines = text.splitlines()
    assert len(lines) == len(found) == 2
    assert lines[0].startswith("known cause [bad-h5py3-str-decode-tf] (your versions match: ")
    assert "Fix: pin h5py<3" in lines[0] and "https://github.com/tensorflow/tensorflow/issues/44467" in lines[0]


def test_render_marks_failed_when_and_limits():
    found = diagnose(DECODE, DB, {"tensorflow": "2.15.0", "keras": "2.15.0", "h5py": "3.10.0"})
    assert "(less likely here: tensorflow 2.15.0 is not <2.5)" in render_diagnoses(found)
    limited = render_diagnoses(found, limit=1).splitlines()
    assert len(limited) == 2 and limited[1] == "... and 1 more known cause (kresolve diagnose)"
    assert render_diagnoses(()) == ""


def test_diagnosis_is_frozen_and_serialisable():
    (d, *_) = diagnose(DECODE, DB)
    with pytest.raises(AttributeError):
        d.cause = "x"
    assert set(d.as_dict()) == {"rule", "cause", "fix", "source", "matched", "applies", "when", "why"}
