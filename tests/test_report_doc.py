"""docs/report-json.md is held to real reports: every key a report has is documented, and every
key documented is in a real report (as docs/inspect-json.md is held by tests/test_cli.py)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import FIXTURES, TESTS
from localindex import make_wheel

from kresolve import api
from kresolve.index import Cache, IndexConfig
from kresolve.report import advisories_json, custom_objects_json, smoke_json
from kresolve.rules.advisories import pin_advisories
from kresolve.rules.db import load_rules
from kresolve.smoke.run import AttemptOutcome, SmokeResult
from kresolve.smoke.status import SmokeStatus

DOC = TESTS.parent / "docs" / "report-json.md"

RULES = """
[[route]]
id = "route-test-h5"
format = "keras-h5"
rank = 10
loader = "tf.keras"
requires = ["tensorflow<2.16"]
reason = "test route"
source = "test:tests/test_report_doc.py"
"""


def documented() -> dict[str, set[str]]:
    """Section heading -> the keys its table documents (a first cell may name several)."""
    sections: dict[str, set[str]] = {}
    current = None
    for line in DOC.read_text("utf-8").splitlines():
        if line.startswith("#"):
            current = line.lstrip("#").strip()
            sections[current] = set()
        elif current and line.startswith("| `"):
            first = line.split("|")[1]
            sections[current] |= set(re.findall(r"`([^`]+)`", first))
    return {k: v for k, v in sections.items() if v}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A real report: `lock --dry-run` of a real model against real wheels (--no-index --find-links)."""
    tmp = tmp_path_factory.mktemp("report")
    wheels = tmp / "wheels"
    make_wheel(wheels, "tensorflow", "2.15.1", requires=["numpy>=1.23"], tag="cp311-cp311-manylinux_2_17_x86_64")
    make_wheel(wheels, "numpy", "1.26.4", tag="cp311-cp311-manylinux_2_17_x86_64")
    (tmp / "rules").mkdir()
    (tmp / "rules" / "test.toml").write_text(RULES)
    result = api.lock(FIXTURES / "tf215-h5" / "model.h5", python="3.11.4", platform="x86_64-manylinux_2_17",
                      out_dir=tmp / "out", rules=load_rules(tmp / "rules"), dry_run=True,
                      index_config=IndexConfig(no_index=True, find_links=(str(wheels),)), cache=Cache(tmp / "cache"))
    return json.loads(json.dumps(result.report.to_json()))  # exactly what the file holds


def _smoke() -> dict:
    result = SmokeResult(SmokeStatus.PASSED, "loaded", "tf.keras", env_dir="/envs/x", env_reused=False, route_id="r",
                         attempts=(AttemptOutcome("tf.keras", "r", True, None, 1.0),))
    return json.loads(json.dumps(smoke_json(result)))


def _custom_objects() -> dict:
    facts = api.inspect(FIXTURES / "keras3-custom-layer" / "model.keras")
    [first, *_] = custom_objects_json(facts, (), ())
    return first


def _advisory() -> dict:
    facts = api.inspect(FIXTURES / "keras3-zip" / "model.keras")
    found = advisories_json(pin_advisories([("keras", "3.0.0")], facts, load_rules()))
    assert found, "keras 3.0.0 is listed by a loader advisory in rules/advisories.toml"
    return found[0]


def test_every_report_key_is_documented_and_every_documented_key_is_real(report):
    docs = documented()
    pins = report["environment"]["pins"]
    real = {
        "Top level": report,
        "`inputs`": report["inputs"],
        "`environment`": report["environment"],
        "`environment.target`": report["environment"]["target"],
        "A pin (`environment.pins[]`, `environment.python`)": pins[0],
        "`custom_objects[]`": _custom_objects(),
        "`advisories[]`": _advisory(),
        "`smoke`": _smoke(),
    }
    for section, data in real.items():
        assert section in docs, f"docs/report-json.md has no table for {section}"
        assert set(data) == docs[section], (f"{section}: undocumented {sorted(set(data) - docs[section])}, "
                                            f"documented but not in a report {sorted(docs[section] - set(data))}")
    assert report["environment"]["python"].keys() == pins[0].keys()
    assert "`companions[]`" in docs  # entries only for models with companion classes: keys as documented
    for entry in report["companions"]:
        assert set(entry) == docs["`companions[]`"]
    assert not set(docs) - set(real) - {"`companions[]`"}, "a documented table no test holds"


def test_the_report_records_the_target_exactly(report):
    target = report["environment"]["target"]
    assert target["python"] == "3.11" and target["python_full"] == "3.11.4" and target["glibc"] == [2, 17]
    assert report["inputs"]["target"] == "Python 3.11.4 on linux-64, glibc 2.17"
    assert report["inputs"]["indexes"] == [] and report["lockfiles"] == [] and report["smoke"] is None
