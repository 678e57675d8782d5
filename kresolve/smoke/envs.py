"""Isolated environments built from a lockfile alone, reused for an identical lock.

Pins the lock marks as built from source (`--no-binary NAME`) are installed first, one at a
time and time-boxed, so a compiled sdist that cannot build here fails naming its package. The
installer builds each in an isolated build environment with the build backend the sdist asks
for, fetched from the same indexes (pip and uv hash-check the locked files, not build tools).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from ..index import IndexConfig
from ..lock.requirements_txt import NO_BINARY, locked_pins

COMPLETE = ".kresolve-complete"
INSTALL_TIMEOUT = 1800  # seconds for the whole lock (TensorFlow wheels are ~600 MB)
SDIST_BUILD_TIMEOUT = 600  # seconds for building one sdist


@dataclass(frozen=True)
class BuiltEnv:
    path: Path
    python: Path
    installer: str  # "uv" or "pip"
    reused: bool


class EnvBuildError(Exception):
    pass


def find_uv() -> str | None:
    if os.environ.get("KRESOLVE_INSTALLER", "").lower() == "pip":
        return None
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    return shutil.which("uv")


def env_key(lock_text: str, python: str) -> str:
    """Identical pins → identical env, whatever model or command the lock's comments name."""
    content = [line.strip() for line in lock_text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return hashlib.sha256("\n".join([python, *content]).encode()).hexdigest()[:20]


def _run(cmd: list[str], log: Path, env: dict[str, str] | None = None, timeout: float = INSTALL_TIMEOUT) -> None:
    with open(log, "ab") as fh:
        fh.write(("$ " + " ".join(cmd) + "\n").encode())
        fh.flush()
        try:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise EnvBuildError(f"{cmd[0]} took longer than {timeout:.0f}s (log: {log})") from None
    if proc.returncode != 0:
        tail = log.read_text("utf-8", "replace").strip().splitlines()[-3:]
        raise EnvBuildError(f"`{' '.join(cmd[:3])} …` failed: {' | '.join(tail)} (log: {log})")


def build_env(lock: Path, envs_root: Path, index: IndexConfig) -> BuiltEnv:
    """Create (or reuse) a venv with exactly the lock's pins, installed with hash checking."""
    lock_text = lock.read_text("utf-8")
    python_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    path = envs_root / env_key(lock_text, python_minor)
    envs_root.mkdir(parents=True, exist_ok=True)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    uv = find_uv()
    with FileLock(envs_root / f".{path.name}.lock"):  # two runs for one lock build it once
        if (path / COMPLETE).exists() and python.exists():
            return BuiltEnv(path, python, "uv" if uv else "pip", reused=True)
        shutil.rmtree(path, ignore_errors=True)
        log = envs_root / f"{path.name}.log"
        log.write_text("")
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        # The indexes the lock was solved against (uv does not read pip.conf, so name them).
        indexes = index.pip_args()  # --index-url/--extra-index-url/--find-links/--no-index
        if uv:
            _run([uv, "venv", "--quiet", "--python", sys.executable, str(path)], log, clean)
            # kresolve merges indexes as pip does; every file is hash-pinned, so uv's
            # first-index-only guard against dependency confusion is not needed here.
            cmd = [uv, "pip", "install", "--python", str(python), "--require-hashes", "--no-deps",
                   "--index-strategy", "unsafe-best-match", *indexes]
        else:
            _run([sys.executable, "-m", "venv", str(path)], log, clean)
            cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--require-hashes", "--no-deps", *indexes]
        _build_sources(cmd, lock_text, path, log, clean)
        _run(cmd + ["-r", str(lock)], log, clean)
        (path / COMPLETE).write_text(lock_text)
        shutil.copyfile(lock, path / "requirements.lock.txt")
        return BuiltEnv(path, python, "uv" if uv else "pip", reused=False)


def _build_sources(cmd: list[str], lock_text: str, path: Path, log: Path, env: dict[str, str]) -> None:
    """Install the lock's from-source pins alone first: each build is time-boxed and named."""
    for pin in locked_pins(lock_text):
        if not pin.from_source:
            continue
        part = path / f".kresolve-build-{pin.name}.txt"
        part.write_text(f"{NO_BINARY}{pin.name}\n{pin.text}\n")
        try:
            _run(cmd + ["-r", str(part)], log, env, timeout=SDIST_BUILD_TIMEOUT)
        except EnvBuildError as exc:
            raise EnvBuildError(f"building {pin.name} {pin.version} from its source distribution failed "
                                f"(no wheel of it exists for this target): {exc}") from None
        finally:
            part.unlink(missing_ok=True)
