"""Strings that carry meaning are enums (StrEnum), and the JSON they end up in reads exactly as
the plain strings did: format, Lambda encoding, evidence, confidence, smoke status, distance,
rules-check level, rules-show kind."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import pytest
from conftest import FIXTURES
from packaging.version import Version

from kresolve.artifact import inspect_all
from kresolve.artifact.facts import LambdaEncoding, ModelFacts, ModelFormat
from kresolve.report import facts_json, pin_json, smoke_json, training_json
from kresolve.rules.check import Level, check_rules
from kresolve.rules.db import RulesError, load_rules
from kresolve.rules.evidence import Confidence, Evidence
from kresolve.rules.infer import infer
from kresolve.rules.show import RuleKind, rules_about
from kresolve.scan.fleet import ModelRow, Outcome, ProofStatus, Risk
from kresolve.smoke.run import SmokeResult
from kresolve.smoke.status import SmokeStatus
from kresolve.solve.distance import Distance, DistanceKind, measure
from kresolve.solve.resolve import Pin

RULES = load_rules()
# The format each generated fixture is, as `inspect --json` has always spelled it.
FORMATS = {
    "tf212-h5": "keras-h5", "tf212-savedmodel": "savedmodel", "tf215-h5": "keras-h5", "tf215-savedmodel": "savedmodel",
    "tf215-keras-zip": "keras-zip", "tf215-lambda-h5": "keras-h5", "keras3-zip": "keras-zip",
    "keras3-weights-json": "keras-weights-json", "tf215-weights-json": "keras-weights-json",
}


def plain(value: Any) -> Any:
    """`value` with every enum member replaced by its value: what the JSON held when these were strings."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def same_json(data: Any) -> str:
    text = json.dumps(data, indent=2)
    assert text == json.dumps(plain(data), indent=2)
    return text


@pytest.fixture(scope="module")
def fixture_facts() -> list[ModelFacts]:
    found = [facts for _, facts in inspect_all(FIXTURES) if isinstance(facts, ModelFacts)]
    if not found:
        pytest.skip("generated fixtures missing (tests/fixtures/models/README.md)")
    return found


def test_every_reader_gives_a_model_format_and_its_json_is_the_old_text(fixture_facts):
    seen = set()
    for facts in fixture_facts:
        assert type(facts.format) is ModelFormat, facts.path
        assert all(type(lam.encoding) is LambdaEncoding for lam in facts.lambda_layers), facts.path
        loaded = json.loads(same_json(facts_json(facts)))
        assert loaded["format"] == facts.format.value and type(loaded["format"]) is str
        name = next((n for n in FORMATS if f"/{n}/" in facts.path), None)
        if name is not None:
            assert loaded["format"] == FORMATS[name], facts.path
            seen.add(name)
        if loaded["lambda_layers"]:
            assert {lam["encoding"] for lam in loaded["lambda_layers"]} <= {"marshal", "unknown"}
    assert {"tf215-h5", "tf215-savedmodel", "keras3-zip"} <= seen


def test_training_env_is_typed_and_serialises_as_before(fixture_facts):
    for facts in fixture_facts:
        training = infer(facts, RULES)
        for estimate in training.estimates:
            assert type(estimate.evidence) is Evidence and type(estimate.confidence) is Confidence
        for row in json.loads(same_json(training_json(training)))["estimates"]:
            assert row["evidence"] in {"sidecar", "artifact", "era", "project"}
            assert row["confidence"] in {"high", "medium", "low"}


def test_evidence_is_declared_strongest_first():
    assert list(Evidence)[:4] == [Evidence.SIDECAR, Evidence.ARTIFACT, Evidence.ERA, Evidence.PROJECT]


def test_the_rules_db_converts_formats_and_confidences_when_it_loads():
    assert all(type(route.format) is ModelFormat for route in RULES.routes)
    assert all(type(era.confidence) is Confidence for era in RULES.eras)


def test_an_unknown_format_in_a_rules_file_is_a_rules_error_naming_the_known_ones(tmp_path):
    (tmp_path / "bad.toml").write_text("[[route]]\nid='r'\nformat='keras-onnx'\nrank=1\nloader='keras'\nreason='r'\nsource='s'\n")
    with pytest.raises(RulesError) as info:
        load_rules(tmp_path)
    assert str(info.value) == ("rules file bad.toml: route 'r': format 'keras-onnx' is not one of "
                               "keras-h5, keras-h5-weights, keras-weights-json, keras-zip, savedmodel")


def test_a_pin_carries_its_distance_and_the_report_prints_its_words():
    distance = measure(Version("2.15.1"), "2.14")
    pin = Pin("tensorflow", "2.15.1", (), (), "r", preferred="2.14", evidence=Evidence.ERA, distance=distance)
    assert isinstance(pin.distance, Distance) and pin.distance.kind is DistanceKind.MINOR
    data = json.loads(same_json(pin_json(pin)))
    assert data["distance"] == "minor +1 (2.14 → 2.15)" == pin.distance_text and data["evidence"] == "era"
    assert pin_json(Pin("numpy", "1.26.4", (), (), "r"))["distance"] is None


def test_smoke_status_serialises_as_its_word():
    result = SmokeResult(SmokeStatus.SKIPPED, "not this host", "tf.keras")
    assert not result.passed and json.loads(same_json(smoke_json(result)))["status"] == "skipped"
    assert [s.value for s in SmokeStatus] == [s.value for s in ProofStatus][:3]


def test_a_scan_row_round_trips_with_its_format():
    row = ModelRow("m.h5", "1:2", ModelFormat.H5, "2.15.0", None, (), None, (Risk.LAMBDA,), ("n",), None, ())
    data = json.loads(same_json(row.to_json()))
    assert data["format"] == "keras-h5" and data["risks"] == ["lambda"]
    back = ModelRow.from_json(data)
    assert back == row and type(back.format) is ModelFormat
    assert ModelRow.from_json(row.to_json() | {"format": None}).format is None
    assert str(Outcome.SMOKE_FAILED) == "smoke-failed"


def test_rules_check_levels_and_show_kinds_are_enums():
    assert all(type(f.level) is Level for f in check_rules(RULES))
    lines = rules_about(RULES, "tensorflow")
    assert lines and all(type(line.kind) is RuleKind for line in lines)
    kinds = {row["kind"] for row in json.loads(same_json([line.__dict__ for line in lines]))}
    assert kinds <= {"constraint", "era", "route", "known_bad"}
