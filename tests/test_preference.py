"""The typed preference (solve.preference) and the Distance value (solve.distance)."""

import pytest
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from kresolve.solve.distance import Distance, DistanceKind, describe, measure, order_key
from kresolve.solve.preference import Exact, Range, Series, is_range, parse_preference


@pytest.mark.parametrize("text, kind", [
    ("2.15.1", Exact), ("2.15.0", Exact), ("1.2.3.4", Exact), ("2.15.post1", Exact), ("2.15.1rc1", Exact),
    ("2.15", Series), ("3", Series), ("2.15rc1", Series), (" 2.15 ", Series),
    (">=2.12,<2.14", Range), ("<1.20", Range), ("==2.15.*", Range), ("~=2.12", Range), ("!=2.15.1", Range),
    ("  >=2.0", Range),
])
def test_one_parser_decides_exact_series_or_range(text, kind):
    pref = parse_preference(text)
    assert type(pref) is kind
    assert is_range(text) == (kind is Range) == is_range(pref)


def test_parsed_values():
    assert parse_preference("2.15.1") == Exact(Version("2.15.1"))
    assert parse_preference(" 2.15 ") == Series(Version("2.15"))
    assert parse_preference(">=2.12, <2.14") == Range(SpecifierSet(">=2.12,<2.14"))
    assert str(parse_preference("2.15.1")) == "2.15.1" and str(parse_preference("2.15")) == "2.15"


@pytest.mark.parametrize("text", ["", " ", "  ", "\t\n"])
def test_blank_text_is_no_preference(text):
    # is_range("  ") used to say True (and the blank "range" then matched every version)
    assert not is_range(text)
    with pytest.raises(ValueError):
        parse_preference(text)


def test_unreadable_text_is_refused_as_a_value_error():
    with pytest.raises(InvalidVersion):
        parse_preference("two.fifteen")
    with pytest.raises(InvalidSpecifier):
        parse_preference(">=2.x")
    assert not is_range(None)


def test_series_of_a_preference():
    assert parse_preference("3.11.7").series() == Series(Version("3.11"))
    assert parse_preference("3.11").series() == Series(Version("3.11"))
    assert parse_preference(">=3.9").series() == parse_preference(">=3.9")


def test_matches():
    assert parse_preference("2.15.1").matches(Version("2.15.1")) and not parse_preference("2.15.1").matches(Version("2.15.3"))
    assert parse_preference("2.15").matches(Version("2.15.3")) and not parse_preference("2.15").matches(Version("2.16.0"))
    assert parse_preference(">=2.12,<2.14").matches(Version("2.13.1"))


@pytest.mark.parametrize("chosen, preferred, kind, text", [
    ("2.15.1", "2.15.1", DistanceKind.EXACT, "exact"),
    ("2.15.3", "2.15.1", DistanceKind.SAME_SERIES, "same series (2.15.1 → 2.15.3)"),
    ("2.15.3", "2.15", DistanceKind.SAME_SERIES, "same series"),
    ("2.14.1", "2.12.1", DistanceKind.MINOR, "minor +2 (2.12 → 2.14)"),
    ("2.10.0", "2.12", DistanceKind.MINOR, "minor -2 (2.12 → 2.10)"),
    ("3.1.0", "2.15", DistanceKind.MAJOR, "major +1 (2.15 → 3.1)"),
    ("1.15.0", "2.3.0", DistanceKind.MAJOR, "major -1 (2.3 → 1.15)"),
    ("2.13.1", ">=2.12,<2.14", DistanceKind.WITHIN_RANGE, "within the training range"),
    ("2.15.0", ">=2.12,<2.14", DistanceKind.OUTSIDE_RANGE, "outside the training range"),
])
def test_distance_kind_and_words(chosen, preferred, kind, text):
    d = measure(Version(chosen), preferred)
    assert d.kind is kind and str(d) == text == describe(Version(chosen), preferred)
    assert measure(Version(chosen), parse_preference(preferred)) == d


def test_as_preferred_is_what_needs_no_explanation():
    assert measure(Version("2.15.1"), "2.15.1").as_preferred
    assert measure(Version("2.15.3"), "2.15").as_preferred
    assert measure(Version("2.13.1"), ">=2.12,<2.14").as_preferred
    assert not measure(Version("2.15.3"), "2.15.1").as_preferred  # a different patch of an exact version
    assert not measure(Version("2.16.1"), "2.15").as_preferred
    assert not measure(Version("2.15.0"), ">=2.12,<2.14").as_preferred


def _sorted(preferred, versions):
    return [str(d.chosen) for d in sorted(measure(Version(v), preferred) for v in versions)]


def test_distance_ordering_is_the_solver_order():
    versions = ["2.11.0", "2.12.0", "2.12.1", "2.13.1", "2.14.1", "2.15.0", "2.15.1", "2.16.1", "3.0.0"]
    for preferred in ("2.12.0", "2.13.0", "2.15", "2.15.1", ">=2.12,<2.14", "<1.19.0,<1.20,>=1.16.0"):
        by_key = [str(v) for v in sorted((Version(v) for v in versions), key=lambda v: order_key(v, preferred))]
        assert _sorted(preferred, versions) == by_key
    # exact, then its series newest patch first, then a minor move (newer before older), a major last
    assert _sorted("2.12.0", ["3.0.0", "2.11.0", "2.13.1", "2.12.1", "2.12.0"]) == ["2.12.0", "2.12.1", "2.13.1", "2.11.0", "3.0.0"]


def test_distance_rank_groups_equally_near_candidates():
    a, b = measure(Version("2.15.0"), "2.15"), measure(Version("2.15.3"), "2.15")
    assert a.rank == b.rank and b < a  # one release line: equally near, the newer first
    assert measure(Version("2.15.1"), "2.15.1").rank < measure(Version("2.15.3"), "2.15.1").rank
    inside = [measure(Version(v), ">=2.12,<2.14") for v in ("2.12.0", "2.13.1")]
    assert inside[0].rank == inside[1].rank < measure(Version("2.14.1"), ">=2.12,<2.14").rank


def test_outside_a_range_counts_the_farthest_bound_broken():
    d = measure(Version("1.20.3"), "<1.19.0,<1.20,>=1.16.0")
    assert isinstance(d, Distance) and d.kind is DistanceKind.OUTSIDE_RANGE and (d.majors, d.steps) == (0, 1)
    assert measure(Version("1.19.5"), "<1.19.0,<1.20,>=1.16.0").steps == 0


def test_a_two_part_post_release_is_exact_everywhere():
    # The order already treated "2.15.post1" as exact; the words and steps now agree with it.
    assert str(measure(Version("2.15.post1"), "2.15.post1")) == "exact"
    assert str(measure(Version("2.15.3"), "2.15.post1")) == "same series (2.15.post1 → 2.15.3)"


def test_co_resolve_steps_follow_the_distance():
    from kresolve.solve.many import steps

    assert steps("2.15.1", "2.15.1") == 0 and steps("2.15.3", "2.15.1") == 0.1 and steps("2.15.3", "2.15") == 0
    assert steps("2.17.0", "2.15") == 2 and steps("3.0.0", "2.15") == 1000
    assert steps("2.13.1", ">=2.12,<2.14") == 0 and steps("1.20.3", "<1.19.0,<1.20") == 1
    assert steps("2.15.1", "  ") == 0 == steps("2.15.1", "abc") == steps("2.15.1", None)
