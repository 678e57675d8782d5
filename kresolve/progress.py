"""Progress reporting behind one small interface: the API takes an optional sink (default: none,
so the API stays silent); the CLI passes a rich one on a terminal, plain lines otherwise, and
nothing under `-q`. Everything goes to stderr: stdout stays clean for `--json`.

Stages are timed (`stage()` is a context manager); counters (index pages, metadata, bytes) may be
advanced from any thread.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID


class Stage(enum.Enum):
    """A timed step of a run, as shown to the user."""

    INSPECT = "reading the model"
    SOLVE = "solving"
    BUILD_ENV = "building the smoke environment"
    LOAD_MODEL = "loading the model"


class Counter(enum.Enum):
    """What is counted while a stage runs."""

    PAGES = "index pages"
    METADATA = "metadata"
    BYTES = "bytes"  # written into the smoke environment while it is built


class Progress(Protocol):
    """A progress sink. Implementations must be thread-safe for `advance`."""

    def begin(self, stage: Stage, detail: str = "") -> None: ...

    def end(self, stage: Stage, ok: bool = True) -> None: ...

    def advance(self, counter: Counter, amount: int = 1) -> None: ...

    def note(self, text: str) -> None: ...


class NullProgress:
    """Says nothing (the API's default, and the CLI's under `-q`)."""

    def begin(self, stage: Stage, detail: str = "") -> None:
        pass

    def end(self, stage: Stage, ok: bool = True) -> None:
        pass

    def advance(self, counter: Counter, amount: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        pass


NO_PROGRESS: Progress = NullProgress()


def _amounts(counts: dict[Counter, int]) -> str:
    parts = []
    for counter, n in counts.items():
        if n:
            parts.append(f"{n / 1e6:.1f} MB" if counter is Counter.BYTES else f"{n} {counter.value}")
    return ", ".join(parts)


class PlainProgress:
    """One line when a stage begins and one when it ends, with its elapsed time and counters:
    for logs and pipes (stderr is not a terminal)."""

    def __init__(self, stream: IO[str], silent: tuple[Stage, ...] = ()) -> None:
        self.stream = stream
        self.silent = silent  # stages not worth a line (reading the model: it takes a moment)
        self._lock = threading.Lock()
        self._started: dict[Stage, float] = {}
        self._counts: dict[Counter, int] = {}

    def _line(self, text: str) -> None:
        with self._lock:
            self.stream.write(f"kresolve: {text}\n")
            self.stream.flush()

    def begin(self, stage: Stage, detail: str = "") -> None:
        self._started[stage] = time.monotonic()
        with self._lock:
            self._counts = {}
        if stage not in self.silent:
            self._line(f"{stage.value}{' ' + detail if detail else ''} …")

    def end(self, stage: Stage, ok: bool = True) -> None:
        elapsed = time.monotonic() - self._started.pop(stage, time.monotonic())
        if stage in self.silent:
            return
        with self._lock:
            counts = _amounts(self._counts)
        self._line(f"{stage.value} {'done' if ok else 'failed'} in {elapsed:.1f}s" + (f" ({counts})" if counts else ""))

    def advance(self, counter: Counter, amount: int = 1) -> None:
        with self._lock:
            self._counts[counter] = self._counts.get(counter, 0) + amount

    def note(self, text: str) -> None:
        self._line(text)


class RichProgress:
    """A live line per stage on a terminal: spinner, counters, elapsed time."""

    def __init__(self, console: Console) -> None:  # a rich.console.Console writing to stderr
        from rich.progress import Progress as _Bar
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        self._bar = _Bar(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("[dim]{task.fields[counts]}"),
                         TimeElapsedColumn(), console=console, transient=False)
        self._lock = threading.Lock()
        self._tasks: dict[Stage, TaskID] = {}
        self._current: Stage | None = None
        self._counts: dict[Counter, int] = {}

    def begin(self, stage: Stage, detail: str = "") -> None:
        with self._lock:
            if not self._tasks:
                self._bar.start()
            self._counts = {}
            self._current = stage
            self._tasks[stage] = self._bar.add_task(f"{stage.value}{' ' + detail if detail else ''}", total=None, counts="")

    def end(self, stage: Stage, ok: bool = True) -> None:
        with self._lock:
            task = self._tasks.pop(stage, None)
            if task is not None:
                self._bar.update(task, total=1, completed=1,
                                 description=f"{'[green]✓' if ok else '[red]✗'}[/] {stage.value}")
                self._bar.stop_task(task)
            if not self._tasks:
                self._bar.stop()
            self._current = None

    def advance(self, counter: Counter, amount: int = 1) -> None:
        with self._lock:
            self._counts[counter] = self._counts.get(counter, 0) + amount
            if self._current in self._tasks:
                self._bar.update(self._tasks[self._current], counts=_amounts(self._counts))

    def note(self, text: str) -> None:
        self._bar.console.print(text, markup=False, highlight=False)


@contextmanager
def stage(progress: Progress | None, which: Stage, detail: str = "") -> Iterator[None]:
    """Time `which` on `progress` (nothing when None); marked failed when the block raises."""
    sink = progress or NO_PROGRESS
    sink.begin(which, detail)
    try:
        yield
    except BaseException:
        sink.end(which, ok=False)
        raise
    sink.end(which)


@contextmanager
def watch_bytes(progress: Progress | None, path: str | os.PathLike[str], every: float = 2.0) -> Iterator[None]:
    """While the block runs, count the bytes appearing under `path` (the environment being built:
    what the installer downloaded and unpacked) as Counter.BYTES. Nothing without a sink."""
    if progress is None or isinstance(progress, NullProgress):
        yield
        return
    from pathlib import Path

    done = threading.Event()
    root = Path(path)

    def size() -> int:
        # os.scandir: one stat per file (rglob + is_file + stat cost 5x the CPU on a 23k-file
        # TensorFlow env, taken from the installer); it stops as soon as the block ends, so the
        # join below never waits for a walk that nobody will show.
        total, pending = 0, [str(root)]
        while pending and not done.is_set():
            try:
                entries = os.scandir(pending.pop())
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        return total

    def poll() -> None:
        seen = 0
        while not done.wait(every):
            now = size()
            if now > seen:
                progress.advance(Counter.BYTES, now - seen)
                seen = now

    thread = threading.Thread(target=poll, name="kresolve-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
