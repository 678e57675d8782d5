"""Set questions about version ranges (PEP 440 specifier sets)."""

from __future__ import annotations

from functools import lru_cache

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version


def bound_probes(spec: SpecifierSet) -> set[Version] | None:
    """The versions at and next to each bound of `spec` (None for arbitrary === specifiers)."""
    probes: set[Version] = set()
    for single in spec:
        try:
            v = Version(single.version.rstrip(".*").rstrip("."))
        except InvalidVersion:
            return None  # arbitrary (===) specifiers: do not guess
        major, minor, micro = (v.release + (0, 0))[:3]
        probes |= {v, Version(f"{major}.{minor}.{micro + 1}"), Version(f"{major}.{minor + 1}"), Version(f"{major + 1}")}
        if micro:
            probes.add(Version(f"{major}.{minor}.{micro - 1}"))
        if minor:
            probes.add(Version(f"{major}.{minor - 1}.999"))
        if major:
            probes.add(Version(f"{major - 1}.999"))  # below a lone `<3`
        probes.add(Version("0"))
    return probes


def is_empty(spec: SpecifierSet) -> bool:
    """Whether no version satisfies `spec`. A set of ranges can only be satisfied at or next to
    one of its own bounds, so those (and their neighbours) are the versions worth trying."""
    text = str(spec)
    return bool(text) and _empty(text)


@lru_cache(maxsize=4096)
def _empty(text: str) -> bool:
    """is_empty by the set's text: inference asks the same few questions for every model of a
    directory (~40 per model, each a dozen Version objects)."""
    spec = SpecifierSet(text)
    probes = bound_probes(spec)
    return probes is not None and not any(spec.contains(p, prereleases=True) for p in probes)


def overlaps(a: SpecifierSet, b: SpecifierSet) -> bool:
    return not is_empty(a & b)


def series_in(spec: SpecifierSet, lowest: tuple[int, int], highest: tuple[int, int]) -> list[tuple[int, int]]:
    """The major.minor series between two bounds that `spec` admits (checked at their .0 and a
    late patch, so `>=2.15,<2.16` admits (2, 15))."""
    found = []
    for major in range(lowest[0], highest[0] + 1):
        lo = lowest[1] if major == lowest[0] else 0
        hi = highest[1] if major == highest[0] else 99
        for minor in range(lo, hi + 1):
            if any(spec.contains(Version(f"{major}.{minor}.{p}"), prereleases=True) for p in (0, 9)):
                found.append((major, minor))
    return found
