"""Run the resolver for each plan in rank order; turn the first success into an Environment."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver

from ..errors import Unsolvable
from ..index import DistFile, Index
from ..policy import Policy
from ..rules.db import Accelerator, RulesDB
from ..rules.plan import Plan, Preference
from ..rules.specs import is_empty
from ..target import Target
from .distance import describe, is_range
from .provider import PYTHON, Candidate, Provider, Req

MAX_ROUNDS = 2000


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    files: tuple[DistFile, ...]
    via: tuple[str, ...]  # parents ("tensorflow 2.15.1"); empty for top-level needs
    reason: str  # one sentence: why this package, why this version
    top_level: bool = False  # required by the loading route itself
    preferred: str | None = None
    evidence: str | None = None
    distance: str | None = None  # "exact", "same series (…)", "minor +1 (…)", …
    why_not_preferred: str | None = None  # set when the preferred version could not be used
    rule_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Environment:
    target: Target
    plan: Plan
    pins: tuple[Pin, ...]
    python: Pin  # the target interpreter, with its distance from the training Python
    skipped_routes: tuple[tuple[str, str], ...]  # (route id, why it was not used)
    accelerator: Accelerator | None = None  # GPU facts of the locked TensorFlow (--gpu targets)

    @property
    def env_vars(self) -> dict[str, str]:
        return self.plan.env


def solve(plans: list[Plan], target: Target, index: Index, rules: RulesDB, policy: Policy | None = None) -> Environment:
    if policy is not None:
        rule = policy.verdict(PYTHON, Version(target.python + ".0"))
        if rule is not None:
            raise Unsolvable(f"the target Python {target.python} is outside the policy: {rule.describe(policy.name)}")
    skipped: list[tuple[str, str]] = []
    for plan in plans:
        try:
            return _solve_plan(plan, target, index, rules, tuple(skipped), policy)
        except Unsolvable as exc:
            skipped.append((plan.route.id, str(exc)))
    lines = "\n".join(f"  - route {rid}: {why}" for rid, why in skipped)
    raise Unsolvable(f"no environment on {target.describe()} loads this model:\n{lines}")


def _solve_plan(plan: Plan, target: Target, index: Index, rules: RulesDB, skipped, policy: Policy | None) -> Environment:
    prefs = {p.name: p.version for p in plan.preferences if p.name != PYTHON}
    provider = Provider(index, target, rules, prefs, policy)
    roots = [Req(need.requirement, None, need.rule_id, need.reason) for need in plan.needs]
    if policy is not None:
        roots += [Req(req, None, None, f"{why} (policy {policy.name!r})") for req, why in policy.requires]
    index.prefetch(r.name for r in roots)
    try:
        result = Resolver(provider, BaseReporter()).resolve(roots, max_rounds=MAX_ROUNDS)
    except ResolutionImpossible as exc:
        raise Unsolvable(_explain_conflict(exc, provider)) from None
    except ResolutionTooDeep:
        raise Unsolvable(f"gave up after {MAX_ROUNDS} resolution rounds (too much backtracking)") from None
    return _environment(plan, target, provider, result, skipped)


def _explain_conflict(exc: ResolutionImpossible, provider: Provider) -> str:
    seen, parts = set(), []
    for info in exc.causes:
        req: Req = info.requirement
        text = req.describe()
        if text in seen:
            continue
        seen.add(text)
        rejected = provider.rejections.summary(req.name)
        if req.name == PYTHON:
            text += f", but the target is Python {provider.target.python}"
        elif rejected:
            text += f" ({req.name} {rejected})"
        parts.append(text)
    return "; ".join(parts) or "the requirements conflict"


def _environment(plan: Plan, target: Target, provider: Provider, result, skipped) -> Environment:
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
    return Environment(target, plan, tuple(pins), python, skipped, accelerator)


def _python_pin(target: Target, pref: Preference | None) -> Pin:
    """The target interpreter as a pin; its distance compares minors (3.11 vs 3.11.7 is the same)."""
    wanted = None
    if pref is not None:
        wanted = pref.version if is_range(pref.version) else ".".join(pref.version.split(".")[:2])
    return Pin(
        name=PYTHON,
        version=target.python,
        files=(),
        via=(),
        reason=f"the target interpreter ({target.describe()})",
        preferred=pref.version if pref else None,
        evidence=pref.evidence if pref else None,
        distance=describe(Version(target.python), wanted),
    )


def _pin(cand: Candidate, infos, pref: Preference | None, provider: Provider) -> Pin:
    reqs: list[Req] = [i.requirement for i in infos]
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
    distance = why_not = None
    if pref is not None:
        distance = describe(cand.version, pref.version)
        why.append(f"preferred {pref.version} ({pref.evidence}: {pref.reason}); chose {cand.version}: {distance}")
        if distance not in ("exact", "same series", "within the training range"):
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
        distance=distance,
        why_not_preferred=why_not,
        rule_ids=rule_ids,
    )


def _why_not(pref: Preference, cand: Candidate, reqs: list[Req], provider: Provider) -> str:
    if is_range(pref.version):
        spec = SpecifierSet(pref.version)
        for version, why in sorted(provider.rejections.by_name.get(cand.package, {}).items(), reverse=True):
            if spec.contains(version, prereleases=True):
                return f"{version}: {why}"
        for r in reqs:
            if is_empty(r.requirement.specifier & spec):
                return r.describe()
        return f"no installable version in {pref.version} fits the rest of this environment"
    wanted = Version(pref.version)
    exact = len(wanted.release) >= 3
    rejected = provider.rejections.by_name.get(cand.package, {})
    for version, why in sorted(rejected.items(), reverse=True):
        if (version == wanted) if exact else (version.release[:2] == wanted.release[:2]):
            return f"{version}: {why}"
    for r in reqs:
        if not r.requirement.specifier.contains(wanted, prereleases=True):
            return r.describe()
    versions = provider._versions(canonicalize_name(cand.name))  # the distribution actually on the index
    if not any((v == wanted) if exact else (v.release[:2] == wanted.release[:2]) for v in versions):
        return f"{pref.version} is not on the index"
    return "it conflicts with the rest of this environment"
