"""`kresolve capture`: the sidecar written in real TensorFlow environments reads back with
kresolve's own reader and records what the environment really holds.

The environments are built with kresolve's own machinery (lock the fixture, build the env from
the lock), so they are the ones the e2e smoke tests use: TF 2.12.1, TF 2.15.1 and TF 2.21.0 +
Keras 3.15.1. kresolve is not installed in them: `capture(python=...)` runs the standalone
record script by path with their interpreter, and the callback test puts the repository on the
import path as an installed kresolve would be. The tests without an environment run always.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from conftest import FIXTURES

from kresolve.artifact import inspect, limits
from kresolve.capture import CaptureError, CaptureWarning, capture, record, run_capture
from kresolve.errors import BadInput

REPO = Path(__file__).resolve().parents[1]
FIXTURE_CODE = REPO / "tests" / "fixtures"  # kresolve_fixture_layers.py
e2e = pytest.mark.e2e

# fixture -> (model name, extra import paths); at most three environments behind them.
CASES = {
    "tf212-h5": ("model.h5", ()),
    "tf215-h5": ("model.h5", ()),
    "tf215-savedmodel": ("model", ()),
    "keras3-zip": ("model.keras", ()),
    "keras3-custom-layer": ("model.keras", (str(FIXTURE_CODE),)),
}


# ----------------------------------------------------------------------------- environments


@cache
def env_python(fixture: str) -> Path:
    """The interpreter of the environment kresolve locks for `fixture` (built once, then reused
    from kresolve's cache like the e2e smoke tests' environments)."""
    import tempfile

    from kresolve import api
    from kresolve.index import Cache, read_pip_config
    from kresolve.smoke.envs import build_env

    model = FIXTURES / fixture / CASES.get(fixture, ("model.keras",))[0]
    with tempfile.TemporaryDirectory(prefix="kresolve-capture-lock-") as tmp:
        api.lock(model, out_dir=tmp, smoke=False)
        built = build_env(Path(tmp) / "requirements.txt", Cache().root / "envs", read_pip_config())
    return built.python


@cache
def frozen(python: Path) -> dict[str, str]:
    """What the environment really holds, by uv (an independent reader of site-packages)."""
    from kresolve.smoke.envs import find_uv

    uv = find_uv()
    if not uv:
        pytest.skip("uv is needed to list the environment independently")
    out = subprocess.run([uv, "pip", "freeze", "--python", str(python)], capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            found[record.canonical_name(name.strip())] = version.strip()
    return found


def python_version(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def copy_model(fixture: str, tmp_path: Path) -> Path:
    """The fixture's model alone (not its sidecar) in a fresh folder."""
    name = CASES[fixture][0]
    source, target = FIXTURES / fixture / name, tmp_path / fixture / name
    target.parent.mkdir(parents=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target


def flat(value) -> list:
    return [x for v in value for x in flat(v)] if isinstance(value, list) else [value]


def assert_close(recorded: list[dict], reference: list[dict], atol: float = 1e-6) -> None:
    assert [t["name"] for t in recorded] == [t["name"] for t in reference]
    assert [t["shape"] for t in recorded] == [t["shape"] for t in reference]
    assert [t["dtype"] for t in recorded] == [t["dtype"] for t in reference]
    for got, want in zip(recorded, reference):
        a, b = flat(got["data"]), flat(want["data"])
        assert len(a) == len(b) == math.prod(got["shape"])
        worst = max(abs(x - y) for x, y in zip(a, b))
        assert worst <= atol, f"{got['name']}: max |diff| {worst:.3g}"


# ----------------------------------------------------------------------------- capture in real envs


@e2e
@pytest.mark.parametrize("fixture", list(CASES))
def test_capture_in_the_training_environment_matches_the_fixture(fixture, tmp_path, monkeypatch):
    python = env_python(fixture)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # no __pycache__ in tests/fixtures
    model = copy_model(fixture, tmp_path)
    written = capture(model, python=python, paths=CASES[fixture][1])

    assert written == model.parent / "kresolve.json"
    sidecar = inspect(model).sidecar  # kresolve's own reader, strict schema v1
    assert sidecar is not None and Path(sidecar.path) == written
    document = json.loads(written.read_text())
    reference = json.loads((FIXTURES / fixture / "kresolve.json").read_text())
    assert document["kresolve_sidecar"] == 1 and document["model"] == model.name
    assert re.fullmatch(r"kresolve capture \d+\.\d+.*", document["written_by"])

    # Every installed distribution, exactly as the environment holds it; the ones the lock
    # reproduced from the fixture's own recording agree with it.
    packages = dict(sidecar.packages)
    assert packages == frozen(python)
    for name in ("tensorflow", "keras", "numpy"):
        assert packages[name] == reference["packages"][name]
    assert sidecar.python_version == python_version(python)
    assert document["python"]["implementation"] == "CPython"
    assert sidecar.platform == record.platform_name()

    build = document["tensorflow_build"]
    assert build["cuda_version"] == reference["tensorflow_build"]["cuda_version"]
    assert isinstance(build["is_cuda_build"], bool) and isinstance(build["gpu_visible"], bool)

    # Same probe convention as the fixture generator: default_rng(0), batch 2, float32.
    assert_close(document["probe"]["inputs"], reference["probe"]["inputs"], atol=0)
    assert_close(document["probe"]["outputs"], reference["probe"]["outputs"])
    assert document["custom_objects"] == reference["custom_objects"]
    if fixture == "keras3-custom-layer":
        assert document["custom_objects"] == {"ScaleLayer": "kresolve_fixture_layers.ScaleLayer"}


@e2e
def test_keras3_environment_probes_a_keras2_savedmodel_through_its_signature(tmp_path):
    python = env_python("keras3-zip")
    model = copy_model("tf215-savedmodel", tmp_path)
    with pytest.warns(CaptureWarning, match="probed its serving_default signature"):
        written = capture(model, python=python)
    document = json.loads(written.read_text())
    assert inspect(model).sidecar.package_version("keras") == "3.15.1"
    reference = json.loads((FIXTURES / "tf215-savedmodel" / "kresolve.json").read_text())
    assert [t["shape"] for t in document["probe"]["inputs"]] == [[2, 4]]
    assert document["probe"]["inputs"][0]["data"] == reference["probe"]["inputs"][0]["data"]
    [output] = document["probe"]["outputs"]
    assert output["shape"] == [2, 3]
    assert max(abs(a - b) for a, b in zip(flat(output["data"]), flat(reference["probe"]["outputs"][0]["data"]))) <= 1e-6


# ----------------------------------------------------------------------------- the callback

USERLIB = '''
import os
if os.environ.get("KERAS_FLAVOUR") == "tf.keras":
    import tensorflow as tf
    keras = tf.keras
else:
    import keras


class Scale(keras.layers.Layer):
    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones")

    def call(self, inputs):
        return inputs * self.scale


def swish2(x):
    return x * keras.activations.sigmoid(x)


def my_loss(y_true, y_pred):
    return keras.ops.mean((y_true - y_pred) ** 2) if hasattr(keras, "ops") else \\
        keras.backend.mean((y_true - y_pred) ** 2)
'''

TRAIN = '''
import json, os, sys, warnings
sys.path[:0] = [REPO, HERE]
import numpy as np
from userlib import Scale, keras, my_loss, swish2
from kresolve.capture import CaptureWarning, KresolveCapture

def main_metric(y_true, y_pred):  # defined in __main__: recorded, with a warning
    return y_pred[:, 0]

keras.utils.set_random_seed(0)
x = np.random.default_rng(1).standard_normal((16, 4)).astype("float32")
y = np.random.default_rng(2).standard_normal((16, 3)).astype("float32")
model = keras.Sequential([keras.Input(shape=(4,), name="x"), keras.layers.Dense(8, activation=swish2, name="hidden"),
                          Scale(name="scale"), keras.layers.Dense(3, name="out")])
model.compile(optimizer="adam", loss=my_loss, metrics=[main_metric])
report = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    # 1. record at the end of training, save afterwards
    end = KresolveCapture(os.path.join(HERE, "final", MODEL_NAME), verbose=False)
    # 2. follow a checkpoint: a sidecar per file ModelCheckpoint writes
    ckpt = os.path.join(HERE, "ckpt", "m-{epoch:02d}" + SUFFIX)
    follow = KresolveCapture(ckpt, on="save", verbose=False)
    # 3. a capture that fails must not fail fit()
    broken = KresolveCapture(os.path.join(HERE, "final", MODEL_NAME), out=os.path.join(HERE, "no", "such", "dir.json"),
                             verbose=False)
    os.makedirs(os.path.join(HERE, "final")); os.makedirs(os.path.join(HERE, "ckpt"))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0,
              callbacks=[keras.callbacks.ModelCheckpoint(ckpt), follow, end, broken])
    model.save(os.path.join(HERE, "final", MODEL_NAME))
report["end"] = end.written
report["follow"] = follow.written
report["broken_warnings"] = broken.warnings
report["warnings"] = [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]
report["is_instance"] = isinstance(end, keras.callbacks.Callback)
print("REPORT" + json.dumps(report))
'''


@e2e
@pytest.mark.parametrize("fixture,flavour,suffix", [("keras3-zip", "keras", ".keras"), ("tf215-h5", "tf.keras", ".h5")])
def test_callback_records_at_train_end_and_follows_checkpoints(fixture, flavour, suffix, tmp_path):
    # The final model is a .keras file in both: tf.keras 2.15 writes custom activation functions
    # into .h5 files in a form its own h5 loader cannot read back ("Unknown activation function:
    # 'function'"), which would defeat the reload check at the end. Checkpoints use `suffix`.
    python = env_python(fixture)
    (tmp_path / "userlib.py").write_text(USERLIB)
    model_name = "model.keras"
    script = f"REPO, HERE, MODEL_NAME, SUFFIX = {str(REPO)!r}, {str(tmp_path)!r}, {model_name!r}, {suffix!r}\n" + TRAIN
    env = {**os.environ, "KERAS_FLAVOUR": flavour, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(python), "-c", script], capture_output=True, text=True, env=env, timeout=600,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.split("REPORT", 1)[1])
    assert report["is_instance"]

    final = tmp_path / "final" / model_name
    assert report["end"] == [str(final.parent / "kresolve.json")]
    sidecar = inspect(final).sidecar
    assert sidecar is not None
    customs = dict(sidecar.custom_objects)
    assert customs == {"Scale": "userlib.Scale", "swish2": "userlib.swish2", "my_loss": "userlib.my_loss",
                       "main_metric": "__main__.main_metric"}
    assert any("main_metric" in w and "main script" in w for w in report["warnings"])
    # In-process capture after TF was imported: setuptools' vendored packages stay out.
    assert dict(sidecar.packages) == frozen(python)

    # Two epochs, one checkpoint file each: the first takes kresolve.json, the second its own.
    ckpt = tmp_path / "ckpt"
    assert report["follow"] == [str(ckpt / "kresolve.json"), str(ckpt / f"m-02{suffix}.kresolve.json")]
    assert inspect(ckpt / f"m-01{suffix}").sidecar.path == str(ckpt / "kresolve.json")
    assert inspect(ckpt / f"m-02{suffix}").sidecar.path == str(ckpt / f"m-02{suffix}.kresolve.json")

    # The failing one warned and wrote nothing; fit() and the save after it went on.
    assert len(report["broken_warnings"]) == 1 and "failed" in report["broken_warnings"][0]
    assert not (tmp_path / "no").exists()

    # The in-memory probe is what the saved file gives when loaded again from disk.
    reloaded = run_capture(final, out=tmp_path / "reloaded.json", python=python, paths=[str(tmp_path)])
    again = json.loads(reloaded.path.read_text())
    first = json.loads((final.parent / "kresolve.json").read_text())
    assert_close(again["probe"]["inputs"], first["probe"]["inputs"], atol=0)
    assert_close(again["probe"]["outputs"], first["probe"]["outputs"])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("content", [b"just some text\n", b"", b"PK\x03\x04broken zip"])
