"""Published loader advisories (rules/advisories.toml) against a model and its pins.

Two questions, both pure:
- `pin_advisories(pins, facts, db)`: which chosen pins an advisory lists as affected, with the
  fixed release of the pin's line and whether this file has what the advisory is about (shown
  by `lock` and written to kresolve-report.json);
- `avoid_for(facts, db)`: the versions the solver should rank last for this file, because the
  file has the feature an advisory is about (a Lambda layer in an .h5 for a Keras whose .h5
  loader ignores safe_mode, ...). Ranking them last, not excluding them, keeps such files
  solvable where only affected releases install; among the rest "nearest" still decides, which
  lands on the nearest fixed release of the same line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..artifact.facts import ModelFacts, ModelFormat
from .db import Advisory, AdvisoryTrigger, RulesDB

# Modules whose classes a .keras config names in every ordinary file (CVE-2025-1550 is about
# configs naming anything else).
KERAS_MODULES = ("keras", "tf_keras", "tensorflow")


@dataclass(frozen=True)
class Avoid:
    """Rank `package` versions in `versions` last for this file, because of `advisory_id`."""

    package: str  # canonical name
    versions: SpecifierSet
    advisory_id: str


@dataclass(frozen=True)
class PinAdvisory:
    """One chosen pin an advisory lists as affected."""

    package: str
    version: str
    advisory: Advisory
    fixed: str | None  # the first fixed release above the pin (its line's fix), if any
    about_this_file: str | None  # the file's feature the advisory is about, in words; None: absent


def about_file(advisory: Advisory, facts: ModelFacts) -> str | None:
    """What in `facts` the advisory is about, in words, or None when the file does not have it."""
    trigger, lambdas = advisory.trigger, bool(facts.lambda_layers)
    zip_file = facts.format is ModelFormat.KERAS_ZIP
    if trigger is AdvisoryTrigger.KERAS_ZIP_LAMBDA and zip_file and lambdas:
        return "the model is a .keras archive with Lambda layers"
    if trigger is AdvisoryTrigger.LAMBDA and lambdas:
        return "the model has Lambda layers"
    if trigger is AdvisoryTrigger.H5_LAMBDA and facts.format is ModelFormat.H5 and lambdas:
        return "the model is an HDF5 file with Lambda layers"
    if trigger is AdvisoryTrigger.CONFIG_MODULE and zip_file:
        outside = sorted({obj.module for obj in facts.custom_objects
                          if obj.module and obj.module.split(".")[0] not in KERAS_MODULES})
        if outside:
            return f"the .keras config names classes from modules outside Keras ({', '.join(outside[:3])})"
    if trigger is AdvisoryTrigger.LAYER_CLASS:
        found = [name for name in advisory.layer_classes if name in facts.layer_classes]
        if found:
            return f"the model has {', '.join(found)} layers"
    return None


def avoid_for(facts: ModelFacts, db: RulesDB) -> tuple[Avoid, ...]:
    """Versions to rank last for this file: every affected range of every advisory whose
    trigger the file has."""
    return tuple(Avoid(advisory.package, spec, advisory.id)
                 for advisory in db.advisories if about_file(advisory, facts) is not None
                 for spec in advisory.affected)


def avoided_by(avoid: Iterable[Avoid], package: str, version: Version) -> str | None:
    """The advisory id that demotes `package==version`, or None (the solver's sort key)."""
    name = canonicalize_name(package)
    for item in avoid:
        if item.package == name and item.versions.contains(version, prereleases=True):
            return item.advisory_id
    return None


def pin_advisories(pins: Iterable[tuple[str, str]], facts: ModelFacts, db: RulesDB) -> tuple[PinAdvisory, ...]:
    """Every (package, version) pin an advisory lists as affected."""
    found = []
    for package, text in pins:
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        for advisory in db.advisories:
            if advisory.affects(package, version):
                above = sorted(Version(v) for v in advisory.fixed if Version(v) > version)
                found.append(PinAdvisory(canonicalize_name(package), text, advisory,
                                         str(above[0]) if above else None, about_file(advisory, facts)))
    return tuple(found)


def describe(item: PinAdvisory) -> str:
    """One line for `lock`'s output."""
    ids = item.advisory.id + (f" ({item.advisory.cve})" if item.advisory.cve else "")
    fixed = f"fixed in {item.fixed}" if item.fixed else f"fixed in {', '.join(item.advisory.fixed)}"
    line = f"{ids} affects {item.package} {item.version}: {item.advisory.reason}; {fixed}"
    if item.about_this_file:
        line += f"; this file is what it is about: {item.about_this_file}"
    return line
