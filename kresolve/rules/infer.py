"""Facts + rules → the training environment as far as the evidence tells: per package a version
range, the preferred version, how sure we are, and why. Pure: no I/O.

Evidence, strongest first: the sidecar written in the training env (exact versions), the file's
own metadata (keras_version, SavedModel tensorflow_version, Lambda bytecode), era rules keyed by
those versions or by the save date, then project files found beside the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..artifact.bytecode import hint_bounds
from ..artifact.facts import ModelFacts
from ..constants import KEY_PACKAGES
from ..solve.preference import Exact, Range, Series, parse_preference
from .db import Era, RulesDB
from .evidence import Confidence, Evidence
from .specs import is_empty

# How sure each kind of evidence is when the rule behind it says nothing (an era rule says it).
CONFIDENCE = {Evidence.SIDECAR: Confidence.HIGH, Evidence.ARTIFACT: Confidence.HIGH, Evidence.PROJECT: Confidence.LOW}
# The writers the save-date eras are about: Keras 3 (rules/keras3-dates.toml).
DATE_ERA_WRITERS = SpecifierSet(">=3.0.dev0,<4")


@dataclass(frozen=True)
class Estimate:
    package: str  # canonical name, or "python"
    range: str  # PEP 440 specifier text ("" = unknown); "==X" for exact evidence
    preferred: str | None  # exact version or release series the solver should aim at
    confidence: Confidence
    evidence: Evidence  # the strongest evidence behind it
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class HardConstraint:
    """Not a preference: without it the model cannot load (e.g. Lambda bytecode's Python)."""

    requirement: str
    reason: str


@dataclass(frozen=True)
class TrainingEnv:
    estimates: tuple[Estimate, ...]
    hard: tuple[HardConstraint, ...]
    decided_by: str  # which evidence decided the core stack, in words
    notes: tuple[str, ...] = ()

    def get(self, package: str) -> Estimate | None:
        return next((e for e in self.estimates if e.package == package), None)


@lru_cache(maxsize=1024)
def writer_version(text: str | None) -> Version | None:
    """'2.2.4-tf' -> 2.2.4; None when nothing version-like is recorded (kept per text: asked
    for every era rule about every model)."""
    match = re.match(r"\d+(\.\d+)*", (text or "").strip())
    if not match:
        return None
    try:
        return Version(match.group(0))
    except InvalidVersion:
        return None


def sidecar_consistent(facts: ModelFacts) -> bool:
    """A sidecar describes this file only if the versions the file records agree with it."""
    sidecar = facts.sidecar
    if sidecar is None:
        return False
    recorded = writer_version(facts.keras_version)
    keras = sidecar.package_version("keras") or sidecar.package_version("tf-keras")
    tf = sidecar.package_version("tensorflow")
    # tf.keras 2.x records TF's minor, not the keras package's; accept either.
    if (recorded is not None and keras and recorded.release[:2] != Version(keras).release[:2]
            and not (tf and recorded.release[:2] == Version(tf).release[:2])):
        return False
    recorded_tf = writer_version(facts.tensorflow_version)
    return not (recorded_tf and tf and recorded_tf.release[:2] != Version(tf).release[:2])


def _era_matches(era: Era, facts: ModelFacts) -> bool:
    if era.keras_version is not None:
        recorded = writer_version(facts.keras_version)
        if recorded is None or not era.keras_version.contains(recorded, prereleases=True):
            return False
        flavour = "tf" if (facts.keras_version or "").strip().endswith("-tf") else "standalone"
        return era.keras_flavour in (None, flavour)
    if era.tensorflow_version is not None:
        recorded = writer_version(facts.tensorflow_version)
        return recorded is not None and era.tensorflow_version.contains(recorded, prereleases=True)
    saved = (facts.date_saved or "")[:10]
    assert era.saved_between is not None
    # Date eras describe Keras 3 saves (rules/keras3-dates.toml): the writer version the file
    # records beats any date, so a Keras 2 `.keras` saved in 2024 is not taken for Keras 3.
    recorded = writer_version(facts.keras_version)
    if recorded is not None and recorded not in DATE_ERA_WRITERS:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", saved)) and era.saved_between[0] <= saved < era.saved_between[1]


PYTHON_MINORS = [Version("2.7")] + [Version(f"3.{m}") for m in range(16)]


def _python_range(spec: SpecifierSet) -> str:
    """Python ranges read best as the minors they admit: '>=3.4,<3.6' rather than the raw
    intersection of every piece of evidence."""
    if not str(spec) or any(s.operator == "==" and not s.version.endswith(".*") for s in spec):
        return str(spec)
    minors = [v for v in PYTHON_MINORS if spec.contains(v, prereleases=True)]
    if not minors:
        return str(spec)
    first, last = PYTHON_MINORS.index(minors[0]), PYTHON_MINORS.index(minors[-1])
    if minors != PYTHON_MINORS[first : last + 1]:
        return str(spec)  # not contiguous: keep every piece
    if len(minors) == 1:
        return f"=={minors[0]}.*"
    nxt = PYTHON_MINORS[last + 1] if last + 1 < len(PYTHON_MINORS) else None
    return f">={minors[0]}" + (f",<{nxt}" if nxt else "")


def _refines(exact: str, series: str) -> bool:
    """'2.15.0' refines '2.15': weaker evidence may narrow a series, never move it."""
    try:
        a, b = parse_preference(exact), parse_preference(series)
    except ValueError:
        return False
    return isinstance(a, Exact) and isinstance(b, Series) and len(b.prefix.release) == 2 and b.matches(a.version)


@dataclass
class _Entry:
    """One package's evidence while it is collected (mutable: the builder's scratch)."""

    evidence: Evidence  # the first, strongest
    ranges: list[tuple[SpecifierSet, Evidence, str]] = field(default_factory=list)
    preferred: str | None = None
    confidence: Confidence | None = None
    reasons: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


class _Builder:
    """Collects evidence per package; the first (strongest) evidence keeps the preference."""

    def __init__(self) -> None:
        self.data: dict[str, _Entry] = {}

    def add(self, package: str, evidence: Evidence, reason: str, range_: str | SpecifierSet | None = None,
            preferred: str | None = None, confidence: Confidence | None = None, rule_id: str | None = None) -> None:
        entry = self.data.setdefault(package, _Entry(evidence))
        entry.reasons.append(reason)
        if rule_id:
            entry.rules.append(rule_id)
        if range_ is not None:
            entry.ranges.append((SpecifierSet(str(range_)), evidence, reason))
        if preferred and (entry.preferred is None or _refines(preferred, entry.preferred)):
            entry.preferred = preferred
        if entry.confidence is None:
            entry.confidence = confidence or CONFIDENCE.get(evidence)

    def build(self) -> tuple[tuple[Estimate, ...], list[str]]:
        notes, estimates = [], []
        for package, entry in self.data.items():
            combined = SpecifierSet()
            for spec, evidence, reason in entry.ranges:
                trial = combined & spec
                if is_empty(trial):
                    notes.append(f"{package}: {evidence} evidence ({reason}) contradicts stronger evidence; ignored")
                    continue
                combined = trial
            estimates.append(
                Estimate(
                    package=package,
                    range=_python_range(combined) if package == "python" else str(combined),
                    preferred=entry.preferred,
                    confidence=entry.confidence or Confidence.MEDIUM,
                    evidence=entry.evidence,
                    reasons=tuple(dict.fromkeys(entry.reasons)),
                    rule_ids=tuple(dict.fromkeys(entry.rules)),
                )
            )
        order = {name: rank for rank, name in enumerate(KEY_PACKAGES)}
        estimates.sort(key=lambda e: (order.get(e.package, 9), e.package))
        return tuple(estimates), notes


def infer(facts: ModelFacts, db: RulesDB) -> TrainingEnv:
    b = _Builder()
    decided = []
    hard: list[HardConstraint] = []

    sidecar_note = None
    if facts.sidecar is not None:
        if not sidecar_consistent(facts):
            sidecar_note = (f"the sidecar {facts.sidecar.path} disagrees with the versions the file records, "
                            "so it describes another model or environment: ignored")
        else:
            where = facts.sidecar.path
            decided.append(f"the sidecar {where} (written in the training environment)")
            if facts.sidecar.python_version:
                v = facts.sidecar.python_version
                b.add("python", Evidence.SIDECAR, f"{where} records Python {v}", f"=={v}", v)
            for name, version in facts.sidecar.packages:
                b.add(canonicalize_name(name), Evidence.SIDECAR, f"{where} records {name} {version}", f"=={version}", version)

    keras = writer_version(facts.keras_version)
    if keras is not None:
        what = f"the file records keras_version {facts.keras_version}"
        # "-tf" marks tf.keras inside TensorFlow; so do 2.4.x-2.5.x, written by tf.keras 2.3-2.5
        # (the keras 2.4 package only wraps tf.keras, and no keras 2.5 was released): none of
        # them says anything about the `keras` package.
        if not (facts.keras_version or "").strip().endswith("-tf") and not Version("2.4") <= keras < Version("2.6"):
            b.add("keras", Evidence.ARTIFACT, what, f"=={keras}", str(keras))
        decided.append(what)
    tf = writer_version(facts.tensorflow_version)
    if tf is not None:
        what = f"the SavedModel records tensorflow_version {facts.tensorflow_version}"
        b.add("tensorflow", Evidence.ARTIFACT, what, f"=={tf}", str(tf))
        decided.append(what)

    for lam in facts.lambda_layers:
        if lam.python_hint:
            (lo_maj, lo_min), (hi_maj, hi_min) = hint_bounds(lam.python_hint)
            spec = f">={lo_maj}.{lo_min},<{hi_maj}.{hi_min + 1}"
            reason = (f"Lambda layer {lam.layer_name!r} holds Python {lam.python_hint} bytecode, "
                      "which only loads on the Python minor that wrote it")
            hard.append(HardConstraint(f"python{spec}", reason))
            b.add("python", Evidence.ARTIFACT, reason, spec)
    hard = list({h.requirement: h for h in hard}.values())

    for era in db.eras:
        if _era_matches(era, facts):
            for name, version in era.prefer:
                b.add(name, Evidence.ERA, era.reason, preferred=version, confidence=era.confidence, rule_id=era.id)
            for name, era_range in era.ranges:
                b.add(name, Evidence.ERA, era.reason, era_range, confidence=era.confidence, rule_id=era.id)
            if era.saved_between is not None:
                decided.append(f"date_saved {facts.date_saved}")

    if facts.project:
        decided.append("project files " + ", ".join(e.path for e in facts.project) + " (lower trust)")
    for evidence in facts.project:
        for name, spec, exact in evidence.packages:
            spec_text = f"=={spec}" if exact and not spec[:1] in "<>=!~" else spec
            try:
                SpecifierSet(spec_text)
            except InvalidSpecifier:
                continue  # an unreadable range in a project file is no evidence
            b.add(canonicalize_name(name), Evidence.PROJECT, f"{evidence.path} ({evidence.kind}) lists {name} {spec_text}",
                  spec_text or None, spec if exact else None)
        if evidence.python:
            py = evidence.python.strip()
            try:
                wanted = parse_preference(py)
            except ValueError:
                continue  # blank, or an unreadable version or range in a project file, is no evidence
            if isinstance(wanted, Range):
                spec, preferred = py, None
            else:
                spec, preferred = (f"=={py}.*" if isinstance(wanted, Series) else f"=={py}"), py
            try:
                SpecifierSet(spec)
            except InvalidSpecifier:
                continue  # an unreadable range in a project file is no evidence
            b.add("python", Evidence.PROJECT, f"{evidence.path} ({evidence.kind}) names Python {py}", spec, preferred)

    estimates, notes = b.build()
    if sidecar_note:
        notes.insert(0, sidecar_note)
    if not decided:
        decided.append("no version recorded in the file")
    return TrainingEnv(estimates=estimates, hard=tuple(hard), decided_by="; ".join(decided), notes=tuple(notes))
