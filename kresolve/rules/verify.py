"""`kresolve rules verify`: cross-check constraints against the real index.

For each constraint, the newest release of every series its `when` covers is looked up: its
wheels' Python tags and Requires-Python, and its Requires-Dist. A rule that admits what the
metadata excludes is *looser* (a bug: kresolve would pick what pip refuses); a rule that excludes
what the metadata admits is *stricter* (fine when its source documents why). For dependencies
both apply in the solver, so a rule merely *weaker* than METADATA is redundant, not wrong; one
that *contradicts* it (no version satisfies both) is a bug.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from ..index import DistFile, Index
from .db import Constraint, RulesDB
from .specs import bound_probes, is_empty

PYTHONS = [Version("2.7")] + [Version(f"3.{m}") for m in range(15)]


class DisagreementKind(StrEnum):
    """How a rule relates to the release's METADATA (see the module doc); declaration order is
    the order `rules verify` counts them in."""

    LOOSER = "looser"  # a bug: admits what the metadata excludes
    CONTRADICTS = "contradicts"  # a bug: no version satisfies both
    STRICTER = "stricter"
    WEAKER = "weaker"
    UNVERIFIABLE = "unverifiable"  # no wheel on the index to check against


BUGS = frozenset({DisagreementKind.LOOSER, DisagreementKind.CONTRADICTS})


@dataclass(frozen=True)
class Disagreement:
    rule_id: str
    release: str  # "tensorflow 2.15.1"
    kind: DisagreementKind
    detail: str


def _wheel_pythons(files: Iterable[DistFile]) -> set[Version]:
    """CPython minors the release has wheels for (abi3/py3 wheels count for all)."""
    found: set[Version] = set()
    for f in files:
        if not f.filename.endswith(".whl"):
            continue
        try:
            tags: frozenset[Tag] = parse_wheel_filename(f.filename)[3]
        except Exception:  # noqa: BLE001, S112  an unparsable wheel name is skipped, whatever packaging raises
            continue
        for tag in tags:
            if tag.interpreter.startswith("cp") and tag.interpreter[2:].isdigit() and tag.abi != "abi3":
                found.add(Version(f"{tag.interpreter[2]}.{tag.interpreter[3:]}"))
            elif tag.interpreter in ("py3", "py2.py3") or tag.abi == "abi3":
                return set(PYTHONS)
    return found


def _newest_per_series(index: Index, name: str, spec: SpecifierSet) -> dict[Version, list[DistFile]]:
    by_version: dict[Version, list[DistFile]] = defaultdict(list)
    for f in index.files(name):
        if not f.filename.endswith(".whl"):
            continue
        try:
            _, version, _, _ = parse_wheel_filename(f.filename)
        except Exception:  # noqa: BLE001, S112  an unparsable wheel name is skipped, whatever packaging raises
            continue
        if not version.is_prerelease and spec.contains(version) and not f.yanked:
            by_version[version].append(f)
    newest: dict[tuple[int, int], Version] = {}
    for v in by_version:
        release = v.release + (0,)
        key = (release[0], release[1])
        if key not in newest or v > newest[key]:
            newest[key] = v
    return {v: by_version[v] for v in newest.values()}


def _compare(rule_spec: SpecifierSet, meta_spec: SpecifierSet, probes: Iterable[Version]) -> tuple[list[Version], list[Version]]:
    looser, stricter = [], []
    for v in probes:
        in_rule, in_meta = rule_spec.contains(v, prereleases=True), meta_spec.contains(v, prereleases=True)
        if in_rule and not in_meta:
            looser.append(v)
        elif in_meta and not in_rule:
            stricter.append(v)
    return looser, stricter


def _probes(*specs: SpecifierSet) -> list[Version]:
    return sorted(set().union(*((bound_probes(spec) or set()) for spec in specs)))


def verify_constraint(rule: Constraint, index: Index) -> list[Disagreement]:
    name = canonicalize_name(rule.when.name)
    releases = _newest_per_series(index, name, rule.when.specifier)
    if not releases:
        return [Disagreement(rule.id, str(rule.when), DisagreementKind.UNVERIFIABLE, f"no wheel of {rule.when} on the index")]
    found = []
    for version, files in sorted(releases.items()):
        release = f"{name} {version}"
        meta = index.metadata(files[0])
        for req in rule.requires:
            dep = canonicalize_name(req.name)
            if dep == "python":
                wheel_py = _wheel_pythons(files)
                allowed = {p for p in wheel_py if not meta.requires_python or SpecifierSet(meta.requires_python).contains(p)}
                rule_py = {p for p in PYTHONS if req.specifier.contains(p)}
                if rule_py - allowed:
                    found.append(Disagreement(rule.id, release, DisagreementKind.LOOSER,
                                              f"allows Python {', '.join(map(str, sorted(rule_py - allowed)))} but the release has no usable wheel for it"))
                if allowed - rule_py:
                    found.append(Disagreement(rule.id, release, DisagreementKind.STRICTER,
                                              f"excludes Python {', '.join(map(str, sorted(allowed - rule_py)))} which has wheels"))
                continue
            meta_specs = []
            for line in meta.requires_dist:
                try:
                    r = Requirement(line)
                except InvalidRequirement:
                    continue
                if canonicalize_name(r.name) == dep and (r.marker is None or r.marker.evaluate({"extra": "", "python_version": "3.11",
                                                                                                  "platform_system": "Linux", "sys_platform": "linux",
                                                                                                  "platform_machine": "x86_64"})):
                    meta_specs.append(r.specifier)
            if not meta_specs:
                found.append(Disagreement(rule.id, release, DisagreementKind.STRICTER, f"METADATA does not require {dep}; the rule adds {req}"))
                continue
            meta_spec = SpecifierSet()
            for s in meta_specs:
                meta_spec &= s
            looser, stricter = _compare(req.specifier, meta_spec, _probes(req.specifier, meta_spec))
            if is_empty(req.specifier & meta_spec):
                found.append(Disagreement(rule.id, release, DisagreementKind.CONTRADICTS,
                                          f"{req} and METADATA's {dep}{meta_spec} have no version in common"))
                continue
            if looser:
                found.append(Disagreement(rule.id, release, DisagreementKind.WEAKER,
                                          f"{req} admits {', '.join(map(str, looser[:4]))} which METADATA ({dep}{meta_spec}) excludes; both apply"))
            if stricter:
                found.append(Disagreement(rule.id, release, DisagreementKind.STRICTER, f"{req} narrows METADATA's {dep}{meta_spec}"))
    return found


def verify_rules(db: RulesDB, index: Index, packages: Iterable[str] = (), rule_ids: Iterable[str] = ()) -> list[Disagreement]:
    """Check constraints: all, or those whose `when` names one of `packages`, or the given ids."""
    wanted, ids = {canonicalize_name(p) for p in packages}, set(rule_ids)
    rules = [c for c in db.constraints
             if (not wanted and not ids) or canonicalize_name(c.when.name) in wanted or c.id in ids]
    found = []
    for rule in rules:
        found += verify_constraint(rule, index)
    return found
