"""Fuzz `kresolve.inspect` with mutated copies of real model files and print the figures.

Run on demand (not part of the test suite):

    .venv/bin/python bench/fuzz.py [--cases 5000] [--seed 0] [--json out.json]

Each case takes one real file (the repository's fixtures and, when present, the third-party
samples in ../shared/models: HDF5 full models and weights files, .keras zips, SavedModel
`saved_model.pb` / `keras_metadata.pb`, an unpacked .keras directory's members), applies one
mutation (truncation, 1-16 bit flips, a byte range overwritten with junk, a wrong or swapped
magic, garbage appended, bytes inserted) and calls `kresolve.inspect` on it. Directory sources
are mutated in a working copy, one member per case.

Printed: cases, outcomes (facts / BadInput / other exception: other must be 0, and the exit
status is 1 when it is not), seconds per case (max, p99, median), peak RSS of this process and
of the HDF5 worker processes, worker restarts, and anything written during an inspect call:
an audit hook sees every file this process opens for writing (and every mkdir, rename, remove)
while `inspect` runs, and the folders models are read from (fixtures, samples) and the current
directory are compared before and after the run for the HDF5 worker's side. The
malicious-Lambda fixture is among the sources with KRESOLVE_PWNED_MARKER pointing at a path
that must never appear.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures" / "models"
SHARED = ROOT.parent / "shared" / "models"

# (label, model path relative to its root, member to mutate for directory models or None)
FIXTURE_SOURCES = [
    ("fixture tf215-h5", "tf215-h5/model.h5", None),
    ("fixture tf215-malicious-lambda-h5", "tf215-malicious-lambda-h5/model.h5", None),
    ("fixture keras3-h5", "keras3-h5/model.h5", None),
    ("fixture tf215-keras-zip", "tf215-keras-zip/model.keras", None),
    ("fixture keras3-lambda", "keras3-lambda/model.keras", None),
    ("fixture tf215-savedmodel saved_model.pb", "tf215-savedmodel/model", "saved_model.pb"),
    ("fixture tf215-savedmodel keras_metadata.pb", "tf215-savedmodel/model", "keras_metadata.pb"),
]
SHARED_SOURCES = [
    ("shared keras23-small-dense", "keras23-small-dense/my_model.h5", None),
    ("shared keras20-carnd-lambda", "keras20-carnd-lambda/model.h5", None),
    ("shared tfkeras24-functional-hdf5", "tfkeras24-functional-hdf5/model.hdf5", None),
    ("shared keras1-carnd-tiny-weights-json", "keras1-carnd-tiny-weights-json/model.h5", None),
    ("shared keras215-zip-custom-tfp", "keras215-zip-custom-tfp/custom_model.keras", None),
    ("shared keras3-zip-churn", "keras3-zip-churn/model.keras", None),
    ("shared tf28-savedmodel saved_model.pb", "tf28-savedmodel-keras-metadata", "saved_model.pb"),
    ("shared tf28-savedmodel keras_metadata.pb", "tf28-savedmodel-keras-metadata", "keras_metadata.pb"),
    ("shared tf23-savedmodel-linear saved_model.pb", "tf23-savedmodel-linear", "saved_model.pb"),
    ("shared keras215-unpacked-keras-dir config.json", "keras215-unpacked-keras-dir/_model_prob_mnist",
     "config.json"),
    ("shared keras215-unpacked-keras-dir model.weights.h5",
     "keras215-unpacked-keras-dir/_model_prob_mnist", "model.weights.h5"),
]

MAGICS = [b"\x89HDF\r\n\x1a\n", b"PK\x03\x04", b"PK\x05\x06", b"\x80\x04\x95", b"\x1f\x8b\x08",
          b"\x0e\x03\x13\x01", b"{\"", b"\x08\x01\x12", b"\x00" * 8, b"\xff" * 8]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
WRITE_EVENTS = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.symlink",
                "os.link", "os.truncate", "shutil.copyfile", "shutil.move", "shutil.rmtree"}


# ----------------------------------------------------------------------------- mutations


def _junk(rng: random.Random, data: bytes, length: int) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(length)
    if kind == 1:
        return b"\x00" * length
    if kind == 2:
        return b"\xff" * length
    if kind == 3 and data:  # another region of the same file: plausible-looking structure
        start = rng.randrange(len(data))
        chunk = data[start : start + length]
        return (chunk * (length // max(1, len(chunk)) + 1))[:length]
    return bytes([rng.randrange(256)]) * length


def _position(rng: random.Random, size: int) -> int:
    """Anywhere, or (half the time) in the first 4 KiB, where headers and tables live."""
    if rng.random() < 0.5:
        return rng.randrange(min(size, 4096))
    return rng.randrange(size)


def mutate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    size = len(data)
    kind = rng.choice(["truncate", "bitflip", "overwrite", "magic", "append", "insert"])
    out = bytearray(data)
    if kind == "truncate":
        cut = rng.randrange(size) if rng.random() < 0.7 else rng.randrange(min(size, 512))
        return f"truncate@{cut}", bytes(out[:cut])
    if kind == "bitflip":
        flips = rng.randint(1, 16)
        for _ in range(flips):
            out[_position(rng, size)] ^= 1 << rng.randrange(8)
        return f"bitflip x{flips}", bytes(out)
    if kind == "overwrite":
        at = _position(rng, size)
        length = min(rng.choice([1, 2, 4, 8, 16, 64, 512, 4096]), size - at)
        out[at : at + length] = _junk(rng, data, length)
        return f"overwrite@{at}+{length}", bytes(out)
    if kind == "magic":
        magic = rng.choice(MAGICS)
        at = rng.choice([0, 0, 0, 512, 1024]) if size > 1024 else 0
        out[at : at + len(magic)] = magic
        return f"magic@{at}={magic[:4].hex()}", bytes(out)
    if kind == "append":
        length = rng.choice([1, 16, 512, 4096, 65536])
        return f"append+{length}", bytes(out) + _junk(rng, data, length)
    at = _position(rng, size)
    length = rng.choice([1, 3, 8, 100, 4096])
    out[at:at] = _junk(rng, data, length)
    return f"insert@{at}+{length}", bytes(out)


# ----------------------------------------------------------------------------- watching writes


class WriteWatch:
    """Audit hook: records writes this process makes while `armed` (i.e. inside inspect)."""

    def __init__(self) -> None:
        self.armed = False
        self.seen: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if not self.armed:
            return
        if event == "open":
            path, mode, flags = (list(args) + [None, None, None])[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS)
            # (an int path wraps an inherited descriptor, e.g. the worker's pipes: no file)
            if writing and not isinstance(path, int) and str(path) != os.devnull:
                self.seen.append(f"open({path!r}, {mode or flags})")
        elif event in WRITE_EVENTS:
            self.seen.append(f"{event}{args!r}"[:300])


def snapshot(roots: list[Path], skip: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in skip]
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                out[path] = (info.st_size, info.st_mtime_ns)
    return out


def vm_hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    from kresolve.artifact import BadInput, ModelFacts, h5worker, inspect

    sources = [(label, FIXTURES / rel, member) for label, rel, member in FIXTURE_SOURCES]
    if SHARED.is_dir():
        sources += [(label, SHARED / rel, member) for label, rel, member in SHARED_SOURCES]
    sources = [s for s in sources if s[1].exists()]

    work = Path(tempfile.mkdtemp(prefix="kresolve-fuzz-"))
    marker = work / "pwned-marker"
    os.environ["KRESOLVE_PWNED_MARKER"] = str(marker)  # before the HDF5 worker starts
    default_marker = Path("/tmp/kresolve-pwned-marker")
    default_marker_before = default_marker.exists() and default_marker.stat().st_mtime_ns
    cwd = work / "cwd"
    cwd.mkdir()
    os.chdir(cwd)

    # Working copies: directory sources are copied once and one member is rewritten per case.
    prepared = []
    for index, (label, path, member) in enumerate(sources):
        if member is None:
            prepared.append((label, path.read_bytes(), work / f"case{index}{path.suffix}", None, path))
        else:
            copy = work / f"dir{index}"
            shutil.copytree(path, copy)
            for sub in [copy, *copy.rglob("*")]:
                os.chmod(sub, 0o755 if sub.is_dir() else 0o644)
            prepared.append((label, (path / member).read_bytes(), copy / member, copy, path))

    # The model folders read from and the current directory. (Not the whole repository or the
    # kresolve cache: other processes, e.g. a test run, may be writing there meanwhile; this
    # process's own writes anywhere are caught by the audit hook.)
    watched = [FIXTURES, SHARED, cwd]
    skip = ("__pycache__",)
    before = snapshot(watched, skip)
    watch = WriteWatch()

    rng = random.Random(args.seed)
    outcomes: collections.Counter[str] = collections.Counter()
    per_source: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    per_mutation: collections.Counter[str] = collections.Counter()
    others: list[str] = []
    times: list[tuple[float, str]] = []
    starts = [0]
    original_start = h5worker._Worker._start

    def counted_start(self) -> None:
        starts[0] += 1
        original_start(self)

    h5worker._Worker._start = counted_start
    worker_peak_kib = 0
    started = time.monotonic()

    for case in range(args.cases):
        label, original, target, directory, _source = prepared[case % len(prepared)]
        what, data = mutate(rng, original)
        per_mutation[what.split("@")[0].split(" ")[0].split("+")[0]] += 1
        target.write_bytes(data)
        model = directory if directory is not None else target
        watch.armed = True
        t0 = time.perf_counter()
        try:
            facts = inspect(model)
            outcome = "facts" if isinstance(facts, ModelFacts) else f"returned {type(facts).__name__}"
        except BadInput as exc:
            outcome = "BadInput"
            if "\n" in str(exc):
                outcome = "BadInput with a line break"
        except BaseException as exc:  # noqa: BLE001 - the point is to count them
            outcome = f"other: {type(exc).__name__}"
            others.append(f"{label} / {what}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        elapsed = time.perf_counter() - t0
        watch.armed = False
        times.append((elapsed, f"{label} / {what}"))
        outcomes[outcome] += 1
        per_source[label][outcome] += 1
        proc = h5worker._WORKER._proc
        if proc is not None and proc.poll() is None and case % 50 == 0:
            worker_peak_kib = max(worker_peak_kib, vm_hwm_kib(proc.pid) or 0)
        if directory is not None:
            target.write_bytes(original)  # restore the member for the next case of this source
        if (case + 1) % 1000 == 0:
            print(f"  {case + 1} cases, {time.monotonic() - started:.0f} s", file=sys.stderr)

    proc = h5worker._WORKER._proc
    if proc is not None and proc.poll() is None:
        worker_peak_kib = max(worker_peak_kib, vm_hwm_kib(proc.pid) or 0)
    h5worker._WORKER.stop()
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total_s = time.monotonic() - started

    after = snapshot(watched, skip)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    if marker.exists():
        changed.append(f"{marker} (the malicious Lambda ran!)")
    if default_marker.exists() and default_marker.stat().st_mtime_ns != default_marker_before:
        changed.append(f"{default_marker} (the malicious Lambda ran!)")
    shutil.rmtree(work, ignore_errors=True)

    seconds = sorted(t for t, _ in times)
    p99 = seconds[min(len(seconds) - 1, round(0.99 * (len(seconds) - 1)))]
    slowest = sorted(times, reverse=True)[:5]
    figures = {
        "cases": args.cases,
        "seed": args.seed,
        "sources": len(prepared),
        "outcomes": dict(outcomes.most_common()),
        "other_exceptions": len(others),
        "seconds_per_case": {"max": round(seconds[-1], 4), "p99": round(p99, 4),
                             "median": round(statistics.median(seconds), 5)},
        "total_seconds": round(total_s, 1),
        "peak_rss_mib": {"this_process": round(self_kib / 1024, 1),
                         "hdf5_workers": round(max(children_kib, worker_peak_kib) / 1024, 1)},
        "hdf5_workers_started": starts[0],
        "writes_during_inspect": len(watch.seen),
        "changed_outside_tmp": len(changed),
    }
    print(f"kresolve inspect fuzz: {args.cases} cases over {len(prepared)} real files (seed {args.seed})")
    print(f"  mutations: {dict(sorted(per_mutation.items()))}")
    print(f"  outcomes:  {dict(outcomes.most_common())}   other exceptions: {len(others)}")
    print(f"  seconds per case: max {seconds[-1]:.3f}, p99 {p99:.4f}, median "
          f"{statistics.median(seconds):.5f}; total {total_s:.0f} s")
    print("  slowest: " + "; ".join(f"{t:.2f}s {what}" for t, what in slowest))
    print(f"  peak RSS: this process {self_kib / 1024:.0f} MiB, HDF5 worker(s) "
          f"{max(children_kib, worker_peak_kib) / 1024:.0f} MiB; workers started: {starts[0]}")
    print(f"  files written during inspect (audit hook): {len(watch.seen)}; changed in watched "
          f"folders / markers: {len(changed)}")
    print("  per source (facts / BadInput):")
    for label, counts in per_source.items():
        print(f"    {label:52s} {counts.get('facts', 0):5d} / {counts.get('BadInput', 0):5d}"
              + ("" if set(counts) <= {"facts", "BadInput"} else f"  {dict(counts)}"))
    for line in (watch.seen + changed)[:20]:
        print(f"  WRITE: {line}")
    for text in others[:5]:
        print(f"  OTHER: {text}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if others or watch.seen or changed or set(outcomes) - {"facts", "BadInput"} else 0


if __name__ == "__main__":
    sys.exit(main())
