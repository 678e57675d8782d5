"""`kresolve rules check`: the rules DB is consistent — no contradictions, no gaps, no ambiguity,
and every source is of a checkable kind. Pure apart from looking up `test:` sources on disk."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from .db import Accelerator, Advisory, Companion, Constraint, Distribution, Era, KnownBad, Route, RulesDB
from .specs import overlaps, series_in


class Level(StrEnum):
    ERROR = "error"  # `rules check` fails
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    level: Level
    rule_ids: tuple[str, ...]
    message: str


SOURCE = re.compile(r"^(https://\S+|metadata:[A-Za-z0-9._-]+==\S+|test:tests/\S+\.py::\w+)$")


def _sources(db: RulesDB, repo: Path | None) -> list[Finding]:
    found = []
    rules: tuple[Constraint | Era | Route | KnownBad | Distribution | Accelerator | Advisory | Companion, ...] = (
        *db.constraints, *db.eras, *db.routes, *db.known_bad, *db.distributions, *db.accelerators, *db.advisories,
        *db.companions)
    for rule in rules:
        if not SOURCE.match(rule.source):
            found.append(Finding(Level.ERROR, (rule.id,), f"source {rule.source!r} is not a URL, metadata:NAME==VERSION or test:tests/FILE.py::NAME"))
        elif rule.source.startswith("test:") and repo is not None:
            file, _, name = rule.source[5:].partition("::")
            path = repo / file
            if not path.is_file() or not re.search(rf"^\s*def {re.escape(name)}\b", path.read_text("utf-8"), re.MULTILINE):
                found.append(Finding(Level.ERROR, (rule.id,), f"source {rule.source} names a test that does not exist"))
    return found


def _contradictions(db: RulesDB) -> list[Finding]:
    """Two rules that can fire together but require disjoint versions of one package."""
    found = []
    items = [(c, r) for c in db.constraints for r in c.requires]
    for i, (a, ra) in enumerate(items):
        for b, rb in items[i + 1 :]:
            if a.id == b.id or canonicalize_name(a.when.name) != canonicalize_name(b.when.name):
                continue
            if canonicalize_name(ra.name) != canonicalize_name(rb.name) or ra.marker or rb.marker:
                continue
            if overlaps(a.when.specifier, b.when.specifier) and not overlaps(ra.specifier, rb.specifier):
                found.append(Finding(Level.ERROR, (a.id, b.id), f"both fire for {a.when.name} in {a.when.specifier & b.when.specifier} "
                                     f"but require {ra} and {rb}, which no version satisfies"))
    return found


def _gaps(db: RulesDB) -> list[Finding]:
    """A family of per-series rules (e.g. tensorflow → python) that skips a series in the middle."""
    family: dict[tuple[str, str], list[Any]] = defaultdict(list[Any])
    for c in db.constraints:
        for r in c.requires:
            family[(canonicalize_name(c.when.name), canonicalize_name(r.name))].append(c)
    found = []
    for (pkg, dep), rules in family.items():
        if len(rules) < 3:
            continue  # not a per-series family
        covered: dict[tuple[int, int], list[str]] = defaultdict(list)
        for rule in rules:
            if str(rule.when.specifier):  # an unbounded `when` is not per-series
                for series in series_in(rule.when.specifier, (0, 0), (9, 40)):
                    covered[series].append(rule.id)
        if not covered:
            continue
        keys = sorted(covered)
        span = []
        for major in sorted({k[0] for k in keys}):
            minors = [k[1] for k in keys if k[0] == major]
            span += [(major, m) for m in range(min(minors), max(minors) + 1)]
        missing = [s for s in span if s not in covered]
        # Sparse families are traps for particular releases, not per-series tables: no gaps there.
        if missing and len(covered) >= 0.75 * len(span):
            names = ", ".join(f"{a}.{b}" for a, b in missing)
            found.append(Finding(Level.WARNING, tuple(sorted({r.id for r in rules}))[:3],
                                 f"{pkg} → {dep}: rules cover {pkg} {keys[0][0]}.{keys[0][1]}–{keys[-1][0]}.{keys[-1][1]} "
                                 f"but not {names} (fine if no such release exists)"))
    return found


def _era_conflicts(db: RulesDB) -> list[Finding]:
    found = []
    eras = list(db.eras)
    for i, a in enumerate(eras):
        for b in eras[i + 1 :]:
            same_key = None
            if a.keras_version is not None and b.keras_version is not None:
                flavours_meet = a.keras_flavour is None or b.keras_flavour is None or a.keras_flavour == b.keras_flavour
                same_key = flavours_meet and overlaps(a.keras_version, b.keras_version)
            elif a.tensorflow_version is not None and b.tensorflow_version is not None:
                same_key = overlaps(a.tensorflow_version, b.tensorflow_version)
            elif a.saved_between and b.saved_between:
                same_key = a.saved_between[0] < b.saved_between[1] and b.saved_between[0] < a.saved_between[1]
            if not same_key:
                continue
            pa, pb = dict(a.prefer), dict(b.prefer)
            clash = [k for k in pa.keys() & pb.keys() if pa[k] != pb[k]]
            if clash:
                found.append(Finding(Level.ERROR, (a.id, b.id), f"overlapping eras prefer different {', '.join(clash)}"))
            ra, rb = dict(a.ranges), dict(b.ranges)
            for k in ra.keys() & rb.keys():
                if not overlaps(SpecifierSet(str(ra[k])), SpecifierSet(str(rb[k]))):
                    found.append(Finding(Level.ERROR, (a.id, b.id), f"overlapping eras give disjoint {k} ranges {ra[k]} and {rb[k]}"))
    return found


def _route_ambiguity(db: RulesDB) -> list[Finding]:
    found = []
    routes = list(db.routes)
    for i, a in enumerate(routes):
        for b in routes[i + 1 :]:
            if a.format != b.format or a.rank != b.rank:
                continue
            ka, kb = a.writer_keras or SpecifierSet(), b.writer_keras or SpecifierSet()
            ta, tb = a.writer_tensorflow or SpecifierSet(), b.writer_tensorflow or SpecifierSet()
            if overlaps(ka, kb) and overlaps(ta, tb):
                found.append(Finding(Level.ERROR, (a.id, b.id), f"same format {a.format}, same rank {a.rank} and overlapping writers: order is ambiguous"))
    return found


def check_rules(db: RulesDB, repo: Path | None = None) -> list[Finding]:
    findings = _sources(db, repo) + _contradictions(db) + _gaps(db) + _era_conflicts(db) + _route_ambiguity(db)
    return sorted(findings, key=lambda f: (f.level is not Level.ERROR, f.rule_ids))
