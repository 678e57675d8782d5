"""What every bench script shares: one timed process (`run`), a series of runs, and the
min / median / max rows with the ratio taken per run pair (ours run i / theirs run i, so a noisy
machine slows both sides of a pair alike)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "models"
PYTHON = sys.executable


@dataclass
class Run:
    seconds: float
    max_rss_mb: float | None  # None where the platform gives no per-child figure
    cpu: float | None = None  # user + system seconds of the process (POSIX), steadier than wall on a busy machine


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    def add(self, run: Run) -> None:
        self.runs.append(run)

    @property
    def seconds(self) -> list[float]:
        return [r.seconds for r in self.runs]

    @property
    def cpu(self) -> list[float]:
        return [r.cpu for r in self.runs if r.cpu is not None]

    def peak_mb(self) -> float | None:
        known = [r.max_rss_mb for r in self.runs if r.max_rss_mb is not None]
        return max(known) if known else None


def run(cmd: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Wall time of one process (and its peak RSS where os.wait4 exists); fails loudly.
    `cwd`: where it runs (`python -m kresolve` imports the kresolve of the directory it runs in)."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    rss = cpu = None
    if hasattr(os, "wait4"):
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        # ru_maxrss: kilobytes on Linux, bytes on macOS.
        rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        cpu = usage.ru_utime + usage.ru_stime
    else:
        _, err = proc.communicate()
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode(errors='replace')[-2000:]}")
    return Run(seconds, rss, cpu)


def chain(runs: Sequence[Run]) -> Run:
    """Several processes run one after the other, as one figure: times add up, memory is the peak."""
    known = [r.max_rss_mb for r in runs if r.max_rss_mb is not None]
    cpus = [r.cpu for r in runs if r.cpu is not None]
    return Run(sum(r.seconds for r in runs), max(known) if known else None,
               sum(cpus) if len(cpus) == len(runs) else None)


def uv_binary() -> str:
    found = shutil.which("uv", path=str(Path(PYTHON).parent)) or shutil.which("uv")
    if not found:
        raise SystemExit("uv not found (pip install uv into this environment)")
    return found


def fmt(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    v = [x * scale for x in values]
    digits = 3 if unit == "s" else 2
    return f"{min(v):.{digits}f} / {statistics.median(v):.{digits}f} / {max(v):.{digits}f} {unit}"


def pair_rows(name: str, ours: Series, theirs: Series, labels: tuple[str, str] = ("kresolve", "uv")) -> list[str]:
    ratios = [a / b for a, b in zip(ours.seconds, theirs.seconds, strict=True)]
    peak, their_peak = ours.peak_mb(), theirs.peak_mb()
    mem = f"{peak:.0f} MB" if peak is not None else "n/a"
    their_mem = f"{their_peak:.0f} MB" if their_peak is not None else "n/a"
    mine, other = labels
    rows = [(f"{name:14} wall {mine} {fmt(ours.seconds):28} {other} {fmt(theirs.seconds):28} "
            f"ratio {min(ratios):.2f} / {statistics.median(ratios):.2f} / {max(ratios):.2f}x   peak {mem} ({other} {their_mem})")]
    if ours.cpu and theirs.cpu:
        cpu_ratios = [a / b for a, b in zip(ours.cpu, theirs.cpu, strict=True)]
        rows.append(f"{'':14} cpu  {mine} {fmt(ours.cpu):28} {other} {fmt(theirs.cpu):28} "
                    f"ratio {min(cpu_ratios):.2f} / {statistics.median(cpu_ratios):.2f} / {max(cpu_ratios):.2f}x")
    return rows
