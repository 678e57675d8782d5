"""`kresolve.inspect` next to `keras.models.load_model` on a 1 GB-class Keras HDF5 model.

Run on demand (not part of the test suite; needs the package index once, ~1 GB of disk and
~4 GB of memory for TensorFlow):

    .venv/bin/python bench/bench_inspect.py [--warm 20] [--loads 3]

1. Gets a TensorFlow 2.15.1 interpreter the way kresolve's smoke test does: `kresolve.api.lock`
   on the tf215-h5 fixture (no smoke test), then `kresolve.smoke.envs.build_env` on that lock
   (an identical lock reuses the environment under the kresolve cache).
2. In that interpreter, builds and saves (once; cached as ~/.cache/kresolve/bench/dense-1gb.h5)
   a real tf.keras model: Input(8192) -> Dense(16384, relu) -> Dense(8192, relu) -> Dense(10),
   268 M float32 weights (~1.0 GiB), compiled with adam/mse, saved as HDF5.
3. Times `kresolve.inspect` on it in this process: the first call (cold: it starts the HDF5
   worker process) and the median of `--warm` further calls; then `tf.keras.models.load_model`
   in the TF environment, `--loads` times in one process after importing TensorFlow (median).
Prints the file size and the timings side by side.

    .venv/bin/python bench/bench_inspect.py first [--rounds 5]

The first HDF5 inspect of a process (the HDF5 reader process's start), min / median / max over
the rounds: `python -m kresolve inspect` of the tf215-h5 fixture minus the same command on a
non-HDF5 model (the tf215-keras-zip fixture: the same modules, no reader process), per pair, wall
and CPU; and in one process, the time from the first `inspect` call to its result, cold (nothing
started before) and after `prestart_for` plus the CLI's imports (what `lock`/`inspect` do).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _stats import PYTHON, Series, fmt, run

if TYPE_CHECKING:
    from kresolve.index import Cache

FIXTURE = ROOT / "tests" / "fixtures" / "models" / "tf215-h5" / "model.h5"
MODEL_NAME = "dense-1gb.h5"

BUILD = r"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf
out = sys.argv[1]
tf.keras.utils.set_random_seed(0)
layers = tf.keras.layers
model = tf.keras.Sequential([
    tf.keras.Input(shape=(8192,), name="x"),
    layers.Dense(16384, activation="relu", name="wide"),
    layers.Dense(8192, activation="relu", name="narrow"),
    layers.Dense(10, name="out"),
], name="dense_1gb")
model.compile(optimizer="adam", loss="mse")
part = out + ".part.h5"  # the .h5 suffix selects the HDF5 format
model.save(part, save_format="h5")
os.replace(part, out)
print(model.count_params())
"""

LOAD = r"""
import json, os, statistics, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
t0 = time.perf_counter()
import tensorflow as tf
imported = time.perf_counter() - t0
path, rounds = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(rounds):
    start = time.perf_counter()
    model = tf.keras.models.load_model(path)
    times.append(time.perf_counter() - start)
    del model
    tf.keras.backend.clear_session()
print(json.dumps({"import_s": imported, "load_s": times, "tensorflow": tf.__version__}))
"""


def tf_interpreter(cache: Cache) -> Path:
    from kresolve import api
    from kresolve.index import read_pip_config
    from kresolve.smoke.envs import build_env

    with tempfile.TemporaryDirectory(prefix="kresolve-bench-") as tmp:
        result = api.lock(FIXTURE, out_dir=tmp, smoke=False, cache=cache)
        pins = {pin.name: pin.version for pin in result.environment.pins}
        print(f"lock: tensorflow {pins.get('tensorflow')}, keras {pins.get('keras')}")
        start = time.perf_counter()
        env = build_env(Path(tmp) / "requirements.txt", cache.root / "envs", read_pip_config())
    print(f"env: {env.path} ({'reused' if env.reused else 'built'} in {time.perf_counter() - start:.1f} s)")
    return env.python


