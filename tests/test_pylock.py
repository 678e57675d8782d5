"""PEP 751 pylock.toml: written through packaging.pylock, read back by it, installed by uv."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from localindex import make_wheel, write_simple_index
from packaging.pylock import Pylock

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.errors import BadInput
from kresolve.index import Index, IndexConfig
from kresolve.lock import pylock
from kresolve.lock.formats import LockFormat, default_formats, parse_formats
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for
from kresolve.solve.resolve import solve
from kresolve.target import make_target

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
source = "test:tests/test_pylock.py"
"""


def _solve(tmp_path, cache, target):
    files = tmp_path / "repo" / "files"
    make_wheel(files, "tensorflow", "2.15.1", requires=["numpy>=1.2"])
    make_wheel(files, "numpy", "1.26.4")
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "route.toml").write_text(ROUTE)
    rules = load_rules(tmp_path / "rules")
    index = Index(IndexConfig((tmp_path / "repo" / "simple").as_uri()), cache)
    facts = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.15.0")
    try:
        return solve(plans_for(facts, rules)[:1], target, index, rules)
    finally:
        index.close()


@pytest.fixture
def small_env(tmp_path, cache):
    return _solve(tmp_path, cache, make_target("3.11", "linux-64")), tmp_path / "repo"


def test_parse_formats_keeps_order_and_refuses_unknown_names():
    assert parse_formats("pip,pylock") == (LockFormat.PIP, LockFormat.PYLOCK)
    assert parse_formats(" PyLock , pip,pylock") == (LockFormat.PYLOCK, LockFormat.PIP)
    assert parse_formats("conda-lock,env") == (LockFormat.CONDA_LOCK, LockFormat.ENV)
    with pytest.raises(BadInput, match=r"unknown format 'poetry' \(expected a comma list of pip, conda-lock, pylock, env\)"):
        parse_formats("pip,poetry")
    with pytest.raises(BadInput, match="expected a comma list"):
        parse_formats(" , ")


def test_default_formats_are_pip_plus_what_the_project_uses(tmp_path):
    model_dir, cwd = tmp_path / "models", tmp_path / "proj"
    model_dir.mkdir(), cwd.mkdir()
    (model_dir / "model.h5").write_bytes(b"")
    assert default_formats([model_dir / "model.h5", cwd]).formats == (LockFormat.PIP,)
    (model_dir / "pylock.toml").write_text("")
    (cwd / "conda-lock.yml").write_text("")
    choice = default_formats([model_dir / "model.h5", cwd])
    assert choice.formats == (LockFormat.PIP, LockFormat.CONDA_LOCK, LockFormat.PYLOCK)
    assert choice.describe() == (f"pip, conda-lock (the project has {cwd / 'conda-lock.yml'}), "
                                 f"pylock (the project has {model_dir / 'pylock.toml'})")
    (model_dir / "pylock.toml").unlink()
    (cwd / "pylock.serve.toml").write_text("")  # PEP 751's named form counts too
    # A hand-written environment.yml is a spec (often the evidence just read), not a lock kresolve
    # may replace: `env` is written only when --format asks for it.
    (model_dir / "environment.yml").write_text("")
    assert default_formats([model_dir / "model.h5", cwd]).formats == (
        LockFormat.PIP, LockFormat.CONDA_LOCK, LockFormat.PYLOCK)


def test_pylock_is_valid_pep751_with_hashes_and_kresolve_data(small_env):
    env, _ = small_env
    text = pylock.render(env, "m.h5", "kresolve lock m.h5", "0.9")
    assert text.startswith(pylock.OWN_MARKER)
    data = tomllib.loads(text)
    lock = Pylock.from_dict(data)  # packaging's own validation
    assert str(lock.lock_version) == "1.0" and lock.created_by == "kresolve"
    assert str(lock.requires_python) == "==3.11.*"
    assert [str(m) for m in lock.environments] == [
        'sys_platform == "linux" and platform_machine == "x86_64" and python_version == "3.11"']
    by_name = {p.name: p for p in lock.packages}
    assert set(by_name) == {"tensorflow", "numpy"}
    wheel = by_name["tensorflow"].wheels[0]
    assert wheel.filename == "tensorflow-2.15.1-py3-none-any.whl" and len(wheel.hashes["sha256"]) == 64
    assert wheel.url.startswith("file://")
    tool = pylock.kresolve_data(lock)
    assert tool["loader"] == "tf_keras" and tool["route"] == "route-h5-keras2-tf.keras"
    assert tool["env-vars"] == {"TF_USE_LEGACY_KERAS": "1"}
    # The pins as a --require-hashes requirements file (what the smoke env is built from).
    req = pylock.requirements_text(lock, "pylock.toml")
    assert f"tensorflow==2.15.1 \\\n    --hash=sha256:{wheel.hashes['sha256']}" in req


