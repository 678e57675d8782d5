"""Benchmark: `inspect` and `lock --no-smoke` on the fixtures, cold and warm cache, next to
`uv pip compile --generate-hashes` for the same pinned top-level requirements on the same target.

Run on demand (not part of the test suite):  .venv/bin/python bench/bench.py [--rounds N]
Prints a table; talks to the configured index (PyPI).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kresolve import api
from kresolve.index import Cache

FIXTURES = ROOT / "tests" / "fixtures" / "models"
MODELS = {
    "tf215-h5": "model.h5",
    "tf215-savedmodel": "model",
    "keras3-zip": "model.keras",
}


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def uv_compile(requirements: list[str], cache_dir: Path) -> float:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.in"
        req.write_text("\n".join(requirements) + "\n")
        cmd = [uv, "pip", "compile", "--quiet", "--generate-hashes", "--python-version", "3.11",
               "--python-platform", "x86_64-manylinux_2_28", "--cache-dir", str(cache_dir), "-o", str(Path(tmp) / "out.txt"), str(req)]
        seconds, proc = timed(lambda: subprocess.run(cmd, check=False, capture_output=True, text=True))
        if proc.returncode != 0:
            raise SystemExit(f"uv pip compile failed: {proc.stderr}")
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="warm repetitions (median reported)")
    args = parser.parse_args()
    print(f"{'model':22} {'inspect ms':>10} {'lock cold s':>11} {'lock warm s':>11} {'uv cold s':>9} {'uv warm s':>9}  ratio warm")
    for fixture, name in MODELS.items():
        path = FIXTURES / fixture / name
        api.inspect(path)  # import warm-up, not file caching: inspect reads the file every time
        inspect_ms = statistics.median(timed(lambda path=path: api.inspect(path))[0] for _ in range(20)) * 1000
        with tempfile.TemporaryDirectory() as tmp:
            cache = Cache(Path(tmp) / "kresolve")
            cold, result = timed(lambda path=path, cache=cache, tmp=tmp: api.lock(path, python="3.11", platform="linux-64", out_dir=Path(tmp) / "o", smoke=False, cache=cache))
            warm = statistics.median(
                timed(lambda path=path, cache=cache, tmp=tmp: api.lock(path, python="3.11", platform="linux-64", out_dir=Path(tmp) / "o", smoke=False, cache=cache))[0]
                for _ in range(args.rounds)
            )
            top = [f"{p.name}=={p.version}" for p in result.environment.pins if p.top_level]
            uv_cache = Path(tmp) / "uv"
            uv_cold = uv_compile(top, uv_cache)
            uv_warm = statistics.median(uv_compile(top, uv_cache) for _ in range(args.rounds))
        print(f"{fixture:22} {inspect_ms:10.2f} {cold:11.2f} {warm:11.2f} {uv_cold:9.2f} {uv_warm:9.2f}  {warm / uv_warm:5.1f}x  ({', '.join(top)})")
    era_cap_lines(args.rounds)


def era_cap_lines(rounds: int) -> None:
    """Lock time with the era cap on (the default) and off: dating releases costs requests only
    where the index gives no PEP 700 upload-time, and a binary search keeps them few."""
    print(f"\n{'era cap':22} {'lock cold s':>11} {'lock warm s':>11}  pins dated")
    for fixture, name in MODELS.items():
        path = FIXTURES / fixture / name
        with tempfile.TemporaryDirectory() as tmp:
            for cap in (True, False):
                cache = Cache(Path(tmp) / f"kresolve-{cap}")
                def run(path=path, cache=cache, cap=cap, out=Path(tmp) / "o"):
                    return api.lock(path, python="3.11", platform="linux-64", out_dir=out, smoke=False, cache=cache, era_cap=cap)

                cold, result = timed(run)
                warm = statistics.median(timed(run)[0] for _ in range(rounds))
                dated = sum(1 for p in result.environment.pins if p.released)
                print(f"{fixture + (' cap on' if cap else ' cap off'):22} {cold:11.2f} {warm:11.2f}  {dated}")


if __name__ == "__main__":
    main()
