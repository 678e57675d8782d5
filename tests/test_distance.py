from packaging.version import Version

from kresolve.solve.distance import describe, order_key

VERSIONS = [Version(v) for v in ["2.11.0", "2.12.0", "2.12.1", "2.13.1", "2.14.1", "2.15.0", "2.15.1", "2.16.1", "3.0.0"]]


def ordered(preferred):
    return [str(v) for v in sorted(VERSIONS, key=lambda v: order_key(v, preferred))]


def test_exact_version_first_then_same_series_newest_patch():
    assert ordered("2.12.0")[:3] == ["2.12.0", "2.12.1", "2.13.1"]


def test_same_series_beats_a_minor_move_and_ties_prefer_newer():
    got = ordered("2.13.0")  # 2.13.0 itself is absent
    assert got[:3] == ["2.13.1", "2.14.1", "2.12.1"]


def test_series_preference_takes_newest_patch_of_that_series():
    assert ordered("2.15")[:2] == ["2.15.1", "2.15.0"]


def test_major_move_comes_last():
    assert ordered("2.15.1")[-1] in ("3.0.0", "2.11.0")
    assert ordered("2.15.1").index("3.0.0") > ordered("2.15.1").index("2.12.0")


def test_without_preference_newest_first():
    assert ordered(None)[0] == "3.0.0"


def test_describe():
    assert describe(Version("2.15.1"), "2.15.1") == "exact"
    assert describe(Version("2.15.1"), "2.15.0").startswith("same series")
    assert describe(Version("2.14.1"), "2.12.1") == "minor +2 (2.12 → 2.14)"
    assert describe(Version("3.1.0"), "2.15") == "major +1 (2.15 → 3.1)"


def test_a_range_preference_prefers_inside_newest_first_then_the_nearest_outside():
    got = ordered(">=2.12,<2.14")
    assert got[:3] == ["2.13.1", "2.12.1", "2.12.0"]
    assert got.index("2.14.1") < got.index("2.16.1") and got.index("2.11.0") < got.index("2.16.1")
    assert describe(Version("2.13.1"), ">=2.12,<2.14") == "within the training range"
    assert describe(Version("2.15.0"), ">=2.12,<2.14") == "outside the training range"


def test_outside_a_range_the_distance_is_from_the_bounds_it_breaks_not_a_redundant_one():
    # A preference that stacks evidence: `<1.19.0` and the looser `<1.20` (and a floor). 1.19.5
    # breaks only `<1.19.0` by its patch; 1.20.3 breaks it by a minor: 1.19.5 is nearer.
    pref = "<1.19.0,<1.20,>=1.16.0"
    ranked = sorted([Version("1.20.3"), Version("1.19.5"), Version("1.18.5")], key=lambda v: order_key(v, pref))
    assert [str(v) for v in ranked] == ["1.18.5", "1.19.5", "1.20.3"]
