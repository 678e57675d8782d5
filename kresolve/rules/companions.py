"""Custom classes that a known package provides (tfp layers, Addons layers, hub.KerasLayer, ...).

Pure: facts + rules DB in, matches out. A class belongs to a companion when the file records its
module under one of the companion's top-level packages, or its Keras registered name carries the
companion's package prefix ("Addons>WeightNormalization"), or, when the file records neither, its
class name is one only that package defines. The version pairing with TensorFlow is left to the
companion's [[constraint]] rules, which the solver applies to whatever version it picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ..artifact.facts import CustomObject, ModelFacts
from .db import Companion, RulesDB

if TYPE_CHECKING:  # plan.py imports this module; Need is only built at call time
    from .plan import Need

REGISTERED_SEPARATOR = ">"  # Keras registered names are "Package>Name"


@dataclass(frozen=True)
class CompanionUse:
    """One companion package a model needs, and which of its classes the model references."""

    package: str  # canonical distribution name
    rule_id: str  # the [[companion]] rule that matched
    class_names: tuple[str, ...]
    evidence: tuple[str, ...]  # per class, what matched: "module tensorflow_probability.python.layers..."

    @property
    def reason(self) -> str:
        return (f"the model uses {', '.join(self.class_names)} from {self.package} "
                f"({'; '.join(self.evidence)})")


def _top_module(path: str | None) -> str | None:
    return path.split(".", 1)[0] if path else None


def match_companion(obj: CustomObject, db: RulesDB, import_path: str | None = None) -> tuple[Companion, str] | None:
    """The companion that provides `obj`, with what matched; `import_path`: a sidecar's record of
    where the class was imported from (stronger than anything inferred)."""
    module = import_path or obj.module
    registered = obj.registered_name or ""
    prefix = registered.split(REGISTERED_SEPARATOR, 1)[0] if REGISTERED_SEPARATOR in registered else None
    top = _top_module(module)
    for comp in db.companions:
        if top and top in comp.modules:
            return comp, f"module {module}"
    for comp in db.companions:
        if prefix and prefix in comp.registered_packages:
            return comp, f"registered name {registered}"
    if module is None and prefix is None:
        for comp in db.companions:
            if obj.class_name in comp.class_names:
                return comp, f"class {obj.class_name}, which only {comp.package} defines"
    return None


def companion_packages(facts: ModelFacts, db: RulesDB) -> tuple[CompanionUse, ...]:
    """Every companion package the model's custom classes come from, in first-use order.

    Classes matched here are provided by that package once it is installed: a check for
    "custom classes without code" should not count them as missing.
    """
    recorded = dict(facts.sidecar.custom_objects) if facts.sidecar else {}
    found: dict[str, tuple[Companion, list[str], list[str]]] = {}
    for obj in facts.custom_objects:
        hit = match_companion(obj, db, recorded.get(obj.class_name))
        if hit is None:
            continue
        comp, evidence = hit
        _, names, why = found.setdefault(comp.package, (comp, [], []))
        if obj.class_name not in names:
            names.append(obj.class_name)
            why.append(evidence)
    return tuple(CompanionUse(pkg, comp.id, tuple(names), tuple(why)) for pkg, (comp, names, why) in found.items())


def provided_classes(facts: ModelFacts, db: RulesDB) -> dict[str, str]:
    """class name -> the companion package that provides it."""
    return {name: use.package for use in companion_packages(facts, db) for name in use.class_names}


def companion_needs(facts: ModelFacts, db: RulesDB, already: tuple[Need, ...] = ()) -> tuple[Need, ...]:
    """A top-level requirement per companion package the model uses, unless `already` (e.g. the
    user's --requirement) names that package."""
    from .plan import Need

    asked = {canonicalize_name(n.requirement.name) for n in already}
    return tuple(
        Need(Requirement(use.package), f"added {use.package}: {use.reason}", use.rule_id)
        for use in companion_packages(facts, db)
        if use.package not in asked
    )
