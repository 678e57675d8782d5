"""`kresolve scan --smoke --jobs 2` end to end: real TensorFlow environments (the ones the e2e
lock tests build, reused from the kresolve cache: one per distinct lock), models proved in
parallel, copies of one model sharing one environment."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from conftest import FIXTURES

from kresolve.cli import main
from kresolve.scan.fleet import Outcome

pytestmark = pytest.mark.e2e


def test_scan_with_smoke_proves_every_model_in_parallel(tmp_path, capsys):
    if f"{sys.version_info.major}.{sys.version_info.minor}" != "3.11":
        pytest.skip("the fixtures' Lambda-free models were written on Python 3.11; the e2e envs are 3.11")
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES / "keras3-zip", fleet / "a" / "keras3-zip")
    shutil.copytree(FIXTURES / "keras3-zip", fleet / "b" / "keras3-zip-copy")
    shutil.copytree(FIXTURES / "tf215-savedmodel", fleet / "a" / "tf215-savedmodel")
    code = main(["scan", str(fleet), "--smoke", "--jobs", "2", "-o", str(tmp_path / "out"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0, data["summary"]
    cells = {m["path"]: m["cells"][0] for m in data["models"]}
    assert all(c["outcome"] == Outcome.PROVED.value for c in cells.values()), cells
    assert all(c["proof"]["compared"] and c["proof"]["max_abs_diff"] <= 1e-5 for c in cells.values())
    copies = [c for p, c in cells.items() if "keras3-zip" in p]
    assert copies[0]["env"] == copies[1]["env"]  # one pin set, one environment
    assert any(c["proof"]["env_reused"] for c in copies)  # the second waited for the first's build
    assert len(data["environments"]) >= 1
