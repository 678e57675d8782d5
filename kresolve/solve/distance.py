"""'Nearest': how far a candidate version is from the preferred (training) version.

Order (DESIGN.md): the exact version; then the same major.minor, newest patch first; then the
fewest minor steps, newer before older on a tie; a major move last. Without a preference, newest
first, as pip does.

`measure(candidate, preferred)` gives a `Distance`: its kind (`DistanceKind`), the numbers the
order needs (`Distance.rank`) and, as `str()`, the words the report and the CLI print. What kind
of preference it is (exact, series, range) is decided once, by `preference.parse_preference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from packaging.version import Version

from .preference import Exact, Preferred, Range, Series, as_preferred, is_range

__all__ = ["Distance", "DistanceKind", "describe", "is_range", "measure", "order_key"]


class DistanceKind(StrEnum):
    EXACT = "exact"
    SAME_SERIES = "same series"
    MINOR = "minor"  # a minor move within the preferred major
    MAJOR = "major"  # a major move
    WITHIN_RANGE = "within the training range"
    OUTSIDE_RANGE = "outside the training range"


@dataclass(frozen=True)
class Distance:
    """How far `chosen` is from `preferred`. `majors` and `steps` count release lines (a minor
    step = 1; a major move 1000 per major, see `_line_steps`), from the farthest bound it breaks
    for a range; `older`: below the preferred version."""

    kind: DistanceKind
    preferred: Preferred
    chosen: Version
    majors: int = 0
    steps: int = 0
    older: bool = False

    @property
    def rank(self) -> tuple[Any, ...]:
        """The order's key without the newest-first tie-break: candidates with the same rank are
        equally near (one release line; the exact version alone)."""
        return _rank(self.kind, self.preferred, self.majors, self.steps, self.older)

    @property
    def key(self) -> tuple[Any, ...]:
        """The full order: rank, then newer first."""
        return (*self.rank, _neg(self.chosen))

    def __lt__(self, other: Distance) -> bool:
        return self.key < other.key

    @property
    def as_preferred(self) -> bool:
        """The preference itself was used: its exact version, its series, or inside its range
        (a different patch of an exact preference is not)."""
        return (self.kind in (DistanceKind.EXACT, DistanceKind.WITHIN_RANGE)
                or (self.kind is DistanceKind.SAME_SERIES and isinstance(self.preferred, Series)))

    def __str__(self) -> str:
        kind, pref = self.kind, self.preferred
        if kind in (DistanceKind.EXACT, DistanceKind.WITHIN_RANGE, DistanceKind.OUTSIDE_RANGE):
            return kind.value
        assert not isinstance(pref, Range)
        (cmaj, cmin), (pmaj, pmin) = _series(self.chosen), _series(pref.version)
        if kind is DistanceKind.SAME_SERIES:
            return "same series" if isinstance(pref, Series) else f"same series ({pref.version} → {self.chosen})"
        word = "minor" if kind is DistanceKind.MINOR else "major"
        moved = cmin - pmin if kind is DistanceKind.MINOR else cmaj - pmaj
        return f"{word} {moved:+d} ({pmaj}.{pmin} → {cmaj}.{cmin})"


def _series(v: Version) -> tuple[int, int]:
    release = v.release + (0, 0)
    return release[0], release[1]


def _line_steps(candidate: Version, pref: Version) -> tuple[int, int]:
    """(majors moved, release-line steps) from `pref`'s line to `candidate`'s."""
    (cmaj, cmin), (pmaj, pmin) = _series(candidate), _series(pref)
    if cmaj == pmaj:
        steps = abs(cmin - pmin)
    elif cmaj > pmaj:
        steps = 1000 * (cmaj - pmaj) + cmin  # up a major: its x.0 is nearest
    else:
        steps = 1000 * (pmaj - cmaj) + (1000 - cmin)  # down a major: its newest minor is nearest
    return abs(cmaj - pmaj), steps


def _rank(kind: DistanceKind, preferred: Preferred, majors: int, steps: int, older: bool) -> tuple[Any, ...]:
    if isinstance(preferred, Range):
        return (0, 0, 0, 0) if kind is DistanceKind.WITHIN_RANGE else (1, majors, steps, 0)
    return (majors, steps, kind is not DistanceKind.EXACT, older)


def _classify(candidate: Version, pref: Preferred) -> tuple[DistanceKind, int, int, bool]:
    """(kind, majors, steps, older): what a Distance holds besides the two versions.

    A range: inside it, newest first; outside, by how far the candidate is past the bounds it
    breaks (the farthest of them: a redundant looser bound, `<1.19,<1.20`, must not make 1.20.3
    as near as 1.19.5)."""
    if isinstance(pref, Range):
        spec = pref.specifier
        if spec.contains(candidate, prereleases=True):
            return DistanceKind.WITHIN_RANGE, 0, 0, False
        broken = [Version(s.version.rstrip(".*").rstrip(".")) for s in spec if not s.contains(candidate, prereleases=True)]
        majors, steps = max(_line_steps(candidate, b) for b in broken)
        return DistanceKind.OUTSIDE_RANGE, majors, steps, False
    majors, steps = _line_steps(candidate, pref.version)
    (cmaj, cmin), (pmaj, pmin) = _series(candidate), _series(pref.version)
    if isinstance(pref, Exact) and candidate == pref.version:
        kind = DistanceKind.EXACT
    elif (cmaj, cmin) == (pmaj, pmin):
        kind = DistanceKind.SAME_SERIES
    elif cmaj == pmaj:
        kind = DistanceKind.MINOR
    else:
        kind = DistanceKind.MAJOR
    return kind, majors, steps, candidate < pref.version


def measure(candidate: Version, preferred: str | Preferred) -> Distance:
    """How far `candidate` is from `preferred` (ValueError for an unreadable preference)."""
    pref = as_preferred(preferred)
    kind, majors, steps, older = _classify(candidate, pref)
    return Distance(kind, pref, candidate, majors, steps, older)


def order_key(candidate: Version, preferred: str | Preferred | None) -> tuple[Any, ...]:
    """measure(candidate, preferred).key without making the Distance (the solver sorts every
    version of every project it meets by this)."""
    if preferred is None:
        return (0, 0, 0, 0, _neg(candidate))
    pref = as_preferred(preferred)
    kind, majors, steps, older = _classify(candidate, pref)
    return (*_rank(kind, pref, majors, steps, older), _neg(candidate))


def _neg(v: Version) -> tuple[Any, ...]:
    """A key that sorts newer versions first."""
    release = (v.release + (0, 0, 0, 0))[:4]
    return (*(-x for x in release), v.pre is not None, -(v.post or 0))


def describe(chosen: Version, preferred: str | Preferred | None) -> str | None:
    if preferred is None:
        return None
    return str(measure(chosen, preferred))
