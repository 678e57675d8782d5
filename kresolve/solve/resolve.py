"""Run the resolver for each plan in rank order; turn the first success into an Environment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, TypeAlias

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver

from ..constants import LOADER_PACKAGES, OBJECTIVE_ORDER
from ..errors import Unsolvable
from ..index import DistFile, Index
from ..index.dates import Cutoff, Dater, DateSource, Released
from ..policy import Policy
from ..rules.advisories import Avoid, avoided_by
from ..rules.db import Accelerator, RulesDB
from ..rules.evidence import Evidence
from ..rules.plan import Plan, Preference
from ..rules.specs import is_empty
from ..target import Target
from .distance import Distance, measure
from .preference import Preferred, Range, parse_preference
from .provider import PYTHON, Candidate, Provider, Req

if TYPE_CHECKING:
    from resolvelib.resolvers import RequirementInformation
    from resolvelib.resolvers import Result as _Result

    Result: TypeAlias = _Result[Req, Candidate, str]

MAX_ROUNDS = 2000
TRIAL_ROUNDS = 400  # a trial that needs more backtracking than this counts as failed
MAX_TRIALS_PER_PACKAGE = 6  # release lines nearer than the greedy choice that are tried


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    files: tuple[DistFile, ...]
    via: tuple[str, ...]  # parents ("tensorflow 2.15.1"); empty for top-level needs
    reason: str  # one sentence: why this package, why this version
    top_level: bool = False  # required by the loading route itself
    preferred: str | None = None
    evidence: Evidence | None = None
    distance: Distance | None = None  # from the preferred version; str() gives the words the report prints
    why_not_preferred: str | None = None  # set when the preferred version could not be used
    rule_ids: tuple[str, ...] = ()
    released: str | None = None  # release date of this version (ISO), where known
    date_source: str | None = None  # where that date came from (upload-time, wheel timestamp, …)
    date_rule: str | None = None  # how the era cap treated this pin, in words
    from_source: bool = False  # an sdist: no wheel for the target, built at install time

    @property
    def distance_text(self) -> str | None:
        """The distance in the report's words ("exact", "minor +1 (2.14 → 2.15)"); None without a preference."""
        return None if self.distance is None else str(self.distance)


@dataclass(frozen=True)
class Environment:
    target: Target
    plan: Plan
    pins: tuple[Pin, ...]
    python: Pin  # the target interpreter, with its distance from the training Python
    skipped_routes: tuple[tuple[str, str], ...]  # (route id, why it was not used)
    accelerator: Accelerator | None = None  # GPU facts of the locked TensorFlow (--gpu targets)
    cutoff: Cutoff | None = None  # the era cap the rest of the environment was ordered by
    nearest_trials: int = 0  # resolves the objective search ran beyond the first

    @property
    def env_vars(self) -> dict[str, str]:
        return self.plan.env


def solve(plans: list[Plan], target: Target, index: Index, rules: RulesDB, policy: Policy | None = None,
          exclude_newer: date | None = None, era_cap: bool = True, evidence_dates: tuple[tuple[date, str], ...] = (),
          avoid: tuple[Avoid, ...] = ()) -> Environment:
    """The nearest environment of the first plan that solves.

    `exclude_newer`: uv's --exclude-newer, a hard cap on every package. Otherwise, with `era_cap`,
    a soft cap: packages without evidence take the newest release before the era's cut-off (the
    newest of `evidence_dates` and the locked TensorFlow's release date), later ones only when
    nothing earlier installs. `avoid`: versions an advisory about this file covers, ranked last.
    """
    if policy is not None:
        rule = policy.verdict(PYTHON, Version(target.python + ".0"))
        if rule is not None:
            raise Unsolvable(f"the target Python {target.python} is outside the policy: {rule.describe(policy.name)}")
    skipped: list[tuple[str, str]] = []
    dater = Dater(index) if (exclude_newer or era_cap) else None
    hard = Cutoff(exclude_newer, "given with --exclude-newer", True) if exclude_newer else None
    try:
        for plan in plans:
            try:
                return _solve_plan(plan, target, index, rules, tuple(skipped), policy, dater, hard, evidence_dates, avoid)
            except Unsolvable as exc:
                skipped.append((plan.route.id, str(exc)))
    finally:
        if dater is not None:
            dater.close()
    lines = "\n".join(f"  - route {rid}: {why}" for rid, why in skipped)
    raise Unsolvable(f"no environment on {target.describe()} loads this model:\n{lines}")


