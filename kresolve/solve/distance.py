"""'Nearest': how far a candidate version is from the preferred (training) version.

Order (DESIGN.md): the exact version; then the same major.minor, newest patch first; then the
fewest minor steps, newer before older on a tie; a major move last. Without a preference, newest
first, as pip does.
"""

from __future__ import annotations

from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version


def _series(v: Version) -> tuple[int, int]:
    release = v.release + (0, 0)
    return release[0], release[1]


def is_range(preferred: str | None) -> bool:
    """A preference may be a range (what the training stack could have been) instead of a version."""
    return bool(preferred and preferred.lstrip()[:1] in "<>=!~")


def _range_key(candidate: Version, preferred: str) -> tuple[Any, ...]:
    """Inside the range, newest first; outside, by how far the candidate is past the bounds it
    breaks (the farthest of them: a redundant looser bound, `<1.19,<1.20`, must not make 1.20.3
    as near as 1.19.5)."""
    spec = SpecifierSet(preferred)
    if spec.contains(candidate, prereleases=True):
        return (0, 0, 0, 0, _neg(candidate))
    broken = [Version(s.version.rstrip(".*").rstrip(".")) for s in spec if not s.contains(candidate, prereleases=True)]
    farthest = max(broken, key=lambda b: order_key(candidate, str(b))[:2])
    return (1, *order_key(candidate, str(farthest))[:2], 0, _neg(candidate))


def order_key(candidate: Version, preferred: str | None) -> tuple[Any, ...]:
    if preferred is None:
        return (0, 0, 0, 0, _neg(candidate))
    if is_range(preferred):
        return _range_key(candidate, preferred)
    pref = Version(preferred)
    exact = len(pref.release) >= 3 or pref.is_postrelease
    (cmaj, cmin), (pmaj, pmin) = _series(candidate), _series(pref)
    if cmaj == pmaj:
        steps = abs(cmin - pmin)
    elif cmaj > pmaj:
        steps = 1000 * (cmaj - pmaj) + cmin  # up a major: its x.0 is nearest
    else:
        steps = 1000 * (pmaj - cmaj) + (1000 - cmin)  # down a major: its newest minor is nearest
    is_exact = exact and candidate == pref
    older = candidate < pref
    return (abs(cmaj - pmaj), steps, not is_exact, older, _neg(candidate))


def _neg(v: Version) -> tuple[Any, ...]:
    """A key that sorts newer versions first."""
    release = (v.release + (0, 0, 0, 0))[:4]
    return (*(-x for x in release), v.pre is not None, -(v.post or 0))


def describe(chosen: Version, preferred: str | None) -> str | None:
    if preferred is None:
        return None
    if is_range(preferred):
        return "within the training range" if SpecifierSet(preferred).contains(chosen, prereleases=True) else "outside the training range"
    pref = Version(preferred)
    exact = len(pref.release) >= 3
    if exact and chosen == pref:
        return "exact"
    (cmaj, cmin), (pmaj, pmin) = _series(chosen), _series(pref)
    if (cmaj, cmin) == (pmaj, pmin):
        return "same series" if not exact else f"same series ({pref} → {chosen})"
    if cmaj == pmaj:
        return f"minor {cmin - pmin:+d} ({pmaj}.{pmin} → {cmaj}.{cmin})"
    return f"major {cmaj - pmaj:+d} ({pmaj}.{pmin} → {cmaj}.{cmin})"
