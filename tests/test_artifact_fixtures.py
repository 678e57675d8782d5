"""Readings of the generated fixtures (tests/fixtures/models/*), written by real TensorFlow
2.12 / 2.15 and Keras 3 with a kresolve.json sidecar each (see that folder's README.md).

Expected values come from generate_fixtures.py (architecture, names, probe layout) and from each
fixture's sidecar (writer versions): the file's own records must agree with the sidecar.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kresolve.artifact import CustomObject, inspect

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "models"
NAMES = [
    "tf212-h5", "tf212-savedmodel", "tf215-h5", "tf215-savedmodel", "tf215-keras-zip",
    "tf215-lambda-h5", "tf215-functional-two-inputs", "keras3-zip", "keras3-h5",
    "keras3-custom-layer", "keras3-lambda",
]
missing = [name for name in NAMES if not (FIXTURES / name / "kresolve.json").is_file()]
if missing:
    pytest.skip(f"generated fixtures missing: {', '.join(missing)}", allow_module_level=True)

FORMATS = {
    "tf212-h5": "keras-h5", "tf212-savedmodel": "savedmodel", "tf215-h5": "keras-h5",
    "tf215-savedmodel": "savedmodel", "tf215-keras-zip": "keras-zip", "tf215-lambda-h5": "keras-h5",
    "tf215-functional-two-inputs": "keras-h5", "keras3-zip": "keras-zip", "keras3-h5": "keras-h5",
    "keras3-custom-layer": "keras-zip", "keras3-lambda": "keras-zip",
}


def sidecar_doc(name: str) -> dict:
    return json.loads((FIXTURES / name / "kresolve.json").read_text())


def model_path(name: str) -> Path:
    return FIXTURES / name / sidecar_doc(name)["model"]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_reading_agrees_with_its_sidecar(name):
    doc = sidecar_doc(name)
    facts = inspect(model_path(name))
    packages = doc["packages"]

    assert facts.format == FORMATS[name]
    assert facts.keras_version == packages["keras"]
    if facts.format == "savedmodel":
        assert facts.tensorflow_version == packages["tensorflow"]
        assert facts.tensorflow_git_version.startswith("v" + packages["tensorflow"][:4])
    assert facts.has_training_config  # every fixture is compiled with adam/mse
    assert "Dense" in facts.layer_classes

    # The sidecar is found through the folder's kresolve.json ("model" names the file/dir).
    sidecar = facts.sidecar
    assert sidecar is not None and sidecar.path == str(FIXTURES / name / "kresolve.json")
    assert sidecar.python_version == doc["python"]["version"]
    assert sidecar.platform == doc["platform"]
    assert sidecar.package_version("tensorflow") == packages["tensorflow"]
    assert len(sidecar.packages) == len(packages)
    assert dict(sidecar.custom_objects) == doc["custom_objects"]
    assert dict(sidecar.tensorflow_build)["cuda_version"] == doc["tensorflow_build"]["cuda_version"]
    # The file and its sidecar agree, so no disagreement note.
    assert not any("the sidecar records" in note for note in facts.notes)

    # Probe: inputs in model order, two rows each; recorded outputs of shape (2, 3).
    probe = sidecar.probe
    assert [(t.name, t.shape) for t in probe.inputs] == [
        (t["name"], tuple(t["shape"])) for t in doc["probe"]["inputs"]]
    assert [t.shape for t in probe.outputs] == [(2, 3)]
    assert probe.inputs[0].data[0][0] == doc["probe"]["inputs"][0]["data"][0][0]

    # Declared inputs match what the probe fed the model (name, per-sample shape, dtype).
    assert [(s.name, s.shape, s.dtype) for s in facts.inputs] == [
        (t.name, (None, *t.shape[1:]), t.dtype) for t in probe.inputs]


@pytest.mark.parametrize("name", ["tf212-savedmodel", "tf215-savedmodel"])
def test_savedmodel_signature_and_graph(name):
    facts = inspect(model_path(name))
    assert facts.signatures == ("__saved_model_init_op", "serving_default")
    assert [(s.name, s.shape, s.dtype) for s in facts.inputs] == [("x", (None, 4), "float32")]
    assert {"MatMul", "BiasAdd", "Relu"} <= set(facts.graph_ops)
    assert facts.model_class == "Sequential"
    assert "keras_metadata.pb" in facts.format_detail


def test_savedmodel_named_by_its_pb_file_finds_the_same_sidecar():
    folder = model_path("tf215-savedmodel")
    assert inspect(folder / "saved_model.pb") == inspect(folder)


@pytest.mark.parametrize("name", ["tf212-h5", "tf215-h5", "tf215-lambda-h5"])
def test_tf211_plus_optimizer_name_is_not_a_custom_object(name):
    facts = inspect(model_path(name))
    assert facts.custom_objects == ()
    assert any("'Custom>Adam'" in note for note in facts.notes)


def test_two_named_inputs():
    facts = inspect(model_path("tf215-functional-two-inputs"))
    assert facts.model_class == "Functional"
    assert [(s.name, s.shape) for s in facts.inputs] == [("features", (None, 4)), ("extra", (None, 2))]
    assert facts.layer_classes == ("InputLayer", "Concatenate", "Dense")


@pytest.mark.parametrize("name", ["tf215-lambda-h5", "keras3-lambda"])
def test_lambda_bytecode_written_by_python_311(name):
    facts = inspect(model_path(name))
    assert facts.sidecar.python_version.startswith("3.11.")
    (layer,) = facts.lambda_layers
    assert layer.layer_name == "double"
    assert layer.encoding == "marshal"
    assert layer.python_hint == "3.11-3.12"
    assert "Lambda" in facts.layer_classes


def test_keras3_custom_layer():
    facts = inspect(model_path("keras3-custom-layer"))
    assert facts.custom_objects == (
        CustomObject("ScaleLayer", "kresolve_fixture_layers", "kresolve_fixtures>ScaleLayer"),)
    assert facts.sidecar.custom_objects == (("ScaleLayer", "kresolve_fixture_layers.ScaleLayer"),)
    assert facts.lambda_layers == ()


def test_keras_lines_are_told_apart():
    assert "Keras 2" in inspect(model_path("tf215-keras-zip")).format_detail
    assert "Keras 3" in inspect(model_path("keras3-zip")).format_detail
    keras3_h5 = inspect(model_path("keras3-h5"))
    assert keras3_h5.format_detail == "HDF5 full model (Keras 3)"
    assert keras3_h5.backend == "tensorflow"
    assert inspect(model_path("keras3-zip")).model_class == "Functional"


def test_keras3_export_savedmodel_is_a_tf2_savedmodel_without_keras_metadata():
    facts = inspect(FIXTURES / "keras3-export-savedmodel" / "model")
    assert facts.format == "savedmodel" and facts.keras_version is None
    assert facts.tensorflow_version and facts.tensorflow_version.startswith("2.21")
    assert "serving_default" in facts.signatures
    assert [(t.name, t.shape) for t in facts.inputs] == [("x", (None, 4))]
    assert facts.sidecar is not None and facts.sidecar.probe is not None
