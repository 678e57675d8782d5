"""`conda kresolve …` with real conda 26.7.1 (from /work/shared/vendor, installed by
/work/shared/tools/install-conda into a venv) and kresolve installed into the same venv.

The venv is built once per conda tarball and interpreter, cached under
~/.cache/kresolve/test-conda-venv-<key> (about 90 s the first time). kresolve goes in as an
editable install (its `conda` entry point is real, read by conda's plugin manager); its runtime
dependencies are those of the environment running the tests, made visible by a `.pth` file,
so nothing else is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import FIXTURES

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONDA_SRC = SHARED / "vendor" / "conda-26.7.1-src.tar.gz"
INSTALL_CONDA = SHARED / "tools" / "install-conda"
MODEL = FIXTURES / "tf215-h5" / "model.h5"

pytestmark = [
    pytest.mark.skipif(not (CONDA_SRC.is_file() and INSTALL_CONDA.is_file()),
                       reason=f"real conda's source and installer script are not here ({CONDA_SRC}, {INSTALL_CONDA})"),
    pytest.mark.skipif(os.name == "nt", reason="install-conda is a bash script making a POSIX venv"),
]


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def conda_venv() -> Path:
    from filelock import FileLock

    key = _digest(CONDA_SRC.read_bytes(), sys.version.encode(), str(REPO).encode())
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kresolve"
    venv = root / f"test-conda-venv-{key}"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f".test-conda-venv-{key}.lock")):
        if not (venv / ".conda-complete").is_file():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(["bash", str(INSTALL_CONDA), str(venv)], check=True, capture_output=True)
            (venv / ".conda-complete").write_text(CONDA_SRC.name)
        # kresolve itself, again whenever its packaging (entry points, dependencies) changed
        stamp = _digest((REPO / "pyproject.toml").read_bytes())
        marker = venv / ".kresolve-installed"
        if not marker.is_file() or marker.read_text() != stamp:
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "-e", str(REPO)],
                           check=True, capture_output=True)
            site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                       check=True, capture_output=True, text=True).stdout.strip())
            deps = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
            (site / "zz-kresolve-test-deps.pth").write_text("\n".join(deps) + "\n")
            marker.write_text(stamp)
    return venv


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "CONDA", "VIRTUAL_ENV"))}
    return {**clean, "PIP_CONFIG_FILE": os.devnull, "KRESOLVE_CACHE_DIR": str(tmp_path / "cache"),
            "HOME": str(tmp_path / "home"), "COLUMNS": "300", **extra}


def conda(venv: Path, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run([str(venv / "bin" / "conda"), *args], capture_output=True, text=True,
                          env=_env(tmp_path, **env), cwd=tmp_path, timeout=300, check=False)


def test_conda_lists_kresolve_and_shares_its_parser(conda_venv, tmp_path):
    top = conda(conda_venv, tmp_path, "--help")
    assert top.returncode == 0, top.stderr
    line = next(x for x in top.stdout.splitlines() if x.strip().startswith("kresolve"))
    assert "the nearest environment in which a saved Keras/TensorFlow model loads again" in line
    mine = conda(conda_venv, tmp_path, "kresolve", "--help")
    assert mine.returncode == 0, mine.stderr
    plain = subprocess.run([sys.executable, "-m", "kresolve", "--help"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "300"}, check=False)
    def commands(text: str) -> str:
        return next(x for x in text.splitlines() if x.strip().startswith("{"))
    assert commands(mine.stdout).strip() == commands(plain.stdout).strip()  # one parser definition
    assert "install" in commands(mine.stdout) and "lock" in commands(mine.stdout)
    lock_help = conda(conda_venv, tmp_path, "kresolve", "lock", "--help")
    assert lock_help.returncode == 0 and "--format FORMATS" in lock_help.stdout


@pytest.fixture
def world(tmp_path) -> str:
    from scanworld import build_world

    return build_world(tmp_path / "world")


def test_conda_kresolve_lock_writes_the_locks_offline_index(conda_venv, tmp_path, world):
    out = tmp_path / "out"
    done = conda(conda_venv, tmp_path, "kresolve", "lock", str(MODEL), "--no-smoke", "--index-url", world,
                 "--python", "3.11", "--platform", "linux-64", "--format", "pip,pylock", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["lockfiles"] == ["requirements.txt", "pylock.toml"]
    assert sorted(p.name for p in out.iterdir()) == ["kresolve-report.json", "pylock.toml", "requirements.txt"]
    pins = {p["name"]: p["version"] for p in report["environment"]["pins"]}
    assert pins["tensorflow"] == "2.15.1"
    # a second run from the cache alone (--offline): the same lock
    again = conda(conda_venv, tmp_path, "kresolve", "lock", str(MODEL), "--no-smoke", "--offline", "--index-url", world,
                  "--python", "3.11", "--platform", "linux-64", "--format", "pip,pylock", "-o", str(tmp_path / "again"), "--json")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "pylock.toml").read_text() == (out / "pylock.toml").read_text()


def test_inside_an_active_env_its_python_is_the_default_target(conda_venv, tmp_path, world):
    env = tmp_path / "active"
    (env / "conda-meta").mkdir(parents=True)
    (env / "conda-meta" / "python-3.12.4-h0_0.json").write_text(json.dumps({"name": "python", "version": "3.12.4"}))
    done = conda(conda_venv, tmp_path, "kresolve", "lock", str(MODEL), "--no-smoke", "--index-url", world,
                 "--platform", "linux-64", "-o", str(tmp_path / "out"), "--json", CONDA_PREFIX=str(env))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inputs"]["target"].startswith("Python 3.12 on linux-64")


def test_bad_input_through_conda_is_one_line_exit_2(conda_venv, tmp_path):
    done = conda(conda_venv, tmp_path, "kresolve", "lock", str(tmp_path / "missing.h5"), "--no-smoke")
    assert done.returncode == 2
    assert "missing.h5" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    bad = conda(conda_venv, tmp_path, "kresolve", "lock", str(MODEL), "--format", "poetry")
    assert bad.returncode == 2 and "unknown format 'poetry'" in bad.stderr


def test_kresolve_itself_never_imports_conda(conda_venv, tmp_path):
    code = ("import sys; from kresolve import cli; rc = cli.main(['inspect', '--json', sys.argv[1]]); "
            "assert rc == 0, rc; assert 'conda' not in sys.modules and 'conda.plugins' not in sys.modules; print('clean')")
    done = subprocess.run([str(conda_venv / "bin" / "python"), "-c", code, str(MODEL)], capture_output=True, text=True,
                          env=_env(tmp_path), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("clean")


# --- conda's own reader of conda-lock.yml (conda >= 26.5: the conda-lockfiles plugin) -----------

LOCKFILES = "conda-lockfiles==0.2.2"


@pytest.fixture(scope="session")
def lockfiles_venv(conda_venv) -> Path:
    marker = conda_venv / ".conda-lockfiles"
    if not marker.is_file() or marker.read_text() != LOCKFILES:
        done = subprocess.run([str(conda_venv / "bin" / "python"), "-m", "pip", "install", "-q", LOCKFILES],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"{LOCKFILES} is not installable from the configured index: {done.stderr.strip()[-200:]}")
        marker.write_text(LOCKFILES)
    return conda_venv


@pytest.fixture
def channel_lock(tmp_path):
    """A one-package local channel and conda-lock.yml files for it (through conda-lock's models,
    with kresolve's custom_metadata): conda-only, and with a pip section."""
    from condapkgs import build, index, write_conda_lock
    from localindex import make_wheel

    from kresolve.target import host_platform

    platform = host_platform()
    pkg = build(tmp_path / "channel", platform, "kresolve-testdata", "1.0", {"share/kresolve-testdata/README": "hi\n"})
    index(tmp_path / "channel")
    wheel = make_wheel(tmp_path / "wheels", "kresolve-demo", "1.0")
    meta = {"created_by": "kresolve test", "kresolve.loader": "tf_keras"}
    only = write_conda_lock(tmp_path / "only" / "conda-lock.yml", platform, [pkg], [], meta)
    with_pip = write_conda_lock(tmp_path / "pip" / "conda-lock.yml", platform, [pkg], [("kresolve-demo", "1.0", wheel)], meta)
    return only, with_pip


def test_conda_create_from_a_conda_only_lock_works(lockfiles_venv, tmp_path, channel_lock):
    only, _ = channel_lock
    prefix = tmp_path / "env"
    done = conda(lockfiles_venv, tmp_path, "create", "--file", str(only), "-p", str(prefix), "--yes")
    assert done.returncode == 0, done.stderr + done.stdout
    assert (prefix / "share" / "kresolve-testdata" / "README").read_text() == "hi\n"


def test_conda_lockfiles_0_2_2_cannot_take_a_pip_section(lockfiles_venv, tmp_path, channel_lock):
    """The README's caveat, reproduced: conda-lock writes pip entries as `manager: pip`, and
    conda-lockfiles 0.2.2 accepts only `conda` or `pypi`. When this test fails, upstream has
    fixed it and the README can drop the caveat."""
    _, with_pip = channel_lock
    done = conda(lockfiles_venv, tmp_path, "create", "--file", str(with_pip), "-p", str(tmp_path / "env"), "--yes")
    assert done.returncode != 0
    assert ("PluginError: Failed to parse environment specification from file: "
            "field 'package.1.manager': Input should be 'conda' or 'pypi'") in done.stderr + done.stdout
    assert not (tmp_path / "env" / "conda-meta").exists()


def test_conda_context_defaults_fill_only_what_the_user_left_open(conda_venv, tmp_path):
    """conda's channels and the active env's Python are defaults, never overrides (run with the
    conda venv's interpreter: the plugin module imports conda)."""
    env = tmp_path / "active"
    (env / "conda-meta").mkdir(parents=True)
    (env / "conda-meta" / "python-3.10.14-h0_0.json").write_text(json.dumps({"version": "3.10.14"}))
    code = f"""
import argparse, json
from kresolve.conda_plugin import apply_conda_context as apply
def ns(**kw):
    base = dict(command="lock", channels=[], template=None, python=None)
    return argparse.Namespace(**(base | kw))
out = {{
  "defaults_only": apply(ns(), ("defaults",), None).channels,
  "configured": apply(ns(), ("conda-forge", "file:///srv/ch"), None).channels,
  "cli_wins": apply(ns(channels=["mine"]), ("conda-forge",), None).channels,
  "template_wins": apply(ns(template="t.yml"), ("conda-forge",), None).channels,
  "python": apply(ns(), (), {str(env)!r}).python,
  "python_given": apply(ns(python="3.11"), (), {str(env)!r}).python,
  "capture": apply(argparse.Namespace(command="capture", python=None), (), {str(env)!r}).python,
}}
print(json.dumps(out))
"""
    done = subprocess.run([str(conda_venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          env=_env(tmp_path), check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["defaults_only"] == [] and got["configured"] == ["conda-forge", "file:///srv/ch"]
    assert got["cli_wins"] == ["mine"] and got["template_wins"] == []
    assert got["python"] == "3.10" and got["python_given"] == "3.11"
    assert got["capture"] == str(env / "bin" / "python")
