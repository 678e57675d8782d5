"""Facts + rules → plans: per loading route, what must be installed and which versions to prefer.

Pure: no I/O. Each Plan is one way to load the model (a route of the rules DB); the solver tries
them in rank order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..artifact.facts import ModelFacts
from ..errors import Unsolvable
from .db import Route, RulesDB

# Evidence strength, strongest first (DESIGN.md "Nearest").
EVIDENCE = ("sidecar", "artifact", "era")


@dataclass(frozen=True)
class Preference:
    name: str  # canonical package name, or "python"
    version: str  # exact ("2.15.1") or a release series ("2.15")
    evidence: str  # one of EVIDENCE
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


def writer_version(text: str | None) -> Version | None:
    """'2.2.4-tf' -> 2.2.4; None when nothing version-like is recorded."""
    match = re.match(r"\d+(\.\d+)*", (text or "").strip())
    if not match:
        return None
    try:
        return Version(match.group(0))
    except InvalidVersion:
        return None


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


def _sidecar_consistent(facts: ModelFacts) -> bool:
    """A sidecar describes this file only if the versions the file records agree with it."""
    sidecar = facts.sidecar
    assert sidecar is not None
    recorded = writer_version(facts.keras_version)
    keras = sidecar.package_version("keras") or sidecar.package_version("tf-keras")
    tf = sidecar.package_version("tensorflow")
    if recorded is not None and keras and recorded.release[:2] != Version(keras).release[:2]:
        # tf.keras 2.x records TF's minor, not the keras package's; accept either.
        if not (tf and recorded.release[:2] == Version(tf).release[:2]):
            return False
    recorded_tf = writer_version(facts.tensorflow_version)
    return not (recorded_tf and tf and recorded_tf.release[:2] != Version(tf).release[:2])


def preferences_for(facts: ModelFacts, db: RulesDB, route: Route) -> tuple[Preference, ...]:
    prefs: dict[str, Preference] = {}

    def add(pref: Preference) -> None:
        prefs.setdefault(pref.name, pref)  # first (strongest) evidence wins

    if facts.sidecar and _sidecar_consistent(facts):
        where = facts.sidecar.path
        if facts.sidecar.python_version:
            add(Preference("python", facts.sidecar.python_version, "sidecar", f"{where} records Python {facts.sidecar.python_version}"))
        for name, version in facts.sidecar.packages:
            add(Preference(canonicalize_name(name), version, "sidecar", f"{where} records {name} {version}"))

    keras = writer_version(facts.keras_version)
    if keras is not None and not (facts.keras_version or "").endswith("-tf"):
        # The writer's Keras line lives in `tf-keras` when the route loads through it.
        package = "tf-keras" if route.loader == "tf_keras" else "keras"
        add(Preference(package, str(keras), "artifact", f"the file records keras_version {facts.keras_version}"))
    tf = writer_version(facts.tensorflow_version)
    if tf is not None:
        add(Preference("tensorflow", str(tf), "artifact", f"the SavedModel records tensorflow_version {facts.tensorflow_version}"))

    for era in db.eras:
        spec, recorded = (era.keras_version, keras) if era.keras_version is not None else (era.tensorflow_version, tf)
        if recorded is not None and spec is not None and spec.contains(recorded, prereleases=True):
            for name, version in era.prefer:
                add(Preference(name, version, "era", era.reason, era.id))
    return tuple(prefs.values())


def plans_for(facts: ModelFacts, db: RulesDB) -> list[Plan]:
    routes = sorted((r for r in db.routes if _route_matches(r, facts)), key=lambda r: r.rank)
    if not routes:
        writer = facts.keras_version or facts.tensorflow_version or "an unrecorded version"
        raise Unsolvable(
            f"{facts.path}: the rules know no way to load a {facts.format} model written by {writer}"
            + (" (weights only: the code that builds the architecture is needed)" if facts.format == "keras-h5-weights" else "")
        )
    plans = []
    for route in routes:
        needs = tuple(Need(req, route.reason, route.id) for req in route.requires)
        plans.append(Plan(route=route, needs=needs, preferences=preferences_for(facts, db, route)))
    return plans
