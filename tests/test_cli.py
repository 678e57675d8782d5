"""The command line: bad input is one clear line with exit 2, no traceback, nothing written."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kresolve", *args], capture_output=True, text=True, cwd=cwd)


def bad_inputs(tmp_path):
    (tmp_path / "empty.h5").write_bytes(b"")
    real = (FIXTURES / "tf215-h5" / "model.h5").read_bytes()
    (tmp_path / "truncated.h5").write_bytes(real[: len(real) // 3])
    import zipfile

    with zipfile.ZipFile(tmp_path / "notkeras.keras", "w") as zf:
        zf.writestr("hello.txt", "not a model")
    (tmp_path / "notsavedmodel").mkdir()
    (tmp_path / "notsavedmodel" / "readme.txt").write_text("nothing here")
    return {
        "missing": tmp_path / "does-not-exist.h5",
        "empty": tmp_path / "empty.h5",
        "truncated": tmp_path / "truncated.h5",
        "zip": tmp_path / "notkeras.keras",
        "dir": tmp_path / "notsavedmodel",
    }


@pytest.mark.parametrize("case", ["missing", "empty", "truncated", "zip", "dir"])
@pytest.mark.parametrize("command", ["inspect", "lock"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, case, command):
    path = bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    args = [command, str(path)] + (["-o", str(out), "--no-smoke"] if command == "lock" else [])
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kresolve: error: "), proc.stderr
    assert path.name in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_bad_target_is_usage_error(tmp_path):
    proc = run("lock", str(FIXTURES / "keras3-zip" / "model.keras"), "--python", "2.7", "-o", str(tmp_path))
    assert proc.returncode == 2 and "--python" in proc.stderr and "Traceback" not in proc.stderr


def test_inspect_json_is_machine_readable():
    proc = run("inspect", "--json", str(FIXTURES / "keras3-zip" / "model.keras"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["format"] == "keras-zip" and data["keras_version"].startswith("3.")
    assert data["inputs"][0]["shape"][1:] == [4]


@pytest.mark.integration
def test_lock_leaves_an_existing_lock_untouched_when_unsolvable(tmp_path):
    # A Keras 3 file on Python 3.8: Keras 3 and TensorFlow >= 2.16 publish nothing for 3.8.
    out = tmp_path / "out"
    out.mkdir()
    (out / "requirements.txt").write_text("existing\n")
    model = tmp_path / "m"
    shutil.copytree(FIXTURES / "keras3-zip", model)
    proc = run("lock", str(model / "model.keras"), "--python", "3.8", "--platform", "linux-64", "-o", str(out), "--no-smoke")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "route-zip-keras3-keras" in proc.stderr and "python" in proc.stderr.lower()
    assert (out / "requirements.txt").read_text() == "existing\n"


def test_inspect_a_directory_reports_every_model_good_or_refused(tmp_path):
    for fixture, name in (("tf215-h5", "model.h5"), ("keras3-zip", "model.keras")):
        (tmp_path / fixture).mkdir()
        shutil.copy(FIXTURES / fixture / name, tmp_path / fixture / name)
    (tmp_path / "notes.txt").write_text("not a model")
    proc = run("inspect", "--json", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sorted(d["format"] for d in json.loads(proc.stdout)) == ["keras-h5", "keras-zip"]
    (tmp_path / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
    proc = run("inspect", str(tmp_path))
    assert proc.returncode == 2
    assert "3 models: 2 read, 1 refused" in proc.stdout and "broken.h5" in proc.stderr and "Traceback" not in proc.stderr


def test_inspect_json_keys_are_the_documented_ones():
    from conftest import TESTS

    documented = (TESTS.parent / "docs" / "inspect-json.md").read_text()
    proc = run("inspect", "--json", str(FIXTURES / "tf215-savedmodel" / "model"))
    data = json.loads(proc.stdout)
    for key in data:
        assert f"`{key}`" in documented, f"{key} is not documented in docs/inspect-json.md"
    for key in data["training_env"]:
        assert f"`{key}`" in documented
    assert set(data) >= {"path", "format", "keras_version", "tensorflow_version", "layer_classes", "custom_objects",
                         "lambda_layers", "inputs", "sidecar", "project", "training_env"}


def test_capture_refuses_non_models_and_interpreters_without_tensorflow(tmp_path):
    proc = run("capture", str(FIXTURES.parent / "kresolve_fixture_layers.py"))
    assert proc.returncode == 2 and "not a Keras model" in proc.stderr and "Traceback" not in proc.stderr
    model = tmp_path / "model.keras"
    shutil.copy(FIXTURES / "keras3-zip" / "model.keras", model)
    proc = run("capture", str(model), "--python", sys.executable)  # kresolve's venv has no TensorFlow
    assert proc.returncode == 2 and "cannot import Keras/TensorFlow" in proc.stderr
    assert not (tmp_path / "kresolve.json").exists()


def test_diagnose_maps_an_error_to_its_cause_and_fix(tmp_path):
    text = "Traceback (most recent call last):\n  ...\nAttributeError: 'str' object has no attribute 'decode'\n"
    proc = run("diagnose", text, "--installed", "tensorflow==2.3.0", "--installed", "h5py==3.1.0")
    assert proc.returncode == 0 and "bad-h5py3-str-decode-tf" in proc.stdout and "your versions match" in proc.stdout
    (tmp_path / "tb.txt").write_text(text)
    proc = run("diagnose", "--file", str(tmp_path / "tb.txt"), "--json")
    assert json.loads(proc.stdout)[0]["rule"].startswith("bad-h5py3-str-decode")
    proc = run("diagnose", "CUDA out of memory. Tried to allocate 2.00 GiB")
    assert proc.returncode == 1 and "no known cause" in proc.stdout
    assert run("diagnose", "--file", str(tmp_path / "missing.txt")).returncode == 2
