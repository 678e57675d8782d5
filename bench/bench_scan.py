"""Benchmark `kresolve scan` on a generated fleet: hundreds of copies and variants of the fixtures.

Run on demand (not part of the test suite):

    .venv/bin/python bench/bench_scan.py [--models 400] [--smoke 4]

1. Builds a fleet in a temp dir: copies of every fixture model, cycled to `--models`; every third
   copy is a variant without its kresolve.json sidecar (inferred from the file alone: other plans,
   other solves), every fifth sits one directory deeper.
2. Times discovery + inspect of the whole fleet, then `scan` without smoke against a local index of
   real-format wheels (tests/scanworld.py; offline, so the figures are the scan's own), on one and
   on two targets: total, per model, and the distinct solves the memo left.
3. With `--smoke N` (needs the real index and TensorFlow environments, which are cached under
   ~/.cache/kresolve/envs): `scan --smoke` of N real models (two per distinct lock) against the
   configured index, with --jobs 1 and --jobs 2.
Prints the figures.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from scanworld import build_world

from kresolve.artifact import inspect
from kresolve.errors import KresolveError
from kresolve.index import IndexConfig, read_pip_config
from kresolve.scan import ScanOptions, TargetSpec, run_scan
from kresolve.scan.core import discover
from kresolve.scan.evaluate import Evaluator

FIXTURES = ROOT / "tests" / "fixtures" / "models"


def make_fleet(root: Path, count: int) -> Path:
    fleet = root / "fleet"
    sources = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    for i in range(count):
        src = sources[i % len(sources)]
        dest = fleet / f"team-{i % 7}" / ("deeper" if i % 5 == 0 else "") / f"{src.name}-{i:04d}"
        shutil.copytree(src, dest)
        if i % 3 == 1:
            (dest / "kresolve.json").unlink(missing_ok=True)
    return fleet


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=400)
    parser.add_argument("--smoke", type=int, default=0, metavar="N", help="also scan --smoke N real models (jobs 1 and 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kresolve-bench-scan-") as tmp_name:
        tmp = Path(tmp_name)
        fleet = make_fleet(tmp, args.models)
        url = build_world(tmp / "index")
        t, (models, _notes) = timed(lambda: discover([fleet]))
        print(f"fleet: {len(models)} models under {fleet}")
        print(f"discover: {t:.2f}s")
        t, _ = timed(lambda: [_try_inspect(m) for m in models])
        print(f"inspect all: {t:.2f}s total, {1000 * t / len(models):.1f} ms per model")
        for targets in ((TargetSpec("3.11", "linux-64"),), (TargetSpec("3.11", "linux-64"), TargetSpec("3.12", "linux-64"))):
            options = ScanOptions(targets=targets, index_config=IndexConfig(url), cache_root=str(tmp / "cache"))
            for label in ("cold cache", "warm cache"):
                t, (result, _) = timed(lambda options=options: run_scan([fleet], options, tmp / "out", formats=("pip",)))
                solves = _distinct_solves(models, options)
                print(f"scan, {len(targets)} target(s), {label}: {t:.2f}s total, {1000 * t / len(models):.1f} ms per model; "
                      f"{len(result.proposals)} environment(s) cover the fleet; {solves} distinct solves; "
                      f"{result.summary()}")
        if args.smoke:
            picks = [FIXTURES / "keras3-zip", FIXTURES / "tf215-savedmodel", FIXTURES / "tf215-h5", FIXTURES / "keras3-h5"]
            small = tmp / "smoke-fleet"
            for i in range(args.smoke):
                shutil.copytree(picks[(i // 2) % len(picks)], small / f"m{i}")
            options = ScanOptions(index_config=read_pip_config(), smoke=True)
            for jobs in (1, 2):
                t, (result, _) = timed(lambda jobs=jobs: run_scan([small], options, tmp / f"smoke-{jobs}", jobs=jobs))
                print(f"scan --smoke --jobs {jobs}, {args.smoke} models: {t:.1f}s total, {t / args.smoke:.1f}s per model; "
                      f"{result.summary()}")
    return 0


def _try_inspect(path: str) -> object:
    try:
        return inspect(path)
    except KresolveError as exc:  # refused models count too
        return exc


def _distinct_solves(models: list[str], options: ScanOptions) -> int:
    evaluator = Evaluator(options)
    try:
        for m in models:
            evaluator.row(m)
        return evaluator.solves
    finally:
        evaluator.close()


if __name__ == "__main__":
    sys.exit(main())
