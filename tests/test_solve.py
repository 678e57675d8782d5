"""The solver over a real local index of small wheels, with rules loaded from real TOML."""

import pytest
from localindex import make_wheel, write_simple_index

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.errors import Unsolvable
from kresolve.index import Index, IndexConfig
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for
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
source = "test:tests/test_solve.py"

[[route]]
id = "route-test-h5-legacy"
format = "keras-h5"
writer_keras = ">=2.0,<3"
rank = 20
loader = "tf_keras"
requires = ["tensorflow>=2.16", "tf-keras"]
env = { TF_USE_LEGACY_KERAS = "1" }
reason = "test fallback route"
source = "test:tests/test_solve.py"

[[era]]
id = "era-test-2.13"
keras_version = ">=2.13,<2.14"
prefer = { tensorflow = "2.13" }
reason = "tf.keras 2.13 ships with TF 2.13"
source = "test:tests/test_solve.py"

[[era]]
id = "era-test-2.12"
keras_version = ">=2.12,<2.13"
prefer = { tensorflow = "2.12" }
reason = "tf.keras 2.12 ships with TF 2.12"
source = "test:tests/test_solve.py"

[[constraint]]
id = "tf-2.12-python"
when = "tensorflow>=2.12,<2.13"
requires = ["python<3.11"]
reason = "pretend TF 2.12 stops at Python 3.10"
source = "test:tests/test_solve.py"

