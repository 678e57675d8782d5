"""`lock --no-smoke` for every fixture format against the real index, checked by pip itself."""

import json
import subprocess
import sys

import pytest
from conftest import FIXTURES

from kresolve import api
from kresolve.index import Cache
from kresolve.smoke.envs import env_key

PIP_CHECKED: set[str] = set()

pytestmark = pytest.mark.integration

CASES = {
    # fixture: (model path inside it, expected loader, {package: expected version prefix})
    "tf212-h5": ("model.h5", "tf.keras", {"tensorflow": "2.12."}),
    "tf212-savedmodel": ("model", "tf.keras", {"tensorflow": "2.12."}),
    "tf215-h5": ("model.h5", "tf.keras", {"tensorflow": "2.15."}),
    "tf215-savedmodel": ("model", "tf.keras", {"tensorflow": "2.15."}),
    "tf215-keras-zip": ("model.keras", "tf.keras", {"tensorflow": "2.15."}),
    "keras3-zip": ("model.keras", "keras", {"keras": "3."}),
    "keras3-h5": ("model.h5", "keras", {"keras": "3."}),
    "keras3-custom-layer": ("model.keras", "keras", {"keras": "3."}),
    "keras3-export-savedmodel": ("model", "tfsmlayer", {"keras": "3."}),
}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_lock_fixture_on_the_real_index(fixture, tmp_path, shared_cache):
    model, loader, expect = CASES[fixture]
    path = FIXTURES / fixture / model
    sidecar = json.loads((FIXTURES / fixture / "kresolve.json").read_text())
    result = api.lock(path, python="3.11", platform="linux-64", out_dir=tmp_path, smoke=False, cache=shared_cache)
    pins = {p.name: p for p in result.environment.pins}
    assert result.environment.plan.route.loader == loader
    for name, prefix in expect.items():
        assert pins[name].version.startswith(prefix), (name, pins[name].version)
    # With a sidecar, the training versions are preferred and mostly hit exactly.
    for name in ("tensorflow", "keras", "numpy"):
        if name in pins and name in sidecar["packages"]:
            assert pins[name].evidence == "sidecar"
            assert pins[name].version == sidecar["packages"][name], name
    report = json.loads((tmp_path / "kresolve-report.json").read_text())
    assert report["environment"]["route"]["loader"] == loader
    assert all(p["reason"] for p in report["environment"]["pins"])
    lock = tmp_path / "requirements.txt"
    # pip downloads every wheel to check its hash: an identical set of pins is checked once.
    key = env_key(lock.read_text(), "3.11")
    if key in PIP_CHECKED:
        return
    PIP_CHECKED.add(key)
    # pip's --platform does not expand manylinux tags: name every platform tag of the target.
    platforms = [a for tag in result.environment.target.platform_tags() for a in ("--platform", tag)]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--require-hashes", "--no-deps", "--ignore-installed",
         "--python-version", "3.11", *platforms, "--only-binary", ":all:",
         "--target", str(tmp_path / "t"), "-r", str(lock)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"tensorflow-{pins['tensorflow'].version}" in proc.stdout


def test_lock_for_other_targets_uses_their_wheels(tmp_path, shared_cache):
    path = FIXTURES / "keras3-zip" / "model.keras"
    for python, platform, tag in [("3.12", "osx-arm64", "macosx"), ("3.10", "win-64", "win_amd64"), ("3.12", "linux-aarch64", "aarch64")]:
        result = api.lock(path, python=python, platform=platform, out_dir=tmp_path / platform, smoke=False, cache=shared_cache)
        tf = next(p for p in result.environment.pins if p.name in ("tensorflow", "tensorflow-macos"))
        assert all(tag in f.filename for f in tf.files), [f.filename for f in tf.files]
        assert result.smoke is None
