"""`kresolve lock A B C`: one environment for many models (solve.many.co_resolve), locked once.

Writes one requirements.txt (its header names the first model's loader; the report names every
model's own loader, route and environment variables) and kresolve-report.json with a "models"
list; then, on this host, smoke-tests every model in that one environment. When no single
environment exists, CoConflict (exit 1) says which model conflicts with which and why.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from . import __version__
from .artifact import inspect
from .artifact.facts import ModelFacts
from .artifact.savedmodel import missing_variables
from .constants import REPORT_FILE as REPORT
from .constants import REQUIREMENTS_FILE as REQUIREMENTS
from .customcode import missing_custom_code
from .customcode import refusal as custom_code_refusal
from .diagnose import KnownCauses
from .errors import BadInput, CustomCodeMissing, SmokeFailed
from .index import Cache, Index, IndexConfig, read_pip_config
from .lock import requirements_txt
from .lock.output import Staging, refuse_foreign
from .lockreport import REPORT_MARKER, ManyInputs, ManyReport
from .policy import Policy, load_policy
from .rules.advisories import avoid_for
from .rules.companions import match_companion
from .rules.db import RulesDB, load_rules
from .rules.infer import infer
from .rules.plan import evidence_dates, plans_for
from .smoke.run import Attempt, SmokeResult, attempts_for, smoke_test
from .smoke.status import SmokeStatus
from .solve.many import CoEnvironment, Member, co_resolve
from .solve.resolve import solve
from .target import make_target


@dataclass(frozen=True)
class ManyLockResult:
    models: tuple[ModelFacts, ...]
    together: CoEnvironment
    files: tuple[Path, ...]
    smoke: tuple[tuple[str, SmokeResult], ...]  # (model, its smoke result) on this host
    report: ManyReport  # kresolve-report.json: `report.to_json()`


def lock_many(
    models: list[str | Path] | tuple[str | Path, ...],
    python: str | None = None,
    platform: str | None = None,
    out_dir: str | Path = ".",
    smoke: bool = True,
    trust_model: bool = False,
    offline: bool = False,
    index_config: IndexConfig | None = None,
    cache: Cache | None = None,
    rules: RulesDB | None = None,
    policy: str | Path | Policy | None = None,
    command: str | None = None,
    custom_objects: tuple[str, ...] = (),
    code_paths: tuple[str, ...] = (),
    index: Index | None = None,
) -> ManyLockResult:
    """The nearest single environment that loads every model in `models` (see solve/many.py).
    `index`: an Index the caller keeps open (a kresolve.session.Session's); else one of its own."""
    if len(models) < 1:
        raise BadInput("lock needs at least one model")
    target = make_target(python, platform)
    rules = rules or load_rules()
    approved = policy if isinstance(policy, Policy) else load_policy(policy) if policy else None
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BadInput(f"-o {out}: not a directory")
    refuse_foreign(out, {REQUIREMENTS: requirements_txt.OWN_MARKER, REPORT: REPORT_MARKER})
    facts = tuple(inspect(m) for m in models)
    if smoke:
        for f in facts:
            missing = missing_custom_code(f, custom_objects, (), code_paths,
                                          covered=lambda obj: match_companion(obj, rules) is not None)
            if missing:
                raise CustomCodeMissing(custom_code_refusal(f, missing))
            no_weights = missing_variables(f)
            if no_weights:
                raise BadInput(no_weights)
    members = [Member(str(m), tuple(plans_for(f, rules, (), infer(f, rules)))) for m, f in zip(models, facts)]
    dates = tuple(d for f in facts for d in evidence_dates(f))
    avoid = tuple(a for f in facts for a in avoid_for(f, rules))
    config = index_config or read_pip_config()
    cache = cache or Cache()
    shared = index or Index(config, cache, offline=offline)
    try:
        together = co_resolve(members, lambda plans: solve(plans, target, shared, rules, approved,
                                                           evidence_dates=dates, avoid=avoid))
    finally:
        if index is None:
            shared.close()
    env = together.environment
    names = [str(m) for m in models]
    command = command or "kresolve lock " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["lock"] else names)
    inputs = ManyInputs(tuple(names), command, target.describe(), tuple(config.urls), rules.root, rules.count, approved)
    report = ManyReport(__version__, datetime.now(UTC).isoformat(timespec="seconds"), inputs, together, (REQUIREMENTS,))
    staging = Staging(out)
    try:
        lock_path = staging.write(REQUIREMENTS, requirements_txt.render(env, ", ".join(names), command, __version__))
        results: list[tuple[str, SmokeResult]] = []
        if smoke:
            pins = {p.name: p.version for p in env.pins}
            for member, f in zip(together.members, facts):
                plans = next(m.plans for m in members if m.name == member.name)
                chosen = Attempt(member.loader, member.env, member.route_id)
                attempts = attempts_for(chosen, [p.route for p in plans], pins)
                results.append((member.name, smoke_test(f, lock_path, attempts, target, config, cache.root / "envs",
                                                        trust=trust_model, modules=custom_objects,
                                                        paths=code_paths or ((".",) if custom_objects else ()),
                                                        diagnoser=KnownCauses(rules))))
            report = replace(report, smoke=tuple(results))
        staging.write(REPORT, json.dumps(report.to_json(), indent=2) + "\n")
        failed = [(name, r) for name, r in results if r.status is SmokeStatus.FAILED]
        if failed:
            kept = staging.keep_as("kresolve-failed")
            raise SmokeFailed(f"smoke test failed for {failed[0][0]} in the shared environment: {failed[0][1].reason} "
                              f"(the new lock is in {kept}; existing files were left as they were)")
        written = staging.commit()
    except BaseException:
        staging.discard()
        raise
    return ManyLockResult(facts, together, tuple(written), tuple(results), report)
