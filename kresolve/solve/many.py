"""One environment for many models: co-resolve every model's loading route in one solve.

Each model has several candidate plans (one per loading route, rank order). A combination picks
one plan per model; combinations are tried nearest first (by the sum of the plans' rank
positions: every model on its first route, then one model on its second, ...). A combination's
plan is the union of its plans' requirements (each model's route needs and hard constraints);
its preferences are merged per package: where models disagree, the preferred version that
minimises the summed distance to every model's preference wins (ties: the smaller worst
distance, then the newer). The existing solver (resolve.solve) then finds the nearest
environment for that union. Among the combinations that solve (the first MAX_SOLVED, of at most
MAX_COMBINATIONS tried) the one with the smallest summed distance of the models' key pins wins,
ties by the worst single model. When none solves, each model is solved alone and then in pairs,
to say which model conflicts with which and why.

`steps(version, preferred)` is the distance used throughout: release-line steps as the solver's
own order counts them (a minor = 1, a major = 1000), +0.1 for a different patch of an exact
preference, 0 inside a preferred range.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..constants import KEY_PACKAGES
from ..errors import Unsolvable
from ..rules.evidence import Evidence
from ..rules.plan import INHERITED, Need, Plan, Preference
from .distance import DistanceKind, measure
from .preference import Exact, Preferred, Range, is_range, parse_preference
from .provider import PYTHON
from .resolve import Environment

MAX_COMBINATIONS = 16
MAX_SOLVED = 3
MERGED = Evidence.MERGED  # Preference.evidence of a preference merged across models


def steps(version: str, preferred: str | Preferred | None) -> float:
    """How far `version` is from `preferred` (0 = as trained); see the module doc."""
    if preferred is None:
        return 0.0
    try:
        near = measure(Version(version), preferred)
    except (InvalidVersion, ValueError):
        return 0.0
    if isinstance(near.preferred, Range):
        return 0.0 if near.kind is DistanceKind.WITHIN_RANGE else float(max(1, near.steps))
    if near.steps == 0 and isinstance(near.preferred, Exact) and near.kind is not DistanceKind.EXACT:
        return 0.1
    return float(near.steps)


@dataclass(frozen=True)
class Member:
    """One model of a co-resolve: its name (the path) and its plans, rank order."""

    name: str
    plans: tuple[Plan, ...]


@dataclass(frozen=True)
class MemberFit:
    name: str
    route_id: str
    loader: str
    env: tuple[tuple[str, str], ...]  # the route's environment variables
    distances: tuple[tuple[str, str, str | None, float], ...]  # (package, version, preferred, steps)

    @property
    def distance(self) -> float:
        return round(sum(d[3] for d in self.distances), 3)


@dataclass(frozen=True)
class CoEnvironment:
    environment: Environment  # the one solved environment (its plan: the merged one)
    members: tuple[MemberFit, ...]
    merged: tuple[str, ...]  # how disagreeing preferences were decided, in words
    tried: int  # combinations tried

    @property
    def total(self) -> float:
        return round(sum(m.distance for m in self.members), 3)

    @property
    def worst(self) -> float:
        return max((m.distance for m in self.members), default=0.0)


class CoConflict(Unsolvable):
    """No single environment serves every model; `pairs` names who conflicts with whom."""

    def __init__(self, message: str, alone: tuple[tuple[str, str], ...], pairs: tuple[tuple[str, str, str], ...],
                 first_reason: str = ""):
        super().__init__(message)
        self.alone = alone  # (model, why it does not solve even on its own)
        self.pairs = pairs  # (model, model, why these two cannot share an environment)
        self.first_reason = first_reason or message  # why the nearest combination failed


Solver = Callable[[list[Plan]], Environment]  # resolve.solve with the target, index, rules, policy bound


def combinations(members: Sequence[Member], limit: int = MAX_COMBINATIONS) -> list[tuple[Plan, ...]]:
    """Plan combinations nearest first: by the sum of rank positions, then lexicographically."""
    ranges = [range(len(m.plans)) for m in members]
    picks = sorted(itertools.product(*ranges), key=lambda idx: (sum(idx), idx))[:limit]
    return [tuple(m.plans[i] for m, i in zip(members, idx)) for idx in picks]


def merge_preferences(plans: Sequence[Plan], names: Sequence[str]) -> tuple[tuple[Preference, ...], tuple[str, ...]]:
    """One preference per package; where plans disagree, the one nearest to all (module doc)."""
    by_name: dict[str, list[tuple[str, Preference]]] = {}
    for who, plan in zip(names, plans):
        for pref in plan.preferences:
            by_name.setdefault(pref.name, []).append((who, pref))
    # An inherited preference (tf-keras following TensorFlow) of a model whose route does not
    # need that package says nothing about it: it counts only when no model needs the package.
    for name, items in by_name.items():
        relevant = [(who, p) for who, p in items if relevant_to(p, plans[names.index(who)])]
        if relevant:
            by_name[name] = relevant
    merged: list[Preference] = []
    words: list[str] = []
    for name, items in by_name.items():
        versions = list(dict.fromkeys(p.version for _, p in items))
        if len(versions) == 1:
            merged.append(items[0][1])
            continue
        points = [v for v in versions if not is_range(v)] or versions

        def cost(candidate: str, items: list[tuple[str, Preference]] = items) -> tuple[float, float, tuple[Any, ...]]:
            far = [steps(_representative(candidate), p.version) for _, p in items]
            return (sum(far), max(far), tuple(-x for x in _release(candidate)))

        best = min(points, key=cost)
        total, worst, _ = cost(best)
        wanted = "; ".join(f"{who} prefers {p.version}" for who, p in items)
        reason = (f"models disagree ({wanted}): {best} minimises the summed distance "
                  f"({total:g} release-line steps in all, worst {worst:g})")
        words.append(f"{name}: {reason}")
        source = next(p for _, p in items if p.version == best)
        merged.append(Preference(name, best, MERGED, reason, source.rule_id))
    return tuple(merged), tuple(words)


def _representative(version: str) -> str:
    if not is_range(version):
        return version
    for part in version.split(","):
        part = part.strip()
        if part.startswith((">=", "==", "~=")):
            return part[2:].strip().rstrip(".*")
    for part in version.split(","):
        part = part.strip().lstrip("<>=!~")
        if part:
            return part.rstrip(".*")
    return "0"


def _release(version: str) -> tuple[int, ...]:
    try:
        return Version(_representative(version)).release
    except InvalidVersion:
        return ()


def merged_plan(plans: Sequence[Plan], names: Sequence[str]) -> tuple[Plan, tuple[str, ...]]:
    """The union of the plans' needs (duplicates dropped) and their merged preferences; the route
    is the first plan's (the solver names it; each model keeps its own loader, see MemberFit)."""
    needs: list[Need] = []
    seen: set[str] = set()
    for plan in plans:
        for need in plan.needs:
            key = str(need.requirement)
            if key not in seen:
                seen.add(key)
                needs.append(need)
    prefs, words = merge_preferences(plans, names)
    return Plan(route=plans[0].route, needs=tuple(needs), preferences=prefs), words