def _solve_plan(plan: Plan, target: Target, index: Index, rules: RulesDB, skipped: tuple[tuple[str, str], ...],
                policy: Policy | None,
                dater: Dater | None = None, hard: Cutoff | None = None,
                evidence_dates: tuple[tuple[date, str], ...] = (), avoid: tuple[Avoid, ...] = ()) -> Environment:
    prefs = {p.name: p.version for p in plan.preferences if p.name != PYTHON}
    provider = Provider(index, target, rules, prefs, policy, dater, avoid)
    provider.cutoff = hard
    roots = [Req(need.requirement, None, need.rule_id, need.reason) for need in plan.needs]
    if policy is not None:
        roots += [Req(req, None, None, f"{why} (policy {policy.name!r})") for req, why in policy.requires]
    index.prefetch(r.name for r in roots)
    result = _resolve(provider, roots, MAX_ROUNDS)
    order = sorted(prefs, key=lambda n: (OBJECTIVE_ORDER.index(n) if n in OBJECTIVE_ORDER else len(OBJECTIVE_ORDER), n))
    head = [n for n in order if n in LOADER_PACKAGES]
    fixed: list[Req] = []
    trials = 0
    for name in head:
        result, n = _nearest(provider, roots, fixed, result, name, prefs[name])
        trials += n
    if hard is None and dater is not None:
        provider.cutoff = _era_cutoff(result, dater, provider, evidence_dates)
        if provider.cutoff is not None and not _within_era(result, provider):
            try:
                result = _resolve(provider, roots + fixed, MAX_ROUNDS)  # the rest, in the era's order
            except Unsolvable:
                provider.cutoff = None  # the era's order only re-ranks: keep the solution found without it
    for name in order[len(head):]:
        result, n = _nearest(provider, roots, fixed, result, name, prefs[name])
        trials += n
    return _environment(plan, target, provider, result, skipped, trials)


def _resolve(provider: Provider, roots: list[Req], max_rounds: int) -> Result:
    try:
        return Resolver(provider, BaseReporter()).resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        raise Unsolvable(_explain_conflict(exc, provider)) from None
    except ResolutionTooDeep:
        raise Unsolvable(f"gave up after {max_rounds} resolution rounds (too much backtracking)") from None


def _nearest(provider: Provider, roots: list[Req], fixed: list[Req], result: Result, name: str,
             preferred: str) -> tuple[Result, int]:
    """Lexicographic step: move `name` as near to `preferred` as the packages already fixed allow,
    then fix it. resolvelib pins greedily and re-pins an early choice when a later one narrows it
    (keras 3.10.0 pinned, then the newest TensorFlow wants keras>=3.12): so each nearer release
    line is tried with everything fixed so far, and the first that solves is kept."""
    chosen = result.mapping.get(name)
    if chosen is None:
        return result, 0
    pref = parse_preference(preferred)
    if not isinstance(pref, Range) and _group(chosen.version, pref) == _group(pref.version, pref):
        fixed.append(Req(Requirement(f"{name}=={chosen.version}"), None, reason="fixed by the objective", objective=True))
        return result, 0  # already the preferred version (or its newest patch): nothing is nearer
    spec = SpecifierSet()
    for r in roots + fixed:
        if r.name == name:
            spec &= r.requirement.specifier
    # In the provider's own order (wheels before sdists, then nearest first): only what it would
    # rank above the greedy choice is tried.
    candidates = provider.matches(name, spec)
    versions = [c.version for c in candidates]
    group = (chosen.from_source, _group(chosen.version, pref))
    nearer: list[list[Version]] = []
    last = None
    for c in candidates:
        g = (c.from_source, _group(c.version, pref))
        if g == group or (g[0] == group[0] and g[1] > group[1]) or g[0] > group[0]:
            break
        if g == last:
            nearer[-1].append(c.version)
        else:
            nearer.append([c.version])
        last = g
    trials = 0
    for members in nearer[:MAX_TRIALS_PER_PACKAGE]:
        trials += 1
        trial = Req(_group_requirement(name, members, versions), None, reason="nearest to the preferred version", objective=True)
        try:
            result = _resolve(provider, roots + fixed + [trial], TRIAL_ROUNDS)
        except Unsolvable:
            continue
        break
    fixed.append(Req(Requirement(f"{name}=={result.mapping[name].version}"), None, reason="fixed by the objective", objective=True))
    return result, trials