def test_sdist_pins_are_locked_as_sdists(small_env, tmp_path):
    from kresolve.index import DistFile

    env, _ = small_env
    sdist = DistFile("numpy-1.26.4.tar.gz", "https://example.invalid/numpy-1.26.4.tar.gz", "a" * 64,
                     upload_time="2024-02-05T21:46:50.123Z")
    pins = tuple(replace(p, files=(sdist,), from_source=True) if p.name == "numpy" else p for p in env.pins)
    lock = Pylock.from_dict(tomllib.loads(pylock.render(replace(env, pins=pins), "m.h5", "c", "0")))
    numpy = next(p for p in lock.packages if p.name == "numpy")
    assert numpy.wheels is None and numpy.sdist.filename == "numpy-1.26.4.tar.gz"
    assert numpy.sdist.upload_time.year == 2024 and numpy.sdist.hashes == {"sha256": "a" * 64}
    assert "--no-binary numpy" in pylock.requirements_text(lock, "pylock.toml")


def test_several_targets_get_pep751_names(tmp_path, cache):
    from packaging.pylock import is_valid_pylock_path

    from kresolve.lock.formats import LockInput

    a = _solve(tmp_path, cache, make_target("3.11", "linux-64"))
    b = replace(a, target=make_target("3.12", "osx-arm64"))
    written = pylock.write(LockInput((a, b), "m.h5", "c", "0"))
    assert sorted(written) == ["pylock.linux-64-py311.toml", "pylock.osx-arm64-py312.toml"]
    assert all(is_valid_pylock_path(Path(n)) for n in written)
    assert pylock.names((a.target,)) == ("pylock.toml",)


def test_bad_pylock_is_one_clear_line(tmp_path):
    with pytest.raises(BadInput, match=r"x.toml: not valid TOML"):
        pylock.load("lock-version = ", "x.toml")
    with pytest.raises(BadInput, match=r"x.toml: not a valid PEP 751 lock .*created-by"):
        pylock.load('lock-version = "1.0"\npackages = []\n', "x.toml")


def _uv() -> str:
    return str(Path(sys.executable).parent / "uv")


def test_uv_installs_the_pylock_with_its_hashes(small_env, tmp_path):
    """uv's own PEP 751 reader installs the lock (from the local index, for real) and rejects a
    tampered hash."""
    env, _ = small_env
    env = replace(env, target=make_target())  # this host: uv checks `environments`
    lock = tmp_path / "pylock.toml"
    lock.write_text(pylock.render(env, "m.h5", "c", "0"))
    venv = tmp_path / "venv"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PIP_"))}
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=clean)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    cmd = [_uv(), "pip", "install", "--offline", "--python", str(python), "-r", str(lock)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "+ numpy==1.26.4" in proc.stderr and "+ tensorflow==2.15.1" in proc.stderr
    text = lock.read_text()
    sha = tomllib.loads(text)["packages"][0]["wheels"][0]["hashes"]["sha256"]
    lock.write_text(text.replace(sha, "0" * 64))
    subprocess.run([_uv(), "pip", "uninstall", "--python", str(python), "numpy", "tensorflow"], env=clean, capture_output=True, check=False)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean, check=False)
    assert proc.returncode != 0 and "hash" in proc.stderr.lower()


@pytest.fixture
def local_lock(tmp_path, cache):
    """api.lock against a local index and a one-route rules DB, on a copy of a real model."""
    import shutil

    from conftest import FIXTURES

    from kresolve import api

    files = tmp_path / "repo" / "files"
    make_wheel(files, "tensorflow", "2.15.1", requires=["numpy>=1.2"])
    make_wheel(files, "numpy", "1.26.4")
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "route.toml").write_text(ROUTE)
    (tmp_path / "proj").mkdir()
    model = tmp_path / "proj" / "model.h5"
    shutil.copyfile(FIXTURES / "tf215-h5" / "model.h5", model)

    def run(out, **kw):
        return api.lock(model, python="3.11", platform="linux-64", out_dir=out, smoke=False, cache=cache,
                        rules=load_rules(tmp_path / "rules"), command="kresolve lock model.h5",
                        index_config=IndexConfig((tmp_path / "repo" / "simple").as_uri()), **kw)
    return run, model


def test_lock_writes_the_asked_formats_into_one_staging(local_lock, tmp_path):
    import json

    run, _ = local_lock
    out = tmp_path / "out"
    result = run(out, formats="pip,pylock")
    assert sorted(p.name for p in result.files) == ["kresolve-report.json", "pylock.toml", "requirements.txt"]
    report = json.loads((out / "kresolve-report.json").read_text())
    assert report["lockfiles"] == ["requirements.txt", "pylock.toml"]
    assert report["formats"] == {"chosen": ["pip", "pylock"], "because": {}}
    Pylock.from_dict(tomllib.loads((out / "pylock.toml").read_text()))
    # pylock alone: no requirements.txt is left behind
    only = tmp_path / "only"
    result = run(only, formats="pylock")
    assert sorted(p.name for p in only.iterdir()) == ["kresolve-report.json", "pylock.toml"]


