"""A preferred version, typed: the one place that decides exact vs series vs range.

A preference is the text the evidence gave ("2.15.1", "2.15", ">=1.16,<1.20"); everything that
needs to know what kind it is asks `parse_preference`, never the text's first character or its
number of dots:

- `Range`: the text starts with a comparison operator (`<`, `>`, `=`, `!`, `~`): what the
  training stack could have been, not one version.
- `Exact`: a version of three or more release parts ("2.15.1"), or a post-release
  ("2.15.post1"): that one version, its newest patch next.
- `Series`: any other version ("2.15", "3"): the release line, newest patch first.

Blank text is no preference at all: `parse_preference` refuses it (ValueError), as it refuses an
unreadable version or range (InvalidVersion and InvalidSpecifier are ValueErrors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from packaging.specifiers import SpecifierSet
from packaging.version import Version

RANGE_OPERATORS = "<>=!~"


@dataclass(frozen=True)
class Exact:
    """One version ("2.15.1"); a different patch of it is the same series, not the version."""

    version: Version

    def __str__(self) -> str:
        return str(self.version)

    def matches(self, version: Version) -> bool:
        return version == self.version

    def series(self) -> Series:
        return Series(Version(".".join(str(x) for x in self.version.release[:2])))


@dataclass(frozen=True)
class Series:
    """A release line ("2.15"): any patch of it is as trained, the newest first."""

    prefix: Version

    @property
    def version(self) -> Version:
        return self.prefix

    def __str__(self) -> str:
        return str(self.prefix)

    def matches(self, version: Version) -> bool:
        return version.release[:2] == self.prefix.release[:2]

    def series(self) -> Series:
        return self


@dataclass(frozen=True)
class Range:
    """What the training stack could have been (">=1.16,<1.20"): any version inside it."""

    specifier: SpecifierSet

    def __str__(self) -> str:
        return str(self.specifier)

    def matches(self, version: Version) -> bool:
        return self.specifier.contains(version, prereleases=True)

    def series(self) -> Range:
        return self


Preferred: TypeAlias = Exact | Series | Range


def parse_preference(text: str) -> Preferred:
    """The kind of preference `text` is (module doc); ValueError for blank or unreadable text."""
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"empty preference {text!r}")
    if stripped[0] in RANGE_OPERATORS:
        return Range(SpecifierSet(stripped))
    version = Version(stripped)
    if len(version.release) >= 3 or version.is_postrelease:
        return Exact(version)
    return Series(version)


def as_preferred(preferred: str | Preferred) -> Preferred:
    """`preferred` parsed, unless it already is."""
    return parse_preference(preferred) if isinstance(preferred, str) else preferred


def is_range(preferred: str | Preferred | None) -> bool:
    """A preference that is a range rather than a version; blank or unreadable text is neither."""
    if preferred is None:
        return False
    if isinstance(preferred, str):
        stripped = preferred.strip()
        return bool(stripped) and stripped[0] in RANGE_OPERATORS
    return isinstance(preferred, Range)
