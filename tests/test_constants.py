"""The shared names in kresolve.constants are the ones the stages actually accept and use."""

from __future__ import annotations

from kresolve import constants
from kresolve.rules import db
from kresolve.target import make_target


def test_every_platform_name_makes_a_target_the_rules_accept():
    assert db.PLATFORM_NAMES is constants.PLATFORM_NAMES
    for name in constants.PLATFORM_NAMES:
        assert make_target("3.11", name).platform == name
    assert constants.FALLBACK_PLATFORM in constants.PLATFORM_NAMES


def test_explain_pythons_are_solvable_minors():
    assert constants.EXPLAIN_PYTHONS == ("3.9", "3.10", "3.11", "3.12", "3.13")
    for minor in constants.EXPLAIN_PYTHONS:
        assert make_target(minor, "linux-64").python == minor


def test_package_lists_nest_in_priority_order():
    # DESIGN.md "Nearest": keras line, tensorflow, (python,) numpy, then the rest
    assert constants.OBJECTIVE_ORDER == ("keras", "tf-keras", "tensorflow", "numpy")
    assert constants.KEY_PACKAGES[: len(constants.LOADER_PACKAGES)] == constants.LOADER_PACKAGES
    assert set(constants.OBJECTIVE_ORDER) <= set(constants.KEY_PACKAGES) <= set(constants.SHOWN_PACKAGES)
