"""`explain` against the real index: reasons with sources; on failure, what would solve it."""

import pytest
from conftest import FIXTURES

from kresolve import api
from kresolve.cli import main

pytestmark = pytest.mark.integration


def test_explain_every_pin_has_a_reason_and_rules_resolve_to_sources():
    from kresolve.rules.db import load_rules

    result = api.explain(FIXTURES / "tf212-h5" / "model.h5", python="3.11", platform="linux-64")
    env = result.environment
    assert env is not None and result.failure is None
    rules = load_rules()
    assert all(p.reason for p in env.pins)
    cited = {rid for p in env.pins for rid in p.rule_ids}
    assert cited and all(rules.by_id(rid) is not None for rid in cited)


def test_explain_unsolvable_names_the_conflict_and_the_way_out():
    result = api.explain(FIXTURES / "keras3-zip" / "model.keras", python="3.8", platform="linux-64")
    assert result.environment is None
    assert "keras>=3.0" in result.failure and "Requires-Python" in result.failure
    changes = dict(result.alternatives)
    assert "--python 3.11" in changes and "keras 3.15.1" in changes["--python 3.11"]
    assert "--python 3.8" not in changes


def test_policy_blocking_every_route_is_explained_with_the_policy_rule(tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text('[policy]\nname = "frozen"\n[[allow]]\npackage = "keras"\nversions = "<3"\nreason = "legacy fleet"\n'
                      '[[allow]]\npackage = "tensorflow"\nversions = ">=2.16"\nreason = "new images"\n')
    result = api.explain(FIXTURES / "keras3-zip" / "model.keras", python="3.11", platform="linux-64", policy=policy)
    assert result.environment is None
    assert "policy 'frozen' allows only keras<3 (legacy fleet)" in result.failure
    assert any(change.startswith("without the policy") for change, _ in result.alternatives)


def test_cli_explain_and_rules_commands_exit_codes(capsys):
    assert main(["rules", "check"]) == 0
    assert main(["rules", "show", "tensorflow", "2.15.1"]) == 0
    assert "tf-2.15-python" in capsys.readouterr().out
    assert main(["explain", str(FIXTURES / "keras3-zip" / "model.keras"), "--python", "3.8", "--json"]) == 1