[[constraint]]
id = "tf-2.13-numpy"
when = "tensorflow>=2.13,<2.14"
requires = ["numpy<1.25 ; platform_system != 'Darwin'", "numpy>=1.25 ; platform_system == 'Darwin'"]
reason = "pretend TF 2.13 breaks with NumPy 1.25"
source = "test:tests/test_solve.py"
"""


@pytest.fixture
def world(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    for v in ("2.12.0", "2.12.1", "2.13.0", "2.13.1", "2.14.0"):
        make_wheel(files, "tensorflow", v, requires=["numpy>=1.22", f"keras>={v[:4]},<{v[:2]}{int(v[2:4]) + 1}",
                                                     "tensorflow-intel ; platform_system == 'Windows'"],
                   tag="cp311-cp311-manylinux_2_17_x86_64")
    make_wheel(files, "tensorflow", "2.16.1", requires=["numpy>=1.23"], tag="cp311-cp311-manylinux_2_17_x86_64")
    make_wheel(files, "tensorflow", "2.13.1", tag="cp311-cp311-macosx_12_0_arm64", requires=["numpy"])
    for v in ("2.12.0", "2.13.1", "2.14.0"):
        make_wheel(files, "keras", v)
    make_wheel(files, "tf-keras", "2.16.0", requires=["tensorflow>=2.16,<2.17"])
    for v in ("1.24.4", "1.25.0", "1.26.4"):
        make_wheel(files, "numpy", v)
    make_wheel(files, "tensorflow-intel", "2.13.1")
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test.toml").write_text(RULES)
    index = Index(IndexConfig((tmp_path / "repo" / "simple").as_uri()), cache)
    return index, load_rules(tmp_path / "rules")


def facts(keras="2.13.0"):
    return ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version=keras)


def pins(env):
    return {p.name: p.version for p in env.pins}


def test_nearest_series_and_exact_keras_and_rule_constraint(world):
    index, rules = world
    env = solve(plans_for(facts(), rules), make_target("3.11", "linux-64"), index, rules)
    got = pins(env)
    assert got["tensorflow"] == "2.13.1"  # era prefers 2.13: newest patch of that series
    assert got["keras"] == "2.13.1"
    assert got["numpy"] == "1.24.4"  # rule tf-2.13-numpy overrides the newest NumPy
    numpy = next(p for p in env.pins if p.name == "numpy")
    assert "tf-2.13-numpy" in numpy.rule_ids
    tf = next(p for p in env.pins if p.name == "tensorflow")
    assert tf.top_level and tf.evidence == "era" and tf.distance_text == "same series"
    assert env.plan.route.id == "route-test-h5"
    assert all(f.sha256 for p in env.pins for f in p.files)


def test_python_rule_moves_to_next_series_and_says_why(world):
    index, rules = world
    env = solve(plans_for(facts("2.12.0"), rules), make_target("3.11", "linux-64"), index, rules)
    tf = next(p for p in env.pins if p.name == "tensorflow")
    # 2.12 is excluded for Python 3.11 by the rule; nearest is 2.13 (tie 2.11 absent)
    assert tf.version == "2.13.1"
    assert "tf-2.12-python" in tf.reason


def test_markers_follow_the_target_not_the_host(world):
    index, rules = world
    env = solve(plans_for(facts(), rules), make_target("3.11", "linux-64"), index, rules)
    assert "tensorflow-intel" not in pins(env)
    # No Windows wheel of tensorflow exists here: the conflict names the platform.
    with pytest.raises(Unsolvable) as info:
        solve(plans_for(facts(), rules), make_target("3.11", "win-64"), index, rules)
    assert "no wheel for Python 3.11 on win-64" in str(info.value)


def test_wheel_tags_follow_the_target(world):
    index, rules = world
    env = solve(plans_for(facts(), rules), make_target("3.11", "osx-arm64"), index, rules)
    tf = next(p for p in env.pins if p.name == "tensorflow")
    assert [f.filename for f in tf.files] == ["tensorflow-2.13.1-cp311-cp311-macosx_12_0_arm64.whl"]
    assert pins(env)["numpy"] == "1.26.4"  # the rule's markers are evaluated for the target


def test_unsolvable_route_falls_back_to_next_route_with_reason(world):
    index, rules = world
    # Python 3.12: no TF wheel below 2.16 exists for cp312 → the tf_keras route.
    with pytest.raises(Unsolvable) as info:
        solve(plans_for(facts(), rules), make_target("3.12", "linux-64"), index, rules)
    message = str(info.value)
    assert "route-test-h5:" in message and "route-test-h5-legacy:" in message
    assert "no wheel for Python 3.12" in message


def test_fallback_route_used_when_first_is_impossible(world, tmp_path):
    index, rules = world
    # Remove the <2.16 option by asking for a writer the era maps nowhere and the index lacks cp311 2.16 keras pins.
    env = solve(plans_for(facts(), rules)[1:], make_target("3.11", "linux-64"), index, rules)
    assert pins(env)["tf-keras"] == "2.16.0"
    assert env.env_vars == {"TF_USE_LEGACY_KERAS": "1"}


def test_no_route_for_format_is_unsolvable_with_words(world):
    _index, rules = world
    weights = ModelFacts(path="w.h5", format=ModelFormat.H5_WEIGHTS, format_detail="", keras_version="2.13.0")
    with pytest.raises(Unsolvable, match="weights only"):
        plans_for(weights, rules)


def test_lambda_bytecode_makes_its_python_minor_a_hard_constraint(world):
    from kresolve.artifact.facts import LambdaEncoding, LambdaLayer

    index, rules = world
    lam = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.13.0",
                     lambda_layers=(LambdaLayer("scale", LambdaEncoding.MARSHAL, "3.8-3.10"),))
    with pytest.raises(Unsolvable) as info:
        solve(plans_for(lam, rules), make_target("3.11", "linux-64"), index, rules)
    message = str(info.value)
    assert "python<3.11,>=3.8" in message and "Lambda layer 'scale'" in message and "target is Python 3.11" in message
    ok = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.13.0",
                    lambda_layers=(LambdaLayer("scale", LambdaEncoding.MARSHAL, "3.11-3.12"),))
    assert pins(solve(plans_for(ok, rules), make_target("3.11", "linux-64"), index, rules))["tensorflow"] == "2.13.1"


def write_policy(tmp_path, text):
    from kresolve.policy import load_policy

    (tmp_path / "policy.toml").write_text(text)
    return load_policy(tmp_path / "policy.toml")


def test_policy_keeps_the_solver_inside_the_approved_set(world, tmp_path):
    index, rules = world
    policy = write_policy(tmp_path, '[policy]\nname = "fleet"\n[[allow]]\npackage = "tensorflow"\nversions = "==2.14.*"\n'
                                    'reason = "validated"\n[[block]]\npackage = "numpy"\nversions = ">=1.26"\nreason = "not yet"\n')
    env = solve(plans_for(facts("2.13.0"), rules), make_target("3.11", "linux-64"), index, rules, policy)
    # Nearest to the 2.13 era inside the policy is 2.14; NumPy 1.26 is blocked.
    assert pins(env)["tensorflow"] == "2.14.0" and pins(env)["numpy"] == "1.25.0"
    tf = next(p for p in env.pins if p.name == "tensorflow")
    assert "policy 'fleet' allows only tensorflow==2.14.*" in tf.why_not_preferred


def test_policy_that_blocks_everything_is_named_in_the_conflict(world, tmp_path):
    index, rules = world
    policy = write_policy(tmp_path, '[policy]\nname = "fleet"\n[[allow]]\npackage = "tensorflow"\nversions = ">=2.20"\n'
                                    'reason = "only the newest"\n')
    with pytest.raises(Unsolvable) as info:
        solve(plans_for(facts(), rules), make_target("3.11", "linux-64"), index, rules, policy)
    assert "policy 'fleet' allows only tensorflow>=2.20 (only the newest)" in str(info.value)


def test_policy_python_outside_is_refused_up_front(world, tmp_path):
    index, rules = world
    policy = write_policy(tmp_path, '[[allow]]\npackage = "python"\nversions = ">=3.12"\nreason = "images"\n')
    with pytest.raises(Unsolvable, match="target Python 3.11 is outside the policy"):
        solve(plans_for(facts(), rules), make_target("3.11", "linux-64"), index, rules, policy)


def test_bad_policy_files_are_bad_input(tmp_path):
    from kresolve.errors import BadInput
    from kresolve.policy import load_policy

    for text in ("[[allow]]\npackage = 'x'\n", "[[allow]]\npackage='x'\nversions='>>1'\n", "[[deny]]\n", "nonsense ["):
        (tmp_path / "p.toml").write_text(text)
        with pytest.raises(BadInput, match="p.toml"):
            load_policy(tmp_path / "p.toml")
    with pytest.raises(BadInput, match="not found"):
        load_policy(tmp_path / "missing.toml")


def test_shipped_example_policy_loads():
    from conftest import TESTS

    from kresolve.policy import load_policy

    policy = load_policy(TESTS.parent / "rules" / "approved" / "example-platform-2026q3.toml")
    assert policy.rules and policy.requires


def test_a_conflict_names_only_the_rejections_inside_each_requirement_and_disjoint_ranges(world):
    """`tensorflow==2.12.*` asked for against a route that needs `tensorflow>=2.16`: the message
    says the two ranges do not overlap, and does not pin 2.16's or 2.14's rejections on `==2.12.*`."""
    from packaging.requirements import Requirement

    from kresolve.rules.plan import Need

    index, rules = world
    extra = (Need(Requirement("tensorflow==2.12.*"), "asked for"),)
    plans = [p for p in plans_for(facts(), rules, extra) if p.route.id == "route-test-h5-legacy"]
    with pytest.raises(Unsolvable) as info:
        solve(plans, make_target("3.11", "linux-64"), index, rules)
    words = str(info.value)
    assert "tensorflow ==2.12.* and >=2.16 do not overlap" in words or "tensorflow >=2.16 and ==2.12.* do not overlap" in words
    requirement_part = words.split("the model requires tensorflow==2.12.*")[1].split(";")[0]
    assert "2.16" not in requirement_part and "2.14" not in requirement_part
