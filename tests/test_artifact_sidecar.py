"""The kresolve.json sidecar: where it is looked for, what it must contain, how it attaches."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from kresolve.artifact import BadInput, inspect

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "models"
if not SHARED.is_dir():
    pytest.skip(f"shared models not found at {SHARED}", allow_module_level=True)

SMALL_H5 = SHARED / "keras23-small-dense" / "my_model.h5"
SAVEDMODEL = SHARED / "tf28-savedmodel-keras-metadata"

SIDECAR = {
    "kresolve_sidecar": 1,
    "model": "model.h5",
    "python": {"version": "3.7.12", "implementation": "CPython"},
    "platform": "linux-64",
    "packages": {"Keras": "2.3.0", "tensorflow": "1.15.5", "h5py": "2.10.0", "NumPy": "1.18.5"},
    "tensorflow_build": {"cuda_version": "10.0", "is_cuda_build": True},
    "custom_objects": {"MyLayer": "my_pkg.layers.MyLayer"},
    "probe": {
        "inputs": [{"name": "dense_4_input", "dtype": "float32", "shape": [2, 3],
                    "data": [[0.5, 1, -2.25], [0, 0, 1e-3]]}],
        "outputs": [{"name": "dense_6", "dtype": "float32", "shape": [2, 1], "data": [[0.1], [0.9]]}],
    },
}


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "model.h5"
    shutil.copyfile(SMALL_H5, path)
    return path


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_sidecar_next_to_model_by_suffix(model):
    side = write(model.parent / "model.h5.kresolve.json", SIDECAR)
    facts = inspect(model)
    sidecar = facts.sidecar
    assert sidecar is not None and sidecar.path == str(side)
    assert sidecar.python_version == "3.7.12"
    assert sidecar.platform == "linux-64"
    # Names are canonicalised (PEP 503) and sorted.
    assert sidecar.packages == (("h5py", "2.10.0"), ("keras", "2.3.0"), ("numpy", "1.18.5"),
                                ("tensorflow", "1.15.5"))
    assert sidecar.package_version("keras") == "2.3.0"
    assert sidecar.custom_objects == (("MyLayer", "my_pkg.layers.MyLayer"),)
    assert dict(sidecar.tensorflow_build) == {"cuda_version": "10.0", "is_cuda_build": "true"}
    probe = sidecar.probe
    assert probe is not None
    assert probe.inputs[0].shape == (2, 3)
    assert probe.inputs[0].data == ((0.5, 1, -2.25), (0, 0, 1e-3))
    assert probe.outputs[0].name == "dense_6" and probe.outputs[0].data == ((0.1,), (0.9,))
    # The file's own facts are kept, the sidecar only attaches.
    assert facts.keras_version == "2.3.0"


def test_shared_sidecar_in_parent_dir_must_name_the_model(model):
    write(model.parent / "kresolve.json", SIDECAR | {"model": "other.h5"})
    assert inspect(model).sidecar is None
    write(model.parent / "kresolve.json", SIDECAR)
    assert inspect(model).sidecar.path == str(model.parent / "kresolve.json")


def test_suffix_sidecar_wins_over_shared_one(model):
    write(model.parent / "kresolve.json", SIDECAR)
    write(model.parent / "model.h5.kresolve.json", SIDECAR | {"platform": "osx-arm64"})
    assert inspect(model).sidecar.platform == "osx-arm64"


def copy_savedmodel(tmp_path: Path) -> Path:
    target = tmp_path / "export"
    shutil.copytree(SAVEDMODEL, target)
    os.chmod(target, 0o755)
    return target


def test_sidecar_inside_savedmodel_dir(tmp_path):
    target = copy_savedmodel(tmp_path)
    write(target / "kresolve.json", SIDECAR | {"model": "export"})
    assert inspect(target).sidecar.path == str(target / "kresolve.json")


def test_sidecar_for_savedmodel_in_parent_dir(tmp_path):
    target = copy_savedmodel(tmp_path)
    write(tmp_path / "kresolve.json", SIDECAR | {"model": "export"})
    facts = inspect(target)
    assert facts.sidecar.path == str(tmp_path / "kresolve.json")
    # The file says Keras 2.7.0, the sidecar 2.3.0: the disagreement is reported.
    assert any("sidecar records keras 2.3.0" in note for note in facts.notes)


def test_no_sidecar(model):
    assert inspect(model).sidecar is None


def test_minimal_sidecar(model):
    write(model.parent / "model.h5.kresolve.json", {"kresolve_sidecar": 1})
    sidecar = inspect(model).sidecar
    assert sidecar.packages == () and sidecar.probe is None and sidecar.python_version is None


def _break(path, *keys, value):
    doc = copy.deepcopy(SIDECAR)
    node = doc
    for key in keys[:-1]:
        node = node[key]
    if value is KeyError:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("not json", "not valid JSON"),
        ([1, 2], "not a JSON object"),
        ({"kresolve_sidecar": 2}, "sidecar v1"),
        ({"model": "model.h5"}, "sidecar v1"),
        ({"kresolve_sidecar": True}, "sidecar v1"),
        (_break(None, "packages", value=["keras"]), "'packages'"),
        (_break(None, "packages", "keras", value=2.3), "'packages.keras'"),
        (_break(None, "python", "version", value="three"), "python.version"),
        (_break(None, "python", value="3.11"), "'python'"),
        (_break(None, "platform", value=64), "'platform'"),
        (_break(None, "custom_objects", "MyLayer", value=None), "custom_objects.MyLayer"),
        (_break(None, "probe", "inputs", value={"x": 1}), "probe.inputs"),
        (_break(None, "probe", "inputs", 0, "shape", value=[2, 2]), "does not match its shape"),
        (_break(None, "probe", "inputs", 0, "shape", value=[2, -3]), "non-negative"),
        (_break(None, "probe", "inputs", 0, "dtype", value="float99"), "dtype"),
        (_break(None, "probe", "inputs", 0, "data", value=[[1, 2, "x"], [1, 2, 3]]), "not a float32"),
        (_break(None, "probe", "inputs", 0, "name", value=KeyError), "name"),
        (_break(None, "probe", "outputs", value=KeyError), "probe.outputs"),
        (_break(None, "probe", "inputs", 0, "shape", value=[1] * 40), "too large"),
    ],
)
def test_malformed_sidecar_is_bad_input_naming_the_sidecar(model, document, fragment):
    side = model.parent / "model.h5.kresolve.json"
    if isinstance(document, str):
        side.write_text(document)
    else:
        write(side, document)
    with pytest.raises(BadInput) as err:
        inspect(model)
    message = str(err.value)
    assert message.startswith(str(side) + ": "), message
    assert fragment in message
    assert "\n" not in message


def test_malformed_shared_sidecar_is_reported_not_skipped(model):
    (model.parent / "kresolve.json").write_text("{")
    with pytest.raises(BadInput, match="kresolve.json"):
        inspect(model)


def test_probe_dtypes(model):
    doc = copy.deepcopy(SIDECAR)
    doc["probe"]["inputs"] = [
        {"name": "ids", "dtype": "int64", "shape": [2], "data": [1, 2]},
        {"name": "flag", "dtype": "bool", "shape": [1], "data": [True]},
        {"name": "text", "dtype": "string", "shape": [], "data": "hi"},
    ]
    write(model.parent / "model.h5.kresolve.json", doc)
    probe = inspect(model).sidecar.probe
    assert [(t.name, t.shape, t.data) for t in probe.inputs] == [
        ("ids", (2,), (1, 2)), ("flag", (1,), (True,)), ("text", (), "hi")]
    doc["probe"]["inputs"] = [{"name": "ids", "dtype": "int64", "shape": [1], "data": [1.5]}]
    write(model.parent / "model.h5.kresolve.json", doc)
    with pytest.raises(BadInput, match="not a int64"):
        inspect(model)
