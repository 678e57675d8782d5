"""Distribution aliases (tensorflow-macos, tensorflow-gpu) and GPU facts, over a local index."""

import pytest
from localindex import make_wheel, write_simple_index

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.errors import Unsolvable
from kresolve.index import Index, IndexConfig
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for
from kresolve.solve.resolve import solve
from kresolve.target import make_target

RULES = """
[[route]]
id = "route-h5"
format = "keras-h5"
writer_keras = ">=2.0,<3"
rank = 10
loader = "tf.keras"
requires = ["tensorflow<2.16"]
reason = "r"
source = "test:tests/test_solve_platforms.py::test_macos_distribution_provides_tensorflow"

[[era]]
id = "era-2.11"
keras_version = ">=2.11,<2.12"
prefer = { tensorflow = "2.11" }
reason = "r"
source = "https://example.org"

[[distribution]]
id = "dist-macos"
package = "tensorflow"
provided_by = "tensorflow-macos"
versions = "<2.13"
platforms = ["osx-arm64"]
reason = "plain tensorflow had no Apple-silicon wheels before 2.13"
source = "https://example.org"

[[accelerator]]
id = "gpu-2.11-linux"
when = "tensorflow>=2.11,<2.12"
platforms = ["linux-64"]
cuda = "11.2"
cudnn = "8.1"
min_driver = "450.80.02"
requires = []
note = "CUDA from the system"
reason = "r"
source = "https://example.org"

[[accelerator]]
id = "gpu-2.14-linux"
when = "tensorflow>=2.14,<2.15"
platforms = ["linux-64"]
cuda = "11.8"
cudnn = "8.7"
min_driver = "520.61.05"
requires = ["tensorflow[and-cuda]>=2.14,<2.15"]
note = "nvidia-* wheels through the and-cuda extra"
reason = "r"
source = "https://example.org"

[[accelerator]]
id = "gpu-2.11-win"
when = "tensorflow>=2.11"
platforms = ["win-64"]
requires = []
note = "no native Windows GPU after 2.10; use WSL2"
reason = "r"
source = "https://example.org"
"""


@pytest.fixture
def world(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    for v in ("2.11.0", "2.14.0"):
        make_wheel(files, "tensorflow", v, tag="cp311-cp311-manylinux_2_17_x86_64",
                   extras={"and-cuda": ["nvidia-cudnn-cu11==8.7.0"]})
        make_wheel(files, "tensorflow", v, tag="cp311-cp311-win_amd64")
    make_wheel(files, "tensorflow", "2.14.0", tag="cp311-cp311-macosx_12_0_arm64")
    make_wheel(files, "tensorflow-macos", "2.11.0", tag="cp311-cp311-macosx_12_0_arm64")
    make_wheel(files, "nvidia-cudnn-cu11", "8.7.0", tag="py3-none-manylinux1_x86_64")
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text(RULES)
    return Index(IndexConfig((tmp_path / "repo" / "simple").as_uri()), cache), load_rules(tmp_path / "rules")


FACTS = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.11.0")


def test_macos_distribution_provides_tensorflow(world):
    index, rules = world
    env = solve(plans_for(FACTS, rules), make_target("3.11", "osx-arm64"), index, rules)
    pin = next(p for p in env.pins if p.name == "tensorflow-macos")
    assert pin.version == "2.11.0" and pin.distance_text == "same series" and "dist-macos" in pin.rule_ids
    assert "provides tensorflow" in pin.reason
    assert "tensorflow" not in {p.name for p in env.pins}


def test_gpu_target_gets_cuda_facts_and_the_extra(world):
    index, rules = world
    env = solve(plans_for(FACTS, rules), make_target("3.11", "linux-64", gpu=True), index, rules)
    assert env.accelerator.id == "gpu-2.11-linux" and env.accelerator.cuda == "11.2"
    # A driver too old for CUDA 11.2 rules 2.11 out; 2.14 needs an even newer one: nothing solves.
    with pytest.raises(Unsolvable) as info:
        solve(plans_for(FACTS, rules), make_target("3.11", "linux-64", cuda_driver="418.39"), index, rules)
    assert "needs NVIDIA driver ≥ 450.80.02" in str(info.value)


def test_and_cuda_extra_pulls_the_nvidia_wheels(world, tmp_path):
    index, rules = world
    facts = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.14.0")
    env = solve(plans_for(facts, rules), make_target("3.11", "linux-64", gpu=True), index, rules)
    names = {p.name: p.version for p in env.pins}
    assert names["tensorflow"] == "2.14.0" and names["nvidia-cudnn-cu11"] == "8.7.0"
    cpu = solve(plans_for(facts, rules), make_target("3.11", "linux-64"), index, rules)
    assert "nvidia-cudnn-cu11" not in {p.name for p in cpu.pins} and cpu.accelerator is None


def test_no_gpu_build_on_the_platform_is_explained(world):
    index, rules = world
    with pytest.raises(Unsolvable) as info:
        solve(plans_for(FACTS, rules), make_target("3.11", "win-64", gpu=True), index, rules)
    assert "no GPU build on win-64" in str(info.value) and "WSL2" in str(info.value)
