"""Run h5meta.py in a long-lived worker process and turn its crashes into BadInput.

One worker serves every HDF5 file of a run (a fleet scan pays the start-up once); if the HDF5
library crashes or hangs on a file, that file is refused and a fresh worker serves the next one.

Its start-up (importing NumPy and h5py) is most of a first HDF5 inspect, so the worker starts
light: no `site` (the parent sends its `sys.path`), one BLAS thread (it never computes: OpenBLAS
otherwise starts and spins a thread per core while NumPy imports), and it ends with `os._exit`
at end of input, without the interpreter's teardown. At exit the parent kills it rather than
waiting: it holds nothing but read-only file handles.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, cast

from kresolve import _h5start
from kresolve.artifact import h5meta
from kresolve.artifact.jsontext import bad
from kresolve.artifact.limits import MAX_JSON_BYTES
from kresolve.errors import BadInput

# A metadata read takes milliseconds; this only guards against a library stuck in a loop.
REQUEST_TIMEOUT_S = 15.0
# Requests sent ahead of the one being answered (read_ahead): `inspect DIR` keeps the worker
# reading the next HDF5 files while this process parses the one before. Replies wait in memory.
READ_AHEAD = 4

_Key = tuple[str, str]  # (path, what)


class _Worker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._pending: list[_Key] = []  # sent to the worker, in order; their replies not read yet
        self._early: dict[_Key, bytes | BadInput] = {}  # replies read before they were asked for

    def _start(self) -> None:
        # The reader `python -m kresolve` started before importing this (_h5start), or a new one.
        self._proc = _h5start.take() or _h5start.spawn(h5meta.__file__)
        self._lines = queue.Queue()
        threading.Thread(target=_pump, args=(self._proc, self._lines), daemon=True).start()

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
        self._proc.stdin.flush()

    def forget(self) -> None:
        """In a forked child: the parent's worker and lock are not ours to use."""
        self._lock = threading.Lock()
        self._proc = None
        self._pending, self._early = [], {}

    def stop(self, kill: bool = False) -> int | None:
        """End the worker (politely unless `kill`); return its exit code. Requests it had not
        answered are forgotten (asked again of the next worker)."""
        proc, self._proc = self._proc, None
        self._pending = []
        if proc is None:
            return None
        try:
            if kill:
                proc.kill()
            elif proc.stdin:
                proc.stdin.close()  # the worker exits at end of input
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass
        return proc.returncode

    def prestart(self) -> None:
        """Start the worker now, without waiting for it: importing h5py (and NumPy) there takes
        a few hundred milliseconds that the caller can spend on other work meanwhile."""
        with self._lock:
            if self._proc is None and _h5start.started():
                self._start()  # adopt the one the launcher started
                return
            if self._proc is not None and self._proc.poll() is None:
                return
            try:
                if self._proc is not None:
                    self.stop()
                self._start()
            except OSError:
                self.stop(kill=True)  # ask() starts one again, and reports a failure then

    def read_ahead(self, paths: list[Path], what: str = "model") -> None:
        """Send requests for the HDF5 files among `paths`, about to be asked for (at most
        READ_AHEAD waiting), so the worker reads them while the caller works on others. Without
        a worker running, nothing: the first ask() starts one. A file already asked ahead is not
        opened again to check its signature."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                return
            for path in paths:
                key = (str(path), what)
                if len(self._pending) >= READ_AHEAD:
                    break
                if key in self._pending or key in self._early or not _h5start.is_hdf5(path):
                    continue
                try:
                    self._send_key(key)
                except OSError:
                    return  # the next ask() finds the worker dead and replaces it

    def ask(self, path: Path, what: str) -> dict[str, Any]:
        key = (str(path), what)
        with self._lock:
            early = self._early.pop(key, None)
            line = early if early is not None else self._reply(path, key)
        if isinstance(line, BadInput):
            raise line
        reply = json.loads(line)
        if "error" in reply:
            raise bad(path, reply["error"])
        return cast(dict[str, Any], reply["ok"])

    def _reply(self, path: Path, key: _Key) -> bytes:
        """The worker's reply line for `key`, sent now unless read ahead. Replies come in the
        order of the requests: those for files read ahead are kept for their own ask()."""
        while True:
            if key not in self._pending:
                self._request(path, key)
            head = self._pending[0]
            try:
                line = self._next_line(Path(head[0]))
            except BadInput as exc:  # the worker hung or died on `head`: it was stopped
                if head == key:
                    raise
                self._keep(head, exc)  # refused when asked for; `key` goes to the next worker
                continue
            self._pending.pop(0)
            if head == key:
                return line
            self._keep(head, line)

    def _keep(self, key: _Key, answer: bytes | BadInput) -> None:
        if len(self._early) >= 4 * READ_AHEAD:  # read ahead but never asked for: the oldest goes
            self._early.pop(next(iter(self._early)))
        self._early[key] = answer

    def _request(self, path: Path, key: _Key) -> None:
        for attempt in (1, 2):  # a worker that died since its last answer is replaced once
            try:
                if self._proc is not None and self._proc.poll() is not None:
                    self.stop()  # died since its last answer: reap it, close its pipes
                if self._proc is None:
                    self._start()
                self._send_key(key)
                return
            except OSError as exc:
                self.stop(kill=True)
                if attempt == 2:
                    raise bad(path, f"could not start the HDF5 reader process ({exc})") from None

    def _send_key(self, key: _Key) -> None:
        """Ask the running worker for `key`; its reply comes after those of the requests before it."""
        self._send({"path": key[0], "what": key[1], "limit": MAX_JSON_BYTES})
        self._pending.append(key)

    def _next_line(self, path: Path) -> bytes:
        """The next reply line; BadInput naming `path` (the file being read) when the worker
        hangs past the timeout or dies, after stopping it."""
        try:
            line = self._lines.get(timeout=REQUEST_TIMEOUT_S)
        except queue.Empty:
            self.stop(kill=True)
            raise bad(path, f"the HDF5 library did not finish reading the file's metadata in "
                            f"{REQUEST_TIMEOUT_S:.0f} s: damaged or crafted file") from None
        if not line.endswith(b"\n"):  # the worker died mid-request
            code = self.stop(kill=True)
            raise bad(path, f"the HDF5 library crashed reading this file ({_describe(code)}): "
                            "it is damaged or crafted") from None
        return line


def _pump(proc: subprocess.Popen[bytes], lines: queue.Queue[bytes]) -> None:
    """Move the worker's reply lines into a queue; b"" marks its end."""
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            lines.put(line)
    except (OSError, ValueError):  # the pipe was closed under us after a kill
        pass
    lines.put(b"")


