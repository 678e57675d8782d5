"""The lock report (`kresolve-report.json`, `lock --json`) as a frozen value.

The report holds the pipeline's own typed results (facts, environment, smoke result, ...);
`Report.to_json()` turns them into the documented JSON (docs/report-json.md), through the same
kresolve.report views `inspect --json` and `explain --json` use, so the three never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from .conda.colock import conda_json
from .lock.formats import FormatChoice
from .report import advisories_json, custom_objects_json, environment_json, facts_json, smoke_json, training_json

if TYPE_CHECKING:  # types only: the smoke module (filelock, asyncio) loads when a smoke test runs
    from .artifact.facts import ModelFacts
    from .conda.solve import CondaSolution
    from .policy import Policy
    from .rules.advisories import PinAdvisory
    from .rules.companions import CompanionUse
    from .rules.infer import TrainingEnv
    from .smoke.run import SmokeResult
    from .solve.many import CoEnvironment
    from .solve.resolve import Environment

REPORT_VERSION = 1  # `kresolve_report`: bumped only by a change that breaks readers
REPORT_MARKER = '"kresolve_report"'  # the report's first key: how kresolve knows its own report


@dataclass(frozen=True)
class ReportInputs:
    """What the run was asked (`inputs`)."""

    model: str
    command: str
    target: str  # the target in words
    indexes: tuple[str, ...]
    rules_root: str
    rules_count: int
    policy: Policy | None
    exclude_newer: date | None
    platforms: tuple[str, ...]
    channels: tuple[str, ...]
    template: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "command": self.command,
            "target": self.target,
            "indexes": list(self.indexes),
            "rules": {"root": self.rules_root, "count": self.rules_count},
            "policy": {"name": self.policy.name, "path": self.policy.path} if self.policy else None,
            "exclude_newer": self.exclude_newer.isoformat() if self.exclude_newer else None,
            "platforms": list(self.platforms),
            "channels": list(self.channels),
            "template": self.template,
        }


@dataclass(frozen=True)
class CustomObjectsInput:
    """What decides the `custom_objects` entries: the code the user named for the model's classes."""

    modules: tuple[str, ...] = ()  # --custom-objects
    requirements: tuple[str, ...] = ()  # --requirement
    companions: tuple[tuple[str, str], ...] = ()  # class name -> the companion package added for it


@dataclass(frozen=True)
class Report:
    kresolve_version: str
    created: str  # RFC 3339, UTC, seconds
    inputs: ReportInputs
    facts: ModelFacts
    training: TrainingEnv
    environment: Environment
    conda: tuple[tuple[str, CondaSolution], ...]  # platform -> conda side (empty without a conda format)
    custom_code: CustomObjectsInput
    advisories: tuple[PinAdvisory, ...]
    companions: tuple[CompanionUse, ...]
    formats: FormatChoice
    warnings: tuple[str, ...] = ()
    lockfiles: tuple[str, ...] = ()  # written into the output directory (none on a dry run)
    smoke: SmokeResult | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented report (docs/report-json.md), keys in its order."""
        custom = self.custom_code
        return {
            "kresolve_report": REPORT_VERSION,
            "kresolve_version": self.kresolve_version,
            "created": self.created,
            "inputs": self.inputs.to_json(),
            "conda": conda_json(dict(self.conda)),
            "facts": facts_json(self.facts),
            "training_env": training_json(self.training),
            "environment": environment_json(self.environment),
            "custom_objects": custom_objects_json(self.facts, custom.modules, custom.requirements, dict(custom.companions)),
            "advisories": advisories_json(self.advisories),
            "companions": [{"package": u.package, "rule": u.rule_id, "classes": list(u.class_names), "reason": u.reason}
                           for u in self.companions],
            "lockfiles": list(self.lockfiles),
            "formats": {"chosen": [f.value for f in self.formats.formats],
                        "because": {f.value: str(path) for f, path in self.formats.because}},
            "smoke": smoke_json(self.smoke),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ManyInputs:
    """What `lock A B C` was asked (`inputs` of its report)."""

    models: tuple[str, ...]
    command: str
    target: str  # the target in words
    indexes: tuple[str, ...]
    rules_root: str
    rules_count: int
    policy: Policy | None

    def to_json(self) -> dict[str, Any]:
        return {"models": list(self.models), "command": self.command, "target": self.target,
                "indexes": list(self.indexes), "rules": {"root": self.rules_root, "count": self.rules_count},
                "policy": {"name": self.policy.name, "path": self.policy.path} if self.policy else None}


@dataclass(frozen=True)
class ManyReport:
    """The report of one environment for several models (`kresolve lock A B C`): each model's
    route and distances, how the shared environment was chosen, and each model's smoke result."""

    kresolve_version: str
    created: str  # RFC 3339, UTC, seconds
    inputs: ManyInputs
    together: CoEnvironment
    lockfiles: tuple[str, ...]
    smoke: tuple[tuple[str, SmokeResult], ...] | None = None  # (model, result); None without a smoke test

    def to_json(self) -> dict[str, Any]:
        together = self.together
        return {
            "kresolve_report": REPORT_VERSION,
            "kresolve_version": self.kresolve_version,
            "created": self.created,
            "inputs": self.inputs.to_json(),
            "models": [{"model": m.name, "route": m.route_id, "loader": m.loader, "env": dict(m.env),
                        "distance": m.distance,
                        "pins": [{"name": n, "version": v, "preferred": p, "steps": s} for n, v, p, s in m.distances]}
                       for m in together.members],
            "together": {"total_distance": together.total, "worst_distance": together.worst,
                         "combinations_tried": together.tried, "merged_preferences": list(together.merged)},
            "environment": environment_json(together.environment),
            "lockfiles": list(self.lockfiles),
            "smoke": None if self.smoke is None else [{"model": name, **(smoke_json(r) or {})} for name, r in self.smoke],
        }