def relevant_to(pref: Preference, plan: Plan) -> bool:
    """A preference the model has evidence for, or one on a package its route needs."""
    return pref.evidence is not INHERITED or any(canonicalize_name(n.requirement.name) == pref.name for n in plan.needs)


def fit(name: str, plan: Plan, env: Environment) -> MemberFit:
    """How near `env` is to one model's own preferences (its key pins)."""
    pins = {p.name: p.version for p in env.pins} | {PYTHON: env.python.version}
    found = []
    for package in KEY_PACKAGES:
        pref = plan.preference(package)
        if package in pins and pref is not None and relevant_to(pref, plan):
            wanted: str | Preferred = pref.version
            if package == PYTHON:  # the interpreter's distance compares minors (3.11 vs 3.11.7 is the same)
                try:
                    wanted = parse_preference(pref.version).series()
                except ValueError:
                    pass  # unreadable: steps() counts it as no distance
            found.append((package, pins[package], pref.version, steps(pins[package], wanted)))
    return MemberFit(name, plan.route.id, plan.route.loader, tuple(sorted(plan.route.env)), tuple(found))


def co_resolve(members: Sequence[Member], solver: Solver, max_combinations: int = MAX_COMBINATIONS,
               max_solved: int = MAX_SOLVED, explain: bool = True) -> CoEnvironment:
    """The nearest single environment for every member, or CoConflict (module doc); with
    `explain=False` the conflict is not broken down into models alone and pairs."""
    if not members:
        raise ValueError("co_resolve needs at least one model")
    names = [m.name for m in members]
    found: list[tuple[tuple[float, float, int], CoEnvironment]] = []
    first_failure: str | None = None
    tried = 0
    for order, combo in enumerate(combinations(members, max_combinations)):
        tried += 1
        plan, words = merged_plan(combo, names)
        try:
            env = solver([plan])
        except Unsolvable as exc:
            first_failure = first_failure or str(exc)
            continue
        fits = tuple(fit(n, p, env) for n, p in zip(names, combo))
        co = CoEnvironment(replace(env, skipped_routes=()), fits, words, tried)
        found.append(((co.total, co.worst, order), co))
        if len(found) >= max_solved or co.total == 0:  # nothing is nearer than every model as trained
            break
    if found:
        best = min(found, key=lambda item: item[0])[1]
        return replace(best, tried=tried)
    first = " ".join((first_failure or "the requirements conflict").split())
    if not explain:
        raise CoConflict(first, (), (), first)
    raise _conflict(members, solver, first)


def _conflict(members: Sequence[Member], solver: Solver, first: str) -> CoConflict:
    alone: list[tuple[str, str]] = []
    for m in members:
        try:
            solver(list(m.plans))
        except Unsolvable as exc:
            alone.append((m.name, " ".join(str(exc).split())))
    bad = {name for name, _ in alone}
    pairs: list[tuple[str, str, str]] = []
    fine = [m for m in members if m.name not in bad]
    if not alone or len(fine) > 1:
        for a, b in itertools.combinations(fine, 2):
            try:
                co_resolve([a, b], solver, max_combinations=8, max_solved=1, explain=False)
            except CoConflict as exc:
                pairs.append((a.name, b.name, exc.first_reason))
    lines = [f"{name} does not solve on its own: {why}" for name, why in alone]
    lines += [f"{a} conflicts with {b}: {why}" for a, b, why in pairs]
    if not lines:
        lines = [f"every pair of models shares an environment, but not all of them together: {' '.join(first.split())}"]
    return CoConflict(f"no single environment loads all {len(members)} models:\n" + "\n".join(f"  - {x}" for x in lines),
                      tuple(alone), tuple(pairs), " ".join(first.split()))

