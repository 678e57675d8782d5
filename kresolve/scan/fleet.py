"""The fleet view's data: one row per model, one cell per target, as frozen dataclasses.

Every type converts to and from plain JSON (`to_json` / `from_json`): scan.json, the journal
that `--resume` continues from, and the results Dask workers send back all use it
(docs/scan-json.md documents the keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..artifact.facts import ModelFormat


class Outcome(StrEnum):
    """What happened to one model on one target, best first."""

    PROVED = "proved"  # solved, and the smoke test loaded it and matched (or predicted finite outputs)
    SOLVED = "solved"  # an environment exists inside the policy (not smoke-tested here)
    SMOKE_FAILED = "smoke-failed"  # solved, but loading in the locked environment failed
    UNSOLVABLE = "unsolvable"  # no environment on this target (inside the policy) loads it
    REFUSED = "refused"  # the file itself was refused: unreadable, not a model, unsafe

    @property
    def ok(self) -> bool:
        return self in (Outcome.PROVED, Outcome.SOLVED)


class Risk(StrEnum):
    CUSTOM_CLASSES = "custom-classes"  # classes that need their code at load time
    LAMBDA = "lambda"  # Lambda layers: bytecode bound to a Python minor, loads only trusted
    WEIGHTS_ONLY = "weights-only"  # the architecture comes from code or a separate JSON
    NO_WEIGHTS = "no-weights"  # a SavedModel whose variables are missing
    UNSAFE = "unsafe"  # pickled objects or other content that runs code when loaded
    UNREADABLE = "unreadable"  # refused for any other reason (corrupt, empty, not a model)


class ProofStatus(StrEnum):
    """A cell's smoke verdict: smoke.status.SmokeStatus's values, and what the scan adds when the
    smoke process gives no verdict of its own."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"  # the per-model time limit of the scan ran out
    CRASHED = "crashed"  # the smoke process died without an answer


@dataclass(frozen=True)
class KeyPin:
    name: str
    version: str
    preferred: str | None
    distance: str | None  # the solver's words ("exact", "minor +3 (2.12 → 2.15)")
    steps: float  # solve.many.steps: 0 = as trained

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "preferred": self.preferred,
                "distance": self.distance, "steps": self.steps}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyPin:
        return cls(data["name"], data["version"], data["preferred"], data["distance"], float(data["steps"]))


@dataclass(frozen=True)
class Proof:
    """The smoke test's verdict for one cell."""

    status: ProofStatus
    reason: str
    loader: str | None = None
    compared: bool = False  # recorded outputs existed and were compared
    max_abs_diff: float | None = None
    seconds: float = 0.0
    env_reused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "reason": self.reason, "loader": self.loader, "compared": self.compared,
                "max_abs_diff": self.max_abs_diff, "seconds": self.seconds, "env_reused": self.env_reused}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proof:
        return cls(ProofStatus(data["status"]), data["reason"], data["loader"], data["compared"], data["max_abs_diff"],
                   data["seconds"], data["env_reused"])


@dataclass(frozen=True)
class Cell:
    target: str  # Target id, e.g. "3.11/linux-64"
    outcome: Outcome
    reasons: tuple[str, ...]  # why: the route, skipped routes, the conflict, the smoke verdict
    route: str | None = None
    loader: str | None = None
    env_vars: tuple[tuple[str, str], ...] = ()
    pins: tuple[KeyPin, ...] = ()  # the key pins (python, keras, tensorflow, numpy, ...)
    distance: float | None = None  # sum of the key pins' steps
    env: str | None = None  # id of the locked pin set (identical ids: one environment)
    proof: Proof | None = None
    lock: str | None = field(default=None, compare=False)  # requirements.txt text (journal only)

    def to_json(self, with_lock: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": self.target, "outcome": self.outcome.value, "reasons": list(self.reasons),
            "route": self.route, "loader": self.loader, "env_vars": dict(self.env_vars),
            "pins": [p.to_json() for p in self.pins], "distance": self.distance, "env": self.env,
            "proof": self.proof.to_json() if self.proof else None,
        }
        if with_lock:
            data["lock"] = self.lock
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        return cls(data["target"], Outcome(data["outcome"]), tuple(data["reasons"]), data["route"], data["loader"],
                   tuple(sorted(data["env_vars"].items())), tuple(KeyPin.from_json(p) for p in data["pins"]),
                   data["distance"], data["env"], Proof.from_json(data["proof"]) if data["proof"] else None,
                   data.get("lock"))


