"""Benchmark: `kresolve smoke` next to what a user would do by hand with uv, from the same warm
uv cache: `uv venv` + `uv pip install -r LOCK` + `python -c "import tensorflow; load_model"`.

Run on demand (not part of the test suite; timings are never asserted by tests; needs the
package index the first time, then only uv's warm cache):

    .venv/bin/python bench/bench_smoke.py [--rounds 5] [--model tf215-h5]

The model is locked once (`kresolve lock --no-smoke`). Then each round runs, one after the other:
- cold: `python -m kresolve smoke MODEL --lock LOCK` in a fresh process, with kresolve's built
  environments removed first (a kresolve cache of the bench's own, whose envs/ is emptied), so
  the environment is really built again; uv's wheel cache (the user's) stays warm;
- bare: `uv venv` + `uv pip install -r LOCK` into a fresh folder beside it (same file system, so
  both sides link from uv's cache alike) + the load in that venv's Python;
- warm: the same smoke run again, reusing the environment it just built, next to the bare load
  alone, again, in the bare venv (an environment that exists on both sides, with the bytecode
  that the first import of TensorFlow wrote: uv does not compile it at install).
Every figure is min / median / max over the rounds; the ratio is taken per round (kresolve run i
/ bare run i). CPU is user + system of each process and the children it waited for (wait4).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from _stats import FIXTURES, PYTHON, ROOT, Run, Series, chain, pair_rows, run, uv_binary

MODELS = {"tf215-h5": "model.h5", "tf215-savedmodel": "model", "keras3-zip": "model.keras"}
LOAD = "import sys, tensorflow as tf; tf.keras.models.load_model(sys.argv[1], compile=False)"
LABELS = ("kresolve", "bare")
# Every process runs as from a user's shell: Python writes bytecode (a first import of TensorFlow
# compiles ~10 s of it, which a later import reuses). kresolve's loader drops PYTHON* variables.
BASE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
TARGET = 1.30  # the bound on kresolve / bare for a cold smoke run


def index_args() -> list[str]:
    """The indexes pip.conf names, as uv flags (uv does not read pip.conf), as kresolve passes them.
    uv takes each package from the first index that has it unless told otherwise; pip (and so the
    lock) merges them, so a user with these indexes needs the same `--index-strategy` by hand."""
    import sys

    sys.path.insert(0, str(ROOT))
    from kresolve.index import read_pip_config

    return [*read_pip_config().pip_args(), "--index-strategy", "unsafe-best-match"]


def bare_load(python_dir: Path, model: Path) -> Run:
    env = {**BASE_ENV, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return run([str(python_dir / "bin" / "python"), "-c", LOAD, str(model)], env)


def bare_round(python_dir: Path, lock: Path, model: Path, indexes: list[str]) -> Run:
    """venv + install + load, in a fresh venv at `python_dir`."""
    uv = uv_binary()
    shutil.rmtree(python_dir, ignore_errors=True)
    venv = run([uv, "venv", "--quiet", "--python", PYTHON, str(python_dir)], BASE_ENV)
    python = python_dir / "bin" / "python"
    install = run([uv, "pip", "install", "--quiet", "--python", str(python), *indexes, "-r", str(lock)], BASE_ENV)
    return chain([venv, install, bare_load(python_dir, model)])


def smoke_cmd(model: Path, lock: Path) -> list[str]:
    return [PYTHON, "-m", "kresolve", "smoke", str(model), "--lock", str(lock)]


def smoke_figures(model: Path, rounds: int) -> list[str]:
    indexes = index_args()
    with tempfile.TemporaryDirectory(prefix="kresolve-bench-smoke-", dir=Path.home() / ".cache") as tmp_text:
        tmp = Path(tmp_text)  # under ~/.cache: the file system of uv's cache, so installs hard-link alike
        out = tmp / "lock"
        run([PYTHON, "-m", "kresolve", "lock", str(model), "--no-smoke", "-o", str(out)], BASE_ENV)
        lock = out / "requirements.txt"
        pins = [line.split()[0] for line in lock.read_text().splitlines() if line.startswith(("tensorflow==", "keras=="))]
        cache = tmp / "kresolve-cache"
        cache.mkdir()
        env = {**BASE_ENV, "KRESOLVE_CACHE_DIR": str(cache)}
        # One round not counted: fills uv's cache with every locked wheel, and the rules cache.
        run(smoke_cmd(model, lock), env)
        bare_round(tmp / "bare", lock, model, indexes)
        cold, bare, warm, loads = Series(), Series(), Series(), Series()
        for _ in range(rounds):
            shutil.rmtree(cache / "envs", ignore_errors=True)
            cold.add(run(smoke_cmd(model, lock), env))
            bare.add(bare_round(tmp / "bare", lock, model, indexes))
            warm.add(run(smoke_cmd(model, lock), env))
            loads.add(bare_load(tmp / "bare", model))
        report = json.loads(run_json(smoke_cmd(model, lock), env))
        rows = [f"model {model.relative_to(ROOT)}; lock {', '.join(pins)} ({len(lock.read_text().split('--hash')) - 1} hashes)",
                f"smoke: {report['status']}: {report['reason']}",
                "figures: min / median / max over the rounds; ratio per round (kresolve / bare)"]
        rows += pair_rows("cold env", cold, bare, LABELS)
        rows += pair_rows("warm env", warm, loads, LABELS)
        ratios = sorted(a / b for a, b in zip(cold.seconds, bare.seconds, strict=True))
        median = ratios[len(ratios) // 2]
        rows.append(f"cold overhead: median {100 * (median - 1):+.0f}% over bare (target <= {100 * (TARGET - 1):.0f}%: "
                    f"{'met' if median <= TARGET else 'not met'})")
        return rows


def run_json(cmd: Sequence[str], env: dict[str, str]) -> str:
    import subprocess

    proc = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 2, 3):  # passed, skipped, failed: the report says which
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout


def main(argv: Sequence[str] | None = None, echo: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per figure (at least 5 for the report)")
    parser.add_argument("--model", choices=sorted(MODELS), default="tf215-h5")
    args = parser.parse_args(argv)
    for row in smoke_figures(FIXTURES / args.model / MODELS[args.model], args.rounds):
        echo(row)


if __name__ == "__main__":
    main()
