"""JSON-ready views of the pipeline's frozen results (for `--json` and kresolve-report.json)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .artifact.facts import ModelFacts
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
        "pins": [pin_json(p) for p in env.pins],
    }


def smoke_json(result: SmokeResult | None) -> dict[str, Any] | None:
    return None if result is None else dataclasses.asdict(result) | {"versions": dict(result.versions)}
