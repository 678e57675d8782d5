"""A file the index lists without a sha256 is never a candidate: a lock pins every file by its
hash (`--require-hashes`), so the provider rejects it, and the explanation says why."""

import pytest
from localindex import make_wheel, write_simple_index
from packaging.specifiers import SpecifierSet

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.errors import Unsolvable
from kresolve.index import Index, IndexConfig
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for
from kresolve.solve.provider import NO_HASH, Provider
from kresolve.solve.resolve import solve
from kresolve.target import make_target

RULES = """
[[route]]
id = "route-test-h5"
format = "keras-h5"
writer_keras = ">=2.0,<3"
rank = 10
loader = "tf.keras"
requires = ["tensorflow<2.16"]
reason = "test route"
source = "test:tests/test_solve_hashes.py"
"""
LINUX = "cp311-cp311-manylinux_2_17_x86_64"


def world(tmp_path, cache, without_hash: set[str]):
    files = tmp_path / "repo" / "files"
    make_wheel(files, "tensorflow", "2.13.1", requires=["numpy>=1.22"], tag=LINUX)
    for v in ("1.24.4", "1.25.0", "1.26.4"):
        make_wheel(files, "numpy", v)
    write_simple_index(tmp_path / "repo", without_hash=frozenset(without_hash))
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test.toml").write_text(RULES)
    return Index(IndexConfig((tmp_path / "repo" / "simple").as_uri()), cache), load_rules(tmp_path / "rules")


def facts():
    return ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.13.0")


def test_a_file_without_hash_is_not_a_candidate_and_the_next_version_is_locked(tmp_path, cache):
    index, rules = world(tmp_path, cache, {"numpy-1.26.4-py3-none-any.whl"})
    env = solve(plans_for(facts(), rules), make_target("3.11", "linux-64"), index, rules)
    got = {p.name: p.version for p in env.pins}
    assert got["numpy"] == "1.25.0"  # the newest, 1.26.4, has no hash on the index
    assert all(f.sha256 for p in env.pins for f in p.files)


def test_the_rejection_names_the_missing_hash(tmp_path, cache):
    index, rules = world(tmp_path, cache, {"numpy-1.26.4-py3-none-any.whl"})
    provider = Provider(index, make_target("3.11", "linux-64"), rules, {})
    found = provider.matches("numpy", SpecifierSet())
    assert [str(c.version) for c in found] == ["1.25.0", "1.24.4"]
    assert NO_HASH in (provider.rejections.summary("numpy") or "")


def test_when_no_version_has_a_hash_the_conflict_says_so(tmp_path, cache):
    index, rules = world(tmp_path, cache, {f"numpy-{v}-py3-none-any.whl" for v in ("1.24.4", "1.25.0", "1.26.4")})
    with pytest.raises(Unsolvable) as info:
        solve(plans_for(facts(), rules), make_target("3.11", "linux-64"), index, rules)
    assert "no sha256 hash on the index" in str(info.value)


def test_a_wheel_with_a_hash_beats_its_sibling_without_one(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    make_wheel(files, "numpy", "1.26.4", tag=LINUX)
    make_wheel(files, "numpy", "1.26.4")  # py3-none-any, listed without a hash
    write_simple_index(tmp_path / "repo", without_hash=frozenset({"numpy-1.26.4-py3-none-any.whl"}))
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test.toml").write_text(RULES)
    index = Index(IndexConfig((tmp_path / "repo" / "simple").as_uri()), cache)
    provider = Provider(index, make_target("3.11", "linux-64"), load_rules(tmp_path / "rules"), {})
    (cand,) = provider.matches("numpy", SpecifierSet())
    assert [f.filename for f in cand.files] == [f"numpy-1.26.4-{LINUX}.whl"]