def test_lock_refuses_to_replace_a_foreign_pylock_and_writes_nothing(local_lock, tmp_path):
    run, _ = local_lock
    out = tmp_path / "out"
    out.mkdir()
    mine = 'lock-version = "1.0"\ncreated-by = "uv"\npackages = []\n'
    (out / "pylock.toml").write_text(mine)
    with pytest.raises(BadInput, match="pylock.toml exists and was not written by kresolve"):
        run(out, formats="pip,pylock")
    assert sorted(p.name for p in out.iterdir()) == ["pylock.toml"] and (out / "pylock.toml").read_text() == mine
    run(out, formats="pip")  # without pylock the user's file is not in the way
    assert (out / "pylock.toml").read_text() == mine


def test_by_default_the_projects_own_format_is_written_too(local_lock, tmp_path):
    run, model = local_lock
    (model.parent / "pylock.toml").write_text("")  # the project already uses pylock
    out = tmp_path / "out"
    result = run(out)
    assert [f.value for f in result.formats.formats] == ["pip", "pylock"]
    assert result.formats.because[0][1] == model.parent / "pylock.toml"
    assert (out / "pylock.toml").exists() and (out / "requirements.txt").exists()


def _built_from(result) -> dict[str, str]:
    """The pins the smoke env was installed from (its copy of the lock it was built from)."""
    from kresolve.smoke.run import pins_in_lock

    assert result.env_dir, result.reason
    return pins_in_lock((Path(result.env_dir) / "requirements.lock.txt").read_text())


def _fake_tf_lock(tmp_path, cache):
    env = _solve(tmp_path, cache, make_target())
    return env, IndexConfig((tmp_path / "repo" / "simple").as_uri())


def test_smoke_reads_loader_and_pins_from_a_pylock(tmp_path, cache):
    """`kresolve smoke MODEL --lock pylock.toml`: loader, route and env vars from [tool.kresolve],
    the env built from its packages (here real-format wheels of a fake TensorFlow, so the load
    itself fails: what is checked is what the smoke test was built from and tried)."""
    from conftest import FIXTURES

    from kresolve import api

    env, config = _fake_tf_lock(tmp_path, cache)
    lock = tmp_path / "pylock.toml"
    lock.write_text(pylock.render(env, "m.h5", "c", "0"))
    result = api.smoke(FIXTURES / "tf215-h5" / "model.h5", lock, index_config=config, cache=cache)
    assert result.status == "failed"
    assert result.attempts[0].loader == "tf_keras" and result.attempts[0].route_id == "route-h5-keras2-tf.keras"
    assert _built_from(result) == {"tensorflow": "2.15.1", "numpy": "1.26.4"}


def test_smoke_reads_a_conda_lock_custom_metadata_and_pip_section(tmp_path, cache):
    import json

    from condapkgs import write_conda_lock
    from conftest import FIXTURES

    from kresolve import api

    env, config = _fake_tf_lock(tmp_path, cache)
    wheels = {p.name: p.files[0] for p in env.pins}
    files = tmp_path / "repo" / "files"
    lock = write_conda_lock(tmp_path / "conda-lock.yml", make_target().platform, [],
                            [(n, v, files / wheels[n].filename) for n, v in (("tensorflow", "2.15.1"), ("numpy", "1.26.4"))],
                            {"kresolve.loader": "keras", "kresolve.route": "r-1",
                             "kresolve.env_vars": json.dumps({"KERAS_BACKEND": "tensorflow"})})
    result = api.smoke(FIXTURES / "tf215-h5" / "model.h5", lock, index_config=config, cache=cache)
    assert result.status == "failed"
    assert result.attempts[0].loader == "keras" and result.attempts[0].route_id == "r-1"
    assert _built_from(result) == {"tensorflow": "2.15.1", "numpy": "1.26.4"}


@pytest.mark.integration
def test_uv_accepts_a_real_pylock_against_the_real_index(tmp_path):
    """A real lock of a real model (TensorFlow 2.15 from the configured index), as pylock.toml:
    uv's PEP 751 reader plans the whole install from it (dry run into a throwaway venv)."""
    from conftest import FIXTURES

    from kresolve import api
    from kresolve.index import Cache

    target = make_target()
    api.lock(FIXTURES / "tf215-h5" / "model.h5", python=target.python, platform=target.platform, out_dir=tmp_path / "out",
             smoke=False, cache=Cache(tmp_path / "cache"), formats="pip,pylock")
    lock = tmp_path / "out" / "pylock.toml"
    parsed = Pylock.from_dict(tomllib.loads(lock.read_text()))
    names = {p.name for p in parsed.packages}
    assert {"tensorflow", "numpy", "h5py", "protobuf"} <= names
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    proc = subprocess.run([_uv(), "pip", "install", "--dry-run", "--python", str(python), "-r", str(lock)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    tf = next(p for p in parsed.packages if p.name == "tensorflow")
    assert f"+ tensorflow=={tf.version}" in proc.stderr
    assert f"Would install {len(parsed.packages)} packages" in proc.stderr
