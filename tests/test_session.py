"""One Session per command: rules read once, one Index shared by every solve and closed after,
the CLI only parsing and rendering, and the lock report a frozen value with the documented JSON."""

from __future__ import annotations

import ast
import dataclasses
import json
import pickle
import re
from pathlib import Path

import pytest
from conftest import FIXTURES, TESTS
from localindex import make_wheel

from kresolve import api, cli
from kresolve.diagnose import KnownCauses
from kresolve.errors import BadInput
from kresolve.index import Cache, IndexConfig
from kresolve.lockreport import Report
from kresolve.rules.db import load_rules
from kresolve.session import Session

MODEL = FIXTURES / "tf215-h5" / "model.h5"
PACKAGE = TESTS.parent / "kresolve"
RULES = """
[[route]]
id = "route-test-h5"
format = "keras-h5"
rank = 10
loader = "tf.keras"
requires = ["tensorflow<2.16"]
reason = "test route"
source = "test:tests/test_session.py"

[[known_bad]]
id = "bad-test-missing-op"
signatures = ['''No op named TestOp''']
cause = "the test op is missing"
fix = "install the test op"
reason = "a test"
source = "test:tests/test_session.py"
"""


@pytest.fixture()
def world(tmp_path: Path) -> dict[str, Path]:
    """A rules directory and a --find-links directory whose wheels exist for CPython 3.10 only."""
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tensorflow", "2.15.1", requires=["numpy>=1.23"], tag="cp310-cp310-manylinux_2_17_x86_64")
    make_wheel(wheels, "numpy", "1.26.4", tag="cp310-cp310-manylinux_2_17_x86_64")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test.toml").write_text(RULES)
    return {"wheels": wheels, "rules": tmp_path / "rules", "cache": tmp_path / "cache", "out": tmp_path / "out"}


def _session(world: dict[str, Path]) -> Session:
    return Session(index_config=IndexConfig(no_index=True, find_links=(str(world["wheels"]),)),
                   cache=Cache(world["cache"]), rules_root=world["rules"])


def test_one_session_reads_the_rules_once_for_inspect_infer_and_explain(world):
    with _session(world) as session:
        assert session.rules_loads == 0  # nothing is read before a command needs it
        facts = session.inspect(MODEL)
        training = session.infer(facts)
        rules = session.rules
        explained = session.explain(MODEL, python="3.10", platform="linux-64")
        session.diagnose("No op named TestOp")
    assert explained.environment is not None
    assert training.estimates and session.rules is rules
    assert session.rules_loads == 1
    assert rules.root == str(world["rules"])


def test_explain_re_solves_on_one_index_that_closes_with_the_session(world):
    session = _session(world)
    with session:
        explained = session.explain(MODEL, python="3.11", platform="linux-64")  # only cp310 wheels: fails
        assert session.index_open
    assert explained.environment is None and explained.failure
    # The alternatives were found by re-solving for other targets, all on the same Index.
    assert any(change == "--python 3.10" for change, _ in explained.alternatives)
    assert session.indexes_opened == 1
    assert not session.index_open  # closed on leaving the `with`


def test_commands_that_need_no_index_open_none(world):
    with _session(world) as session:
        session.inspect(MODEL)
        session.rules_show("tensorflow")
        with pytest.raises(BadInput, match="no constraint rule is about 'nosuchpkg'"):
            session.rules_verify(["nosuchpkg"])
        with pytest.raises(BadInput, match="no constraint rule has this id"):
            session.rules_verify(rule_ids=["no-such-rule"])
        with pytest.raises(BadInput, match="not a version"):
            session.rules_show("tensorflow", "two")
    assert session.indexes_opened == 0  # argument checks come before any index is opened


