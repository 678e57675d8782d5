"""`rules verify` against the real index's wheel metadata."""

import pytest

from kresolve.index import Cache, Index, read_pip_config
from kresolve.rules.db import load_rules
from kresolve.rules.verify import BUGS, DisagreementKind, verify_rules

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    idx = Index(read_pip_config(), Cache(tmp_path_factory.mktemp("cache")))
    yield idx
    idx.close()


def test_a_sample_of_shipped_rules_agrees_with_the_index(index):
    sample = ["tf-2.15-python", "tf-2.15-numpy", "tf-2.18-python", "tf-2.20-python", "tf-2.21-numpy"]
    rules = load_rules()
    assert all(rules.by_id(rid) for rid in sample)
    found = verify_rules(rules, index, rule_ids=sample)
    assert [d for d in found if d.kind in BUGS] == []


def test_a_rule_claiming_more_than_the_wheels_is_caught(tmp_path, index):
    (tmp_path / "bad.toml").write_text(
        '[[constraint]]\nid = "wrong-tf-2.15-python"\nwhen = "tensorflow>=2.15,<2.16"\nrequires = ["python>=3.9,<3.13"]\n'
        'reason = "claims 3.12"\nsource = "https://example.org"\n'
        '[[constraint]]\nid = "wrong-tf-2.15-numpy"\nwhen = "tensorflow>=2.15,<2.16"\nrequires = ["numpy>=2"]\n'
        'reason = "claims NumPy 2"\nsource = "https://example.org"\n')
    found = {d.rule_id: d for d in verify_rules(load_rules(tmp_path), index)}
    assert found["wrong-tf-2.15-python"].kind is DisagreementKind.LOOSER and "3.12" in found["wrong-tf-2.15-python"].detail
    assert found["wrong-tf-2.15-numpy"].kind == "contradicts"
