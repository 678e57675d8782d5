"""Where a scan's work runs: smoke tests in a bounded pool of local processes, or everything
on a Dask cluster.

Local (`--jobs N`): each smoke test runs in its own `python -m kresolve.scan.runner` process
(a crash or hang of one model never stops the scan: a per-model time limit kills its whole
process group), at most N at a time, and N is capped by available memory (TensorFlow loaders
are large: about MEMORY_PER_JOB each). Smoke tests that need the same environment (one pin set)
do not race to build it: the first of each environment runs alone, the others follow once it
is built (the environment cache's file lock would make them wait anyway, holding a slot).

Dask (`--scheduler tcp://host:8786`): every model's whole evaluation (inspect, solve, smoke)
runs on a worker through `evaluate_remote`, the same Evaluator and smoke function as locally.
Workers need kresolve installed and must see the model paths (a shared file system); the
smoke environments are built on the worker from the lock and cached in its own kresolve cache.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..artifact import inspect
from ..diagnose import KnownCauses
from ..errors import BadInput, ErrorKind, KresolveError
from ..index import IndexConfig
from ..rules.plan import plans_for
from ..smoke.run import Attempt, attempts_for, pins_in_lock, smoke_test
from ..target import make_target
from .evaluate import Evaluator, ScanOptions
from .fleet import Cell, ModelRow, Outcome, Proof, ProofStatus, Risk

MEMORY_PER_JOB = 3 * 2**30  # a TensorFlow loader process, roughly


class SchedulerUnavailable(KresolveError):
    """The Dask scheduler cannot be reached: a network failure (exit 4)."""

    exit_code = 4
    error_kind = ErrorKind.INDEX_UNAVAILABLE  # the --json kind of network failures


@dataclass(frozen=True)
class SmokeJob:
    """One model's smoke test on this host, from its lock text alone."""

    model: str
    target: str  # the cell's target id
    lock: str  # requirements.txt text
    env: str  # the pin-set id (Cell.env)
    attempts: tuple[Attempt, ...]
    trust: bool
    index_config: IndexConfig
    envs_root: str
    load_timeout: float = 600.0
    diagnoser: KnownCauses | None = None  # the scan's rules, for the known causes of a load error


def smoke_job_for(row: ModelRow, cell: Cell, options: ScanOptions, evaluator: Evaluator) -> SmokeJob | Proof:
    """The job that proves `cell`, or the reason no smoke test can run (a skipped Proof)."""
    if cell.lock is None or cell.route is None or cell.loader is None:
        return Proof(ProofStatus.SKIPPED, "nothing to prove: no environment was solved")
    if Risk.CUSTOM_CLASSES in row.risks:
        return Proof(ProofStatus.SKIPPED, "custom classes without their code: lock the model alone with --custom-objects MODULE")
    if Risk.NO_WEIGHTS in row.risks:
        return Proof(ProofStatus.SKIPPED, "the SavedModel has no variables to load")
    chosen = Attempt(cell.loader, cell.env_vars, cell.route)
    try:
        routes = [p.route for p in plans_for(inspect(row.path), evaluator.rules)]
    except (BadInput, KresolveError):
        routes = []
    attempts = attempts_for(chosen, routes, pins_in_lock(cell.lock))
    cache = evaluator.cache
    return SmokeJob(row.path, cell.target, cell.lock, cell.env or "", attempts, options.trust_model,
                    options.index_config, str(cache.root / "envs"), min(600.0, options.timeout), KnownCauses(evaluator.rules))


def run_smoke_job(job: SmokeJob) -> Proof:
    """Build (or reuse) the environment and load the model there: the smoke test itself."""
    try:
        facts = inspect(job.model)
    except BadInput as exc:
        return Proof(ProofStatus.FAILED, f"the model could not be read again: {exc}")
    with tempfile.TemporaryDirectory(prefix="kresolve-scan-") as tmp:
        lock = Path(tmp) / "requirements.txt"
        lock.write_text(job.lock, "utf-8")
        result = smoke_test(facts, lock, job.attempts, make_target(), job.index_config, Path(job.envs_root),
                            trust=job.trust, timeout=job.load_timeout, diagnoser=job.diagnoser)
    return Proof(ProofStatus(result.status.value), " ".join(result.reason.split()), result.loader, result.compared,
                 result.max_abs_diff, result.seconds, result.env_reused)