def _within_era(result: Result, provider: Provider) -> bool:
    """Every package without a preference already predates the cut-off (or has no dates): the
    greedy newest-first choice is then the newest before it, and no second solve is needed."""
    for cand in result.mapping.values():
        if cand.name == PYTHON or cand.extras or cand.package in provider.preferences:
            continue
        boundary = provider.boundary(cand.package)
        if boundary is not None and boundary.before(cand.version) is False:
            return False
    return True


def _group(version: Version, preferred: Preferred) -> tuple[Any, ...]:
    """Candidates equally near the preference (one release line; the exact version alone)."""
    return measure(version, preferred).rank


def _group_requirement(name: str, members: list[Version], versions: list[Version]) -> Requirement:
    if len(members) == 1:
        return Requirement(f"{name}=={members[0]}")
    lo, hi = min(members), max(members)
    others = [v for v in versions if lo < v < hi and v not in members]
    return Requirement(f"{name}>={lo},<={hi}" + "".join(f",!={v}" for v in others))


def _era_cutoff(result: Result, dater: Dater, provider: Provider, evidence_dates: tuple[tuple[date, str], ...]) -> Cutoff | None:
    """The era's cut-off: the newest of the file's own dates and the locked TensorFlow's release."""
    found = list(evidence_dates)
    tf = result.mapping.get("tensorflow")
    if tf is not None:
        released = dater.released(list(tf.files) or provider._versions(tf.name).get(tf.version, []))
        if released.date is not None:
            found.append((released.date, f"release of {tf.name} {tf.version}, {released.describe()}"))
    if not found:
        return None
    when, source = max(found)
    return Cutoff(when, source, False)


def _explain_conflict(exc: ResolutionImpossible[Req, Candidate], provider: Provider) -> str:
    seen, parts = set(), []
    for info in exc.causes:
        req: Req = info.requirement
        text = req.describe()
        if text in seen:
            continue
        seen.add(text)
        rejected = provider.rejections.summary(req.name, req.requirement.specifier)
        if req.name == PYTHON:
            text += f", but the target is Python {provider.target.python}"
        elif rejected:
            text += f" ({req.name} {rejected})"
        parts.append(text)
    # Requirements on one package that cannot hold together, whatever the index has.
    by_name: dict[str, list[Req]] = defaultdict(list)
    for info in exc.causes:
        by_name[info.requirement.name].append(info.requirement)
    for name, reqs in by_name.items():
        specs = list(dict.fromkeys(str(r.requirement.specifier) for r in reqs if str(r.requirement.specifier)))
        joint = SpecifierSet()
        for spec in specs:
            joint &= SpecifierSet(spec)
        if len(specs) > 1 and name != PYTHON and is_empty(joint):
            parts.append(f"{name} {' and '.join(specs)} do not overlap")
    return "; ".join(parts) or "the requirements conflict"


def _environment(plan: Plan, target: Target, provider: Provider, result: Result,
                 skipped: tuple[tuple[str, str], ...], trials: int = 0) -> Environment:
    mapping: dict[str, Candidate] = result.mapping
    pins = []
    for key, cand in sorted(mapping.items()):
        if cand.name == PYTHON or cand.extras:
            continue  # extras resolve to their base distribution's pin
        infos = list(result.criteria[key].information)
        for extra_key, extra_cand in mapping.items():
            if extra_cand.extras and extra_cand.name == cand.name:
                infos += list(result.criteria[extra_key].information)
        pins.append(_pin(cand, infos, plan.preference(cand.package), provider))
    python = _python_pin(target, plan.preference(PYTHON))
    tf = mapping.get("tensorflow")
    accelerator = provider.accelerator("tensorflow", tf.version) if tf is not None else None
    pins = _dated(pins, mapping, provider)
    return Environment(target, plan, tuple(pins), python, skipped, accelerator, provider.cutoff, trials)


def _dated(pins: list[Pin], mapping: dict[str, Candidate], provider: Provider) -> list[Pin]:
    """Each pin's release date and what the era cap did with it (only when a cap is in force)."""
    cutoff, dater = provider.cutoff, provider.dater
    if cutoff is None or dater is None:
        return pins
    by_name = {c.name: c for c in mapping.values() if c.name != PYTHON and not c.extras}
    futures = {p.name: dater._pool.submit(dater.released, list(by_name[p.name].files)) for p in pins if p.name in by_name}
    out = []
    for pin in pins:
        released: Released = futures[pin.name].result() if pin.name in futures else Released(None, DateSource.NONE)
        cand = by_name.get(pin.name)
        boundary = provider.boundary(cand.package) if cand is not None else None
        when = cutoff.date.isoformat()
        if pin.preferred is not None and not cutoff.hard:
            rule = f"has its own preference ({pin.evidence}): the era cut-off {when} does not apply"
        elif pin.preferred is not None and boundary is not None and boundary.known:
            rule = f"nearest to its preference among releases up to --exclude-newer {when}"
        elif boundary is None or not boundary.known:
            rule = f"cut-off {when}: no release dates for this project, newest allowed"
        elif boundary.before(Version(pin.version)):
            rule = f"newest release before the cut-off {when} that fits"
        else:
            rule = f"released after the cut-off {when}: nothing earlier fits this environment"
        reason = pin.reason
        if pin.preferred is None:  # the cap, not "newest", chose it
            reason = reason.replace("newest version allowed", "version allowed", 1) + f"; era: {rule}"
        out.append(replace(pin, reason=reason, released=released.date.isoformat() if released.date else None,
                           date_source=released.source.value, date_rule=rule))
    return out


