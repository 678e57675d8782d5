"""`scan --scheduler`: every model evaluated on a real Dask distributed LocalCluster, through the
same Evaluator and smoke function as a local scan (a cheap real task: inspect + solve against the
local index, and the Lambda model's smoke test, skipped without --trust-model on the worker)."""

from __future__ import annotations

import shutil
import sys

import pytest
from conftest import FIXTURES
from scanworld import build_world

from kresolve.index import IndexConfig
from kresolve.scan import Outcome, ScanOptions, TargetSpec, run_scan, runner

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install 'kresolve[dask]')")


def test_scan_on_a_local_dask_cluster_gives_the_local_answer(tmp_path):
    fleet = tmp_path / "fleet"
    for name in ("tf215-h5", "keras3-zip", "keras3-lambda"):
        shutil.copytree(FIXTURES / name, fleet / name)
    (fleet / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 8)  # an HDF5 signature, then nothing
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    smoke = host == "3.11" and sys.platform.startswith("linux")  # the index holds linux cp311 wheels
    options = ScanOptions(targets=(TargetSpec("3.11", "linux-64"),), index_config=IndexConfig(build_world(tmp_path / "w")),
                          cache_root=str(tmp_path / "cache"), smoke=smoke)
    local, _ = run_scan([fleet], options, tmp_path / "local")
    runner._WORKER_EVALUATORS.clear()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        remote, written = run_scan([fleet], options, tmp_path / "remote", scheduler=cluster.scheduler_address)
    assert runner._WORKER_EVALUATORS  # the in-process worker ran evaluate_remote (processes=False)
    assert [r.path for r in remote.rows] == [r.path for r in local.rows]
    for mine, theirs in zip(local.rows, remote.rows):
        assert [(c.outcome, c.route, c.env, c.distance) for c in mine.cells] == \
               [(c.outcome, c.route, c.env, c.distance) for c in theirs.cells], mine.path
    broken = next(r for r in remote.rows if r.path.endswith("broken.h5"))
    assert broken.error and broken.cells[0].outcome is Outcome.REFUSED
    if smoke:
        lam = next(r for r in remote.rows if "keras3-lambda" in r.path)
        assert lam.cells[0].proof is not None and lam.cells[0].proof.status.value == "skipped"
    assert written.scan_json.exists() and remote.proposals == local.proposals
