"""Run h5meta.py in a long-lived worker process and turn its crashes into BadInput.

One worker serves every HDF5 file of a run (a fleet scan pays the start-up once); if the HDF5
library crashes or hangs on a file, that file is refused and a fresh worker serves the next one.
"""

from __future__ import annotations

import atexit
import json
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from kresolve.artifact import h5meta
from kresolve.artifact.jsontext import bad
from kresolve.artifact.limits import MAX_JSON_BYTES

# A metadata read takes milliseconds; this only guards against a library stuck in a loop.
REQUEST_TIMEOUT_S = 60.0
_START_TIMEOUT_S = 60.0


class _Worker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[bytes] = queue.Queue()

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", h5meta.__file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lines = queue.Queue()
        threading.Thread(target=_pump, args=(self._proc, self._lines), daemon=True).start()
        self._send({"sys_path": sys.path})

    def _send(self, message: dict) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
        self._proc.stdin.flush()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()

    def ask(self, path: Path, what: str) -> dict:
        with self._lock:
            try:
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                self._send({"path": str(path), "what": what, "limit": MAX_JSON_BYTES})
            except OSError as exc:
                self.stop()
                raise bad(path, f"could not start the HDF5 reader process ({exc})") from None
            try:
                line = self._lines.get(timeout=REQUEST_TIMEOUT_S)
            except queue.Empty:
                self.stop()
                raise bad(path, f"the HDF5 library did not finish reading the file's metadata in "
                                f"{REQUEST_TIMEOUT_S:.0f} s: damaged or crafted file") from None
            if not line.endswith(b"\n"):  # the worker died mid-request
                proc = self._proc
                code = proc.wait() if proc else None
                self._proc = None
                raise bad(path, f"the HDF5 library crashed reading this file ({_describe(code)}): "
                                "it is damaged or crafted") from None
        reply = json.loads(line)
        if "error" in reply:
            raise bad(path, reply["error"])
        return reply["ok"]


def _pump(proc: subprocess.Popen[bytes], lines: queue.Queue[bytes]) -> None:
    """Move the worker's reply lines into a queue; b"" marks its end."""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
    lines.put(b"")


def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


_WORKER = _Worker()
atexit.register(_WORKER.stop)


def h5_metadata(path: Path, what: str = "model") -> dict:
    """Keras metadata of the HDF5 file at `path` ("model": attributes, layer names, root keys;
    "keys": root group names only), read in the worker; BadInput on any failure."""
    if not sys.executable:  # embedded interpreter: no way to start a worker
        try:
            return h5meta.read_metadata(str(path), what, MAX_JSON_BYTES)
        except h5meta.MetaError as exc:
            raise bad(path, str(exc)) from None
    return _WORKER.ask(path, what)
