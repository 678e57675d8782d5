"""One model of a fleet scan: inspect it, solve it on every target, say what stands in the way.

`Evaluator.row(path)` is the unit of work of a scan, the same locally and on a Dask worker.
Identical inputs (copies of one model, or models whose plans coincide) are solved once: the
solver is pure in its inputs, so its answer is memoised by the plans, the target and the dates.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..artifact import inspect
from ..artifact.facts import ModelFacts, ModelFormat
from ..artifact.savedmodel import missing_variables
from ..constants import KEY_PACKAGES, SHOWN_PACKAGES
from ..customcode import missing_custom_code
from ..errors import BadInput, UnsafeModel, Unsolvable
from ..index import Cache, Index, IndexConfig
from ..lock import requirements_txt
from ..policy import Policy, load_policy
from ..rules.advisories import avoid_for
from ..rules.companions import match_companion
from ..rules.db import RulesDB, load_rules
from ..rules.infer import infer
from ..rules.plan import Plan, evidence_dates, plans_for
from ..smoke.envs import env_key
from ..solve.many import steps
from ..solve.preference import Preferred, parse_preference
from ..solve.resolve import Environment, solve
from ..target import Target, is_host, make_target
from .fleet import Cell, KeyPin, ModelRow, Outcome, PlanNeeds, Risk

SHOWN = SHOWN_PACKAGES  # the pins a scan shows per cell


@dataclass(frozen=True)
class TargetSpec:
    python: str | None = None  # None: this interpreter's minor
    platform: str | None = None  # None: this host

    def target(self) -> Target:
        return make_target(self.python, self.platform)


def target_id(target: Target) -> str:
    return f"{target.python}/{target.platform}"


@dataclass(frozen=True)
class ScanOptions:
    """Everything a worker needs to evaluate a model (picklable: it travels to Dask workers)."""

    targets: tuple[TargetSpec, ...] = (TargetSpec(),)
    policy: str | None = None
    index_config: IndexConfig = field(default_factory=IndexConfig)
    offline: bool = False
    cache_root: str | None = None  # None: the worker's own default cache
    smoke: bool = False
    trust_model: bool = False
    timeout: float = 1800.0  # seconds per model's smoke test (environment build included)
    rules_root: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        """What a journal must match to be resumed (the results depend on exactly these)."""
        return {"targets": [target_id(t.target()) for t in self.targets], "policy": self.policy,
                "indexes": list(self.index_config.urls), "smoke": self.smoke, "trust_model": self.trust_model,
                "rules": self.rules_root}


def stamp(path: Path) -> str:
    """Size and newest mtime of a file or (bounded) directory: a changed model is read again."""
    try:
        if path.is_file():
            info = path.stat()
            return f"{info.st_size}:{info.st_mtime_ns}"
        size, newest, count = 0, 0, 0
        for root, _dirs, files in os.walk(path):
            for name in files:
                info = (Path(root) / name).stat()
                size, newest, count = size + info.st_size, max(newest, info.st_mtime_ns), count + 1
                if count > 10_000:
                    return f"{size}:{newest}:+"
        return f"{size}:{newest}"
    except OSError:
        return "?"


class Evaluator:
    """Inspects and solves models for the targets of one scan; thread-safe memo of solves."""

    def __init__(self, options: ScanOptions, rules: RulesDB | None = None):
        self.options = options
        self.rules = rules or (load_rules(Path(options.rules_root)) if options.rules_root else load_rules())
        self.policy: Policy | None = load_policy(options.policy) if options.policy else None
        self.targets = tuple(t.target() for t in options.targets)
        self.cache = Cache(Path(options.cache_root)) if options.cache_root else Cache()
        self._index: Index | None = None
        self._memo: dict[str, Environment | Unsolvable] = {}
        self._lock = threading.Lock()
        self.solves = 0  # distinct solves run (the rest came from the memo)

    @property
    def index(self) -> Index:
        if self._index is None:
            self._index = Index(self.options.index_config, self.cache, offline=self.options.offline)
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def row(self, path: str | Path, facts: ModelFacts | BadInput | None = None) -> ModelRow:
        """The model's row: its facts, risks and one cell per target (no smoke test here)."""
        path = Path(path)
        if facts is None:
            try:
                facts = inspect(path)
            except BadInput as exc:
                facts = exc
        if isinstance(facts, BadInput):
            return self._refused(path, facts)
        training = infer(facts, self.rules)
        risks, notes = self._risks(facts)
        try:
            plans = plans_for(facts, self.rules, (), training)
        except Unsolvable as exc:
            cells = tuple(Cell(target_id(t), Outcome.UNSOLVABLE, (str(exc),)) for t in self.targets)
            plans = []
        else:
            cells = tuple(self._cell(facts, plans, t) for t in self.targets)
        return ModelRow(
            path=str(path), stamp=stamp(path), format=facts.format, keras_version=facts.keras_version,
            tensorflow_version=facts.tensorflow_version,
            training=tuple((e.package, e.preferred or e.range or "") for e in training.estimates
                           if e.package in SHOWN and (e.preferred or e.range)),
            decided_by=str(training.decided_by) if training.decided_by else None,
            risks=risks, risk_notes=notes, error=None, cells=cells,
            plans=tuple(_needs(p) for p in plans),
        )

    def _refused(self, path: Path, error: BadInput) -> ModelRow:
        risk = Risk.UNSAFE if isinstance(error, UnsafeModel) else Risk.UNREADABLE
        words = " ".join(str(error).split())
        cells = tuple(Cell(target_id(t), Outcome.REFUSED, (words,)) for t in self.targets)
        return ModelRow(str(path), stamp(path), None, None, None, (), None, (risk,), (words,), words, cells)

    def _risks(self, facts: ModelFacts) -> tuple[tuple[Risk, ...], tuple[str, ...]]:
        risks: list[Risk] = []
        notes: list[str] = []
        missing = missing_custom_code(facts, (), (), (), covered=lambda obj: match_companion(obj, self.rules) is not None)
        if missing:
            risks.append(Risk.CUSTOM_CLASSES)
            names = ", ".join(c.registered_name or c.class_name for c in missing)
            notes.append(f"custom classes need their code at load time: {names} (lock it with --custom-objects MODULE)")
        if facts.lambda_layers:
            risks.append(Risk.LAMBDA)
            hints = sorted({lam.python_hint for lam in facts.lambda_layers if lam.python_hint})
            notes.append(f"{len(facts.lambda_layers)} Lambda layer(s): code stored in the file, loads only with --trust-model"
                         + (f" and on Python {', '.join(hints)}" if hints else ""))
        if facts.format in (ModelFormat.H5_WEIGHTS, ModelFormat.WEIGHTS_JSON):
            risks.append(Risk.WEIGHTS_ONLY)
            notes.append("weights only: the architecture comes from "
                         + ("the JSON beside it" if facts.architecture else "code that is not in the file"))
        no_weights = missing_variables(facts)
        if no_weights:
            risks.append(Risk.NO_WEIGHTS)
            notes.append(" ".join(no_weights.split()))
        return tuple(risks), tuple(notes)

    def _solve(self, facts: ModelFacts, plans: list[Plan], target: Target) -> Environment:
        dates = evidence_dates(facts)
        avoid = avoid_for(facts, self.rules)
        # What the solver's answer depends on, without the words (reasons name the model's own files,
        # so copies of one model would never share a solve).
        key = repr((target, [(p.route.id, [str(n.requirement) for n in p.needs],
                              [(x.name, x.version, x.evidence) for x in p.preferences]) for p in plans],
                    [d for d, _ in dates], avoid))
        with self._lock:
            found = self._memo.get(key)
            if found is None:
                self.solves += 1
                try:
                    found = solve(plans, target, self.index, self.rules, self.policy, evidence_dates=dates, avoid=avoid)
                except Unsolvable as exc:
                    found = exc
                self._memo[key] = found
        if isinstance(found, Unsolvable):
            raise found
        return found

    def _cell(self, facts: ModelFacts, plans: list[Plan], target: Target) -> Cell:
        tid = target_id(target)
        try:
            env = self._solve(facts, plans, target)
        except Unsolvable as exc:
            return Cell(tid, Outcome.UNSOLVABLE, tuple(line.strip(" -") for line in str(exc).splitlines() if line.strip()))
        route = env.plan.route
        pins = [env.python, *(p for p in env.pins if p.name in SHOWN)]
        key = tuple(KeyPin(p.name, p.version, p.preferred, p.distance_text, steps(p.version, minor_preference(p.name, p.preferred)))
                    for p in pins)
        reasons = [f"route {route.id} ({route.loader}): {route.reason}"]
        reasons += [f"route {rid} not used: {' '.join(why.split())}" for rid, why in env.skipped_routes]
        reasons += [f"{p.name} {p.version} instead of {p.preferred}: {p.why_not_preferred}" for p in env.pins
                    if p.name in SHOWN and p.why_not_preferred]
        if self.policy is not None:
            reasons.append(f"inside the policy {self.policy.name!r}")
        lock = requirements_txt.render(env, str(facts.path), "kresolve scan", __version__)
        distance = round(sum(k.steps for k in key if k.name in KEY_PACKAGES), 3)
        return Cell(tid, Outcome.SOLVED, tuple(reasons), route.id, route.loader, tuple(sorted(env.env_vars.items())),
                    key, distance, env_key(lock, target.python), None, lock)

    def host_target(self) -> str | None:
        """The id of the target that is this host (smoke tests run only there)."""
        return next((target_id(t) for t in self.targets if is_host(t)), None)


def minor_preference(name: str, preferred: str | None) -> str | Preferred | None:
    """The interpreter's distance compares minors (3.11 vs 3.11.7 is the same)."""
    if name == "python" and preferred:
        try:
            return parse_preference(preferred).series()
        except ValueError:
            return preferred  # unreadable: steps() counts it as no distance
    return preferred


def _needs(plan: Plan) -> PlanNeeds:
    return PlanNeeds(plan.route.id, plan.route.loader, tuple(str(n.requirement) for n in plan.needs),
                     tuple((p.name, p.version) for p in plan.preferences if p.name in KEY_PACKAGES))
