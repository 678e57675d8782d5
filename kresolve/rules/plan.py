"""Facts + rules → plans: per loading route, what must be installed and which versions to prefer.

Pure: no I/O. Each Plan is one way to load the model (a route of the rules DB); the solver tries
them in rank order. Preferences come from the inferred training environment (infer.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from ..artifact.facts import ModelFacts, ModelFormat
from ..errors import Unsolvable
from ..solve.preference import Range, parse_preference
from .companions import companion_needs
from .db import Route, RulesDB
from .evidence import Evidence
from .infer import TrainingEnv, infer, writer_version


@dataclass(frozen=True)
class Preference:
    name: str  # canonical package name, or "python"
    version: str  # exact ("2.15.1"), a release series ("2.15") or a range: solve.preference.parse_preference
    evidence: Evidence
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
    if route.format != facts.format or not route.matches_writer_stack(facts.keras_version, facts.backend):
        return False
    # A file that records no Keras version (Keras 3's to_json()) takes the one its sidecar records.
    recorded = facts.keras_version or (facts.sidecar.package_version("keras") if facts.sidecar else None)
    keras, tf = writer_version(recorded), writer_version(facts.tensorflow_version)
    if route.writer_keras is not None and (keras is None or not route.writer_keras.contains(keras, prereleases=True)):
        return False
    return route.writer_tensorflow is None or (tf is not None and route.writer_tensorflow.contains(tf, prereleases=True))


def preferences_for(training: TrainingEnv, route: Route) -> tuple[Preference, ...]:
    prefs = []
    for est in training.estimates:
        preferred = est.preferred or (est.range if est.evidence is Evidence.ERA and est.range else None)
        if not preferred or not preferred.strip():
            continue  # blank text is no preference (solve.preference.parse_preference)
        name = est.package
        # A Keras 2 writer's line lives in `tf-keras` when the route loads through it.
        if name == "keras" and route.loader == "tf_keras" and preferred.startswith("2."):
            if training.get("tf-keras") is not None:
                continue
            name = "tf-keras"
        reason = est.reasons[0] if est.reasons else str(est.evidence)
        prefs.append(Preference(name, preferred, est.evidence, reason, est.rule_ids[0] if est.rule_ids else None))
    return tuple(prefs) + _inherited(tuple(prefs), route)


# Evidence for packages that record nothing themselves: they follow the package they ship with.
INHERITED = Evidence.INHERITED
# Released in lockstep with TensorFlow, one line per TensorFlow minor: tf-keras 2.N needs
# TensorFlow 2.N (rules/keras.toml tf-keras-2.N-tensorflow); TensorFlow 2.N's METADATA pins
# tensorboard 2.N and tensorflow-estimator 2.N (metadata:tensorflow==2.12.0), though 2.3-2.7 only
# say tensorboard ~=2.4 / ~=2.6 / <3, which is where following the minor matters.
FOLLOW_TENSORFLOW = ("tf-keras", "tensorboard", "tensorflow-estimator")
# TensorFlow 2.6-2.15 take tf.keras from the `keras` package of the same minor
# (metadata:tensorflow==2.12.0: keras<2.13,>=2.12.0); older TensorFlow has no such package.
KERAS_FOLLOWS_TENSORFLOW = SpecifierSet(">=2.6,<2.16")


def _route_line(preferred: str, route: Route, name: str) -> str:
    """The release line nearest to `preferred` that the route's own requirements on `name` allow:
    TensorFlow 2.4 preferred, the tf_keras route needs >=2.16 → 2.16 (the smallest jump)."""
    spec = SpecifierSet()
    for req in route.requires:
        if canonicalize_name(req.name) == name:
            spec &= req.specifier
    pref = Version(preferred)
    major, minor = (pref.release + (0,))[:2]
    if not str(spec) or spec.contains(Version(f"{major}.{minor}.0"), prereleases=True):
        return f"{major}.{minor}"
    allowed = [m for m in range(100) if spec.contains(Version(f"{major}.{m}.0"), prereleases=True)]
    if not allowed:
        return f"{major}.{minor}"
    return f"{major}.{min(allowed, key=lambda m: (abs(m - minor), m < minor))}"


def _inherited(prefs: tuple[Preference, ...], route: Route) -> tuple[Preference, ...]:
    """Preferences for packages without evidence, from the ones that have it (DESIGN "Nearest")."""
    have = {p.name: p for p in prefs}
    tf = have.get("tensorflow")
    if tf is None:
        return ()
    try:
        wanted = parse_preference(tf.version)
    except ValueError:
        return ()
    if isinstance(wanted, Range):
        return ()
    tf_version = wanted.version
    line = _route_line(tf.version, route, "tensorflow")
    moved = "" if line == str(wanted.series()) else f"; this route needs TensorFlow {line}, the nearest line to {tf.version}"
    out = []
    for name in FOLLOW_TENSORFLOW:
        if name not in have:
            out.append(Preference(name, line, INHERITED, f"follows TensorFlow's minor (TensorFlow {tf.version} preferred{moved})",
                                  tf.rule_id))
    if "keras" not in have and route.loader == "tf.keras" and tf_version in KERAS_FOLLOWS_TENSORFLOW:
        out.append(Preference("keras", line, INHERITED, f"tf.keras of TensorFlow {line} is the keras {line} package", tf.rule_id))
    return tuple(out)


def evidence_dates(facts: ModelFacts) -> tuple[tuple[date, str], ...]:
    """Dates the artifact itself records, for the era cut-off. (The sidecar format records no
    capture date; its exact versions make the cap moot for the packages it lists.)"""
    saved = (facts.date_saved or "")[:10]
    try:
        return ((date.fromisoformat(saved), f"{facts.path} records date_saved {facts.date_saved}"),)
    except ValueError:
        return ()


def plans_for(facts: ModelFacts, db: RulesDB, extra: tuple[Need, ...] = (), training: TrainingEnv | None = None) -> list[Plan]:
    """One plan per matching route, rank order. `extra`: the user's own requirements."""
    routes = sorted((r for r in db.routes if _route_matches(r, facts)), key=lambda r: r.rank)
    if not routes:
        writer = facts.keras_version or facts.tensorflow_version or "an unrecorded version"
        raise Unsolvable(
            f"{facts.path}: the rules know no way to load a {facts.format} model written by {writer}"
            + (" (weights only: the code that builds the architecture is needed)" if facts.format is ModelFormat.H5_WEIGHTS else "")
        )
    training = training or infer(facts, db)
    hard = tuple(Need(Requirement(h.requirement), h.reason) for h in training.hard)
    hard += companion_needs(facts, db, extra)  # packages the model's custom classes come from
    return [
        Plan(
            route=route,
            needs=tuple(Need(req, route.reason, route.id) for req in route.requires) + hard + extra,
            preferences=preferences_for(training, route),
        )
        for route in routes
    ]
