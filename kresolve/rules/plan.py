"""Facts + rules → plans: per loading route, what must be installed and which versions to prefer.

Pure: no I/O. Each Plan is one way to load the model (a route of the rules DB); the solver tries
them in rank order. Preferences come from the inferred training environment (infer.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement

from ..artifact.facts import ModelFacts
from ..errors import Unsolvable
from .db import Route, RulesDB
from .infer import TrainingEnv, infer, writer_version


@dataclass(frozen=True)
class Preference:
    name: str  # canonical package name, or "python"
    version: str  # exact ("2.15.1") or a release series ("2.15")
    evidence: str  # "sidecar", "artifact", "era", "project"
    reason: str
    rule_id: str | None = None


@dataclass(frozen=True)
class Need:
    """A top-level requirement and why it is there."""

    requirement: Requirement
    reason: str
    rule_id: str | None = None


@dataclass(frozen=True)
class Plan:
    route: Route
    needs: tuple[Need, ...]
    preferences: tuple[Preference, ...]

    @property
    def env(self) -> dict[str, str]:
        return dict(self.route.env)

    def preference(self, name: str) -> Preference | None:
        return next((p for p in self.preferences if p.name == name), None)


def _route_matches(route: Route, facts: ModelFacts) -> bool:
    if route.format != facts.format:
        return False
    keras, tf = writer_version(facts.keras_version), writer_version(facts.tensorflow_version)
    if route.writer_keras is not None and (keras is None or not route.writer_keras.contains(keras, prereleases=True)):
        return False
    if route.writer_tensorflow is not None:
        if tf is None or not route.writer_tensorflow.contains(tf, prereleases=True):
            return False
    return True


def preferences_for(training: TrainingEnv, route: Route) -> tuple[Preference, ...]:
    prefs = []
    for est in training.estimates:
        preferred = est.preferred or (est.range if est.evidence == "era" and est.range else None)
        if not preferred:
            continue
        name = est.package
        # A Keras 2 writer's line lives in `tf-keras` when the route loads through it.
        if name == "keras" and route.loader == "tf_keras" and preferred.startswith("2."):
            if training.get("tf-keras") is not None:
                continue
            name = "tf-keras"
        reason = est.reasons[0] if est.reasons else est.evidence
        prefs.append(Preference(name, preferred, est.evidence, reason, est.rule_ids[0] if est.rule_ids else None))
    return tuple(prefs)


def plans_for(facts: ModelFacts, db: RulesDB, extra: tuple[Need, ...] = (), training: TrainingEnv | None = None) -> list[Plan]:
    """One plan per matching route, rank order. `extra`: the user's own requirements."""
    routes = sorted((r for r in db.routes if _route_matches(r, facts)), key=lambda r: r.rank)
    if not routes:
        writer = facts.keras_version or facts.tensorflow_version or "an unrecorded version"
        raise Unsolvable(
            f"{facts.path}: the rules know no way to load a {facts.format} model written by {writer}"
            + (" (weights only: the code that builds the architecture is needed)" if facts.format == "keras-h5-weights" else "")
        )
    training = training or infer(facts, db)
    hard = tuple(Need(Requirement(h.requirement), h.reason) for h in training.hard)
    return [
        Plan(
            route=route,
            needs=tuple(Need(req, route.reason, route.id) for req in route.requires) + hard + extra,
            preferences=preferences_for(training, route),
        )
        for route in routes
    ]
