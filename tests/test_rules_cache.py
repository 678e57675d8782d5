"""The rules' parsed TOML is cached as JSON keyed by the files' bytes: a cached load builds the
same database, a changed file is read again, and a bad cache entry or bad TOML never hides."""

import pytest

from kresolve.rules.db import RulesError, _parsed_cache_path, load_rules

RULE = '''[[constraint]]
id = "c1"
when = "tensorflow>=2.15,<2.16"
requires = ["python<3.12"]
reason = """two
lines"""
source = "https://example.org"
'''


@pytest.fixture
def rules(tmp_path, monkeypatch):
    monkeypatch.setenv("KRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    root = tmp_path / "rules"
    root.mkdir()
    (root / "a.toml").write_text(RULE)
    return root


def entries(tmp_path):
    return sorted((tmp_path / "cache" / "rules").glob("*.json"))


def test_a_cached_load_builds_the_same_database(rules, tmp_path):
    first = load_rules(rules)
    (cached,) = entries(tmp_path)
    second = load_rules(rules)
    assert entries(tmp_path) == [cached]
    assert repr(second) == repr(first) and second.constraints[0].reason == "two\nlines"


def test_a_changed_file_is_read_again(rules, tmp_path):
    load_rules(rules)
    (rules / "a.toml").write_text(RULE.replace('"python<3.12"', '"python<3.13"'))
    db = load_rules(rules)
    assert str(db.constraints[0].requires[0]) == "python<3.13"
    assert len(entries(tmp_path)) == 2


def test_crlf_files_read_as_before(rules):
    (rules / "a.toml").write_bytes(RULE.replace("\n", "\r\n").encode())
    assert load_rules(rules).constraints[0].reason == "two\nlines"  # universal newlines, as read_text
    assert load_rules(rules).constraints[0].reason == "two\nlines"


def test_a_damaged_cache_entry_is_ignored(rules, tmp_path):
    load_rules(rules)
    (cached,) = entries(tmp_path)
    cached.write_bytes(b"{damaged")
    assert load_rules(rules).constraints[0].id == "c1"


def test_bad_toml_and_bad_rules_are_refused_whatever_the_cache(rules):
    load_rules(rules)
    (rules / "b.toml").write_text("[[constraint]\nid = ")
    with pytest.raises(RulesError, match="rules file b.toml"):
        load_rules(rules)
    (rules / "b.toml").write_text(RULE.replace('id = "c1"', 'id = "c1"\nbogus = 1'))
    for _ in range(2):  # the second time from the cache: the same refusal
        with pytest.raises(RulesError, match="unknown key"):
            load_rules(rules)


def test_rules_with_toml_dates_are_parsed_each_time(rules, tmp_path):
    (rules / "a.toml").write_text(RULE.replace('source = "https://example.org"', 'source = "https://example.org"\nwhen_date = 2024-01-01'))
    with pytest.raises(RulesError, match="unknown key"):
        load_rules(rules)
    assert entries(tmp_path) == []  # a date has no JSON form: nothing cached
    assert _parsed_cache_path("x").parent == tmp_path / "cache" / "rules"


def test_no_cache_directory_is_made_for_the_rules(rules, tmp_path, monkeypatch):
    monkeypatch.setenv("KRESOLVE_CACHE_DIR", str(tmp_path / "none"))
    assert load_rules(rules).constraints[0].id == "c1"
    assert not (tmp_path / "none").exists()


BAD = '''[[known_bad]]
id = "kb1"
signatures = ['{0}']
when = ["keras>=3"]
cause = "c"
fix = "f"
reason = "r"
source = "https://example.org"
'''


def test_signatures_are_compiled_until_these_very_rules_loaded_once(rules, tmp_path):
    (rules / "b.toml").write_text(BAD.format("Unknown layer: (?:A|B)"))
    first = load_rules(rules)
    marks = sorted((tmp_path / "cache" / "rules").glob("*.patterns-py*"))
    assert len(marks) == 1  # these rules loaded: their patterns compile on this Python
    assert repr(load_rules(rules)) == repr(first)
    (rules / "b.toml").write_text(BAD.format("Unknown layer: (?:A|B"))  # other bytes: checked again
    for _ in range(2):  # the second time from the parse cache: the same refusal, and no mark for it
        with pytest.raises(RulesError, match="not a valid regular expression"):
            load_rules(rules)
    assert sorted((tmp_path / "cache" / "rules").glob("*.patterns-py*")) == marks
