"""Companion packages (rules/companions.toml): which custom classes a known package provides, the
package added to the lock for them, and its TensorFlow pairing on the real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, SHARED_MODELS
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from kresolve import api
from kresolve.artifact.facts import CustomObject, ModelFacts, ModelFormat, Sidecar
from kresolve.index import Cache
from kresolve.rules.check import SOURCE
from kresolve.rules.companions import companion_needs, companion_packages, match_companion, provided_classes
from kresolve.rules.db import RulesError, load_rules
from kresolve.rules.plan import Need, plans_for

TFP_SHARED = SHARED_MODELS / "keras215-zip-custom-tfp" / "custom_model.keras"
needs_shared = pytest.mark.skipif(not TFP_SHARED.is_file(), reason="needs ../shared/models (keras215-zip-custom-tfp)")


@pytest.fixture(scope="module")
def db():
    return load_rules()


def _facts(*objs: CustomObject, sidecar: Sidecar | None = None) -> ModelFacts:
    return ModelFacts(path="m.keras", format=ModelFormat.KERAS_ZIP, format_detail="test", keras_version="2.15.0",
                      custom_objects=objs, sidecar=sidecar)


# ---- the rules themselves ----------------------------------------------------------------------

def test_every_companion_rule_is_sourced_and_names_a_package(db):
    assert db.companions, "rules/companions.toml defines no [[companion]]"
    for comp in db.companions:
        assert SOURCE.match(comp.source), comp.id
        assert comp.reason.strip() and comp.package == canonicalize_name(comp.package)
    companion_file = [c for c in db.constraints if c.file == "companions.toml"]
    assert companion_file
    packages = {c.package for c in db.companions}
    for rule in companion_file:
        assert SOURCE.match(rule.source), rule.id
        # The pairings are about companion packages, and each requires a real range.
        assert canonicalize_name(rule.when.name) in packages, rule.id
        assert all(str(r.specifier) for r in rule.requires), rule.id


def test_tfp_pairings_rise_with_the_release(db):
    """Each TFP minor needs a TensorFlow at least as new as the previous minor's (a table typo
    would break this), and every one is satisfiable by some TensorFlow."""
    tfp = sorted((c for c in db.constraints if c.when.name == "tensorflow-probability"),
                 key=lambda c: Version(next(s.version for s in c.when.specifier if s.operator == ">=")))
    floors = []
    for rule in tfp:
        tf = next(r for r in rule.requires if r.name == "tensorflow")
        floor = Version(next(s.version for s in tf.specifier if s.operator == ">="))
        assert tf.specifier.contains(floor), rule.id
        floors.append(floor)
    assert len(floors) >= 10 and floors == sorted(floors)


def test_a_companion_without_any_matcher_or_with_a_dotted_module_is_refused(tmp_path):
    bad = tmp_path / "rules"
    bad.mkdir()
    base = 'id = "c1"\npackage = "p"\nreason = "r"\nsource = "https://example.org/x"\n'
    (bad / "c.toml").write_text("[[companion]]\n" + base)
    with pytest.raises(RulesError, match="c1.*at least one of"):
        load_rules(bad)
    (bad / "c.toml").write_text("[[companion]]\n" + base + 'modules = ["tensorflow_probability.python"]\n')
    with pytest.raises(RulesError, match="top-level import names"):
        load_rules(bad)
    (bad / "c.toml").write_text("[[companion]]\n" + base + 'modules = ["pkg"]\nfrobnicate = 1\n')
    with pytest.raises(RulesError, match="unknown key"):
        load_rules(bad)


# ---- matching ------------------------------------------------------------------------------------

def test_module_registered_prefix_and_distinctive_class_names_match(db):
    by_module = CustomObject("OneHotCategorical", "tensorflow_probability.python.layers.distribution_layer", "OneHotCategorical")
    by_prefix = CustomObject("WeightNormalization", None, "Addons>WeightNormalization")
    by_name = CustomObject("DenseFlipout")  # an HDF5 file records neither module nor package
    users_own = CustomObject("DenseFlipout", None, "MyLayers>DenseFlipout")  # the user's class of that name
    unknown = CustomObject("CustomLayer", None, "MyLayers>CustomLayer")
    assert match_companion(by_module, db)[0].package == "tensorflow-probability"
    assert match_companion(by_prefix, db)[0].package == "tensorflow-addons"
    assert match_companion(by_name, db)[0].package == "tensorflow-probability"
    assert match_companion(users_own, db) is None
    assert match_companion(unknown, db) is None


def test_a_sidecar_import_path_decides(db):
    obj = CustomObject("KerasLayer")
    sidecar = Sidecar(path="kresolve.json", python_version="3.11.7", platform="linux-64", packages=(),
                      custom_objects=(("KerasLayer", "my_project.layers.KerasLayer"),))
    assert companion_packages(_facts(obj), db)[0].package == "tensorflow-hub"
    assert companion_packages(_facts(obj, sidecar=sidecar), db) == ()


def test_one_need_per_package_unless_the_user_asked_for_it(db):
    facts = _facts(CustomObject("DenseFlipout"), CustomObject("DistributionLambda"),
                   CustomObject("GELU", "tensorflow_addons.layers.gelu", "Addons>GELU"))
    uses = companion_packages(facts, db)
    assert [u.package for u in uses] == ["tensorflow-probability", "tensorflow-addons"]
    assert uses[0].class_names == ("DenseFlipout", "DistributionLambda")
    assert provided_classes(facts, db) == {"DenseFlipout": "tensorflow-probability", "DistributionLambda": "tensorflow-probability",
                                           "GELU": "tensorflow-addons"}
    needs = companion_needs(facts, db)
    assert [str(n.requirement) for n in needs] == ["tensorflow-probability", "tensorflow-addons"]
    assert needs[0].rule_id == "companion-tensorflow-probability" and needs[0].reason.startswith("added tensorflow-probability")
    asked = (Need(Requirement("tensorflow-probability==0.22.1"), "asked for with --requirement"),)
    assert [str(n.requirement) for n in companion_needs(facts, db, asked)] == ["tensorflow-addons"]


@needs_shared
def test_the_tfp_model_needs_tensorflow_probability_on_every_route(db):
    facts = api.inspect(TFP_SHARED)
    plans = plans_for(facts, db)
    assert plans
    for plan in plans:
        added = [n for n in plan.needs if n.requirement.name == "tensorflow-probability"]
        assert len(added) == 1 and "OneHotCategorical" in added[0].reason, plan.route.id
    # Its other custom class is the user's own: still not provided.
    assert set(provided_classes(facts, db)) == {"OneHotCategorical"}


# ---- real index ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("cache"))


def _pairing_holds(db, pins: dict[str, str], package: str) -> None:
    rules = db.constraints_for(package, Version(pins[package]))
    assert rules, f"no pairing rule for {package} {pins[package]}"
    for rule in rules:
        for req in rule.requires:
            if req.name in pins:
                assert req.specifier.contains(Version(pins[req.name]), prereleases=True), (rule.id, req, pins[req.name])


@pytest.mark.integration
def test_requirement_tfp_next_to_tensorflow_2_15_pins_tfp_0_23(tmp_path, shared_cache, db):
    model = FIXTURES / "tf215-h5" / "model.h5"
    result = api.lock(model, python="3.11", platform="linux-64", out_dir=tmp_path, smoke=False, cache=shared_cache,
                      requirements=("tensorflow-probability",))
    pins = {p.name: p.version for p in result.environment.pins}
    assert pins["tensorflow"].startswith("2.15.")
    # TFP 0.23 is the release for TensorFlow 2.15 (0.24 needs 2.16, 0.25 needs 2.18).
    assert pins["tensorflow-probability"].startswith("0.23."), pins["tensorflow-probability"]
    _pairing_holds(db, pins, "tensorflow-probability")


@pytest.mark.integration
@needs_shared
def test_the_tfp_model_gets_tfp_added_with_a_paired_version(tmp_path, shared_cache, db):
    result = api.lock(TFP_SHARED, python="3.11", platform="linux-64", out_dir=tmp_path, smoke=False, cache=shared_cache)
    pins = {p.name: p.version for p in result.environment.pins}
    assert "tensorflow-probability" in pins
    _pairing_holds(db, pins, "tensorflow-probability")
    if Version(pins["tensorflow-probability"]) >= Version("0.24"):
        assert "tf-keras" in pins
    report = json.loads((tmp_path / "kresolve-report.json").read_text())
    assert [c["package"] for c in report["companions"]] == ["tensorflow-probability"]
    provided = {o["class_name"]: o["provided_by"] for o in report["custom_objects"]}
    assert provided["OneHotCategorical"] == "tensorflow-probability"
    pin = next(p for p in report["environment"]["pins"] if p["name"] == "tensorflow-probability")
    assert "companion-tensorflow-probability" in pin["rules"] and "OneHotCategorical" in pin["reason"]


@pytest.mark.integration
@needs_shared
def test_lock_output_says_what_it_added(tmp_path):
    done = subprocess.run([sys.executable, "-m", "kresolve", "lock", str(TFP_SHARED), "--python", "3.11", "--platform", "linux-64",
                           "--no-smoke", "-o", str(tmp_path / "out")], check=False, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("Added "))
    assert line.startswith("Added tensorflow-probability 0.") and "OneHotCategorical" in line and "companion-tensorflow-probability" in line
