"""`kresolve install`: conda part by py-rattler's installer from real `.conda` packages in a local
channel, pip part hash-checked by uv; idempotent by a stamp; pip-only locks become a venv."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from condapkgs import build, index, venv_python, write_conda_lock
from localindex import make_wheel, write_simple_index

from kresolve.errors import BadInput
from kresolve.index import IndexConfig
from kresolve.install import InstallFailed, LockKind, Outcome, envs_dir, install, prefix_python, read_lock
from kresolve.target import host_platform

HOST = host_platform()
posix_only = pytest.mark.skipif(os.name == "nt", reason="the test python package links bin/python (POSIX layout)")
# The CLI subprocesses see only the test's index: no pip.conf, no PIP_* (this host's mirrors).
ISOLATED = {**{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))},
            "PIP_CONFIG_FILE": os.devnull, "COLUMNS": "300"}
META = {"kresolve.loader": "tf_keras", "kresolve.route": "route-h5-keras2-tf.keras",
        "kresolve.env_vars": json.dumps({"TF_USE_LEGACY_KERAS": "1"})}


@pytest.fixture
def pip_repo(tmp_path):
    """A local simple index with one small wheel (what the lock's pip part names)."""
    repo = tmp_path / "repo"
    wheel = make_wheel(repo / "files", "kresolve-demo", "1.0")
    write_simple_index(repo)
    return wheel, IndexConfig((repo / "simple").as_uri())


@pytest.fixture
def conda_lock(tmp_path, pip_repo):
    channel = tmp_path / "channel"
    python = venv_python(channel, HOST)
    data = build(channel, HOST, "kresolve-testdata", "1.0", {"share/kresolve-testdata/README": "hello\n"},
                 depends=("python",))
    index(channel)
    wheel, _ = pip_repo
    return write_conda_lock(tmp_path / "conda-lock.yml", HOST, [python, data], [("kresolve-demo", "1.0", wheel)], META)


@posix_only
def test_read_conda_lock_gives_loader_data_and_this_hosts_packages(conda_lock):
    lock = read_lock(conda_lock)
    assert lock.kind is LockKind.CONDA_LOCK
    assert (lock.loader, lock.route, lock.env_vars) == ("tf_keras", "route-h5-keras2-tf.keras", {"TF_USE_LEGACY_KERAS": "1"})
    assert sorted(r.name for r in lock.conda) == ["kresolve-testdata", "python"]
    assert lock.python == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert "kresolve-demo==1.0 \\\n    --hash=sha256:" in lock.pip_text and lock.pip_count == 1
    other = "osx-arm64" if HOST != "osx-arm64" else "linux-64"
    with pytest.raises(BadInput, match=rf"locked for {HOST}, not for this host \({other}\)"):
        read_lock(conda_lock, platform=other)


def test_bad_conda_lock_is_bad_input(tmp_path):
    bad = tmp_path / "conda-lock.yml"
    bad.write_text("version: 1\nmetadata: {}\npackage: []\n")
    with pytest.raises(BadInput, match="not a valid conda-lock file"):
        read_lock(bad)
    bad.write_text("- [unclosed\n")
    with pytest.raises(BadInput, match="not a valid conda-lock file"):
        read_lock(bad)


@posix_only
def test_install_conda_lock_links_conda_part_then_pip_part_and_is_idempotent(conda_lock, pip_repo, tmp_path):
    _, config = pip_repo
    prefix = tmp_path / "env"
    done = install(conda_lock, prefix, cache_dir=tmp_path / "pkgs", index_config=config)
    assert done.outcome is Outcome.INSTALLED
    assert (prefix / "share" / "kresolve-testdata" / "README").read_text() == "hello\n"
    version = ".".join(str(v) for v in sys.version_info[:3])
    records = sorted(p.name for p in (prefix / "conda-meta").glob("*.json"))
    assert records == ["kresolve-lock.json", "kresolve-testdata-1.0-h0_0.json", f"python-{version}-h0_0.json"]
    assert done.python == prefix_python(prefix) == prefix / "bin" / "python"
    probe = subprocess.run([str(done.python), "-c", "import sys, kresolve_demo; print(sys.prefix)"],
                           capture_output=True, text=True, check=False)
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()) == prefix  # the pip part went into the prefix, nowhere else
    stamp = json.loads((prefix / "conda-meta" / "kresolve-lock.json").read_text())
    assert stamp["sha256"] == hashlib.sha256(conda_lock.read_bytes()).hexdigest()
    # Same lock again: a no-op, said so.
    again = install(conda_lock, prefix, cache_dir=tmp_path / "pkgs", index_config=config)
    assert again.outcome is Outcome.UP_TO_DATE


@posix_only
def test_a_tampered_conda_hash_fails_and_leaves_no_stamp(conda_lock, pip_repo, tmp_path):
    _, config = pip_repo
    text = conda_lock.read_text()  # the conda entries come first; py-rattler checks their sha256
    sha = next(line.split(":")[1].strip() for line in text.splitlines() if line.strip().startswith("sha256:"))
    conda_lock.write_text(text.replace(sha, "f" * 64))
    with pytest.raises(InstallFailed, match="installing the conda packages of .* failed"):
        install(conda_lock, tmp_path / "env", cache_dir=tmp_path / "pkgs", index_config=config)
    assert not (tmp_path / "env" / "conda-meta" / "kresolve-lock.json").exists()