@dataclass(frozen=True)
class PlanNeeds:
    """One loading route of a model and everything it needs installed (for the set cover)."""

    route: str
    loader: str
    requires: tuple[str, ...]  # PEP 508 strings: the route's needs + the model's hard constraints
    preferences: tuple[tuple[str, str], ...]  # (package, preferred version or range)

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "loader": self.loader, "requires": list(self.requires),
                "preferences": dict(self.preferences)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanNeeds:
        return cls(data["route"], data["loader"], tuple(data["requires"]), tuple(data["preferences"].items()))


@dataclass(frozen=True)
class ModelRow:
    path: str
    stamp: str  # size and mtime of the file(s): a resumed scan re-reads a model that changed
    format: ModelFormat | None  # None: the file was refused
    keras_version: str | None
    tensorflow_version: str | None
    training: tuple[tuple[str, str], ...]  # (package, preferred version or range) as inferred
    decided_by: str | None
    risks: tuple[Risk, ...]
    risk_notes: tuple[str, ...]
    error: str | None  # why the file was refused (then cells are all REFUSED)
    cells: tuple[Cell, ...]
    plans: tuple[PlanNeeds, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.cells) and all(c.outcome.ok for c in self.cells)

    def cell(self, target: str) -> Cell | None:
        return next((c for c in self.cells if c.target == target), None)

    def to_json(self, with_lock: bool = False) -> dict[str, Any]:
        return {
            "path": self.path, "stamp": self.stamp, "format": self.format, "keras_version": self.keras_version,
            "tensorflow_version": self.tensorflow_version, "training": dict(self.training),
            "decided_by": self.decided_by, "risks": [r.value for r in self.risks], "risk_notes": list(self.risk_notes),
            "error": self.error, "ok": self.ok, "cells": [c.to_json(with_lock) for c in self.cells],
            "plans": [p.to_json() for p in self.plans],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelRow:
        fmt = None if data["format"] is None else ModelFormat(data["format"])
        return cls(data["path"], data["stamp"], fmt, data["keras_version"], data["tensorflow_version"],
                   tuple(data["training"].items()), data["decided_by"], tuple(Risk(r) for r in data["risks"]),
                   tuple(data["risk_notes"]), data["error"], tuple(Cell.from_json(c) for c in data["cells"]),
                   tuple(PlanNeeds.from_json(p) for p in data.get("plans", [])))


@dataclass(frozen=True)
class Proposal:
    """One environment of the set cover and the models it serves on its target."""

    number: int
    target: str
    env: str  # the pin-set id (Cell.env of the model whose environment it is)
    source_model: str  # the model whose solved environment this is
    models: tuple[str, ...]
    pins: tuple[tuple[str, str], ...]  # key pins (name, version)
    distance: float  # summed distance of its models from their own preferences
    lock: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "target": self.target, "env": self.env, "source_model": self.source_model,
                "models": list(self.models), "pins": dict(self.pins), "distance": self.distance}


@dataclass(frozen=True)
class ScanResult:
    targets: tuple[str, ...]
    policy: str | None
    rows: tuple[ModelRow, ...]
    proposals: tuple[Proposal, ...]
    notes: tuple[str, ...]
    complete: bool  # False: interrupted (or a discovery limit was hit); --resume continues
    smoke: bool
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.complete and all(r.ok for r in self.rows)

    def counts(self) -> dict[str, int]:
        found = {o.value: 0 for o in Outcome}
        for row in self.rows:
            for cell in row.cells:
                found[cell.outcome.value] += 1
        return found

    def summary(self) -> str:
        bad = [r for r in self.rows if not r.ok]
        cells = ", ".join(f"{n} {k}" for k, n in self.counts().items() if n)
        head = (f"{len(self.rows)} models × {len(self.targets)} target(s): {cells}; "
                f"{len(self.rows) - len(bad)} of {len(self.rows)} models load on every target")
        if self.proposals:
            head += f"; {len(self.proposals)} environment(s) cover the fleet"
        return head + ("" if self.complete else " (incomplete: rerun with --resume)")
