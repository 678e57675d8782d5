"""GPU targets and per-platform distributions, solved for real from the index (not this host)."""

import pytest
from conftest import FIXTURES

from kresolve import api
from kresolve.errors import BadInput
from kresolve.index import Cache

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("cache"))


def lock(tmp_path, cache, fixture, model, **target):
    return api.lock(FIXTURES / fixture / model, out_dir=tmp_path, smoke=False, cache=cache, **target)


def test_linux_gpu_target_pins_the_cuda_wheels(tmp_path, cache):
    result = lock(tmp_path, cache, "tf215-h5", "model.h5", python="3.11", platform="linux-64", gpu=True)
    pins = {p.name: p.version for p in result.environment.pins}
    assert pins["tensorflow"] == "2.15.1" and pins["nvidia-cudnn-cu12"].startswith("8.9.")
    assert result.environment.accelerator.cuda == "12.2"
    assert result.report.to_json()["environment"]["accelerator"]["min_driver"]
    assert "nvidia-cudnn-cu12==" in (tmp_path / "requirements.txt").read_text()


def test_too_old_driver_moves_to_a_release_built_for_it(tmp_path, cache):
    result = lock(tmp_path, cache, "tf215-h5", "model.h5", python="3.11", platform="linux-64", cuda_driver="470.57.02")
    tf = next(p for p in result.environment.pins if p.name == "tensorflow")
    assert tf.version < "2.15" and "NVIDIA driver" in tf.why_not_preferred


def test_windows_gpu_ends_at_2_10(tmp_path, cache):
    result = lock(tmp_path, cache, "tf215-h5", "model.h5", python="3.10", platform="win-64", gpu=True)
    tf = next(p for p in result.environment.pins if p.name == "tensorflow")
    assert tf.version.startswith("2.10.") and "no GPU build on win-64" in tf.why_not_preferred
    assert all(f.filename.endswith("win_amd64.whl") for f in tf.files)


def test_apple_silicon_before_2_13_uses_tensorflow_macos(tmp_path, cache):
    result = lock(tmp_path, cache, "tf212-h5", "model.h5", python="3.10", platform="osx-arm64")
    names = {p.name: p for p in result.environment.pins}
    assert "tensorflow" not in names and names["tensorflow-macos"].version.startswith("2.12.")
    assert "provides tensorflow" in names["tensorflow-macos"].reason


def test_aarch64_has_no_gpu_build_and_says_so(tmp_path, cache):
    # Refused up front as usage (exit 2): no TensorFlow release has a GPU build there (rules/gpu.toml).
    with pytest.raises(BadInput, match="no GPU build on linux-aarch64"):
        lock(tmp_path, cache, "tf215-h5", "model.h5", python="3.11", platform="linux-aarch64", gpu=True)
