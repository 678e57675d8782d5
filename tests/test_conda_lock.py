"""The conda side: py-rattler's solve against real local channels (real `.conda` packages, real
repodata), one multi-platform conda-lock.yml through conda-lock's own models and parser, explicit
files (read back by py-rattler's parser), environment.yml, templates, channels and errors."""

from __future__ import annotations

import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import pytest
import yaml
from condachannel import Pkg, build_channel, standard_packages
from localindex import make_wheel, write_simple_index

from kresolve import api, cli, session
from kresolve.conda.channels import CondaChannel, condarc_paths, read_settings, resolve_channels
from kresolve.conda.solve import CondaSpec, conda_specs, solve_conda
from kresolve.conda.virtual import cuda_for_driver, virtual_packages
from kresolve.errors import BadInput, IndexUnavailable, Unsolvable
from kresolve.index import Cache, IndexConfig
from kresolve.lock.condalock import kresolve_metadata
from kresolve.lock.template import parse_template, read_template
from kresolve.rules.db import load_rules
from kresolve.target import make_target

MODEL = Path(__file__).parent / "fixtures" / "models" / "tf215-h5" / "model.h5"
REPO = Path(__file__).resolve().parents[1]
PLATFORMS = ("linux-64", "osx-arm64", "win-64")
ROUTE = """
[[route]]
id = "route-h5-keras2-tf.keras"
format = "keras-h5"
writer_keras = ">=2.0,<3"
rank = 10
loader = "tf_keras"
env = { TF_USE_LEGACY_KERAS = "1" }
requires = ["tensorflow<2.16"]
reason = "test route"
source = "test:tests/test_conda_lock.py"
"""
TEMPLATE = """\
name: serve
channels: [conda-forge]
dependencies:
  - uvicorn >=0.30
  - numpy
  - pip:
    - pillow>=10
"""


@pytest.fixture(scope="module")
def channel(tmp_path_factory) -> Path:
    return build_channel(tmp_path_factory.mktemp("conda") / "channel", standard_packages())


@pytest.fixture
def world(tmp_path, channel):
    """A local pip index (tensorflow needing numpy<2, numpy, pillow), rules with one route."""
    files = tmp_path / "repo" / "files"
    make_wheel(files, "tensorflow", "2.15.1", requires=["numpy>=1.2,<2"])
    make_wheel(files, "tensorflow", "2.12.0", requires=["numpy>=1.2,<2"])
    make_wheel(files, "numpy", "1.26.4")
    make_wheel(files, "numpy", "2.0.0")
    make_wheel(files, "pillow", "10.3.0")
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "route.toml").write_text(ROUTE)
    template = tmp_path / "environment.template.yml"
    template.write_text(TEMPLATE)
    return {
        "index_config": IndexConfig((tmp_path / "repo" / "simple").as_uri()),
        "cache": Cache(tmp_path / "cache"),
        "rules": load_rules(tmp_path / "rules"),
        "channels": (channel.as_uri(),),
        "template": template,
        "out": tmp_path / "out",
    }


def _lock(world, **kw):
    args = {"python": "3.11", "out_dir": world["out"], "smoke": False, "index_config": world["index_config"],
            "cache": world["cache"], "rules": world["rules"], "channels": world["channels"]}
    args.update(kw)
    return api.lock(MODEL, **args)


# --- the whole lock ------------------------------------------------------------------------------

