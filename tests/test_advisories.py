"""Published loader advisories (rules/advisories.toml): schema, which pins they name, and which
releases a file should avoid because it has what the advisory is about."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from conftest import FIXTURES
from localindex import make_wheel, write_simple_index
from packaging.version import Version

from kresolve import api
from kresolve.artifact import inspect
from kresolve.index import IndexConfig
from kresolve.rules.advisories import avoid_for, avoided_by, describe, pin_advisories
from kresolve.rules.check import check_rules
from kresolve.rules.db import RulesError, load_rules

RULES = load_rules()
RULES_ROOT = FIXTURES.parents[2] / "rules"
GHSA = re.compile(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}")


def facts(fixture: str, name: str):
    return inspect(FIXTURES / fixture / name, project=False)


def test_every_advisory_is_sourced_ranged_and_fixed_outside_its_range():
    assert len(RULES.advisories) >= 5
    for advisory in RULES.advisories:
        assert advisory.source.startswith("https://"), advisory.id
        # The source is the advisory itself: its GHSA page, or the CVE record where no GHSA exists.
        assert advisory.id in advisory.source or (advisory.cve and advisory.cve in advisory.source), advisory.id
        assert GHSA.fullmatch(advisory.id) or advisory.id.startswith("CVE-")
        assert advisory.package == "keras" and advisory.affected and advisory.fixed
        for fixed in advisory.fixed:
            assert not advisory.affects("keras", Version(fixed)), (advisory.id, fixed)
        assert advisory.reason.strip()
    assert not [f for f in check_rules(RULES) if f.level == "error" and set(f.rule_ids) & {a.id for a in RULES.advisories}]


@pytest.mark.parametrize(("body", "complaint"), [
    ('affected = [">=3.0,<3.9"]\nfixed = ["3.8.0"]\ntrigger = "lambda"', "inside an 'affected' range"),
    ('affected = [">=3.0,<3.9"]\nfixed = ["3.9.0"]\ntrigger = "pickles"', "'trigger' must be one of"),
    ('affected = [">=3.0,<3.9"]\nfixed = ["3.9.0"]\ntrigger = "layer-class"', "'layer_classes' goes with"),
    ('affected = ["3.0"]\nfixed = ["3.9.0"]\ntrigger = "lambda"', "bad version or range"),
    ('affected = []\nfixed = ["3.9.0"]\ntrigger = "lambda"', "at least one"),
])
def test_the_loader_refuses_bad_advisories(tmp_path, body, complaint):
    (tmp_path / "advisories.toml").write_text(
        f'[[advisory]]\nid = "GHSA-2222-3333-4444"\npackage = "keras"\n{body}\nreason = "x"\nsource = "https://example.org"\n')
    with pytest.raises(RulesError, match=re.escape(complaint)):
        load_rules(tmp_path)


def test_a_keras_file_with_lambda_avoids_releases_whose_safe_mode_it_bypasses():
    lam = avoid_for(facts("keras3-lambda", "model.keras"), RULES)
    plain = avoid_for(facts("keras3-zip", "model.keras"), RULES)
    assert {a.advisory_id for a in lam} == {"GHSA-36fq-jgmw-4r9c", "GHSA-x4wf-678h-2pmq"}
    assert plain == ()
    assert avoided_by(lam, "keras", Version("3.10.0")) == "GHSA-36fq-jgmw-4r9c"
    assert avoided_by(lam, "Keras", Version("2.12.0")) is not None
    assert avoided_by(lam, "keras", Version("3.11.0")) is None  # the fixed release of the same line
    assert avoided_by(lam, "tensorflow", Version("2.18.0")) is None
    assert avoided_by(plain, "keras", Version("3.10.0")) is None


def test_an_h5_file_with_lambda_avoids_keras3_releases_that_ignore_safe_mode_for_h5():
    lam = avoid_for(facts("tf215-lambda-h5", "model.h5"), RULES)
    assert {a.advisory_id for a in lam} == {"GHSA-36rr-ww3j-vrjv"}
    assert avoided_by(lam, "keras", Version("3.11.2")) == "GHSA-36rr-ww3j-vrjv"
    assert avoided_by(lam, "keras", Version("3.11.3")) is None
    assert avoided_by(lam, "keras", Version("2.15.0")) is None  # Keras 2: not in the advisory's range
    assert avoid_for(facts("tf215-h5", "model.h5"), RULES) == ()


def test_config_modules_and_layer_classes_trigger_their_advisories():
    custom = facts("keras3-custom-layer", "model.keras")
    assert any(o.module == "kresolve_fixture_layers" for o in custom.custom_objects)
    assert {a.advisory_id for a in avoid_for(custom, RULES)} == {"GHSA-48g7-3x6r-xfhp"}
    wrapped = dataclasses.replace(facts("keras3-zip", "model.keras"),
                                  layer_classes=("InputLayer", "TorchModuleWrapper"))
    assert {a.advisory_id for a in avoid_for(wrapped, RULES)} == {"CVE-2025-49655"}


def test_pin_advisories_name_the_fixed_release_of_the_pins_line():
    lam = facts("keras3-lambda", "model.keras")
    found = {(i.advisory.id, i.version): i for i in pin_advisories(
        [("keras", "3.10.0"), ("keras", "3.13.1"), ("tensorflow", "2.19.0"), ("keras", "3.15.1")], lam, RULES)}
    assert set(found) == {("GHSA-36fq-jgmw-4r9c", "3.10.0"), ("GHSA-c9rc-mg46-23w3", "3.10.0"),
                          ("GHSA-36rr-ww3j-vrjv", "3.10.0"), ("GHSA-xfhx-r7ww-5995", "3.10.0"),
                          ("GHSA-xfhx-r7ww-5995", "3.13.1")}
    assert found[("GHSA-36rr-ww3j-vrjv", "3.10.0")].about_this_file is None  # not an .h5 file
    assert found[("GHSA-xfhx-r7ww-5995", "3.10.0")].fixed == "3.12.1"
    assert found[("GHSA-xfhx-r7ww-5995", "3.13.1")].fixed == "3.13.2"
    bypass = found[("GHSA-36fq-jgmw-4r9c", "3.10.0")]
    assert bypass.fixed == "3.11.0" and "Lambda" in bypass.about_this_file
    assert found[("GHSA-c9rc-mg46-23w3", "3.10.0")].about_this_file is None  # report only
    line = describe(bypass)
    assert line.startswith("GHSA-36fq-jgmw-4r9c (CVE-2025-9906) affects keras 3.10.0: ") and "fixed in 3.11.0" in line


ROUTE = """
[[route]]
id = "route-zip-keras3-advisory-test"
format = "keras-zip"
writer_keras = ">=3"
rank = 10
loader = "keras"
requires = ["keras>=3"]
reason = "test route"
source = "test:tests/test_advisories.py::test_lock_names_affected_pins_in_its_output_and_report"
"""


def test_lock_names_affected_pins_in_its_output_and_report(tmp_path, cache, capsys):
    """A real lock against a local index that only has an affected Keras: the pin stays (it is
    the only one), and the output and report name the advisory, its fix, and why this file."""
    repo = tmp_path / "repo"
    make_wheel(repo / "files", "keras", "3.8.0")
    write_simple_index(repo)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "route.toml").write_text(ROUTE)
    (rules_dir / "advisories.toml").write_text((RULES_ROOT / "advisories.toml").read_text())
    model = FIXTURES / "keras3-custom-layer" / "model.keras"
    result = api.lock(model, python="3.11", platform="linux-64", out_dir=tmp_path / "out", smoke=False,
                      index_config=IndexConfig((repo / "simple").as_uri()), cache=cache, rules=load_rules(rules_dir))
    ids = {entry["id"]: entry for entry in result.report.to_json()["advisories"]}
    assert set(ids) == {"GHSA-48g7-3x6r-xfhp", "GHSA-c9rc-mg46-23w3", "GHSA-xfhx-r7ww-5995", "GHSA-36fq-jgmw-4r9c",
                        "GHSA-36rr-ww3j-vrjv"}
    assert [i for i, e in ids.items() if e["about_this_file"]] == ["GHSA-48g7-3x6r-xfhp"]
    assert ids["GHSA-48g7-3x6r-xfhp"]["fixed"] == "3.9.0"
    assert "kresolve_fixture_layers" in ids["GHSA-48g7-3x6r-xfhp"]["about_this_file"]
    written = json.loads((tmp_path / "out" / api.REPORT).read_text())
    assert written["advisories"] == result.report.to_json()["advisories"]

    from kresolve import cli

    cli._render_lock(result)
    shown = capsys.readouterr().out
    assert "GHSA-48g7-3x6r-xfhp (CVE-2025-1550) affects keras 3.8.0" in " ".join(shown.split())



def test_a_file_the_advisory_is_about_gets_the_nearest_fixed_release(tmp_path, cache):
    """A Keras 3.8.0 `.keras` whose config imports a module outside Keras (what GHSA-48g7-3x6r-xfhp
    is about): with 3.8.0 and 3.9.0 on the index, the solver takes 3.9.0 and says why; a file
    without that content keeps its exact 3.8.0."""
    import zipfile

    repo = tmp_path / "repo"
    for version in ("3.8.0", "3.9.0"):
        make_wheel(repo / "files", "keras", version)
    write_simple_index(repo)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "route.toml").write_text(ROUTE)
    (rules_dir / "advisories.toml").write_text((RULES_ROOT / "advisories.toml").read_text())
    rules = load_rules(rules_dir)

    def as_written_by_keras_380(fixture: str) -> Path:
        """A copy of a real Keras 3 file whose metadata records keras 3.8.0 (no sidecar)."""
        src = FIXTURES / fixture / "model.keras"
        dst = tmp_path / fixture / "model.keras"
        dst.parent.mkdir()
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == "metadata.json":
                    meta = json.loads(data)
                    meta["keras_version"] = "3.8.0"
                    data = json.dumps(meta).encode()
                zout.writestr(item, data)
        return dst

    def keras_pin(model: Path):
        result = api.lock(model, python="3.11", platform="linux-64", out_dir=model.parent / "out", smoke=False,
                          index_config=IndexConfig((repo / "simple").as_uri()), cache=cache, rules=rules,
                          custom_objects=("kresolve_fixture_layers",), code_paths=(str(FIXTURES.parent),))
        return next(p for p in result.environment.pins if p.name == "keras")

    about = keras_pin(as_written_by_keras_380("keras3-custom-layer"))
    assert about.version == "3.9.0" and about.preferred == "3.8.0"
    assert "GHSA-48g7-3x6r-xfhp" in (about.why_not_preferred or "")
    plain = keras_pin(as_written_by_keras_380("keras3-zip"))
    assert plain.version == "3.8.0" and plain.why_not_preferred is None
