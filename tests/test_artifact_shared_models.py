"""Every third-party model in /work/shared/models is read as its README/SOURCE.md describes it
(or refused clearly). Expected values come from those files, which were written by reading the
models independently; values they do not state are marked where they were checked by hand.

The files are read-only test data: nothing here loads, unpickles or executes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from kresolve.artifact import BadInput, ModelFacts, inspect
from kresolve.artifact.bytecode import hint_bounds

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "models"
if not SHARED.is_dir():
    pytest.skip(f"shared third-party models not found at {SHARED}", allow_module_level=True)


@dataclass(frozen=True)
class Expect:
    target: str  # relative to the folder; "" for the folder itself
    format: str
    keras_version: str | None = None
    backend: str | None = None
    tensorflow_version: str | None = None
    tensorflow_git_version: str | None = None
    model_class: str | None = None
    layers: tuple[str, ...] = ()  # a subset of layer_classes
    custom: frozenset[str] = frozenset()  # registered name, else module.class, else class
    lambdas: tuple[tuple[str, str], ...] = ()  # (layer name, Python range the hint must be inside)
    inputs: tuple[tuple[str, tuple], ...] | None = None  # (name, shape), None = not checked
    training: bool | None = None
    date_saved: str | None = None
    signatures: tuple[str, ...] = ()
    detail: tuple[str, ...] = ()  # substrings of format_detail
    notes: tuple[str, ...] = ()  # substrings, each found in some note


H5, WEIGHTS, ZIP, SM = "keras-h5", "keras-h5-weights", "keras-zip", "savedmodel"
WEIGHTS_JSON = "keras-weights-json"

CASES: dict[str, Expect] = {
    # Weights-only save_weights file; the Lambda and the architecture live in model.json beside it,
    # which is read with it (keras_version 1.2.0 and the Lambda bytecode come from the JSON).
    "keras1-carnd-tiny-weights-json": Expect(
        "model.h5", WEIGHTS_JSON, "1.2.0", model_class="Sequential",
        layers=("Lambda", "Convolution2D", "MaxPooling2D", "Dense"), lambdas=(("lambda_5", "3.0-3.5"),),
        inputs=(("lambda_5_input", (None, 16, 32, 1)),), training=False,
        detail=("6 layers", "model.json", "Keras 1"), notes=("model.json", "Keras 1 architecture")),
    "keras1-carnd-lambda-def": Expect(
        "model.h5", H5, "1.1.2", None, model_class="Sequential",
        layers=("Cropping2D", "Lambda", "Convolution2D"), lambdas=(("lambda_1", "3.0-3.5"),),
        inputs=(("cropping2d_1_input", (None, 160, 320, 3)),), training=True, detail=("Keras 1",)),
    # Full model + the same architecture as model.json: the .h5 is the model.
    "keras1-carnd-lambda-json": Expect(
        "model.h5", H5, "1.2.0", None, model_class="Sequential",
        layers=("Lambda", "Convolution2D"), lambdas=(("lambda_1", "3.0-3.5"),),
        inputs=(("lambda_1_input", (None, 64, 64, 3)),), training=True),
    "keras1-theano-ncf-gmf-weights": Expect(
        "ml-1m_GMF_8_1501651698.h5", WEIGHTS, detail=("8 layers",), notes=("weights only",)),
    "keras20-carnd-lambda": Expect(
        "model.h5", H5, "2.0.6", "tensorflow", model_class="Sequential",
        layers=("Lambda", "Conv2D", "Dense"), lambdas=(("lambda_1", "3.0-3.5"),),
        inputs=(("lambda_1_input", (None, 64, 64, 3)),), training=True),
    "keras21-workshop-functional": Expect(
        "bestModel.hdf5", H5, "2.1.5", "tensorflow", model_class="Model",
        layers=("InputLayer", "BatchNormalization", "Dense"), inputs=(("input", (None, 12)),),
        training=True),
    "keras21-unet-weights-only": Expect(
        "unet.hdf5", WEIGHTS, "2.1.6", "tensorflow", detail=("39 layers",), notes=("lambda_7",)),
    "keras22-flatiron-lab-hdf5": Expect(
        "model.hdf5", H5, "2.2.1", "tensorflow", model_class="Sequential", layers=("Dense",),
        inputs=(("dense_4_input", (None, 2000)),), training=True),
    "keras22-carnd-lambda-b64": Expect(
        "my_model.h5", H5, "2.2.4", "tensorflow", model_class="Sequential",
        layers=("Lambda", "Conv2D", "ELU"), lambdas=(("lambda_1", "3.0-3.5"),),
        inputs=(("lambda_1_input", (None, 66, 200, 3)),), training=True),
    "keras23-small-dense": Expect(
        "my_model.h5", H5, "2.3.0", "tensorflow", model_class="Sequential", layers=("Dense",),
        inputs=(("dense_4_input", (None, 60)),), training=True),
    "keras23-homework-cnn": Expect(
        "my_model.h5", H5, "2.3.1", "tensorflow", model_class="Sequential",
        layers=("Conv2D", "Flatten", "Dense"), inputs=(("conv2d_1_input", (None, 64, 64, 1)),),
        training=True),
    "tfkeras224tf-tictactoe-no-training-config": Expect(
        "modelP1.hdf5", H5, "2.2.4-tf", "tensorflow", model_class="Sequential",
        layers=("Flatten", "Dense"), inputs=(("flatten_5_input", (None, 10, 3)),), training=False,
        detail=("tf.keras",), notes=("no training_config",)),
    "tfkeras24-functional-hdf5": Expect(
        "model.hdf5", H5, "2.4.0", "tensorflow", model_class="Functional",
        layers=("InputLayer", "Conv1D", "Concatenate"), inputs=(("input_1", (None, 256, 9)),),
        training=True),
    # Sequential wrapping Sequential wrapping a Functional MobileNet: nested layers are listed.
    "tfkeras24-teachable-machine": Expect(
        "keras_model.h5", H5, "2.4.0", "tensorflow", model_class="Sequential",
        layers=("Sequential", "Functional", "DepthwiseConv2D", "GlobalAveragePooling2D"),
        inputs=(("sequential_1_input", (None, 224, 224, 3)),), training=False),
    "tfkeras26-bangkit-h5": Expect(
        "model.h5", H5, "2.6.0", "tensorflow", model_class="Sequential", layers=("Dense",),
        inputs=(("dense_input", (None, 307)),), training=True),
    "tfkeras28-chatbot-h5": Expect(
        "chatbot_model.h5", H5, "2.8.0", "tensorflow", model_class="Sequential",
        inputs=(("dense_input", (None, 84)),), training=True),
    "tfkeras210-chatbot-h5": Expect(
        "chatbot_model.h5", H5, "2.10.0", "tensorflow", model_class="Sequential",
        inputs=(("dense_input", (None, 75)),), training=True),
    "tfkeras212-chatbot-h5": Expect(
        "chatbot_model.h5", H5, "2.12.0", "tensorflow", model_class="Sequential",
        inputs=(("dense_input", (None, 88)),), training=True),
    "keras3-legacy-h5-churn": Expect(
        "model.h5", H5, "3.10.0", "tensorflow", model_class="Sequential",
        layers=("InputLayer", "Dense"), inputs=(("input_layer_2", (None, 12)),), training=True,
        detail=("Keras 3",), notes=("Keras 3",)),
    "keras3-zip-churn": Expect(
        "model.keras", ZIP, "3.10.0", model_class="Sequential", layers=("InputLayer", "Dense"),
        inputs=(("input_layer_2", (None, 12)),), training=True, date_saved="2025-07-28@18:23:35",
        detail=("Keras 3",)),
    "keras213-zip-mnist": Expect(
        "model.keras", ZIP, "2.13.1", model_class="Sequential", layers=("Flatten", "Dense"),
        inputs=(("flatten_input", (None, 28, 28, 1)),), training=True,
        date_saved="2023-10-13@09:09:23", detail=("Keras 2",), notes=("Keras 2 .keras",)),
    "keras214-zip-hit-song": Expect(
        "model.keras", ZIP, "2.14.0", model_class="Sequential", layers=("Dense",),
        inputs=(("dense_input", (None, 15)),), training=True, date_saved="2023-10-30@21:34:12",
        detail=("Keras 2",)),
    # Custom layer, a TFP layer (third-party module) with bytecode, and a plain-function loss.
    "keras215-zip-custom-tfp": Expect(
        "custom_model.keras", ZIP, "2.15.0", model_class="Functional",
        layers=("CustomLayer", "Conv2D", "OneHotCategorical"),
        custom=frozenset({"MyLayers>CustomLayer",
                          "tensorflow_probability.python.layers.distribution_layer.OneHotCategorical",
                          "nll"}),
        lambdas=(("one_hot_categorical", "3.11-3.12"),), inputs=(("input_1", (None, 28, 28, 1)),),
        training=True, date_saved="2024-01-08@12:46:29", notes=("pickled",)),
    # The three .keras members committed as a plain folder.
    "keras215-unpacked-keras-dir": Expect(
        "_model_prob_mnist", ZIP, "2.15.0", model_class="Sequential",
        layers=("Conv2D", "OneHotCategorical"),
        custom=frozenset({"tensorflow_probability.python.layers.distribution_layer.OneHotCategorical",
                          "nll"}),
        lambdas=(("one_hot_categorical", "3.8-3.10"),), training=True,
        date_saved="2024-01-07@15:20:57",  # metadata.json (checked by hand; not in SOURCE.md)
        detail=("unpacked into a directory",), notes=("backslashes", "not directories")),
    "keras3-zip-custom-attention": Expect(
        "attention_model.keras", ZIP, "3.10.0", model_class="Functional",
        layers=("Bidirectional", "LSTM", "BahdanauAttention"),
        custom=frozenset({"Custom>BahdanauAttention"}), inputs=(("input_layer_3", (None, 24, 5)),),
        training=True, date_saved="2025-11-24@05:44:45"),
    "keras3-zip-custom-loss": Expect(
        "cnn.keras", ZIP, "3.10.0", model_class="Sequential", layers=("Conv1D", "Reshape"),
        custom=frozenset({"Custom>stock_return_loss"}),
        inputs=(("input_layer_4", (None, 500, 23)),), training=True,
        date_saved="2025-06-07@23:11:34"),
    "keras3-zip-early-digits": Expect(
        "model.keras", ZIP, "3.4.1", model_class="Sequential", layers=("Conv2D", "Dropout"),
        inputs=(("input_layer_4", (None, 28, 28, 1)),), training=True,
        date_saved="2024-07-01@15:08:29"),
    # Built-in Attention layer: not a custom object.
    "keras3-zip-newest-fraud-attention": Expect(
        "attention_model.keras", ZIP, "3.13.2", model_class="Functional",
        layers=("LSTM", "Attention"), inputs=(("input_layer_2", (None, 5, 30)),), training=True,
        date_saved="2026-06-06@10:06:05"),
    "tf15-savedmodel-mnist": Expect(
        "", SM, tensorflow_version="1.5.0", tensorflow_git_version="v1.5.0-0-g37aa430",
        signatures=("serving_default", "predict_images"), detail=("TF1",), training=False),
    "tf114-estimator-savedmodel-sharded": Expect(
        "", SM, tensorflow_version="1.14.0", tensorflow_git_version="v1.14.0-67-g5fe8c075bd",
        signatures=("regression", "serving_default", "predict"), detail=("TF1",),
        # serving_default of an Estimator export takes serialized tf.Examples (checked by hand).
        inputs=(("inputs", (None,)),)),
    # The README says "no keras_metadata.pb"; the object graph's root user object still records
    # keras_version 2.4.0 (checked by hand with a wire-format dump).
    "tf23-savedmodel-linear": Expect(
        "", SM, "2.4.0", "tensorflow", tensorflow_version="2.3.0",
        tensorflow_git_version="v2.3.0-0-gb36436b087", model_class="Sequential",
        layers=("Dense",), signatures=("__saved_model_init_op", "serving_default"),
        inputs=(("Single_input", (None, 1)),), detail=("TF2",)),
    "tf28-savedmodel-keras-metadata": Expect(
        "", SM, "2.7.0", "tensorflow", tensorflow_version="2.8.0",
        tensorflow_git_version="v2.8.0-rc1-32-g3f878cff5b6", model_class="Sequential",
        layers=("Conv2D", "Flatten", "Dense"), signatures=("__saved_model_init_op", "serving_default"),
        inputs=(("Conv1_input", (None, 28, 28, 1)),), training=True,
        detail=("keras_metadata.pb",), notes=("keras 2.7.0 while TensorFlow 2.8.0",)),
    # keras_version 2.6.0 comes from the object graph (checked by hand), not from the README.
    "odd-savedmodel-pb-no-variables": Expect(
        "", SM, "2.6.0", "tensorflow", tensorflow_version="2.6.0-dev20210528",
        tensorflow_git_version="v1.12.1-57713-gda15b34d114", model_class="Sequential",
        signatures=("__saved_model_init_op", "serving_default"),
        inputs=(("dense_input", (None, 238)),), notes=("no variables/",)),
}

REFUSED = {
    "odd-torch-zip-named-hdf5": ("model.hdf5", "a PyTorch checkpoint"),
}


def test_every_shared_folder_has_an_expectation():
    folders = {p.name for p in SHARED.iterdir() if p.is_dir()}
    assert len(folders) == 34
    assert folders == set(CASES) | set(REFUSED)


def _custom_names(facts: ModelFacts) -> set[str]:
    return {_display(obj) for obj in facts.custom_objects}


def _display(obj) -> str:
    if obj.registered_name and ">" in obj.registered_name:
        return obj.registered_name
    return f"{obj.module}.{obj.class_name}" if obj.module else obj.class_name


def _inside(hint: str | None, allowed: str) -> bool:
    if hint is None:
        return False
    (lo, hi), (alo, ahi) = hint_bounds(hint), hint_bounds(allowed)
    return alo <= lo and hi <= ahi


@pytest.mark.parametrize("folder", sorted(CASES))
def test_shared_model_reading(folder):
    want = CASES[folder]
    path = SHARED / folder / want.target if want.target else SHARED / folder
    facts = inspect(path)

    assert facts.path == str(path)
    assert facts.format == want.format
    assert facts.keras_version == want.keras_version
    assert facts.backend == want.backend
    assert facts.tensorflow_version == want.tensorflow_version
    assert facts.tensorflow_git_version == want.tensorflow_git_version
    assert facts.model_class == want.model_class
    assert set(want.layers) <= set(facts.layer_classes), facts.layer_classes
    assert len(set(facts.layer_classes)) == len(facts.layer_classes)
    assert _custom_names(facts) == set(want.custom)
    assert [layer.layer_name for layer in facts.lambda_layers] == [n for n, _ in want.lambdas]
    for layer, (_, allowed) in zip(facts.lambda_layers, want.lambdas):
        assert layer.encoding == "marshal"
        assert _inside(layer.python_hint, allowed), (layer.python_hint, allowed)
    if want.inputs is not None:
        assert [(spec.name, spec.shape) for spec in facts.inputs] == list(want.inputs)
    if want.training is not None:
        assert facts.has_training_config is want.training
    assert facts.date_saved == want.date_saved
    assert facts.signatures == want.signatures
    for text in want.detail:
        assert text in facts.format_detail, facts.format_detail
    for text in want.notes:
        assert any(text in note for note in facts.notes), (text, facts.notes)
    assert facts.sidecar is None  # no shared folder carries a kresolve.json


@pytest.mark.parametrize("folder", sorted(REFUSED))
def test_shared_non_keras_file_is_refused_clearly(folder):
    target, reason = REFUSED[folder]
    path = SHARED / folder / target
    with pytest.raises(BadInput) as err:
        inspect(path)
    message = str(err.value)
    assert message.startswith(str(path) + ": ")
    assert reason in message
    assert "\n" not in message


def test_weights_only_files_record_no_architecture():
    facts = inspect(SHARED / "keras1-theano-ncf-gmf-weights" / "ml-1m_GMF_8_1501651698.h5")
    assert facts.model_class is None and facts.layer_classes == () and facts.inputs == ()
    assert facts.lambda_layers == () and not facts.has_training_config


def test_architecture_json_beside_a_full_model_is_refused():
    # A to_json() file has no weights; the full model saved with it is the model to inspect.
    path = SHARED / "keras1-carnd-lambda-json" / "model.json"
    with pytest.raises(BadInput, match="architecture JSON.*full model.*inspect model.h5") as err:
        inspect(path)
    assert str(err.value).startswith(str(path))


def test_architecture_json_beside_its_weights_reads_the_pair():
    folder = SHARED / "keras1-carnd-tiny-weights-json"
    by_json = inspect(folder / "model.json")
    assert by_json == inspect(folder / "model.h5")
    assert by_json.architecture == str(folder / "model.json")


def test_savedmodel_can_be_named_by_its_pb_file():
    folder = SHARED / "tf28-savedmodel-keras-metadata"
    by_file = inspect(folder / "saved_model.pb")
    assert by_file == inspect(folder)


def test_savedmodel_signature_inputs_come_from_the_protobuf():
    facts = inspect(SHARED / "tf15-savedmodel-mnist")
    # serving_default of the TF 1.5 mnist export: serialized tf.Example strings, shape unknown.
    assert [(spec.name, spec.dtype) for spec in facts.inputs] == [("inputs", "string")]
    assert "Placeholder" in facts.graph_ops or "ParseExample" in facts.graph_ops


def test_unpacked_member_file_points_to_its_folder():
    path = SHARED / "keras215-unpacked-keras-dir" / "_model_prob_mnist" / "config.json"
    with pytest.raises(BadInput, match="pass its directory"):
        inspect(path)


def test_inspect_is_fast_on_every_shared_model():
    import time

    inspect(SHARED / "keras23-small-dense" / "my_model.h5")  # start the HDF5 worker once
    for folder, want in CASES.items():
        path = SHARED / folder / want.target if want.target else SHARED / folder
        started = time.perf_counter()
        inspect(path)
        # Metadata only: the 3 MB Lambda model and the 2 MB U-Net take the same few ms.
        assert time.perf_counter() - started < 0.5, folder
