"""Training-environment inference on real files: fixtures written by real TF, shared models."""

import json
import shutil

import pytest
from conftest import FIXTURES, SHARED_MODELS

from kresolve import api
from kresolve.rules.db import load_rules
from kresolve.rules.infer import infer


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def estimates(path, rules):
    training = infer(api.inspect(path), rules)
    return training, {e.package: e for e in training.estimates}


def without_sidecar(tmp_path, fixture, model):
    shutil.copytree(FIXTURES / fixture, tmp_path / fixture)
    (tmp_path / fixture / "kresolve.json").unlink()
    return tmp_path / fixture / model


def test_sidecar_is_the_strongest_evidence(rules):
    training, est = estimates(FIXTURES / "tf215-h5" / "model.h5", rules)
    recorded = json.loads((FIXTURES / "tf215-h5" / "kresolve.json").read_text())
    assert est["tensorflow"].evidence == "sidecar" and est["tensorflow"].confidence == "high"
    assert est["tensorflow"].preferred == recorded["packages"]["tensorflow"]
    assert est["python"].preferred == recorded["python"]["version"]
    assert "sidecar" in training.decided_by


def test_file_metadata_and_era_rules_without_sidecar(tmp_path, rules):
    training, est = estimates(without_sidecar(tmp_path, "tf215-h5", "model.h5"), rules)
    assert est["keras"].range == "==2.15.0" and est["keras"].evidence == "artifact"
    assert est["tensorflow"].preferred == "2.15" and est["tensorflow"].evidence == "era"
    assert est["tensorflow"].rule_ids and "keras_version 2.15.0" in training.decided_by


def test_savedmodel_records_its_tensorflow(tmp_path, rules):
    _, est = estimates(without_sidecar(tmp_path, "tf212-savedmodel", "model"), rules)
    assert est["tensorflow"].range == "==2.12.1" and est["tensorflow"].confidence == "high"


def test_a_sidecar_that_disagrees_with_the_file_is_ignored_with_a_note(tmp_path, rules):
    path = without_sidecar(tmp_path, "tf215-h5", "model.h5")
    other = json.loads((FIXTURES / "keras3-h5" / "kresolve.json").read_text())
    other["model"] = "model.h5"
    (path.parent / "kresolve.json").write_text(json.dumps(other))
    training, est = estimates(path, rules)
    assert est["keras"].evidence == "artifact" and est["keras"].preferred == "2.15.0"
    assert any("disagrees" in n for n in training.notes)


def test_lambda_bytecode_python_is_a_hard_constraint(rules):
    training, _est = estimates(FIXTURES / "tf215-lambda-h5" / "model.h5", rules)
    assert [h.requirement for h in training.hard] == ["python>=3.11,<3.13"]


def test_lambda_bytecode_of_an_old_python_is_a_hard_constraint(rules):
    root = SHARED_MODELS / "keras22-carnd-lambda-b64"
    if not root.exists():
        pytest.skip(f"shared test data not found at {root}")
    shared = next(root.glob("*.h5"))
    training, est = estimates(shared, rules)
    assert [h.requirement for h in training.hard] == ["python>=3.4,<3.6"]
    assert est["keras"].preferred == "2.2.4"


@pytest.mark.parametrize(
    "folder,package,inside,outside",
    [
        # standalone Keras 2.2.4 ran on TensorFlow 1.x backends
        ("keras22-carnd-lambda-b64", "tensorflow", ["1.13.1", "1.7.0"], ["2.0.0"]),
        # "2.2.4-tf" is tf.keras inside TensorFlow 1.13-2.0, not the keras package
        ("tfkeras224tf-tictactoe-no-training-config", "tensorflow", ["1.13.1", "2.0.0"], ["2.1.0"]),
        # a Keras 3.4.1 .keras saved on 2024-07-01: TensorFlow of that time
        ("keras3-zip-early-digits", "tensorflow", ["2.16.2"], ["2.18.0"]),
        # a TF 1.5 SavedModel records its TensorFlow exactly
        ("tf15-savedmodel-mnist", "tensorflow", ["1.5.0"], ["1.6.0"]),
    ],
)
def test_eras_of_real_third_party_files(rules, folder, package, inside, outside):
    from packaging.specifiers import SpecifierSet

    root = SHARED_MODELS / folder
    if not root.exists():
        pytest.skip(f"shared test data not found at {root}")
    model = next((p for p in sorted(root.iterdir()) if p.suffix in (".h5", ".keras", ".hdf5")), root)
    _training, est = estimates(model, rules)
    spec = SpecifierSet(est[package].range)
    assert all(spec.contains(v) for v in inside) and not any(spec.contains(v) for v in outside), est[package]
    assert est[package].reasons


def test_tf_suffix_says_nothing_about_the_keras_package(rules):
    root = SHARED_MODELS / "tfkeras224tf-tictactoe-no-training-config"
    if not root.exists():
        pytest.skip("shared test data not found")
    _training, est = estimates(next(root.glob("*.hdf5")), rules)
    assert "keras" not in est
