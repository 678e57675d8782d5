"""JSON-ready views of the pipeline's frozen results (for `--json` and kresolve-report.json)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .artifact.facts import ModelFacts
from .rules.infer import TrainingEnv
from .smoke.run import SmokeResult
from .solve.resolve import Environment, Pin


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


def pin_json(pin: Pin) -> dict[str, Any]:
    return {
        "name": pin.name,
        "version": pin.version,
        "reason": pin.reason,
        "top_level": pin.top_level,
        "preferred": pin.preferred,
        "evidence": pin.evidence,
        "distance": pin.distance,
        "why_not_preferred": pin.why_not_preferred,
        "via": list(pin.via),
        "rules": list(pin.rule_ids),
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
        "preferences": [dataclasses.asdict(p) for p in env.plan.preferences if p.evidence != "sidecar" or p.name in {x.name for x in env.pins} | {"python"}],
        "python": pin_json(env.python),
        "accelerator": dataclasses.asdict(env.accelerator) | {"when": str(env.accelerator.when), "requires": [str(r) for r in env.accelerator.requires]}
        if env.accelerator else None,
        "pins": [pin_json(p) for p in env.pins],
    }


def smoke_json(result: SmokeResult | None) -> dict[str, Any] | None:
    return None if result is None else dataclasses.asdict(result) | {"versions": dict(result.versions)}


def training_json(training: TrainingEnv) -> dict[str, Any]:
    return {
        "decided_by": training.decided_by,
        "estimates": [dataclasses.asdict(e) for e in training.estimates],
        "hard_constraints": [dataclasses.asdict(h) for h in training.hard],
        "notes": list(training.notes),
    }


def custom_objects_json(facts: ModelFacts, modules: tuple[str, ...], requirements: tuple[str, ...]) -> list[dict[str, Any]]:
    """Which custom classes must be importable at load time, and what provides them."""
    recorded = dict(facts.sidecar.custom_objects) if facts.sidecar else {}
    found = []
    for obj in facts.custom_objects:
        provided_by = recorded.get(obj.class_name) or (", ".join(modules) if modules else None)
        found.append({
            "class_name": obj.class_name,
            "registered_name": obj.registered_name,
            "module": obj.module,
            "must_be_importable_at_load": True,
            "provided_by": provided_by or (", ".join(requirements) if requirements else None),
        })
    return found