def with_proof(row: ModelRow, target: str, proof: Proof) -> ModelRow:
    """The row with the cell on `target` judged by its smoke test."""
    cells = []
    for cell in row.cells:
        if cell.target == target and cell.outcome is Outcome.SOLVED:
            if proof.status is ProofStatus.PASSED:
                outcome = Outcome.PROVED
            elif proof.status is ProofStatus.SKIPPED:
                outcome = Outcome.SOLVED
            else:
                outcome = Outcome.SMOKE_FAILED
            cell = replace(cell, outcome=outcome, proof=proof, reasons=(*cell.reasons, f"smoke test {proof.status.value}: {proof.reason}"))
        cells.append(cell)
    return replace(row, cells=tuple(cells))


def memory_jobs(requested: int) -> tuple[int, str | None]:
    """`requested` capped by available memory / MEMORY_PER_JOB (never below 1), and why."""
    available = _available_memory()
    if available is None:
        return max(1, requested), None
    cap = max(1, available // MEMORY_PER_JOB)
    if requested > cap:
        return cap, (f"--jobs {requested} capped to {cap}: {available / 2**30:.1f} GiB available, "
                     f"about {MEMORY_PER_JOB / 2**30:.0f} GiB per TensorFlow smoke process")
    return max(1, requested), None


def _available_memory() -> int | None:
    try:
        import psutil  # type: ignore[import-untyped]  # a dependency of distributed; optional here

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class LocalSmoke:
    """Smoke jobs in at most `jobs` child processes; see the module doc."""

    def __init__(self, jobs: int, timeout: float = 1800.0, on_built: Callable[[], None] | None = None):
        self.jobs = max(1, jobs)
        self.timeout = timeout
        self.on_built = on_built or (lambda: None)
        self._procs: set[subprocess.Popen[Any]] = set()
        self._guard = threading.Lock()
        self.events: list[tuple[str, object]] = []  # ("start" | "done", key), in order

    def run(self, jobs: Iterable[tuple[object, SmokeJob]]) -> Iterator[tuple[object, Proof]]:
        """(key, proof) as each job finishes; the first job of each environment goes first."""
        groups: dict[str, list[tuple[object, SmokeJob]]] = defaultdict(list)
        for key, job in jobs:
            groups[job.env].append((key, job))
        waiting = {env: items[1:] for env, items in groups.items()}
        pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="kresolve-smoke")
        running: dict[Future[Any], tuple[object, SmokeJob]] = {}
        try:
            def start(key: object, job: SmokeJob) -> None:
                self.events.append(("start", key))
                running[pool.submit(self._one, job)] = (key, job)

            for items in groups.values():
                start(*items[0])
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    key, job = running.pop(future)
                    proof = future.result()
                    self.events.append(("done", key))
                    if not proof.env_reused and proof.status is not ProofStatus.SKIPPED:
                        self.on_built()
                    for later in waiting.pop(job.env, []):  # its environment exists now
                        start(*later)
                    yield key, proof
        finally:
            self.kill_all()
            pool.shutdown(wait=True, cancel_futures=True)

    def kill_all(self) -> None:
        with self._guard:
            for proc in list(self._procs):
                _kill_tree(proc)

    def _one(self, job: SmokeJob) -> Proof:
        with tempfile.TemporaryDirectory(prefix="kresolve-scan-job-") as tmp:
            request, answer = Path(tmp) / "job.pickle", Path(tmp) / "proof.json"
            request.write_bytes(pickle.dumps(job))  # our own file, read by our own child process
            kwargs: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {
                "creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
            proc = subprocess.Popen([sys.executable, "-m", "kresolve.scan.runner", str(request), str(answer)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
            with self._guard:
                self._procs.add(proc)
            try:
                _, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc)
                proc.communicate()
                return Proof(ProofStatus.TIMEOUT, f"the smoke test did not finish within {self.timeout:.0f}s (killed; the scan went on)")
            finally:
                with self._guard:
                    self._procs.discard(proc)
            if answer.exists():
                return _proof_from(json.loads(answer.read_text("utf-8")))
            tail = (err or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            return Proof(ProofStatus.CRASHED, f"the smoke process died (exit {proc.returncode}): {tail[0]}")


def _kill_tree(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _proof_from(data: dict[str, Any]) -> Proof:
    return Proof.from_json(data)


# ----------------------------------------------------------------------------- Dask


_WORKER_EVALUATORS: dict[str, Evaluator] = {}
_WORKER_GUARD = threading.Lock()


def evaluate_remote(path: str, options: ScanOptions) -> dict[str, Any]:
    """A whole model on a Dask worker: inspect, solve, smoke on the worker's host. Returns the
    row's JSON (lock included). One Evaluator per worker process and options, memo shared."""
    key = json.dumps(options.fingerprint(), sort_keys=True) + repr(options.index_config) + str(options.cache_root)
    with _WORKER_GUARD:
        evaluator = _WORKER_EVALUATORS.get(key)
        if evaluator is None:
            evaluator = _WORKER_EVALUATORS[key] = Evaluator(options)
    row = evaluator.row(path)
    host = evaluator.host_target()
    if options.smoke and host is not None:
        cell = row.cell(host)
        if cell is not None and cell.outcome is Outcome.SOLVED:
            job = smoke_job_for(row, cell, options, evaluator)
            proof = job if isinstance(job, Proof) else run_smoke_job(job)
            row = with_proof(row, host, proof)
    return row.to_json(with_lock=True)


class DaskRunner:
    """Rows computed by `evaluate_remote` on the cluster at `address`, as they complete."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise BadInput("--scheduler needs Dask distributed: pip install 'kresolve[dask]'") from None
        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnavailable(f"--scheduler {address}: cannot connect to the Dask scheduler ({exc})") from None
        except ValueError as exc:
            raise BadInput(f"--scheduler {address}: not a Dask scheduler address ({exc})") from None

    def rows(self, paths: list[str], options: ScanOptions) -> Iterator[ModelRow]:
        from distributed import as_completed

        futures = {self.client.submit(evaluate_remote, p, options, pure=False, key=f"kresolve-scan-{i}-{Path(p).name}"): p
                   for i, p in enumerate(paths)}
        try:
            for future in as_completed(futures):
                path = futures[future]
                try:
                    yield ModelRow.from_json(future.result())
                except KresolveError:
                    raise
                except Exception as exc:  # noqa: BLE001  (a worker died or the task raised: that model's row says so)
                    yield _failed_row(path, f"the Dask task failed: {type(exc).__name__}: {exc}", options)
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self.client.close()


def _failed_row(path: str, why: str, options: ScanOptions) -> ModelRow:
    from .evaluate import stamp, target_id

    cells = tuple(Cell(target_id(t.target()), Outcome.UNSOLVABLE, (why,)) for t in options.targets)
    return ModelRow(path, stamp(Path(path)), None, None, None, (), None, (), (), None, cells)


def _main(argv: list[str]) -> int:
    """`python -m kresolve.scan.runner JOB PROOF`: one smoke job (the local pool's child)."""
    request, answer = Path(argv[0]), Path(argv[1])
    job: SmokeJob = pickle.loads(request.read_bytes())
    proof = run_smoke_job(job)
    tmp = answer.with_suffix(".tmp")
    tmp.write_text(json.dumps(proof.to_json()), "utf-8")
    os.replace(tmp, answer)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