def test_one_conda_lock_for_three_platforms_parsed_by_conda_lock(world, channel):
    from conda_lock.lockfile import parse_conda_lock_file
    from rattler.explicit_environment import ExplicitEnvironmentSpec

    result = _lock(world, formats="conda-lock,env", platforms=PLATFORMS, template=world["template"])
    out = world["out"]
    lock = parse_conda_lock_file(out / "conda-lock.yml")  # conda-lock's own parser (v1 -> model)
    assert lock.metadata.platforms == list(PLATFORMS)
    assert [c.url for c in lock.metadata.channels] == [channel.as_uri()]
    assert set(lock.metadata.content_hash) == set(PLATFORMS)
    assert lock.metadata.sources[0].endswith("tf215-h5/model.h5")
    assert lock.metadata.sources[1] == "../environment.template.yml"
    for platform in PLATFORMS:
        conda = {p.name: p for p in lock.package if p.platform == platform and p.manager == "conda"}
        pip = {p.name: p for p in lock.package if p.platform == platform and p.manager == "pip"}
        # The target Python, pip, the template's conda packages and their dependency (h11).
        assert set(conda) == {"python", "pip", "uvicorn", "h11", "numpy"}
        assert conda["python"].version == "3.11.9" and conda["python"].build == "h0_0"
        assert conda["python"].url.endswith(f"/{platform}/python-3.11.9-h0_0.conda")
        assert conda["uvicorn"].dependencies == {"python": ">=3.8", "h11": ">=0.8"}
        for p in conda.values():
            assert len(p.hash.md5) == 32 and len(p.hash.sha256) == 64
        # The model's and the template's pip packages; numpy is conda's, so never a pip entry.
        assert set(pip) == {"tensorflow", "pillow"}
        assert all(len(p.hash.sha256) == 64 and p.url.endswith(".whl") for p in pip.values())
        assert not set(pip) & set(conda)
        meta = kresolve_metadata(lock, platform)
        assert (meta["loader"], meta["route"], meta["env_vars"]) == (
            "tf_keras", "route-h5-keras2-tf.keras", {"TF_USE_LEGACY_KERAS": "1"})
        # The explicit file: conda's @EXPLICIT list, read back by py-rattler's own parser.
        explicit = ExplicitEnvironmentSpec.from_path(out / f"conda-{platform}.lock")
        assert str(explicit.platform) == platform
        assert {e.url for e in explicit.packages} == {f"{p.url}#{p.hash.md5}" for p in conda.values()}
        text = (out / f"conda-{platform}.lock").read_text()
        assert "@EXPLICIT" in text and "# pip tensorflow @ " in text
        # environment.yml with exact pins.
        env = yaml.safe_load((out / f"environment-{platform}.yml").read_text())
        assert env["name"] == "serve"
        assert env["channels"] == [channel.as_uri(), "nodefaults"]
        assert "python=3.11.9=h0_0" in env["dependencies"] and "numpy=1.26.4=pyhd8ed1ab_0" in env["dependencies"]
        assert env["dependencies"][-1] == {"pip": ["pillow==10.3.0", "tensorflow==2.15.1"]}
    # `kresolve install` reads the same file back (conda records, pip lines, the loader).
    from kresolve.install import read_lock

    host = read_lock(out / "conda-lock.yml", "linux-64")
    assert (host.loader, host.route, host.env_vars) == ("tf_keras", "route-h5-keras2-tf.keras", {"TF_USE_LEGACY_KERAS": "1"})
    assert "tensorflow==2.15.1" in host.pip_text and "numpy==" not in host.pip_text
    # The pip solve was told numpy comes from conda (fixed, with the reason).
    numpy = next(p for p in result.environment.pins if p.name == "numpy")
    assert numpy.version == "1.26.4"
    assert "numpy==1.26.4: provided by conda package numpy 1.26.4 (pyhd8ed1ab_0" in numpy.reason
    assert result.report.to_json()["conda"]["win-64"]["specs"][0] == {"spec": "python 3.11.*", "reason": "the target Python 3.11"}


def test_gpu_target_of_a_line_without_nvidia_wheels_gets_cudatoolkit_and_cudnn_from_conda(world, tmp_path):
    shutil.copy(REPO / "rules" / "gpu.toml", tmp_path / "rules" / "gpu.toml")
    make_wheel(tmp_path / "repo" / "files", "tensorflow-metal", "0.8.0")  # what --gpu adds on osx-arm64 (pip)
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules" / "route.toml").write_text(ROUTE.replace("tensorflow<2.16", "tensorflow<2.13"))
    result = _lock(world, formats="conda-lock", platforms=("linux-64", "osx-arm64"), gpu=True,
                   cuda_driver="535.54.03", rules=load_rules(tmp_path / "rules"))
    from conda_lock.lockfile import parse_conda_lock_file

    lock = parse_conda_lock_file(world["out"] / "conda-lock.yml")
    linux = {p.name: p.version for p in lock.package if p.platform == "linux-64" and p.manager == "conda"}
    osx = {p.name for p in lock.package if p.platform == "osx-arm64" and p.manager == "conda"}
    # TensorFlow 2.12 on linux-64: CUDA 11.8 and cuDNN 8.6 (rules/gpu.toml), here from conda.
    assert linux["cudatoolkit"] == "11.8.0" and linux["cudnn"] == "8.6.0.163"
    assert "cudatoolkit" not in osx  # Apple silicon: Metal, from pip
    assert any(p.name == "tensorflow-metal" for p in lock.package if p.platform == "osx-arm64")
    assert "__cuda=12.2=0" in result.report.to_json()["conda"]["linux-64"]["virtual_packages"]
    assert not any(p.name.startswith("__") for p in lock.package)  # virtual packages are not locked


