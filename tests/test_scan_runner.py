"""The local smoke pool: each job in its own process group, a crash or a hang of one model never
stops the others, jobs capped by memory; and an interrupted scan keeps what it finished."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys

import pytest
from conftest import FIXTURES
from localindex import make_wheel
from scanworld import build_world

from kresolve.index import IndexConfig
from kresolve.scan import ScanInterrupted, ScanOptions, TargetSpec, run_scan
from kresolve.scan.fleet import ProofStatus
from kresolve.scan.jsonout import JOURNAL
from kresolve.scan.runner import MEMORY_PER_JOB, LocalSmoke, SmokeJob, memory_jobs
from kresolve.smoke.run import Attempt

KERAS = (Attempt("keras"),)


def _job(tmp_path, model, lock="", env="e", attempts=KERAS, index=None) -> SmokeJob:
    return SmokeJob(str(model), "3.11/linux-64", lock, env, attempts, False, index or IndexConfig(),
                    str(tmp_path / "envs"), 60)


def test_a_crash_or_a_hang_of_one_model_does_not_stop_the_others(tmp_path):
    # A stalled index (it accepts connections and never answers): this job's environment build
    # hangs until the pool's per-model limit kills its process group.
    wheel = make_wheel(tmp_path / "repo" / "files", "tinypkg", "1.0")
    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(16)
    url = f"http://127.0.0.1:{stalled.getsockname()[1]}"
    lock = f"tinypkg==1.0 \\\n    --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}\n"
    jobs = [
        ("hang", _job(tmp_path, FIXTURES / "keras3-zip" / "model.keras", lock, "a", index=IndexConfig(f"{url}/simple"))),
        ("crash", _job(tmp_path, FIXTURES / "keras3-zip" / "model.keras", lock, "b", attempts=())),  # smoke_test raises
        ("gone", _job(tmp_path, tmp_path / "no-such-model.keras", lock, "c")),
        ("lambda", _job(tmp_path, FIXTURES / "keras3-lambda" / "model.keras", lock, "d")),
    ]
    try:
        got = dict(LocalSmoke(2, timeout=10.0).run(jobs))
    finally:
        stalled.close()
    assert set(got) == {"hang", "crash", "gone", "lambda"}
    assert got["hang"].status is ProofStatus.TIMEOUT and "killed" in got["hang"].reason
    assert got["crash"].status is ProofStatus.CRASHED and "ValueError" in got["crash"].reason
    assert got["gone"].status is ProofStatus.FAILED and "could not be read again" in got["gone"].reason
    assert got["lambda"].status is ProofStatus.SKIPPED and "--trust-model" in got["lambda"].reason


def test_jobs_are_capped_by_available_memory():
    count, why = memory_jobs(10_000)
    if why is None:
        pytest.skip("available memory is not known on this platform")
    assert 1 <= count < 10_000 and "capped" in why and f"{MEMORY_PER_JOB / 2**30:.0f} GiB" in why
    assert memory_jobs(1) == (1, None)


def test_an_interrupted_scan_keeps_what_it_finished_and_resume_continues(tmp_path, monkeypatch):
    fleet = tmp_path / "fleet"
    for name in ("tf215-h5", "keras3-zip", "tf212-h5"):
        shutil.copytree(FIXTURES / name, fleet / name)
    options = ScanOptions(targets=(TargetSpec("3.11", "linux-64"),), index_config=IndexConfig(build_world(tmp_path / "w")),
                          cache_root=str(tmp_path / "cache"))
    from kresolve.scan import evaluate

    real = evaluate.Evaluator.row
    calls = []

    def interrupting(self, path, facts=None):  # Ctrl-C while the third model is read
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, path, facts)

    monkeypatch.setattr(evaluate.Evaluator, "row", interrupting)
    out = tmp_path / "out"
    with pytest.raises(ScanInterrupted, match="2 of 3 models done") as info:
        run_scan([fleet], options, out)
    assert info.value.exit_code == 130
    partial = json.loads((out / "scan.json").read_text())
    assert partial["complete"] is False and len(partial["models"]) == 2
    assert len((out / JOURNAL).read_text().splitlines()) == 3  # header + two models
    monkeypatch.setattr(evaluate.Evaluator, "row", real)
    calls.clear()
    result, _ = run_scan([fleet], options, out, resume=True)
    assert result.complete and len(result.rows) == 3 and result.ok
    assert json.loads((out / "scan.json").read_text())["complete"] is True
    assert sys.modules["kresolve.scan.runner"]  # the pool's module imports without Dask


def test_an_index_that_fails_ends_the_scan_with_exit_4_keeping_what_finished(tmp_path, capsys, monkeypatch):
    from localindex import serve

    from kresolve.cli import main

    build_world(tmp_path / "repo")
    url, faults, server = serve(tmp_path)
    faults.status_for["/simple/"] = 503
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("KRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    try:
        code = main(["scan", str(FIXTURES / "tf215-h5"), "--python", "3.11", "-p", "linux-64",
                     "-i", f"{url}/repo/simple", "-o", str(tmp_path / "out")])
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert code == 4 and "503" in err and "--resume" in err and "Traceback" not in err
    assert json.loads((tmp_path / "out" / "scan.json").read_text())["complete"] is False


def test_jobs_that_need_one_environment_wait_for_its_first_build(tmp_path):
    lam = FIXTURES / "keras3-lambda" / "model.keras"
    pool = LocalSmoke(3)
    jobs = [("a1", _job(tmp_path, lam, env="A")), ("a2", _job(tmp_path, lam, env="A")), ("b1", _job(tmp_path, lam, env="B"))]
    got = dict(pool.run(jobs))
    assert set(got) == {"a1", "a2", "b1"}
    events = pool.events
    assert events[:2] == [("start", "a1"), ("start", "b1")]  # one per environment first
    assert events.index(("done", "a1")) < events.index(("start", "a2"))
