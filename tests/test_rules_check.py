"""`rules check` finds real inconsistencies, and the shipped DB has none."""

from conftest import TESTS

from kresolve.rules.check import check_rules
from kresolve.rules.db import load_rules


def test_shipped_rules_are_consistent():
    findings = check_rules(load_rules(), TESTS.parent)
    assert [f for f in findings if f.level == "error"] == []


def findings_for(tmp_path, text):
    (tmp_path / "r.toml").write_text(text)
    return check_rules(load_rules(tmp_path), TESTS.parent)


def constraint(id_, when, requires, source="https://example.org"):
    return f'[[constraint]]\nid = "{id_}"\nwhen = "{when}"\nrequires = ["{requires}"]\nreason = "r"\nsource = "{source}"\n'


def test_contradiction_between_overlapping_rules(tmp_path):
    found = findings_for(tmp_path, constraint("a", "tensorflow>=2.15,<2.16", "python<3.12") + constraint("b", "tensorflow>=2.15.1,<2.17", "python>=3.12"))
    assert any(f.level == "error" and set(f.rule_ids) == {"a", "b"} for f in found)


def test_gap_in_a_per_series_family(tmp_path):
    text = "".join(constraint(f"p{m}", f"tensorflow>=2.{m},<2.{m + 1}", "python>=3.9") for m in (12, 13, 15))
    found = findings_for(tmp_path, text)
    assert any(f.level == "warning" and "not 2.14" in f.message for f in found)


def test_sources_must_be_checkable(tmp_path):
    found = findings_for(tmp_path, constraint("a", "tensorflow<2", "python<3.8", source="my memory")
                         + constraint("b", "tensorflow<2", "python<3.8", source="test:tests/test_rules_check.py::test_nope"))
    messages = {f.rule_ids[0]: f.message for f in found}
    assert "not a URL" in messages["a"] and "does not exist" in messages["b"]
    ok = findings_for(tmp_path, constraint("c", "tensorflow<2", "python<3.8", source="test:tests/test_rules_check.py::test_shipped_rules_are_consistent"))
    assert ok == []


def test_overlapping_eras_that_disagree(tmp_path):
    era = '[[era]]\nid = "{}"\nkeras_version = "{}"\nprefer = {{ tensorflow = "{}" }}\nreason = "r"\nsource = "https://e.org"\n'
    found = findings_for(tmp_path, era.format("e1", ">=2.2,<2.3", "1.13") + era.format("e2", ">=2.2.4,<2.3", "1.15"))
    assert any(set(f.rule_ids) == {"e1", "e2"} for f in found)


def test_ambiguous_routes(tmp_path):
    route = ('[[route]]\nid = "{}"\nformat = "keras-h5"\nwriter_keras = ">=2,<3"\nrank = 10\nloader = "tf.keras"\n'
             'requires = ["tensorflow<2.16"]\nreason = "r"\nsource = "https://e.org"\n')
    found = findings_for(tmp_path, route.format("r1") + route.format("r2"))
    assert any(set(f.rule_ids) == {"r1", "r2"} and "ambiguous" in f.message for f in found)


def test_is_empty_on_lone_and_paired_bounds():
    from packaging.specifiers import SpecifierSet

    from kresolve.rules.specs import is_empty

    assert not any(is_empty(SpecifierSet(s)) for s in ("<3", "<2", ">=2,<3", "<3.0.0", ">0", "==2.15.1", "~=1.19.2"))
    assert all(is_empty(SpecifierSet(s)) for s in (">=3,<3", "==2.15.1,<2.15", ">=2.16,<2.16"))
