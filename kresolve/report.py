"""JSON-ready views of the pipeline's frozen results (for `--json` and kresolve-report.json)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .artifact.facts import ModelFacts
from .errors import KresolveError, UnsafeModel
from .rules.advisories import PinAdvisory, describe
from .rules.evidence import Evidence
from .rules.infer import TrainingEnv
from .solve.resolve import Environment, Pin

if TYPE_CHECKING:  # a type only: the smoke test's module (filelock, asyncio) loads when a smoke test runs
    from .smoke.run import SmokeResult


def facts_json(facts: ModelFacts) -> dict[str, Any]:
    data = dataclasses.asdict(facts)
    if facts.sidecar is not None:
        data["sidecar"] = {
            "path": facts.sidecar.path,
            "python_version": facts.sidecar.python_version,
            "platform": facts.sidecar.platform,
            "packages": dict(facts.sidecar.packages),
            "custom_objects": dict(facts.sidecar.custom_objects),
            "has_probe": facts.sidecar.probe is not None,
        }
    return data


def refusal_json(path: object, error: KresolveError) -> dict[str, Any]:
    """A model `inspect` refused (docs/inspect-json.md): why, and whether it is unsafe to load."""
    data: dict[str, Any] = {"path": str(path), "error": str(error), "unsafe": isinstance(error, UnsafeModel)}
    if isinstance(error, UnsafeModel):
        data |= {"unsafe_kind": error.kind, "unsafe_member": error.member, "unsafe_imports": list(error.imports)}
    return data


def advisories_json(items: tuple[PinAdvisory, ...]) -> list[dict[str, Any]]:
    """Pins a published loader advisory lists as affected (rules/advisories.toml)."""
    return [{"id": i.advisory.id, "cve": i.advisory.cve, "package": i.package, "version": i.version,
             "about": i.advisory.reason, "fixed": i.fixed, "fixed_releases": list(i.advisory.fixed),
             "about_this_file": i.about_this_file, "source": i.advisory.source, "line": describe(i)}
            for i in items]


def pin_json(pin: Pin) -> dict[str, Any]:
    return {
        "name": pin.name,
        "version": pin.version,
        "reason": pin.reason,
        "top_level": pin.top_level,
        "preferred": pin.preferred,
        "evidence": pin.evidence,
        "distance": pin.distance_text,
        "why_not_preferred": pin.why_not_preferred,
        "via": list(pin.via),
        "rules": list(pin.rule_ids),
        "released": pin.released,
        "date_source": pin.date_source,
        "date_rule": pin.date_rule,
        "from_source": pin.from_source,  # its sdist is locked and built at install time
        "files": [{"filename": f.filename, "sha256": f.sha256} for f in pin.files],
    }


def environment_json(env: Environment) -> dict[str, Any]:
    route = env.plan.route
    return {
        "target": dataclasses.asdict(env.target),
        "route": {
            "id": route.id,
            "loader": route.loader,
            "reason": route.reason,
            "source": route.source,
            "caveats": list(route.caveats),
        },
        "skipped_routes": [{"id": rid, "why": why} for rid, why in env.skipped_routes],
        "env": env.env_vars,
        "preferences": [dataclasses.asdict(p) for p in env.plan.preferences if p.evidence is not Evidence.SIDECAR or p.name in {x.name for x in env.pins} | {"python"}],
        "python": pin_json(env.python),
        "accelerator": dataclasses.asdict(env.accelerator) | {"when": str(env.accelerator.when), "requires": [str(r) for r in env.accelerator.requires]}
        if env.accelerator else None,
        "cutoff": None if env.cutoff is None else {
            "date": env.cutoff.date.isoformat(), "source": env.cutoff.source, "hard": env.cutoff.hard},
        "pins": [pin_json(p) for p in env.pins],
    }


def smoke_json(result: SmokeResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return dataclasses.asdict(result) | {
        "versions": dict(result.versions),
        "proved_by": result.loader if result.passed else None,
        "probe_rules": [{"input": name, "rule": rule} for name, rule in result.probe_rules],
        "failed_loaders": [dataclasses.asdict(a) for a in result.attempts if not a.ok],
    }


def training_json(training: TrainingEnv) -> dict[str, Any]:
    return {
        "decided_by": training.decided_by,
        "estimates": [dataclasses.asdict(e) for e in training.estimates],
        "hard_constraints": [dataclasses.asdict(h) for h in training.hard],
        "notes": list(training.notes),
    }


def custom_objects_json(facts: ModelFacts, modules: tuple[str, ...], requirements: tuple[str, ...],
                        companions: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Which custom classes must be importable at load time, and what provides them.
    `companions`: class name -> the companion package (rules/companions.toml) added for it."""
    recorded = (companions or {}) | (dict(facts.sidecar.custom_objects) if facts.sidecar else {})
    found = []
    for obj in facts.custom_objects:
        provided_by = recorded.get(obj.class_name) or (", ".join(modules) if modules else None)
        found.append({
            "class_name": obj.class_name,
            "registered_name": obj.registered_name,
            "module": obj.module,
            "must_be_importable_at_load": not obj.compile_only,  # compile=False loads without it
            "provided_by": provided_by or (", ".join(requirements) if requirements else None),
        })
    return found
