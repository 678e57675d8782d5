"""`kresolve scan`: real fixture models, the real rules DB, the real solver against a local index
of real-format wheels (tests/scanworld.py). No network, no TensorFlow."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, TESTS
from scanworld import TF_215_ONLY, build_world

from kresolve.index import IndexConfig
from kresolve.scan import Outcome, Risk, ScanOptions, TargetSpec, run_scan
from kresolve.scan.jsonout import JOURNAL

DOC = TESTS.parent / "docs" / "scan-json.md"
PICKS = {  # fixture dir -> model inside it
    "tf215-h5": "model.h5",
    "tf212-h5": "model.h5",
    "keras3-zip": "model.keras",
    "keras3-lambda": "model.keras",
    "keras3-custom-layer": "model.keras",
    "tf215-weights-json": "model.h5",
}
T311, T312 = "3.11/linux-64", "3.12/linux-64"


@pytest.fixture(scope="module")
def index_url(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A fleet directory: real fixtures (copied), a refused pickle archive, an empty .h5."""
    root = tmp_path_factory.mktemp("fleet")
    for name in PICKS:
        shutil.copytree(FIXTURES / name, root / "team-a" / name)
    shutil.copytree(FIXTURES.parent / "malicious" / "raw-pickle-member", root / "team-b" / "pickled")
    (root / "team-b" / "empty.h5").write_bytes(b"")
    return root


def options(index_url, tmp_path, **kw) -> ScanOptions:
    base = {"targets": (TargetSpec("3.11", "linux-64"), TargetSpec("3.12", "linux-64")),
            "index_config": IndexConfig(index_url), "cache_root": str(tmp_path / "cache")}
    return ScanOptions(**(base | kw))


def test_scan_finds_every_model_and_says_per_target_how_it_solves(fleet, index_url, tmp_path):
    result, written = run_scan([fleet], options(index_url, tmp_path), tmp_path / "out", formats=("pip",))
    rows = {Path(r.path).relative_to(fleet).parts[1]: r for r in result.rows if "team-a" in r.path}
    assert set(rows) == set(PICKS)
    assert result.targets == (T311, T312)
    tf215 = rows["tf215-h5"]
    assert tf215.format == "keras-h5" and tf215.keras_version == "2.15.0" and dict(tf215.training)["tensorflow"] == "2.15.1"
    cell = tf215.cell(T311)
    assert cell.outcome is Outcome.SOLVED and cell.loader == "tf.keras" and cell.distance == 0
    assert {p.name: p.version for p in cell.pins}["tensorflow"] == "2.15.1"
    # TensorFlow 2.15 has no Python 3.12 wheel here: another route, at a distance, and why.
    far = tf215.cell(T312)
    assert far.outcome is Outcome.SOLVED and far.distance > 0 and far.route != cell.route
    assert any("not used" in r for r in far.reasons)
    # TF 2.12 is not on the index for its own Python either: the nearest line, with its distance.
    tf212 = rows["tf212-h5"].cell(T311)
    assert tf212.outcome is Outcome.SOLVED and tf212.distance >= 3
    assert {p.name: p.distance for p in tf212.pins}["tensorflow"].startswith("minor +3")
    # Risks, from the files themselves.
    assert Risk.LAMBDA in rows["keras3-lambda"].risks
    assert Risk.CUSTOM_CLASSES in rows["keras3-custom-layer"].risks
    assert Risk.WEIGHTS_ONLY in rows["tf215-weights-json"].risks
    # Refused files are rows with their reason, on every target.
    refused = [r for r in result.rows if "team-b" in r.path]
    assert len(refused) == 2 and all(r.error for r in refused)
    pickled = next(r for r in refused if "pickled" in r.path)
    assert pickled.risks == (Risk.UNSAFE,) and "pickle" in pickled.error
    assert all(c.outcome is Outcome.REFUSED for r in refused for c in r.cells)
    assert not result.ok and "4 refused" in result.summary()  # cells are counted: 2 files × 2 targets
    assert written.scan_json.exists() and written.scan_html.exists()


def test_fewest_environments_cover_the_fleet_and_each_gets_a_lock(fleet, index_url, tmp_path):
    result, written = run_scan([fleet / "team-a"], options(index_url, tmp_path), tmp_path / "out", formats=("pip",))
    on311 = [p for p in result.proposals if p.target == T311]
    served = [m for p in on311 for m in p.models]
    assert sorted(served) == sorted(r.path for r in result.rows if r.cell(T311).outcome.ok)  # each model once
    # One environment serves the whole fleet on 3.11 only if a single pin set satisfies a route of
    # every model: the Keras 3 stack reads Keras 2 HDF5 too, so the cover needs at most two.
    assert 1 <= len(on311) <= 2
    tf215 = next(r for r in result.rows if "tf215-h5" in r.path)
    home = next(p for p in on311 if tf215.path in p.models)
    # Assigned to the nearest chosen environment: TF 2.15 when it was chosen.
    if any(dict(p.pins).get("tensorflow") == "2.15.1" for p in on311):
        assert dict(home.pins)["tensorflow"] == "2.15.1"
    locks = [p for p in written.locks if "/envs/" in p.as_posix()]
    assert len(locks) == len(result.proposals)
    text = locks[0].read_text()
    assert "serves" in text and "--hash=sha256:" in text and "tensorflow==" in text


