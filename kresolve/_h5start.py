"""Start the HDF5 reader process first thing in `kresolve lock model.h5`, before kresolve imports.

The reader itself is artifact/h5meta.py in its own process (artifact/h5worker.py runs it and
turns its crashes into errors; its memory cap is set inside it). Importing h5worker imports the
`kresolve.artifact` package, 150-190 ms into the process; this module imports only the standard
library, so `__main__` starts the reader ~20 ms in and h5worker adopts the running process
when it is first asked (`take`). One command, environment and handshake for both (`spawn`).
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from pathlib import Path

H5META = str(Path(__file__).parent / "artifact" / "h5meta.py")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The worker only reads attributes: one thread for every BLAS/OpenMP runtime NumPy may load.
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}

_started: subprocess.Popen[bytes] | None = None


def spawn(script: str = H5META) -> subprocess.Popen[bytes]:
    """A reader process running `script` (h5meta.py), its handshake sent (the parent's
    `sys.path`: it runs without `site`). OSError when it cannot be started."""
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **ONE_THREAD},
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps({"sys_path": sys.path}).encode("utf-8") + b"\n")
        proc.stdin.flush()
    except OSError:
        proc.kill()
        proc.wait()
        raise
    return proc


def is_hdf5(path: str | Path) -> bool:
    """The HDF5 signature at offset 0, where Keras writes it (False for anything unreadable)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False  # a directory, a missing path: inspect says what is wrong


def can_spawn() -> bool:
    return bool(sys.executable) and not getattr(sys, "frozen", False)


def prestart_for(path: str | Path) -> None:
    """Start a reader now when `path` is an HDF5 file and none is started yet."""
    global _started
    if _started is not None or not can_spawn() or not is_hdf5(path):
        return
    try:
        _started = spawn()
    except OSError:
        return  # h5worker starts one when asked, and reports a failure then
    atexit.register(_kill)


def started() -> bool:
    return _started is not None


def take() -> subprocess.Popen[bytes] | None:
    """The process started here, handed over once (h5worker then owns its end)."""
    global _started
    proc, _started = _started, None
    if proc is not None:
        atexit.unregister(_kill)
    return proc


def _kill() -> None:
    """At exit, a reader nobody asked (a lock that stopped early): ended, not waited for politely."""
    global _started
    proc, _started = _started, None
    if proc is not None:
        proc.kill()
        proc.wait()


def _forget() -> None:
    global _started
    _started = None  # a forked child: the parent's reader is not its own


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