@posix_only
def test_a_tampered_pip_hash_fails_and_leaves_no_stamp(conda_lock, pip_repo, tmp_path):
    _, config = pip_repo
    wheel_sha = read_lock(conda_lock).pip_text.split("sha256:")[1].split()[0]
    conda_lock.write_text(conda_lock.read_text().replace(wheel_sha, "f" * 64))
    with pytest.raises(InstallFailed, match="installing the pip packages of .* failed"):
        install(conda_lock, tmp_path / "env", cache_dir=tmp_path / "pkgs", index_config=config)
    assert not (tmp_path / "env" / "conda-meta" / "kresolve-lock.json").exists()


def _pylock(tmp_path, cache, name="pylock.toml"):
    from dataclasses import replace

    from test_pylock import _solve

    from kresolve.lock import pylock
    from kresolve.target import make_target

    env = _solve(tmp_path, cache, make_target())
    lock = tmp_path / name
    lock.write_text(pylock.render(replace(env, target=make_target()), "m.h5", "c", "0"))
    return lock, IndexConfig((tmp_path / "repo" / "simple").as_uri())


def test_install_pylock_makes_a_venv_and_a_second_run_is_a_noop(tmp_path, cache):
    lock, config = _pylock(tmp_path, cache)
    prefix = tmp_path / "venv"
    done = install(lock, prefix, index_config=config)
    assert done.outcome is Outcome.INSTALLED and (prefix / "pyvenv.cfg").is_file()
    probe = subprocess.run([str(done.python), "-c", "import numpy, tensorflow, sys; print(sys.prefix)"],
                           capture_output=True, text=True, check=False)
    assert probe.returncode == 0, probe.stderr
    assert (prefix / "kresolve-lock.json").is_file() and not (prefix / "conda-meta").exists()
    assert install(lock, prefix, index_config=config).outcome is Outcome.UP_TO_DATE


def test_install_cli_requirements_lock_then_up_to_date(tmp_path, cache):
    from test_pylock import _solve

    from kresolve.lock import requirements_txt
    from kresolve.target import make_target

    env = _solve(tmp_path, cache, make_target())
    lock = tmp_path / "requirements.txt"
    lock.write_text(requirements_txt.render(env, "m.h5", "c", "0"))
    index_url = (tmp_path / "repo" / "simple").as_uri()
    cmd = [sys.executable, "-m", "kresolve", "install", str(lock), "-p", str(tmp_path / "venv"), "--index-url", index_url]
    first = subprocess.run(cmd, capture_output=True, text=True, env=ISOLATED, check=False)
    assert first.returncode == 0, first.stderr
    assert "installed" in first.stdout and "0 conda packages (py-rattler), 2 pip packages (hash-checked)" in first.stdout
    second = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=ISOLATED, check=False)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["outcome"] == "up-to-date"


def test_install_refuses_a_directory_that_is_not_an_environment(tmp_path, cache):
    lock, _ = _pylock(tmp_path, cache)
    target = tmp_path / "home"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    proc = subprocess.run([sys.executable, "-m", "kresolve", "install", str(lock), "-p", str(target)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "not empty and not an environment" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_envs_dir_follows_conda(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert envs_dir({}, home) == home / ".conda" / "envs"
    (home / ".condarc").write_text("envs_dirs:\n  - ~/my-envs\n  - /elsewhere\n")
    assert envs_dir({}, home) == home / "my-envs"
    assert envs_dir({"CONDA_ENVS_PATH": str(tmp_path / "a") + os.pathsep + str(tmp_path / "b")}, home) == tmp_path / "a"
    (home / ".condarc").write_text("envs_dirs: 3\n")
    with pytest.raises(BadInput, match="envs_dirs: expected a list"):
        envs_dir({}, home)


def test_install_by_name_goes_to_the_envs_dir(tmp_path, cache):
    lock, _ = _pylock(tmp_path, cache)
    envs = tmp_path / "envs"
    index_url = (tmp_path / "repo" / "simple").as_uri()
    proc = subprocess.run([sys.executable, "-m", "kresolve", "install", str(lock), "-n", "demo", "--index-url", index_url],
                          capture_output=True, text=True, env={**ISOLATED, "CONDA_ENVS_PATH": str(envs)}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (envs / "demo" / "pyvenv.cfg").is_file()
    bad = subprocess.run([sys.executable, "-m", "kresolve", "install", str(lock), "-n", "../x"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "an environment name, not a path" in bad.stderr


def test_conda_lock_metadata_for_this_platform_wins(tmp_path, pip_repo):
    wheel, _ = pip_repo
    meta = {**META, f"kresolve.loader.{HOST}": "keras", f"kresolve.env_vars.{HOST}": "{}"}
    lock = write_conda_lock(tmp_path / "conda-lock.yml", HOST, [], [("kresolve-demo", "1.0", wheel)], meta)
    read = read_lock(lock)
    assert (read.loader, read.route, read.env_vars) == ("keras", "route-h5-keras2-tf.keras", {})