def test_a_policy_makes_cells_unsolvable_with_the_policy_rule_named(fleet, index_url, tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text(TF_215_ONLY)
    result, _ = run_scan([fleet / "team-a" / "keras3-zip", fleet / "team-a" / "tf215-h5"],
                         options(index_url, tmp_path, policy=str(policy), targets=(TargetSpec("3.11", "linux-64"),)),
                         tmp_path / "out")
    keras3, tf215 = result.rows
    assert tf215.cell(T311).outcome is Outcome.SOLVED
    cell = keras3.cell(T311)
    assert cell.outcome is Outcome.UNSOLVABLE
    assert any("tf 2.15 stack" in r for r in cell.reasons)
    assert result.policy == "tf 2.15 stack"


def _keys(value, prefix: str, maps: set[str], found: set[str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            if path not in maps:
                _keys(inner, path, maps, found)
    elif isinstance(value, list):
        for inner in value:
            _keys(inner, prefix + "[]", maps, found)


def test_scan_json_matches_its_documentation(fleet, index_url, tmp_path):
    # --smoke on this host: the Lambda model's smoke test is skipped (no --trust-model), cheaply,
    # through the real smoke function in a child process; its cell carries a proof.
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    if host != "3.11" or not sys.platform.startswith("linux"):
        pytest.skip("the local index holds linux cp311 wheels; the host must be Linux, Python 3.11")
    out = tmp_path / "out"
    run_scan([fleet / "team-a" / "keras3-lambda", fleet / "team-b"],
             options(index_url, tmp_path, smoke=True, targets=(TargetSpec(None, None), TargetSpec("3.12", "linux-64"))), out)
    data = json.loads((out / "scan.json").read_text())
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", DOC.read_text(), re.MULTILINE)
    documented = {key for key, _ in rows}
    maps = {key for key, kind in rows if kind.strip() == "map"}
    found: set[str] = set()
    _keys(data, "", maps, found)
    # Parent objects of documented leaves are implied (models, models[].cells, ...).
    implied = {k.rsplit(".", 1)[0] for k in documented if "." in k}
    implied |= {k.removesuffix("[]") for k in implied}
    assert documented - found == set(), "documented but missing in a real scan.json"
    assert found - documented - implied == set(), "in scan.json but not documented"
    lam = next(m for m in data["models"] if "keras3-lambda" in m["path"])
    proof = lam["cells"][0]["proof"]
    assert proof["status"] == "skipped" and "--trust-model" in proof["reason"]


def test_resume_continues_from_the_journal_and_rereads_changed_models(fleet, index_url, tmp_path):
    out = tmp_path / "out"
    work = tmp_path / "models"
    shutil.copytree(fleet / "team-a" / "tf215-h5", work / "a")
    shutil.copytree(fleet / "team-a" / "keras3-zip", work / "b")
    opts = options(index_url, tmp_path, targets=(TargetSpec("3.11", "linux-64"),))
    first, _ = run_scan([work], opts, out)
    journal = (out / JOURNAL).read_text().splitlines()
    assert len(journal) == 3 and json.loads(journal[0])["kresolve_scan_journal"] == 1
    # An interrupted run: only the first model's line made it (the second is cut short).
    (out / JOURNAL).write_text(journal[0] + "\n" + journal[1] + "\n" + journal[2][:40])
    again, _ = run_scan([work], opts, out, resume=True)
    assert [r.path for r in again.rows] == [r.path for r in first.rows]
    assert any("resumed: 1 model" in n for n in again.notes)
    assert again.complete and again.rows[1].cells[0].outcome is Outcome.SOLVED
    # Other options than the journal's: refused, one line.
    from kresolve.errors import BadInput

    with pytest.raises(BadInput, match="other options"):
        run_scan([work], options(index_url, tmp_path), out, resume=True)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, KRESOLVE_CACHE_DIR=str(cwd / "cache"))
    return subprocess.run([sys.executable, "-m", "kresolve", *args], check=False, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_cli_exit_codes_and_summary_line(fleet, index_url, tmp_path, capsys):
    from kresolve.cli import main

    ok = _cli("scan", str(fleet / "team-a" / "tf215-h5"), str(fleet / "team-a" / "keras3-zip"), "--python", "3.11",
              "-p", "linux-64", "-i", index_url, "-o", str(tmp_path / "o1"), "--json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["summary"]["ok"] == 2 and data["complete"] is True
    some = _cli("scan", str(fleet), "--python", "3.11", "-p", "linux-64", "-i", index_url, "-o", str(tmp_path / "o2"),
                cwd=tmp_path)
    assert some.returncode == 1
    assert some.stderr.strip().splitlines()[-1].startswith("kresolve: 8 models × 1 target(s)")
    assert "Traceback" not in some.stderr
    capsys.readouterr()
    assert main(["scan", str(tmp_path / "nope"), "-o", str(tmp_path / "o3")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nope" in err and "Traceback" not in err
    assert main(["scan", str(fleet), "--jobs", "0"]) == 2
    assert "--jobs 0" in capsys.readouterr().err
