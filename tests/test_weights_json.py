"""Weights-only HDF5 files read together with the architecture JSON beside them.

The pair `tests/fixtures/models/tf215-weights-json` was written by TF 2.15.1 (`save_weights` +
`to_json()`); the shared third-party folders are real repositories' layouts. Nothing here loads
a model: only kresolve's readers and the CLI run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED_MODELS

from kresolve.artifact import BadInput, inspect, inspect_all
from kresolve.artifact.facts import ModelFormat

PAIR = FIXTURES / "tf215-weights-json"
needs_shared = pytest.mark.skipif(not SHARED_MODELS.is_dir(),
                                  reason=f"shared third-party models not found at {SHARED_MODELS}")


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "kresolve", *args], check=False, capture_output=True, text=True, env=env)


def copy_pair(tmp_path: Path, json_name: str | None = "model.json", sidecar: bool = False) -> Path:
    folder = tmp_path / "pair"
    folder.mkdir()
    shutil.copy(PAIR / "model.h5", folder / "model.h5")
    if json_name:
        shutil.copy(PAIR / "model.json", folder / json_name)
    if sidecar:
        shutil.copy(PAIR / "kresolve.json", folder / "kresolve.json")
    return folder


def test_fixture_pair_reads_the_architecture_json_as_evidence():
    facts = inspect(PAIR / "model.h5")
    assert facts.format == ModelFormat.WEIGHTS_JSON
    assert facts.path == str(PAIR / "model.h5")
    assert facts.architecture == str(PAIR / "model.json")
    assert (facts.keras_version, facts.backend) == ("2.15.0", "tensorflow")
    assert facts.model_class == "Sequential" and facts.layer_classes == ("InputLayer", "Dense")
    assert [(t.name, t.shape) for t in facts.inputs] == [("x", (None, 4))]
    assert facts.custom_objects == () and facts.lambda_layers == ()
    assert "architecture JSON model.json" in facts.format_detail
    assert any("model_from_json" in note for note in facts.notes)
    # The sidecar names the weights file, which stays the model's path.
    assert facts.sidecar is not None and facts.sidecar.path == str(PAIR / "kresolve.json")


def test_naming_the_json_reads_the_same_pair():
    assert inspect(PAIR / "model.json") == inspect(PAIR / "model.h5")


def test_inspect_shows_the_architecture_file_in_text_and_json():
    proc = run("inspect", "--json", str(PAIR / "model.h5"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["format"] == "keras-weights-json" and data["architecture"] == str(PAIR / "model.json")
    proc = run("inspect", str(PAIR / "model.json"))
    assert proc.returncode == 0, proc.stderr
    assert "architecture" in proc.stdout and "model.json" in proc.stdout


def test_keras3_pair_pairs_the_weights_h5_with_model_json():
    k3 = FIXTURES / "keras3-weights-json"
    facts = inspect(k3 / "model.weights.h5")
    assert facts.format == ModelFormat.WEIGHTS_JSON and facts.architecture == str(k3 / "model.json")
    assert facts.keras_version is None  # Keras 3's to_json() records none; the sidecar does
    assert "Keras 3 serialization" in facts.format_detail
    assert [(t.name, t.shape) for t in facts.inputs] == [("x", (None, 4))]
    assert facts.sidecar is not None and facts.sidecar.package_version("keras").startswith("3.")


def test_a_sidecar_may_name_the_json_instead_of_the_weights(tmp_path):
    folder = copy_pair(tmp_path)
    sidecar = json.loads((PAIR / "kresolve.json").read_text())
    sidecar["model"] = "model.json"
    (folder / "kresolve.json").write_text(json.dumps(sidecar))
    facts = inspect(folder / "model.h5")
    assert facts.sidecar is not None and facts.sidecar.path == str(folder / "kresolve.json")


def test_weights_alone_stay_weights_only(tmp_path):
    folder = copy_pair(tmp_path, json_name=None, sidecar=True)  # kresolve.json is not an architecture
    facts = inspect(folder / "model.h5")
    assert facts.format == ModelFormat.H5_WEIGHTS and facts.architecture is None
    assert facts.sidecar is not None


def test_the_only_keras_json_in_the_folder_pairs_whatever_its_name(tmp_path):
    folder = copy_pair(tmp_path, json_name="architecture.json", sidecar=True)
    (folder / "metrics.json").write_text('{"loss": 0.1, "epochs": 3}')
    (folder / "broken.json").write_text('{"class_name": ')  # not ours to judge: skipped
    facts = inspect(folder / "model.h5")
    assert facts.format == ModelFormat.WEIGHTS_JSON and facts.architecture == str(folder / "architecture.json")
    assert inspect(folder / "architecture.json") == facts


def test_two_candidate_architectures_pair_none(tmp_path):
    folder = copy_pair(tmp_path, json_name="a.json")
    shutil.copy(PAIR / "model.json", folder / "b.json")
    facts = inspect(folder / "model.h5")
    assert facts.format == ModelFormat.H5_WEIGHTS
    assert any("several Keras architecture JSON" in note and "a.json" in note for note in facts.notes)


def test_same_stem_json_of_another_kind_is_skipped_with_a_note(tmp_path):
    folder = copy_pair(tmp_path, json_name=None)
    (folder / "model.json").write_text('{"format": "layers-model", "weightsManifest": []}')
    facts = inspect(folder / "model.h5")
    assert facts.format == ModelFormat.H5_WEIGHTS
    assert any("model.json beside it is JSON but not a Keras model config" in n for n in facts.notes)


@pytest.mark.parametrize("command", ["inspect", "lock"])
def test_damaged_same_stem_json_is_one_line_exit_2(tmp_path, command):
    folder = copy_pair(tmp_path, json_name=None)
    (folder / "model.json").write_text('{"class_name": "Sequential", "config": {')
    out = tmp_path / "out"
    args = ("lock", str(folder / "model.h5"), "--no-smoke", "--offline", "-o", str(out)) if command == "lock" \
        else ("inspect", str(folder / "model.h5"))
    proc = run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(folder / "model.json") in lines[0] and "not valid JSON" in lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()


def test_mismatched_layer_names_are_noted(tmp_path):
    folder = copy_pair(tmp_path, json_name=None)
    text = (PAIR / "model.json").read_text().replace('"hidden"', '"renamed"')
    (folder / "model.json").write_text(text)
    facts = inspect(folder / "model.h5")
    assert facts.format == ModelFormat.WEIGHTS_JSON
    assert any("hidden" in note and "load_weights may fail" in note for note in facts.notes)


def test_json_beside_a_full_model_or_nothing_is_refused(tmp_path):
    folder = tmp_path / "full"
    folder.mkdir()
    shutil.copy(FIXTURES / "tf215-h5" / "model.h5", folder / "model.h5")
    shutil.copy(PAIR / "model.json", folder / "model.json")
    with pytest.raises(BadInput, match=r"model\.json: .*full model .*inspect model\.h5"):
        inspect(folder / "model.json")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(PAIR / "model.json", alone / "model.json")
    with pytest.raises(BadInput, match="no weights file lies beside it"):
        inspect(alone / "model.json")


def test_a_directory_scan_finds_the_pair_once(tmp_path):
    folder = copy_pair(tmp_path, sidecar=True)
    results = inspect_all(folder.parent)
    assert [(path, facts.format) for path, facts in results] == [(folder / "model.h5", ModelFormat.WEIGHTS_JSON)]


# Shared third-party files --------------------------------------------------------------------

@needs_shared
def test_shared_keras1_pair_reads_bytecode_and_version_from_the_json():
    facts = inspect(SHARED_MODELS / "keras1-carnd-tiny-weights-json" / "model.h5")
    assert facts.format == ModelFormat.WEIGHTS_JSON and facts.keras_version == "1.2.0"
    assert [(lam.layer_name, lam.encoding) for lam in facts.lambda_layers] == [("lambda_5", "marshal")]
    assert facts.lambda_layers[0].python_hint and facts.lambda_layers[0].python_hint.startswith("3.")
    assert any("Keras 1 architecture" in note for note in facts.notes)


@needs_shared
def test_shared_full_model_with_json_beside_stays_a_full_model():
    facts = inspect(SHARED_MODELS / "keras1-carnd-lambda-json" / "model.h5")
    assert facts.format == "keras-h5" and facts.architecture is None


@needs_shared
def test_shared_unpacked_keras_dir_is_not_misread_as_a_pair():
    folder = SHARED_MODELS / "keras215-unpacked-keras-dir" / "_model_prob_mnist"
    assert inspect(folder).format == "keras-zip"
    weights = inspect(folder / "model.weights.h5")
    assert weights.format == ModelFormat.H5_WEIGHTS and weights.architecture is None
    assert any("unpacked .keras" in note and "pass the directory" in note for note in weights.notes)


@needs_shared
@pytest.mark.parametrize("relative", ["keras21-unet-weights-only/unet.hdf5",
                                      "keras1-theano-ncf-gmf-weights/ml-1m_GMF_8_1501651698.h5"])
def test_shared_weights_without_json_stay_weights_only_and_lock_refuses(relative, tmp_path):
    path = SHARED_MODELS / relative
    assert inspect(path).format == ModelFormat.H5_WEIGHTS
    proc = run("lock", str(path), "--no-smoke", "--offline", "-o", str(tmp_path / "out"))
    assert proc.returncode == 1 and "weights only" in proc.stderr and "Traceback" not in proc.stderr


@needs_shared
@pytest.mark.integration
def test_shared_keras1_pair_on_python_3_11_is_refused_with_each_routes_reason(tmp_path):
    proc = run("lock", str(SHARED_MODELS / "keras1-carnd-tiny-weights-json" / "model.h5"), "--no-smoke",
               "--python", "3.11", "--platform", "linux-64", "-o", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stderr
    assert "route-wj-keras1-standalone-tensorflow" in proc.stderr and "no wheel for Python 3.11" in proc.stderr
    assert "Python 3.4-3.5 bytecode" in proc.stderr  # the Lambda in model.json
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


@needs_shared
@pytest.mark.integration
def test_shared_keras1_pair_locks_keras1_where_the_target_python_runs_it(tmp_path):
    out = tmp_path / "out"
    proc = run("lock", str(SHARED_MODELS / "keras1-carnd-tiny-weights-json" / "model.h5"), "--no-smoke",
               "--python", "3.5", "--platform", "linux-64", "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["environment"]["route"]["id"] == "route-wj-keras1-standalone-tensorflow"
    pins = {p["name"]: p["version"] for p in report["environment"]["pins"]}
    assert pins["keras"].startswith("1.2.") and pins["tensorflow"].startswith("1.")


# The real index ------------------------------------------------------------------------------

@pytest.mark.integration
def test_lock_pair_picks_tf_keras_with_tensorflow_2_15(tmp_path):
    out = tmp_path / "out"
    proc = run("lock", str(PAIR / "model.h5"), "--no-smoke", "--python", "3.11", "--platform", "linux-64",
               "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["environment"]["route"]["id"] == "route-wj-keras2-tf.keras"
    assert report["environment"]["route"]["loader"] == "tf.keras"
    pins = {p["name"]: p["version"] for p in report["environment"]["pins"]}
    assert pins["tensorflow"].startswith("2.15.")
    assert report["facts"]["architecture"] == str(PAIR / "model.json")
    assert (out / "requirements.txt").is_file()


@pytest.mark.integration
def test_lock_keras3_pair_takes_the_sidecars_keras_version(tmp_path):
    k3 = FIXTURES / "keras3-weights-json"
    proc = run("lock", str(k3 / "model.weights.h5"), "--no-smoke", "--python", "3.11", "--platform", "linux-64",
               "-o", str(tmp_path / "out"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["environment"]["route"]["id"] == "route-wj-keras3-keras"
    pins = {p["name"]: p["version"] for p in report["environment"]["pins"]}
    assert pins["keras"] == json.loads((k3 / "kresolve.json").read_text())["packages"]["keras"]


@pytest.mark.e2e
@pytest.mark.parametrize("fixture,weights,route", [
    ("tf215-weights-json", "model.h5", "route-wj-keras2-tf.keras"),
    ("keras3-weights-json", "model.weights.h5", "route-wj-keras3-keras"),
])
def test_pair_loads_and_reproduces_its_recording_in_the_locked_environment(fixture, weights, route, tmp_path):
    from kresolve import api

    result = api.lock(FIXTURES / fixture / weights, out_dir=tmp_path)
    assert result.environment.plan.route.id == route
    assert result.smoke is not None and result.smoke.status == "passed", result.smoke
    assert result.smoke.compared and result.smoke.max_abs_diff <= 1e-6