def test_cli_only_parses_and_renders():
    """cli.py calls no load_rules, Index or infer: every command goes through a Session."""
    tree = ast.parse((PACKAGE / "cli.py").read_text("utf-8"))
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    called = {f.id for f in calls if isinstance(f, ast.Name)} | {  # session.infer(...) is the API's, not cli's
        f.attr for f in calls if isinstance(f, ast.Attribute) and not (isinstance(f.value, ast.Name) and f.value.id == "session")}
    assert {"inspect_all", "infer", "explain", "lock", "rules_verify"} <= {
        f.attr for f in calls if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "session"}
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    for name in ("load_rules", "Index", "infer", "diagnose", "verify_rules", "check_rules", "rules_about"):
        assert name not in called, name
        assert name not in imported, name


def test_the_smoke_stage_reads_no_rules():
    """The smoke test is handed its diagnoser (the caller's rules); it never loads them itself."""
    source = (PACKAGE / "smoke" / "run.py").read_text("utf-8")
    assert "load_rules" not in source


def test_known_causes_is_the_callers_rules_bound_and_picklable(world):
    causes = KnownCauses(load_rules(world["rules"]))
    again = pickle.loads(pickle.dumps(causes))  # scan sends it to its child processes
    words = again("Traceback ...\nValueError: No op named TestOp in defined operations", {"tensorflow": "2.15.1"})
    assert words.startswith("known cause [bad-test-missing-op]") and "install the test op" in words
    assert again("an error nobody knows", {}) == ""


def test_lock_report_is_frozen_and_its_json_has_the_documented_keys_in_order(world):
    result = api.lock(MODEL, python="3.10", platform="linux-64", out_dir=world["out"], dry_run=True,
                      rules=load_rules(world["rules"]), cache=Cache(world["cache"]),
                      index_config=IndexConfig(no_index=True, find_links=(str(world["wheels"]),)))
    report = result.report
    assert isinstance(report, Report)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.lockfiles = ("x",)  # type: ignore[misc]
    data = json.loads(json.dumps(report.to_json()))
    doc = (TESTS.parent / "docs" / "report-json.md").read_text("utf-8")
    top = doc.split("## Top level", 1)[1].split("\n## ", 1)[0]
    assert list(data) == re.findall(r"^\| `([^`]+)` \|", top, re.MULTILINE)
    inputs = doc.split("## `inputs`", 1)[1].split("\n## ", 1)[0]
    assert list(data["inputs"]) == re.findall(r"^\| `([^`]+)` \|", inputs, re.MULTILINE)
    assert data["kresolve_report"] == 1 and data["lockfiles"] == [] and data["smoke"] is None
    assert data["environment"]["pins"] and {p["name"] for p in data["environment"]["pins"]} == {"tensorflow", "numpy"}
    assert data["inputs"]["rules"] == {"root": str(world["rules"]), "count": report.inputs.rules_count}
    assert data["formats"] == {"chosen": ["pip"], "because": {}}
    assert report.to_json() == report.to_json()  # a view of frozen values: the same every time


def test_the_written_report_is_the_results_report(world, capsys):
    world["out"].mkdir()
    result = api.lock(MODEL, python="3.10", platform="linux-64", out_dir=world["out"], smoke=False,
                      rules=load_rules(world["rules"]), cache=Cache(world["cache"]),
                      index_config=IndexConfig(no_index=True, find_links=(str(world["wheels"]),)))
    written = json.loads((world["out"] / "kresolve-report.json").read_text("utf-8"))
    assert written == json.loads(json.dumps(result.report.to_json()))
    assert written["lockfiles"] == ["requirements.txt"]


def test_cli_session_takes_the_index_flags_and_offline(world):
    args = cli._parser().parse_args(["explain", str(MODEL), "--no-index", "-f", str(world["wheels"]), "--offline",
                                     "--only-binary", ":all:"])
    with cli.session_from(args) as session:
        assert session.offline
        config = session.index_config
        assert config.no_index and config.urls == () and str(world["wheels"]) in config.find_links
        assert ":all:" in config.formats.only_binary  # pip's --only-binary over the flags
    args = cli._parser().parse_args(["rules", "show", "tensorflow"])
    with cli.session_from(args) as session:  # no index flags: pip's configuration, read only when asked
        assert not session.offline and not session.index_open