def test_a_template_pin_that_conflicts_with_the_model_is_explained_exit_1(world, tmp_path, channel):
    big = build_channel(tmp_path / "chan2", standard_packages() + [
        Pkg("numpy", "2.0.0", depends=("python >=3.9",), subdirs=("noarch",), build="pyhd8ed1ab_0")])
    world["template"].write_text(TEMPLATE.replace("  - numpy\n", "  - numpy >=2\n"))
    world["out"].mkdir()
    (world["out"] / "conda-lock.yml").write_text("# This file is autogenerated by kresolve 0.0\nold\n")
    with pytest.raises(Unsolvable, match=r"numpy==2\.0\.0.*provided by conda package numpy 2\.0\.0"):
        _lock(world, formats="conda-lock", channels=(big.as_uri(),), template=world["template"],
              platforms=("linux-64",))
    assert (world["out"] / "conda-lock.yml").read_text() == "# This file is autogenerated by kresolve 0.0\nold\n"


def test_cli_exit_codes_for_conda_failures(world, tmp_path, channel, capsys, monkeypatch):
    monkeypatch.setattr(session, "load_rules", lambda: world["rules"])  # the test's one route, not rules/
    base = ["lock", str(MODEL), "--python", "3.11", "--no-smoke", "-o", str(world["out"]), "--format", "conda-lock",
            "--index-url", world["index_config"].urls[0], "-p", "linux-64"]
    # A template that is not one: exit 2, one line naming the file, nothing written.
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\ndependencies: &a [python]\nother: *a\n")
    assert cli.main(base + ["-c", channel.as_uri(), "--template", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kresolve: error: {bad}: YAML anchors and aliases are not allowed") and "Traceback" not in err
    # A channel that is not there: exit 4 naming it.
    missing = (tmp_path / "nowhere").as_uri()
    assert cli.main(base + ["-c", missing]) == 4
    assert missing in capsys.readouterr().err
    # A conda side that does not solve (no Python 3.10 in the channel): exit 1 with rattler's words.
    assert cli.main(base[:3] + ["3.10"] + base[4:] + ["-c", channel.as_uri()]) in (1,)
    assert "python 3.10.*" in capsys.readouterr().err
    assert not (world["out"] / "conda-lock.yml").exists()


def test_existing_lock_is_replaced_only_on_success_and_foreign_files_refused(world):
    world["out"].mkdir()
    (world["out"] / "environment.yml").write_text("name: mine\n")
    with pytest.raises(BadInput, match="environment.yml exists and was not written by kresolve"):
        _lock(world, formats="env", platforms=("linux-64",))
    assert (world["out"] / "environment.yml").read_text() == "name: mine\n"


# --- the conda solve -----------------------------------------------------------------------------

def test_rattler_solve_per_platform_with_the_targets_virtual_packages(channel, tmp_path):
    channels = [CondaChannel("local", channel.as_uri())]
    for platform in PLATFORMS:
        target = make_target("3.12", platform)
        found = solve_conda(channels, conda_specs(target, None, ["uvicorn"]), target, cache_dir=tmp_path)
        names = {p.name: p for p in found.packages}
        assert names["python"].version == "3.12.4" and names["python"].subdir == platform
        assert names["pip"].subdir == "noarch" and names["h11"].pypi_name == "h11"
        assert names["python"].pypi_name is None
    # cudatoolkit needs __cuda: a GPU target says which CUDA its driver runs, never this host.
    linux = make_target("3.11", "linux-64")
    with pytest.raises(Unsolvable, match="cudatoolkit"):
        solve_conda(channels, [CondaSpec("cudatoolkit 11.8.*", "test")], linux, cache_dir=tmp_path)
    gpu = make_target("3.11", "linux-64", cuda_driver="520.61.05")
    assert solve_conda(channels, [CondaSpec("cudatoolkit 11.8.*", "t")], gpu, cache_dir=tmp_path).packages[0].version == "11.8.0"


def test_channel_answering_404_over_http_is_exit_4_naming_it(channel, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(empty))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/mirror/conda-forge"
        with pytest.raises(IndexUnavailable, match=f"conda channel {url} could not be read"):
            solve_conda([CondaChannel("conda-forge", url)], [CondaSpec("python", "t")], make_target("3.11", "linux-64"),
                        cache_dir=tmp_path / "cache")
    finally:
        server.shutdown()
        server.server_close()


def test_virtual_packages_come_from_the_target():
    linux = {v.name: v.version for v in virtual_packages(make_target("3.11", "linux-64", glibc="2.17"))}
    assert linux["__glibc"] == "2.17" and "__unix" in linux and "__cuda" not in linux
    osx = {v.name: v for v in virtual_packages(make_target("3.11", "osx-arm64", macos="13.0"))}
    assert osx["__osx"].version == "13.0" and osx["__archspec"].build == "arm64"
    win = {v.name for v in virtual_packages(make_target("3.11", "win-64", cuda_driver="552.22"))}
    assert {"__win", "__cuda"} <= win and "__unix" not in win
    assert cuda_for_driver("535.104.05") == "12.2" and cuda_for_driver("450.80.02") == "11.0"
    assert cuda_for_driver("390.1") is None
    # --gpu without a driver: the CUDA the locked GPU build needs is assumed present.
    gpu = {v.name: v.version for v in virtual_packages(make_target("3.11", "linux-64", gpu=True), gpu_cuda="11.8")}
    assert gpu["__cuda"] == "11.8"


# --- channels ------------------------------------------------------------------------------------

def test_channels_from_condarc_files_env_vars_and_flags(tmp_path):
    home = tmp_path / "home"
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / ".condarc").write_text("channels: [bioconda]\n")
    (home / ".condarc").write_text(
        "channels: [conda-forge, defaults]\nchannel_alias: https://mirror.example/conda\n"
        "custom_channels:\n  internal: file:///srv/channels\ndefault_channels: [https://mirror.example/main]\n")
    settings = read_settings(environ={}, home=home)
    assert settings.channels == ("conda-forge", "defaults", "bioconda")  # ~/.condarc comes after ~/.conda/.condarc
    urls = [c.url for c in resolve_channels(settings=settings)]
    assert urls == ["https://mirror.example/conda/conda-forge", "https://mirror.example/main",
                    "https://mirror.example/conda/bioconda"]
    assert [c.url for c in resolve_channels(["internal", "file:///air/gapped/"], settings=settings)] == [
        "file:///srv/channels/internal", "file:///air/gapped"]
    assert [c.url for c in resolve_channels([], ["pytorch"], settings)] == ["https://mirror.example/conda/pytorch"]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    (prefix / ".condarc").write_text("channel_alias: https://prefix.example/\n")
    env = {"CONDA_PREFIX": str(prefix), "CONDA_CHANNELS": "nvidia"}
    later = read_settings(environ=env, home=home)
    assert later.channel_alias == "https://prefix.example/" and later.channels[0] == "nvidia"
    assert [c.url for c in resolve_channels(settings=read_settings(environ={}, home=tmp_path / "nobody"))] == [
        "https://conda.anaconda.org/conda-forge"]
    assert resolve_channels([str(tmp_path)], settings=settings)[0].url == tmp_path.as_uri()
    windows = condarc_paths({"PROGRAMDATA": r"C:\ProgramData", "CONDARC": "D:/conf/condarc"}, home, windows=True)
    assert windows[0] == Path(r"C:\ProgramData") / "conda" / ".condarc" and windows[-1] == Path("D:/conf/condarc")
    assert home / ".condarc" in windows and home / ".conda" / ".condarc" in windows
    (home / ".condarc").write_text("channels: {a: 1}\n")
    with pytest.raises(BadInput, match=r"\.condarc: channels: expected a list"):
        read_settings(environ={}, home=home)


# --- templates -----------------------------------------------------------------------------------

def test_the_repository_template_is_valid_and_documented():
    t = read_template(REPO / "environment.template.yml")
    assert t.conda and t.pip and t.channels


@pytest.mark.parametrize("text, error", [
    ("- a\n", "expected a mapping"),
    ("name: x\n", "`dependencies` must be a non-empty list"),
    ("dependencies: [python]\nbogus: 1\n", "unknown key"),
    ("dependencies: ['numpy >>>= 1']\n", "not a valid match spec"),
    ("dependencies: [{pip: ['torch @@ x']}]\n", "pip requirement"),
    ("dependencies: [{pip: ['--index-url x']}]\n", "pip option"),
    ("dependencies: [1]\n", "each dependency must be"),
    ("a: &x 1\nb: *x\n", "anchors and aliases"),
    ("dependencies: [python\n", "not valid YAML"),
    ("dependencies: !!python/object:os.system [1]\n", "not valid YAML"),
])
def test_bad_templates_are_bad_input_naming_the_file(text, error):
    with pytest.raises(BadInput, match=error) as exc:
        parse_template(text, "t.yml")
    assert str(exc.value).startswith("t.yml: ")


def test_a_huge_template_is_refused(tmp_path):
    big = tmp_path / "big.yml"
    big.write_text("dependencies: [python]\n" + "#" * 300_000)
    with pytest.raises(BadInput, match="big.yml: larger than"):
        read_template(big)


# --- the real index ------------------------------------------------------------------------------

@pytest.mark.integration
def test_real_multi_platform_conda_lock_with_the_pip_side_from_the_real_index(tmp_path, channel):
    """A real Keras 2.15 model locked for three platforms: the pip side from the real package index
    (tensorflow 2.15 and its tree, per platform), the conda side from the local channel (conda-forge
    is not reachable from CI), numpy provided by conda. No smoke test (two of the targets are not
    this host)."""
    from conda_lock.lockfile import parse_conda_lock_file

    template = tmp_path / "environment.template.yml"
    template.write_text("name: serve\ndependencies:\n  - numpy\n  - uvicorn\n")
    result = api.lock(MODEL, python="3.11", platforms=PLATFORMS, out_dir=tmp_path / "out", smoke=False,
                      formats="conda-lock", channels=(channel.as_uri(),), template=template)
    lock = parse_conda_lock_file(tmp_path / "out" / "conda-lock.yml")
    for platform in PLATFORMS:
        pip = {p.name: p for p in lock.package if p.platform == platform and p.manager == "pip"}
        conda = {p.name for p in lock.package if p.platform == platform and p.manager == "conda"}
        assert pip["tensorflow"].version.startswith("2.15.")
        assert "numpy" in conda and "numpy" not in pip and not set(pip) & conda
        assert all(p.hash.sha256 and p.url.startswith("http") for p in pip.values())
    assert result.report.to_json()["inputs"]["platforms"] == list(PLATFORMS)


def test_template_channels_are_used_without_c_and_one_platform_writes_environment_yml(world, channel):
    world["template"].write_text(TEMPLATE.replace("channels: [conda-forge]", f"channels: ['{channel.as_uri()}']"))
    result = _lock(world, formats="env", channels=(), template=world["template"], platform="osx-arm64")
    env = yaml.safe_load((world["out"] / "environment.yml").read_text())
    assert env["channels"] == [channel.as_uri(), "nodefaults"]
    assert "uvicorn=0.30.1=pyh31011fe_0" in env["dependencies"]
    assert result.report.to_json()["inputs"]["channels"] == [channel.as_uri()]
    assert sorted(result.report.to_json()["lockfiles"]) == ["environment.yml"]


def test_conda_locks_own_cli_renders_the_lock_like_kresolves_explicit_file(world, tmp_path):
    import subprocess
    import sys

    _lock(world, formats="conda-lock", platforms=("linux-64", "win-64"), template=world["template"])
    work = tmp_path / "render"
    work.mkdir()
    shutil.copy(world["out"] / "conda-lock.yml", work / "conda-lock.yml")
    proc = subprocess.run([sys.executable, "-m", "conda_lock", "render", "--kind", "explicit", "-p", "win-64",
                           "conda-lock.yml"], cwd=work, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr

    def body(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("#") or line.startswith("# pip ")]

    assert body(work / "conda-win-64.lock") == body(world["out"] / "conda-win-64.lock")
    urls = [line for line in body(work / "conda-win-64.lock") if line.startswith("file://")]
    assert len(urls) == 5 and all(".conda#" in u for u in urls)  # python, pip, numpy, uvicorn, h11