def _python_pin(target: Target, pref: Preference | None) -> Pin:
    """The target interpreter as a pin; its distance compares minors (3.11 vs 3.11.7 is the same)."""
    near = measure(Version(target.python), parse_preference(pref.version).series()) if pref is not None else None
    return Pin(
        name=PYTHON,
        version=target.python,
        files=(),
        via=(),
        reason=f"the target interpreter ({target.describe()})",
        preferred=pref.version if pref else None,
        evidence=pref.evidence if pref else None,
        distance=near,
    )


def _pin(cand: Candidate, infos: Iterable[RequirementInformation[Req, Candidate]], pref: Preference | None,
         provider: Provider) -> Pin:
    reqs: list[Req] = [i.requirement for i in infos if not i.requirement.objective]
    via = sorted({r.parent for r in reqs if r.parent})
    rule_ids = tuple(sorted({r.rule_id for r in reqs if r.rule_id} | ({cand.via_rule} if cand.via_rule else set())))
    top = [r for r in reqs if r.parent is None]
    why: list[str] = []
    if cand.provides:
        why.append(f"provides {cand.provides} on this target (rule {cand.via_rule})")
    if top:
        why.append("needed to load the model (" + "; ".join(f"{r.requirement}: {r.reason}" for r in top) + ")")
    elif via:
        why.append("dependency of " + ", ".join(via))
    near = why_not = None
    if pref is not None:
        near = measure(cand.version, pref.version)
        why.append(f"preferred {pref.version} ({pref.evidence}: {pref.reason}); chose {cand.version}: {near}")
        if not near.as_preferred:
            why_not = _why_not(pref, cand, reqs, provider)
            why.append("preferred version unusable: " + why_not)
    else:
        why.append(f"newest version allowed{' by ' + ', '.join(str(r.requirement) for r in reqs) if reqs else ''}")
    return Pin(
        name=cand.name,
        version=str(cand.version),
        files=cand.files,
        via=tuple(via),
        reason="; ".join(why),
        top_level=bool(top),
        preferred=pref.version if pref else None,
        evidence=pref.evidence if pref else None,
        distance=near,
        why_not_preferred=why_not,
        rule_ids=rule_ids,
        from_source=cand.from_source,
    )


def _why_not(pref: Preference, cand: Candidate, reqs: list[Req], provider: Provider) -> str:
    # A requirement of this environment that excludes the preference comes first: it holds
    # whatever the index has, while rejections depend on which versions the search looked at.
    preferred = parse_preference(pref.version)
    if not isinstance(preferred, Range) and (advisory := avoided_by(provider.avoid, cand.package, preferred.version)):
        return f"{pref.version} is affected by {advisory}, which is about what this file holds (the nearest fixed release was preferred)"
    if isinstance(preferred, Range):
        spec = preferred.specifier
        for r in reqs:
            if is_empty(r.requirement.specifier & spec):
                return r.describe()
        for version, why in sorted(provider.rejections.by_name.get(cand.package, {}).items(), reverse=True):
            if spec.contains(version, prereleases=True):
                return f"{version}: {why}"
        return f"no installable version in {pref.version} fits the rest of this environment"
    wanted = preferred.version
    for r in reqs:
        if not r.requirement.specifier.contains(wanted, prereleases=True):
            return r.describe()
    rejected = provider.rejections.by_name.get(cand.package, {})
    for version, why in sorted(rejected.items(), reverse=True):
        if preferred.matches(version):
            return f"{version}: {why}"
    versions = provider._versions(canonicalize_name(cand.name))  # the distribution actually on the index
    if not any(preferred.matches(v) for v in versions):
        return f"{pref.version} is not on the index"
    return "it conflicts with the rest of this environment"
