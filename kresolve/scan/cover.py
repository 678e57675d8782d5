"""The fewest environments that cover the fleet: a greedy set cover over the solved candidates.

On each target, every distinct solved environment (a model's own nearest one) is a candidate.
A candidate serves a model when the model's own cell on that target solved and one of its
loading routes is satisfied by the candidate's pins: every requirement of the route and of the
model's hard constraints holds for the locked versions (markers evaluated for the target). The
candidate's pins are one consistent environment already, so nothing else needs solving.

Greedy: repeatedly take the candidate that serves the most models not yet served (ties: the
smaller summed distance of those models from their own preferences, then the candidate whose
own model comes first), until every model that solves is served; then each model is assigned to
the nearest of the chosen environments that serves it. Greedy set cover is within a
factor ln(n) of the optimum; on real fleets, where models cluster by era, it finds the obvious
groups.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..constants import KEY_PACKAGES
from ..smoke.run import pinned_satisfies, pins_in_lock
from ..solve.many import steps
from ..target import Target
from .evaluate import minor_preference
from .fleet import ModelRow, PlanNeeds, Proposal


def serves(plan: PlanNeeds, pins: dict[str, str], target: Target) -> bool:
    """Whether the locked `pins` satisfy every requirement of `plan` on `target`."""
    markers = target.markers()
    for text in plan.requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            return False
        if req.marker is not None and not req.marker.evaluate(markers):
            continue
        if canonicalize_name(req.name) == "python":
            continue  # the model's own cell solved on this target: its Python constraints hold
        if not pinned_satisfies(req, pins):
            return False
    return True


def distance_in(plan: PlanNeeds, pins: dict[str, str], python: str) -> float:
    """How far the pins are from the plan's own preferences (the scan's key packages)."""
    prefs = dict(plan.preferences)
    have = pins | {"python": python}
    total = 0.0
    for name in KEY_PACKAGES:
        if name in prefs and name in have:
            total += steps(have[name], minor_preference(name, prefs[name]))
    return round(total, 3)


def best_fit(row: ModelRow, pins: dict[str, str], target: Target) -> float | None:
    """The model's distance in this environment through its nearest route that it serves."""
    found = [distance_in(p, pins, target.python) for p in row.plans if serves(p, pins, target)]
    return min(found) if found else None


def propose(rows: Sequence[ModelRow], targets: Sequence[Target], ids: Sequence[str]) -> tuple[Proposal, ...]:
    proposals: list[Proposal] = []
    for target, tid in zip(targets, ids):
        solved = [(r, c) for r in rows for c in [r.cell(tid)] if c is not None and c.outcome.ok and c.lock and c.env]
        candidates: dict[str, tuple[ModelRow, str, dict[str, str]]] = {}
        for row, cell in solved:
            if cell.env and cell.env not in candidates:
                candidates[cell.env] = (row, cell.lock or "", pins_in_lock(cell.lock or ""))
        serving: dict[str, dict[str, float]] = {}
        for env, (_source, _lock, pins) in candidates.items():
            fits = {}
            for row, cell in solved:
                d = cell.distance if cell.env == env else best_fit(row, pins, target)
                if d is not None:
                    fits[row.path] = float(d or 0.0)
            serving[env] = fits
        left = {row.path for row, _ in solved}
        order = list(candidates)
        chosen: list[str] = []
        while left:
            env = min(order, key=lambda e: (-len(left & serving[e].keys()),
                                            sum(serving[e][m] for m in left & serving[e].keys()), order.index(e)))
            if not left & serving[env].keys():
                break
            chosen.append(env)
            left -= serving[env].keys()
        # The fewest environments are fixed; each model then goes to the nearest of them.
        members: dict[str, list[str]] = {env: [] for env in chosen}
        for row, _cell in solved:
            homes = [env for env in chosen if row.path in serving[env]]
            if homes:
                members[min(homes, key=lambda e: (serving[e][row.path], chosen.index(e)))].append(row.path)
        for env in chosen:
            if not members[env]:
                continue
            source, lock, pins = candidates[env]
            own = source.cell(tid)
            key = tuple((p.name, p.version) for p in (own.pins if own else ()))
            models = tuple(members[env])
            proposals.append(Proposal(len(proposals) + 1, tid, env, source.path, models, key,
                                      round(sum(serving[env][m] for m in models), 3), lock))
    return tuple(proposals)
