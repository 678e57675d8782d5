"""Smoke-test environments are really built from the lock alone (uv and plain venv + pip)."""

import subprocess

import pytest
from localindex import make_wheel, write_simple_index

from kresolve.index import IndexConfig
from kresolve.smoke.envs import EnvBuildError, build_env
from kresolve.smoke.run import compare


@pytest.fixture
def lock_and_index(tmp_path):
    import hashlib

    wheel = make_wheel(tmp_path / "repo" / "files", "tinypkg", "1.0")
    write_simple_index(tmp_path / "repo")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"tinypkg==1.0 \\\n    --hash=sha256:{digest}\n")
    return lock, IndexConfig((tmp_path / "repo" / "simple").as_uri())


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_env_is_built_from_the_lock_and_reused(tmp_path, lock_and_index, installer, monkeypatch):
    monkeypatch.setenv("KRESOLVE_INSTALLER", installer)
    lock, index = lock_and_index
    first = build_env(lock, tmp_path / "envs", index)
    assert first.installer == installer and not first.reused
    proc = subprocess.run([str(first.python), "-c", "import tinypkg, sys; print(sys.prefix)"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == str(first.path)
    again = build_env(lock, tmp_path / "envs", index)
    assert again.reused and again.path == first.path


def test_env_key_ignores_comments_but_not_pins():
    from kresolve.smoke.envs import env_key

    base = "# model: a.h5\ntinypkg==1.0 \\\n    --hash=sha256:ab\n    # via x\n"
    assert env_key(base, "3.11") == env_key(base.replace("a.h5", "b.h5").replace("via x", "via y"), "3.11")
    assert env_key(base, "3.11") != env_key(base.replace("1.0", "1.1"), "3.11")
    assert env_key(base, "3.11") != env_key(base, "3.12")


def test_a_lock_whose_hash_does_not_match_fails_to_build(tmp_path, lock_and_index, monkeypatch):
    monkeypatch.setenv("KRESOLVE_INSTALLER", "pip")
    lock, index = lock_and_index
    lock.write_text(lock.read_text().replace("sha256:", "sha256:0")[:-2] + "\n")
    with pytest.raises(EnvBuildError, match="failed"):
        build_env(lock, tmp_path / "envs", index)
    assert not any((p / ".kresolve-complete").exists() for p in (tmp_path / "envs").iterdir() if p.is_dir())


def test_compare_outputs_within_tolerance():
    ref = [{"shape": [1, 2], "data": [[1.0, 2.0]]}]
    assert compare(ref, [{"shape": [1, 2], "data": [[1.0 + 5e-6, 2.0]]}])[0]
    ok, _worst, words = compare(ref, [{"shape": [1, 2], "data": [[1.1, 2.0]]}])
    assert not ok and "differs" in words
    assert not compare(ref, [{"shape": [2, 1], "data": [[1.0], [2.0]]}])[0]
    assert not compare(ref, [{"shape": [1, 2], "data": [[float("nan"), 2.0]]}])[0]


def test_the_build_progress_counts_the_bytes_written_into_the_env(tmp_path):
    import threading

    from kresolve.progress import Counter, watch_bytes

    class Sink:  # a Progress that records the byte counts it is given
        def __init__(self) -> None:
            self.counted, self.seen = 0, threading.Event()

        def begin(self, stage, detail=""): ...
        def end(self, stage, ok=True): ...
        def note(self, text): ...

        def advance(self, counter, amount=1):
            assert counter is Counter.BYTES
            self.counted += amount
            if self.counted >= 3000:
                self.seen.set()

    env = tmp_path / "env"
    (env / "lib" / "pkg").mkdir(parents=True)
    (env / "lib" / "pkg" / "a.py").write_bytes(b"x" * 1000)
    (env / "lib" / "b.so").write_bytes(b"y" * 2000)
    (env / "lib" / "link.so").symlink_to(env / "lib" / "b.so")  # a link is not counted twice
    sink = Sink()
    with watch_bytes(sink, env, every=0.01):
        assert sink.seen.wait(30), sink.counted
    assert sink.counted == 3000
