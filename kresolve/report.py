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


def as_dict(obj: Any) -> dict[str, Any]:
    """dataclasses.asdict(obj), without its deepcopy of every leaf value: the results hold only
    immutable leaves (str, numbers, enums, None) inside dataclasses, tuples, lists and dicts, and
    copying each of them was ~40% of the JSON time of `inspect DIR`."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in dataclasses.fields(obj))
    return {name: _plain(getattr(obj, name)) for name in names}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value  # enums are str/int: as asdict's deepcopy gives them back
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple, rebuilt as asdict does
        return type(value)(*[_plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    return value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def facts_json(facts: ModelFacts) -> dict[str, Any]:
    data = as_dict(facts)
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
        "target": as_dict(env.target),
        "route": {
            "id": route.id,
            "loader": route.loader,
            "reason": route.reason,
            "source": route.source,
            "caveats": list(route.caveats),
        },
        "skipped_routes": [{"id": rid, "why": why} for rid, why in env.skipped_routes],
        "env": env.env_vars,
        "preferences": [as_dict(p) for p in env.plan.preferences if p.evidence is not Evidence.SIDECAR or p.name in {x.name for x in env.pins} | {"python"}],
        "python": pin_json(env.python),
        "accelerator": as_dict(env.accelerator) | {"when": str(env.accelerator.when), "requires": [str(r) for r in env.accelerator.requires]}
        if env.accelerator else None,
        "cutoff": None if env.cutoff is None else {
            "date": env.cutoff.date.isoformat(), "source": env.cutoff.source, "hard": env.cutoff.hard},
        "pins": [pin_json(p) for p in env.pins],
    }


def smoke_json(result: SmokeResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return as_dict(result) | {
        "versions": dict(result.versions),
        "proved_by": result.loader if result.passed else None,
        "probe_rules": [{"input": name, "rule": rule} for name, rule in result.probe_rules],
        "failed_loaders": [as_dict(a) for a in result.attempts if not a.ok],
    }


def training_json(training: TrainingEnv) -> dict[str, Any]:
    return {
        "decided_by": training.decided_by,
        "estimates": [as_dict(e) for e in training.estimates],
        "hard_constraints": [as_dict(h) for h in training.hard],
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
