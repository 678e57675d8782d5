"""The shipped rules database loads; malformed rules are refused with the file and rule named."""

import pytest

from kresolve.rules.db import LOADERS, RulesError, load_rules


def test_shipped_rules_load_and_every_rule_has_a_source():
    db = load_rules()
    assert db.count > 0
    for rule in (*db.constraints, *db.eras, *db.routes):
        assert rule.source.startswith(("https://", "metadata:", "test:")), rule.id
        assert rule.reason.strip(), rule.id
    assert {r.loader for r in db.routes} <= set(LOADERS)


def test_every_format_has_a_route_for_current_writers():
    db = load_rules()
    formats = {(r.format, r.writer_keras is not None) for r in db.routes}
    assert ("keras-h5", True) in formats and ("keras-zip", True) in formats and ("savedmodel", False) in formats


GOOD = '''[[constraint]]
id = "c1"
when = "tensorflow>=2.15,<2.16"
requires = ["python<3.12"]
reason = "r"
source = "https://example.org"
'''


@pytest.mark.parametrize(
    "text,complaint",
    [
        (GOOD.replace('source = "https://example.org"\n', ""), "missing or empty 'source'"),
        (GOOD + 'colour = "red"\n', "unknown key(s) colour"),
        (GOOD + GOOD, "duplicate id"),
        (GOOD.replace("tensorflow>=2.15,<2.16", "tensorflow>>2"), "bad requirement"),
        (GOOD.replace("[[constraint]]", "[[constraints]]"), "unknown section(s) constraints"),
        ("[[route]]\nid='r'\nformat='onnx'\nrank=1\nloader='keras'\nreason='r'\nsource='s'\n", "format 'onnx'"),
        ("[[era]]\nid='e'\nprefer={tensorflow='2.15'}\nreason='r'\nsource='s'\n", "exactly one of"),
        ("not toml [", "rules file bad.toml"),
    ],
)
def test_malformed_rules_are_refused_naming_file_and_rule(tmp_path, text, complaint):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(RulesError) as info:
        load_rules(tmp_path)
    assert complaint in str(info.value)
    assert "bad.toml" in str(info.value)
