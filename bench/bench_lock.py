"""Benchmark: `kresolve lock` next to `uv pip compile`, run as the user runs them (a fresh process
each time), warm offline, warm online and cold; plus `inspect` per model over a fleet directory
and the first HDF5 inspect of a process (the h5py worker's start).

Run on demand (not part of the test suite; timings are never asserted by tests):

    .venv/bin/python bench/bench_lock.py [--rounds 5] [--model tf215-h5] [--skip-cold] [--fleet 1000] [--against DIR]

Each kresolve run is paired with a uv run of the same kind, one after the other, and every
figure is given as min / median / max over the rounds; the ratio is taken per pair (kresolve run
i / uv run i), so a noisy machine slows both sides of a pair alike. uv compiles the top-level
pins kresolve locked (`--generate-hashes`, Python 3.11, x86_64-manylinux_2_28), with its own
warm cache (`--offline` for the offline figure). Peak memory is the child's maximum resident set
(POSIX only). Cold runs use an empty cache directory for each run, on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from _stats import FIXTURES, PYTHON, ROOT, Run, Series, fmt, pair_rows, run, uv_binary

from kresolve.artifact.discovery import MAX_MODELS

MODELS = {"tf215-h5": "model.h5", "tf215-savedmodel": "model", "keras3-zip": "model.keras"}


def kresolve_lock(model: Path, out: Path, cache: Path, offline: bool) -> list[str]:
    return [PYTHON, "-m", "kresolve", "lock", str(model), "--no-smoke", "--python", "3.11", "--platform", "linux-64",
            "-o", str(out), *(["--offline"] if offline else [])]


def uv_compile(requirements: Path, out: Path, cache: Path, offline: bool) -> list[str]:
    return [uv_binary(), "pip", "compile", "--quiet", "--generate-hashes", "--python-version", "3.11",
            "--python-platform", "x86_64-manylinux_2_28", "--cache-dir", str(cache), "-o", str(out), str(requirements),
            *(["--offline"] if offline else [])]


def with_cache(cache: Path) -> dict[str, str]:
    return {**os.environ, "KRESOLVE_CACHE_DIR": str(cache)}


def lock_figures(model: Path, rounds: int, cold: bool, cache: Path | None, against: Path | None = None) -> list[str]:
    """The lock figures; with `against` (another kresolve source tree, e.g. an earlier commit's
    `git archive`), its runs are interleaved with ours and uv's in every round, each with a
    cache of its own, so a before/after comparison comes from one run on one machine state."""
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        ours_cache = cache or tmp / "kresolve-cache"
        other_cache = tmp / "against-cache"
        uv_cache = tmp / "uv-cache"
        out = tmp / "out"
        # Warm the caches and learn the top-level pins uv is given.
        run(kresolve_lock(model, out, ours_cache, offline=False), with_cache(ours_cache), cwd=ROOT)
        report = json.loads((out / "kresolve-report.json").read_text())
        top = [f"{p['name']}=={p['version']}" for p in report["environment"]["pins"] if p.get("top_level")]
        requirements = tmp / "requirements.in"
        requirements.write_text("\n".join(top) + "\n")
        run(uv_compile(requirements, tmp / "uv.txt", uv_cache, offline=False))
        if against is not None:
            run(kresolve_lock(model, out, other_cache, offline=False), with_cache(other_cache), cwd=against)
        rows = [f"model {model.relative_to(ROOT)}; uv gets: {', '.join(top)}",
                "figures: min / median / max over the rounds; ratio per pair (kresolve / uv)"]
        if against is not None:
            rows.append(f"against: the kresolve in {against}, interleaved with this one ({ROOT}) round by round")

        def rounds_of(label: str, fresh: Callable[[int], tuple[Path, Path, Path]], offline: bool) -> None:
            ours, theirs, other = Series(), Series(), Series()
            for i in range(rounds):
                k, u, o = fresh(i)
                ours.add(run(kresolve_lock(model, out, k, offline), with_cache(k), cwd=ROOT))
                theirs.add(run(uv_compile(requirements, tmp / "uv.txt", u, offline)))
                if against is not None:
                    other.add(run(kresolve_lock(model, out, o, offline), with_cache(o), cwd=against))
                if k != ours_cache:
                    shutil.rmtree(k.parent, ignore_errors=True)
            rows.extend(pair_rows(label, ours, theirs))
            if against is not None:
                rows.extend(pair_rows("", other, theirs, ("against ", "uv")))
                rows.extend(pair_rows("", ours, other, ("kresolve", "against")))

        for label, offline in (("warm offline", True), ("warm online", False)):
            rounds_of(label, lambda i: (ours_cache, uv_cache, other_cache), offline)
        if cold:
            rounds_of("cold", lambda i: (tmp / f"cold-{i}" / "k", tmp / f"cold-{i}" / "uv", tmp / f"cold-{i}" / "o"), False)
        return rows


def make_fleet(dest: Path, count: int) -> int:
    """`count` models copied from the fixtures (every format), each in a folder of its own."""
    sources = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and "malicious" not in p.name)
    made = 0
    while made < count:
        for src in sources:
            if made >= count:
                break
            shutil.copytree(src, dest / f"{made:05d}-{src.name}")
            made += 1
    return made


FIRST_H5 = """
import sys, time
start = time.perf_counter()
from kresolve.artifact import inspect
imported = time.perf_counter()
inspect(sys.argv[1])
print(imported - start, time.perf_counter() - imported)
"""


def inspect_figures(rounds: int, fleet: int) -> list[str]:
    rows = []
    h5 = FIXTURES / "tf215-h5" / "model.h5"
    firsts, imports = [], []
    for _ in range(rounds):
        proc = subprocess.run([PYTHON, "-c", FIRST_H5, str(h5)], capture_output=True, text=True, check=True, cwd=ROOT)
        imported, first = (float(x) for x in proc.stdout.split())
        imports.append(imported)
        firsts.append(first)
    rows.append(f"first HDF5 inspect of a process: {fmt(firsts, 'ms', 1000)} (after importing kresolve.artifact: "
                f"{fmt(imports, 'ms', 1000)})")
    if fleet:
        with tempfile.TemporaryDirectory() as tmp_text:
            made = make_fleet(Path(tmp_text), fleet)
            # kresolve reads at most MAX_MODELS models of one directory (and says it stopped):
            # per model is per model read, not per model copied.
            read = min(made, MAX_MODELS)
            per_model = Series()
            for _ in range(rounds):
                r = run([PYTHON, "-m", "kresolve", "inspect", tmp_text, "--json"], cwd=ROOT)
                per_model.add(Run(r.seconds / read, r.max_rss_mb, r.cpu / read if r.cpu is not None else None))
            peak = per_model.peak_mb()
            rows.append(f"inspect DIR of {made} models, {read} read: {fmt(per_model.seconds, 'ms/model', 1000)}"
                        + (f" (cpu {fmt(per_model.cpu, 'ms/model', 1000)})" if per_model.cpu else "")
                        + (f", peak {peak:.0f} MB" if peak is not None else ""))
    return rows


def main(argv: Sequence[str] | None = None, echo: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs per figure (at least 5 for the report)")
    parser.add_argument("--model", choices=sorted(MODELS), default="tf215-h5")
    parser.add_argument("--skip-cold", action="store_true", help="leave out the cold figure (it re-downloads everything)")
    parser.add_argument("--fleet", type=int, default=MAX_MODELS,
                        help=f"models in the inspect directory (0: skip; kresolve reads at most {MAX_MODELS} of one)")
    parser.add_argument("--cache", type=Path, help="kresolve cache to warm and use (default: a fresh one)")
    parser.add_argument("--only", choices=("lock", "inspect"), help="run one part only")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="another kresolve source tree (e.g. `git archive` of an earlier commit) to run "
                             "interleaved with this one: before and after in one run")
    args = parser.parse_args(argv)
    model = FIXTURES / args.model / MODELS[args.model]
    if args.only != "inspect":
        for row in lock_figures(model, args.rounds, not args.skip_cold, args.cache, args.against):
            echo(row)
    if args.only != "lock":
        for row in inspect_figures(args.rounds, args.fleet):
            echo(row)


if __name__ == "__main__":
    main()
