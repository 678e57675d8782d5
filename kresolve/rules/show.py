"""`kresolve rules show PKG [VERSION]`: every rule that speaks about a package."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from packaging.utils import canonicalize_name
from packaging.version import Version

from .db import RulesDB


class RuleKind(StrEnum):
    """The rules-file table a rule comes from (what `rules show` prints in its kind column)."""

    CONSTRAINT = "constraint"
    ERA = "era"
    ROUTE = "route"
    KNOWN_BAD = "known_bad"


@dataclass(frozen=True)
class RuleLine:
    id: str
    kind: RuleKind
    says: str  # the rule in one line
    reason: str
    source: str


def rules_about(db: RulesDB, package: str, version: str | None = None) -> list[RuleLine]:
    name = canonicalize_name(package)
    v = Version(version) if version else None
    lines = []
    for c in db.constraints:
        about_when = canonicalize_name(c.when.name) == name and (v is None or c.when.specifier.contains(v, prereleases=True))
        about_dep = any(canonicalize_name(r.name) == name for r in c.requires) and v is None
        if about_when or about_dep:
            lines.append(RuleLine(c.id, RuleKind.CONSTRAINT, f"{c.when} → {', '.join(map(str, c.requires))}", c.reason, c.source))
    for e in db.eras:
        prefer, ranges = dict(e.prefer), dict(e.ranges)
        if name in prefer or name in ranges:
            key = (f"keras_version {e.keras_version}" if e.keras_version is not None else
                   f"tensorflow_version {e.tensorflow_version}" if e.tensorflow_version is not None else
                   f"saved {e.saved_between[0]}…{e.saved_between[1]}")  # type: ignore[index]  # an era names one of the three
            said = ", ".join(x for x in (f"prefer {prefer[name]}" if name in prefer else "",
                                         f"range {ranges[name]}" if name in ranges else "") if x)
            if v is None or name not in ranges or ranges[name].contains(v, prereleases=True):
                lines.append(RuleLine(e.id, RuleKind.ERA, f"{key} → {name}: {said} ({e.confidence})", e.reason, e.source))
    for r in db.routes:
        reqs = [q for q in r.requires if canonicalize_name(q.name) == name]
        if reqs and (v is None or all(q.specifier.contains(v, prereleases=True) for q in reqs)):
            lines.append(RuleLine(r.id, RuleKind.ROUTE, f"{r.format} → loader {r.loader} needs {', '.join(map(str, r.requires))}", r.reason, r.source))
    for k in db.known_bad:
        if any(canonicalize_name(q.name) == name for q in k.when):
            lines.append(RuleLine(k.id, RuleKind.KNOWN_BAD, f"{', '.join(map(str, k.when))}: {k.cause}", k.fix, k.source))
    return lines
