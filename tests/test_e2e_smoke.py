"""End to end: lock + smoke in real TensorFlow environments; predictions match the recording.

Builds (once, then reuses from the kresolve cache) one environment per locked TensorFlow.
"""

import json

import pytest
from conftest import FIXTURES

from kresolve import api
from kresolve.errors import CustomCodeMissing, SmokeFailed

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "fixture,model,loader",
    [
        ("tf215-savedmodel", "model", "tf.keras"),
        ("keras3-zip", "model.keras", "keras"),
        ("keras3-export-savedmodel", "model", "tfsmlayer"),  # Keras 3 model.export()
    ],
)
def test_lock_and_smoke_reproduce_recorded_predictions(fixture, model, loader, tmp_path):
    result = api.lock(FIXTURES / fixture / model, out_dir=tmp_path)
    assert result.environment.plan.route.loader == loader
    assert result.smoke is not None and result.smoke.status == "passed", result.smoke
    assert result.smoke.compared and result.smoke.max_abs_diff <= 1e-5
    sidecar = json.loads((FIXTURES / fixture / "kresolve.json").read_text())
    assert dict(result.smoke.versions).get("tensorflow", sidecar["packages"]["tensorflow"]) == sidecar["packages"]["tensorflow"]
    report = json.loads((tmp_path / "kresolve-report.json").read_text())
    assert report["smoke"]["status"] == "passed"


def test_failed_smoke_keeps_the_existing_lock_and_says_why(tmp_path):
    # The Keras 2 SavedModel forced through the Keras 3 TFSMLayer route would work, but a
    # tampered recording must fail the comparison: copy the fixture and change one output.
    import shutil

    src = FIXTURES / "tf215-savedmodel"
    work = tmp_path / "m"
    shutil.copytree(src, work)
    sidecar = json.loads((work / "kresolve.json").read_text())
    first = sidecar["probe"]["outputs"][0]["data"][0]
    first[0] = first[0] + 1.0
    (work / "kresolve.json").write_text(json.dumps(sidecar))
    out = tmp_path / "out"
    out.mkdir()
    (out / "requirements.txt").write_text("existing\n")
    with pytest.raises(SmokeFailed, match="differs from the recording"):
        api.lock(work / "model", out_dir=out)
    assert (out / "requirements.txt").read_text() == "existing\n"
    assert (out / "kresolve-failed" / "requirements.txt").exists()


def test_custom_layer_needs_its_code_and_loads_once_given(tmp_path):
    import shutil

    from conftest import TESTS

    model = FIXTURES / "keras3-custom-layer" / "model.keras"
    # Without its code the class is named before anything is solved or built.
    with pytest.raises(CustomCodeMissing) as refused:
        api.lock(model, out_dir=tmp_path / "without")
    message = str(refused.value)
    assert "ScaleLayer" in message and "--custom-objects" in message and "nothing was solved or built" in message
    assert not (tmp_path / "without").exists()
    # Given a code path that does not register it (and a sidecar without the import path), Keras
    # itself reports the unknown class, explained with the same matching as `kresolve diagnose`.
    bare = tmp_path / "bare"
    shutil.copytree(model.parent, bare)
    sidecar = json.loads((bare / "kresolve.json").read_text())
    sidecar["custom_objects"] = {}
    (bare / "kresolve.json").write_text(json.dumps(sidecar))
    (tmp_path / "no-layers").mkdir()
    with pytest.raises(SmokeFailed) as info:
        api.lock(bare / "model.keras", out_dir=tmp_path / "bare-out", code_paths=(str(tmp_path / "no-layers"),))
    assert "Could not locate class 'ScaleLayer'" in str(info.value)
    assert "known cause [bad-custom-layer-not-registered]" in str(info.value)
    result = api.lock(model, out_dir=tmp_path / "with", custom_objects=("kresolve_fixture_layers",),
                      code_paths=(str(TESTS / "fixtures"),))
    assert result.smoke.status == "passed" and result.smoke.compared, result.smoke
    report = json.loads((tmp_path / "with" / "kresolve-report.json").read_text())
    assert report["custom_objects"][0]["class_name"] == "ScaleLayer"
    assert report["custom_objects"][0]["provided_by"]


def test_keras2_savedmodel_where_only_keras3_is_approved_loads_through_tfsmlayer(tmp_path):
    from conftest import TESTS

    policy = TESTS.parent / "rules" / "approved" / "example-platform-2026q3.toml"
    result = api.lock(FIXTURES / "tf215-savedmodel" / "model", out_dir=tmp_path, policy=policy)
    assert result.environment.plan.route.id == "route-sm-tfsmlayer"
    skipped = dict(result.environment.skipped_routes)
    assert "policy" in skipped["route-sm-keras2-tf.keras"] and "tf-keras" in skipped["route-sm-keras2-tf_keras"]
    pins = {p.name: p.version for p in result.environment.pins}
    assert pins["keras"].startswith("3.") and "2.17" <= pins["tensorflow"][:4] <= "2.19"
    assert result.smoke.status == "passed" and result.smoke.compared and result.smoke.max_abs_diff <= 1e-5


def test_keras2_savedmodel_on_tensorflow_216_loads_through_tf_keras(tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text('[policy]\nname = "new tensorflow only"\n'
                      '[[allow]]\npackage = "tensorflow"\nversions = ">=2.16"\nreason = "images ship TF 2.16+"\n')
    result = api.lock(FIXTURES / "tf215-savedmodel" / "model", out_dir=tmp_path / "o", policy=policy)
    env = result.environment
    assert env.plan.route.id == "route-sm-keras2-tf_keras" and env.env_vars == {"TF_USE_LEGACY_KERAS": "1"}
    pins = {p.name: p for p in env.pins}
    # Nearest to the training TF 2.15: one minor up, with the tf-keras of that minor.
    assert pins["tensorflow"].distance.startswith("minor +1") and pins["tf-keras"].version.startswith("2.16.")
    assert "TF_USE_LEGACY_KERAS=1" in (tmp_path / "o" / "requirements.txt").read_text()
    assert result.smoke.status == "passed" and result.smoke.compared and result.smoke.max_abs_diff <= 1e-5


def test_smoke_command_proves_an_existing_lock_and_fails_on_a_wrong_recording(tmp_path):
    import shutil
    import subprocess
    import sys

    model = FIXTURES / "tf215-savedmodel" / "model"
    api.lock(model, out_dir=tmp_path, smoke=False)
    lock = tmp_path / "requirements.txt"
    result = api.smoke(model, lock)  # loader and env vars come from the lock's header
    assert result.status == "passed" and result.compared and result.loader == "tf.keras"
    work = tmp_path / "m"
    shutil.copytree(model.parent, work)
    sidecar = json.loads((work / "kresolve.json").read_text())
    sidecar["probe"]["outputs"][0]["data"][0][0] += 1.0
    (work / "kresolve.json").write_text(json.dumps(sidecar))
    proc = subprocess.run([sys.executable, "-m", "kresolve", "smoke", str(work / "model"), "--lock", str(lock)],
                          capture_output=True, text=True)
    assert proc.returncode == 3 and "differs from the recording" in proc.stdout