def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


_WORKER = _Worker()
atexit.register(_WORKER.stop, kill=True)  # no wait for a polite end (or for a prestarted import)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WORKER.forget)


HDF5_SIGNATURE = _h5start.HDF5_SIGNATURE


def prestart_for(path: str | Path) -> None:
    """Start the HDF5 worker in the background when `path` is an HDF5 file (its signature at
    offset 0, where Keras writes it): `lock` then loads the rules while h5py imports there."""
    if _h5start.can_spawn() and _h5start.is_hdf5(path):
        _WORKER.prestart()


def read_ahead(paths: list[Path]) -> None:
    """The HDF5 files among `paths` are asked for next ("model" metadata): the running worker
    starts reading them now (see _Worker.read_ahead)."""
    if sys.executable and not getattr(sys, "frozen", False):
        _WORKER.read_ahead(paths)


def h5_metadata(path: Path, what: str = "model") -> dict[str, Any]:
    """Keras metadata of the HDF5 file at `path` ("model": attributes, layer names, root keys;
    "keys": root group names only), read in the worker; BadInput on any failure."""
    if not sys.executable or getattr(sys, "frozen", False):  # no interpreter to start a worker
        try:
            return h5meta.read_metadata(str(path), what, MAX_JSON_BYTES)
        except h5meta.MetaError as exc:
            raise bad(path, str(exc)) from None
    return _WORKER.ask(path, what)
