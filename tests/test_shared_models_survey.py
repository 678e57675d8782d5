"""What the issue-7 survey of the shared third-party models found (py3.11 / linux-64):

* a .keras zip written by tf.keras on Windows names its weight groups with backslashes
  (keras213-zip-mnist): the smoke test loads a repaired copy and says so;
* TF1 / Estimator SavedModels whose serving signature takes serialized tf.train.Example
  protos (tf15-savedmodel-mnist, tf114-estimator-savedmodel-sharded) get Example probes built
  from the signature's ParseExample op;
* a saved_model.pb whose graph has variables but came without variables/
  (odd-savedmodel-pb-no-variables) is refused before anything is built (exit 2).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest
from conftest import FIXTURES, SHARED_MODELS

from kresolve import api
from kresolve.artifact.savedmodel import missing_variables
from kresolve.smoke import loader

needs_shared = pytest.mark.skipif(not SHARED_MODELS.is_dir(),
                                  reason=f"shared third-party models not found at {SHARED_MODELS}")
WINDOWS_ZIP = SHARED_MODELS / "keras213-zip-mnist" / "model.keras"
NO_VARIABLES = SHARED_MODELS / "odd-savedmodel-pb-no-variables"


def _weight_names(keras_zip) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(keras_zip) as archive:
        data = archive.read(loader.WEIGHTS_MEMBER)
    found: dict[str, np.ndarray] = {}
    with h5py.File(io.BytesIO(data), "r") as fh:
        fh.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


# ----------------------------------------------------------------------------- Windows group names


def test_windows_names_map_to_slashes_and_others_need_nothing():
    assert loader.posix_names(["layers/dense/vars/0", "vars"]) is None
    mapping = loader.posix_names(["layers\\dense", "layers\\dense/vars/0"])
    assert mapping == {"layers\\dense": "layers/dense", "layers\\dense/vars/0": "layers/dense/vars/0"}


def test_windows_and_slash_names_that_collide_are_refused():
    with pytest.raises(ValueError, match="collide"):
        loader.posix_names(["layers\\dense/vars/0", "layers/dense/vars/0"])


@needs_shared
def test_windows_written_keras_zip_is_repaired_in_a_copy(tmp_path):
    before = hashlib.sha256(WINDOWS_ZIP.read_bytes()).hexdigest()
    original = _weight_names(WINDOWS_ZIP)
    assert any("\\" in name for name in original)  # the real file is Windows-written
    copy = loader.repaired_keras_zip(str(WINDOWS_ZIP), str(tmp_path))
    assert copy is not None and copy.startswith(str(tmp_path))
    repaired = _weight_names(copy)
    assert not any("\\" in name for name in repaired)
    assert sorted(repaired) == sorted(n.replace("\\", "/") for n in original)
    for name, value in original.items():  # every array, unchanged, under its '/' name
        assert np.array_equal(repaired[name.replace("\\", "/")], value)
    with zipfile.ZipFile(WINDOWS_ZIP) as a, zipfile.ZipFile(copy) as b:
        assert a.namelist() == b.namelist()
        assert a.read("config.json") == b.read("config.json")
    assert hashlib.sha256(WINDOWS_ZIP.read_bytes()).hexdigest() == before  # the user's file untouched


def test_a_keras_zip_written_on_linux_needs_no_repair(tmp_path):
    assert loader.repaired_keras_zip(str(FIXTURES / "keras3-zip" / "model.keras"), str(tmp_path)) is None
    assert loader.repaired_keras_zip(str(FIXTURES / "tf215-keras-zip" / "model.keras"), str(tmp_path)) is None
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- tf.train.Example probes


def test_example_rule_names_every_feature_and_values_fit_their_type():
    features = [loader.ExampleFeature("x", "float32", (784,)), loader.ExampleFeature("ids", "int64", ()),
                loader.ExampleFeature("word", "string", ()), loader.ExampleFeature("seq", "float32", (-1, 2))]
    assert loader.example_rule(features) == "tf-example(x:float32[784],ids:int64[],word:string[],seq:float32[-1, 2])"
    rng = np.random.default_rng(0)
    assert len(loader.example_values(np, features[0], rng)) == 784
    ids = loader.example_values(np, features[1], rng)
    assert len(ids) == 1 and all(isinstance(v, int) and 0 <= v < loader.SMALL_INT_HIGH for v in ids)
    assert all(w.decode() in loader.SHORT_WORDS for w in loader.example_values(np, features[2], rng))
    assert len(loader.example_values(np, features[3], rng)) == 2  # an unknown sequence length: one step


# ----------------------------------------------------------------------------- missing variables


@needs_shared
def test_savedmodel_with_variable_ops_and_no_checkpoint_is_named():
    why = missing_variables(api.inspect(NO_VARIABLES))
    assert why is not None and "VarHandleOp" in why and "variables/" in why


def test_complete_and_misplaced_savedmodels_are_not_missing_variables(tmp_path):
    assert missing_variables(api.inspect(FIXTURES / "tf215-savedmodel" / "model")) is None
    assert missing_variables(api.inspect(FIXTURES / "tf215-misplaced-variables-savedmodel" / "model")) is None
    assert missing_variables(api.inspect(FIXTURES / "keras3-zip" / "model.keras")) is None


def test_a_real_savedmodel_whose_variables_were_not_copied_is_named(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(FIXTURES / "tf215-savedmodel" / "model", copy, ignore=shutil.ignore_patterns("variables"))
    why = missing_variables(api.inspect(copy))
    assert why is not None and str(copy) in why


@needs_shared
def test_lock_refuses_a_savedmodel_without_its_variables_before_solving(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "kresolve", "lock", str(NO_VARIABLES), "--python", "3.11",
                           "--platform", "linux-64", "--offline", "-o", str(out)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "no checkpoint came with it" in proc.stderr and str(NO_VARIABLES) in proc.stderr
    assert not out.exists()  # no partial output


# ----------------------------------------------------------------------------- end to end


@needs_shared
@pytest.mark.e2e
@pytest.mark.parametrize("folder,model,loader_name,rule,repaired", [
    ("keras213-zip-mnist", "model.keras", "tf.keras", "float-normal", True),
    ("tf15-savedmodel-mnist", None, "tf.saved_model", "tf-example(", False),
    ("tf114-estimator-savedmodel-sharded", None, "tf.saved_model", "tf-example(", False),
])
def test_formerly_failing_shared_models_prove(folder, model, loader_name, rule, repaired, tmp_path):
    path = SHARED_MODELS / folder / model if model else SHARED_MODELS / folder
    result = api.lock(path, python="3.11", platform="linux-64", out_dir=tmp_path)
    assert result.smoke is not None and result.smoke.status == "passed", result.smoke
    assert result.smoke.loader == loader_name
    assert all(r.startswith(rule) for _, r in result.smoke.probe_rules), result.smoke.probe_rules
    assert (result.smoke.repaired is not None) == repaired
    if repaired:
        assert "Windows backslashes" in result.smoke.repaired


EXAMPLE_SAVEDMODEL = FIXTURES / "tf215-example-savedmodel" / "model"


def test_example_fixture_is_a_non_keras_savedmodel_taking_serialized_protos():
    facts = api.inspect(EXAMPLE_SAVEDMODEL)
    assert facts.format == "savedmodel" and facts.keras_version is None
    assert [(t.name, t.shape, t.dtype) for t in facts.inputs] == [("examples", (None,), "string")]
    assert facts.sidecar is not None and facts.sidecar.probe is None  # binary protos: none recorded


@pytest.mark.e2e
def test_tf2_signature_parsing_examples_proves_with_example_probes(tmp_path):
    # ParseExampleV2 inside the function the signature calls (TF2), not in the signature's own graph.
    result = api.lock(EXAMPLE_SAVEDMODEL, out_dir=tmp_path)
    assert result.smoke is not None and result.smoke.status == "passed", result.smoke
    assert result.smoke.loader == "tf.saved_model"
    assert result.smoke.probe_rules == (("examples", "tf-example(x:float32[4])"),)