def ensure_model(python: Path, cache: Cache) -> Path:
    path = cache.root / "bench" / MODEL_NAME
    if path.is_file() and path.stat().st_size > 900 * 2**20:  # a finished save
        print(f"model: {path} (cached)")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.run([str(python), "-c", BUILD, str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"building the model failed:\n{proc.stderr[-3000:]}")
    print(f"model: {path} ({int(proc.stdout.split()[-1]):,} parameters, built and saved in "
          f"{time.perf_counter() - start:.0f} s)")
    return path


NOT_H5 = ROOT / "tests" / "fixtures" / "models" / "tf215-keras-zip" / "model.keras"

FIRST = """
import sys, time
path, prestarted = sys.argv[1], sys.argv[2] == "prestarted"
if prestarted:  # what `kresolve lock`/`inspect` do first: start the reader, then import the CLI
    from kresolve.artifact.h5worker import prestart_for
    prestart_for(path)
    import kresolve.cli
from kresolve.artifact import inspect
start = time.perf_counter()
inspect(path)
print(time.perf_counter() - start)
"""


def first_figures(rounds: int) -> list[str]:
    """The first HDF5 inspect of a process: as a CLI process (minus a non-HDF5 inspect) and in-process."""
    h5, other = Series(), Series()
    for _ in range(rounds):
        h5.add(run([PYTHON, "-m", "kresolve", "inspect", str(FIXTURE)]))
        other.add(run([PYTHON, "-m", "kresolve", "inspect", str(NOT_H5)]))
    extra = [a - b for a, b in zip(h5.seconds, other.seconds, strict=True)]
    extra_cpu = [a - b for a, b in zip(h5.cpu, other.cpu, strict=True)]
    rows = [f"`kresolve inspect` HDF5 {fmt(h5.seconds)}, non-HDF5 {fmt(other.seconds)}",
            f"  HDF5 minus non-HDF5, per pair: wall {fmt(extra, 'ms', 1000)}"
            + (f", cpu {fmt(extra_cpu, 'ms', 1000)}" if extra_cpu else "")]
    for mode, words in (("cold", "nothing started before"), ("prestarted", "after prestart_for + the CLI's imports")):
        firsts = []
        for _ in range(rounds):
            proc = subprocess.run([PYTHON, "-c", FIRST, str(FIXTURE), mode], capture_output=True, text=True, check=True)
            firsts.append(float(proc.stdout.split()[-1]))
        rows.append(f"  in-process, first inspect call to result, {words}: {fmt(firsts, 'ms', 1000)}")
    return rows


def main(argv: list[str] | None = None) -> None:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["first"]:
        parser = argparse.ArgumentParser(description="the first HDF5 inspect of a process")
        parser.add_argument("--rounds", type=int, default=5, help="runs per figure (at least 5 for the report)")
        for row in first_figures(parser.parse_args(args_list[1:]).rounds):
            print(row)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=20, help="warm inspect calls (median)")
    parser.add_argument("--loads", type=int, default=3, help="load_model calls (median)")
    args = parser.parse_args(args_list)

    from kresolve.index import Cache

    cache = Cache()
    python = tf_interpreter(cache)
    model = ensure_model(python, cache)
    size = model.stat().st_size

    from kresolve.artifact import h5worker, inspect

    h5worker._WORKER.stop()  # cold: the first call starts the HDF5 worker
    start = time.perf_counter()
    facts = inspect(model)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(args.warm):
        start = time.perf_counter()
        inspect(model)
        warm.append(time.perf_counter() - start)
    print(f"inspect: {facts.format_detail}; layers {', '.join(facts.layer_classes)}")

    proc = subprocess.run([str(python), "-c", LOAD, str(model), str(args.loads)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"load_model failed:\n{proc.stderr[-3000:]}")
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    load_median = statistics.median(loaded["load_s"])

    warm_median = statistics.median(warm)
    print()
    print(f"file: {model.name}, {size:,} bytes ({size / 2**30:.2f} GiB)")
    print(f"{'':34s} {'seconds':>10s}")
    print(f"{'kresolve.inspect, cold (1st call)':34s} {cold:10.4f}   (starts the HDF5 worker)")
    print(f"{'kresolve.inspect, warm median':34s} {warm_median:10.4f}   (of {args.warm}; "
          f"min {min(warm):.4f}, max {max(warm):.4f})")
    print(f"{'load_model, median':34s} {load_median:10.4f}   (of {args.loads}: "
          f"{', '.join(f'{t:.2f}' for t in loaded['load_s'])}; TF {loaded['tensorflow']}, "
          f"import tensorflow {loaded['import_s']:.1f} s not included)")
    print(f"load_model / inspect (warm): {load_median / warm_median:,.0f}x; "
          f"(cold): {load_median / cold:,.0f}x")


if __name__ == "__main__":
    main()