def test_a_file_that_is_not_a_model_is_refused_in_one_line_and_nothing_is_written(content, tmp_path):
    model = tmp_path / "model.keras"
    model.write_bytes(content)
    with pytest.raises(BadInput) as err:
        capture(model)
    message = str(err.value)
    assert "\n" not in message and str(model) in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_missing_path_and_plain_directory_are_refused(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        capture(tmp_path / "nope.h5")
    (tmp_path / "folder").mkdir()
    with pytest.raises(BadInput):
        capture(tmp_path / "folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_lambda_models_need_trust_before_anything_loads(tmp_path):
    model = tmp_path / "model.h5"
    shutil.copyfile(FIXTURES / "tf215-lambda-h5" / "model.h5", model)
    with pytest.raises(BadInput, match="Lambda.*trust"):
        capture(model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


def test_an_interpreter_without_tensorflow_says_so(tmp_path):
    model = copy_model("keras3-zip", tmp_path)
    if subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, check=False).returncode == 0:
        pytest.skip("this interpreter has TensorFlow")
    with pytest.raises(CaptureError, match="cannot import Keras/TensorFlow.*training environment"):
        capture(model, python=sys.executable)
    assert sorted(p.name for p in model.parent.iterdir()) == ["model.keras"]


@e2e
def test_a_model_that_does_not_load_is_bad_input_and_nothing_is_written(tmp_path):
    python = env_python("keras3-zip")
    model = copy_model("keras3-custom-layer", tmp_path)  # its layer's module is not importable
    with pytest.raises(BadInput) as err:
        capture(model, python=python)
    message = str(err.value)
    assert "\n" not in message and "kresolve_fixture_layers" in message and len(message) < 1000
    assert sorted(p.name for p in model.parent.iterdir()) == ["model.keras"]


@e2e
def test_time_limit_kills_the_capture_and_leaves_nothing(tmp_path):
    python = env_python("keras3-zip")
    model = copy_model("keras3-zip", tmp_path)
    (model.parent / "kresolve.json").write_text('{"kresolve_sidecar": 1, "model": "model.keras"}')
    with pytest.raises(CaptureError, match="did not finish within 1s"):
        capture(model, python=python, timeout=1)
    assert sorted(p.name for p in model.parent.iterdir()) == ["kresolve.json", "model.keras"]
    assert json.loads((model.parent / "kresolve.json").read_text()) == {"kresolve_sidecar": 1, "model": "model.keras"}


# ----------------------------------------------------------------------------- pure parts


def test_sidecar_goes_where_the_reader_looks_first(tmp_path):
    model = tmp_path / "a.h5"
    assert record.sidecar_path_for(model) == str(tmp_path / "kresolve.json")
    (tmp_path / "kresolve.json").write_text(json.dumps({"kresolve_sidecar": 1, "model": "a.h5"}))
    assert record.sidecar_path_for(model) == str(tmp_path / "kresolve.json")  # its own: replaced
    other = tmp_path / "b.h5"
    assert record.sidecar_path_for(other) == str(tmp_path / "b.h5.kresolve.json")  # another model's
    (tmp_path / "a.h5.kresolve.json").write_text("{}")
    assert record.sidecar_path_for(model) == str(tmp_path / "a.h5.kresolve.json")  # read first
    (tmp_path / "kresolve.json").write_text("not json")
    assert record.sidecar_path_for(other) == str(tmp_path / "b.h5.kresolve.json")  # never clobbered
    export = str(tmp_path / "export_dir") + os.sep  # a SavedModel folder named with a slash
    assert record.sidecar_path_for(export) == str(tmp_path / "export_dir.kresolve.json")
    assert record.model_name(export) == "export_dir"


def test_record_script_is_standalone():
    """record.py runs in environments without kresolve: it imports only the standard library at
    module level, and only numpy/TensorFlow/Keras (and ml_dtypes) inside functions."""
    tree = ast.parse(Path(record.__file__).read_text())
    lazy_ok = {"numpy", "tensorflow", "keras", "tf_keras", "ml_dtypes"}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top == "__future__":
                    continue
                assert top in sys.stdlib_module_names or (top in lazy_ok and node.col_offset > 0), name
    assert record.MAX_PROBE_ELEMENTS == limits.MAX_PROBE_ELEMENTS
    assert record.MAX_SIDECAR_BYTES == limits.MAX_SIDECAR_BYTES
    # Runs by path in an isolated interpreter (no kresolve on its path).
    out = subprocess.run([sys.executable, "-I", str(record.__file__), "--help"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "sidecar" in out.stdout


def test_importing_capture_imports_no_tensorflow():
    code = ("import sys, kresolve.capture, kresolve.capture.callback; "
            "from kresolve.capture import KresolveCapture; "
            "bad = [m for m in ('tensorflow', 'keras', 'tf_keras', 'numpy') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_environment_record_lists_every_distribution_of_this_interpreter():
    import importlib.metadata

    env = record.environment_record()
    assert env["platform"] == record.platform_name()
    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert env["python"]["implementation"] == "CPython"
    packages = dict(env["packages"])
    assert packages.pop("kresolve") == importlib.metadata.version("kresolve")  # editable: uv prints `-e`
    assert packages == frozen(Path(sys.executable))


def test_vendored_folders_are_not_install_locations(tmp_path):
    site = tmp_path / "lib" / "site-packages"
    vendored = site / "setuptools" / "_vendor"
    for folder, name, version in [(vendored, "jaraco.text", "3.12.1"), (site, "Real_Pkg", "1.0")]:
        info = folder / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    path = [str(site), str(vendored), str(site)]
    assert record.install_locations(path) == [str(site)]
    assert record.installed_packages(path) == {"real-pkg": "1.0"}
