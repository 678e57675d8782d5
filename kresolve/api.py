"""The Python API: every CLI command is a function call away. I/O lives here, at the edge."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from . import __version__
from .artifact import inspect as _inspect
from .artifact.facts import ModelFacts
from .artifact.savedmodel import missing_variables
from .customcode import missing_custom_code
from .customcode import refusal as custom_code_refusal
from .customcode import warning as custom_code_warning
from .errors import BadInput, CustomCodeMissing, SmokeFailed, Unsolvable
from .index import Cache, Index, IndexConfig, read_pip_config
from .index.dates import parse_user_date
from .lock import requirements_txt
from .lock.output import Staging, refuse_foreign
from .policy import Policy, load_policy
from .report import advisories_json, custom_objects_json, environment_json, facts_json, smoke_json, training_json
from .rules.advisories import avoid_for, pin_advisories
from .rules.companions import companion_packages, match_companion, provided_classes
from .rules.db import LOADERS, RulesDB, load_rules
from .rules.infer import TrainingEnv, infer
from .rules.plan import Need, evidence_dates, plans_for
from .smoke.run import Attempt, SmokeResult, attempts_for, pins_in_lock, smoke_test
from .solve.resolve import Environment, solve
from .target import Target, make_target

REPORT = "kresolve-report.json"
REQUIREMENTS = "requirements.txt"
REPORT_MARKER = '"kresolve_report"'  # the report's first key: how kresolve knows its own report


def inspect(path: str | Path) -> ModelFacts:
    """What the artifact says about itself. Never imports TensorFlow, never runs model code."""
    return _inspect(path)


def infer_training_env(facts: ModelFacts, rules: RulesDB | None = None) -> TrainingEnv:
    """The training environment as far as the evidence tells (ranges, confidence, reasons)."""
    return infer(facts, rules or load_rules())


def _exclude_newer(text: str | date | None) -> date | None:
    if text is None or isinstance(text, date):
        return text
    try:
        return parse_user_date(text)
    except ValueError as exc:
        raise BadInput(f"--exclude-newer {text!r}: expected YYYY-MM-DD or an RFC 3339 timestamp ({exc})") from None


def _with_formats(config: IndexConfig, only_binary: tuple[str, ...], no_binary: tuple[str, ...]) -> IndexConfig:
    try:
        return config.with_formats(only_binary, no_binary)
    except ValueError as exc:
        raise BadInput(f"--only-binary/--no-binary: {exc}") from None


def _requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise BadInput(f"--requirement {text!r}: {exc}") from None


@dataclass(frozen=True)
class _Job:
    """What lock and explain share: the inputs turned into plans, ready to solve."""

    facts: ModelFacts
    training: TrainingEnv
    target: Target
    rules: RulesDB
    policy: Policy | None
    extra: tuple[Need, ...]
    exclude_newer: date | None = None  # uv's --exclude-newer: a hard cap on release dates
    era_cap: bool = True  # the soft era cap for packages without evidence (DESIGN "Nearest")

    @classmethod
    def prepare(cls, model, python, platform, policy, requirements, rules, gpu=False, cuda_driver=None) -> "_Job":
        facts = inspect(model)
        rules = rules or load_rules()
        return cls(
            facts=facts,
            training=infer(facts, rules),
            target=make_target(python, platform, gpu, cuda_driver),
            rules=rules,
            policy=load_policy(policy) if policy else None,
            extra=tuple(Need(_requirement(r), "asked for with --requirement") for r in requirements),
        )

    def solve(self, index_config: IndexConfig, cache: Cache, offline: bool, target: Target | None = None,
              use_policy: bool = True) -> Environment:
        index = Index(index_config, cache, offline=offline)
        try:
            plans = plans_for(self.facts, self.rules, self.extra, self.training)
            return solve(plans, target or self.target, index, self.rules, self.policy if use_policy else None,
                         exclude_newer=self.exclude_newer, era_cap=self.era_cap, evidence_dates=evidence_dates(self.facts),
                         avoid=avoid_for(self.facts, self.rules))
        finally:
            index.close()


@dataclass(frozen=True)
class LockResult:
    facts: ModelFacts
    environment: Environment
    files: tuple[Path, ...]  # written (or, after a failed smoke test, kept aside)
    smoke: SmokeResult | None
    report: dict
    warnings: tuple[str, ...] = ()  # e.g. custom classes without code under --no-smoke


def lock(
    model: str | Path,
    python: str | None = None,
    platform: str | None = None,
    out_dir: str | Path = ".",
    smoke: bool = True,
    trust_model: bool = False,
    offline: bool = False,
    index_config: IndexConfig | None = None,
    cache: Cache | None = None,
    rules: RulesDB | None = None,
    command: str | None = None,
    requirements: tuple[str, ...] = (),
    custom_objects: tuple[str, ...] = (),
    code_paths: tuple[str, ...] = (),
    policy: str | Path | None = None,
    gpu: bool = False,
    cuda_driver: str | None = None,
    exclude_newer: str | date | None = None,
    era_cap: bool = True,
    only_binary: tuple[str, ...] = (),
    no_binary: tuple[str, ...] = (),
) -> LockResult:
    """Solve, lock and (unless `smoke=False`) smoke-test the nearest environment for `model`.

    Existing files in `out_dir` are replaced only when the run succeeds; after a failed smoke
    test the new lock is kept in `out_dir/kresolve-failed/` and `SmokeFailed` is raised.
    `requirements`: extra PEP 508 requirements (e.g. the package defining custom layers);
    `custom_objects`: modules the smoke test imports before loading (they register custom
    classes), found on `code_paths` (default: the current directory).
    `exclude_newer`: a date (YYYY-MM-DD or RFC 3339), uv's --exclude-newer: no release after it
    is used, for any package (hard). Without it, `era_cap` orders packages without evidence
    newest-before-the-era's-cut-off first (soft: later ones when nothing earlier installs).
    `only_binary` / `no_binary`: pip's --only-binary / --no-binary (names, `:all:`, `:none:`);
    by default a release with no wheel for the target is locked as its sdist, built at install.
    """
    job = _Job.prepare(model, python, platform, policy, requirements, rules, gpu, cuda_driver)
    job = replace(job, exclude_newer=_exclude_newer(exclude_newer), era_cap=era_cap)
    # Before any work: never replace a file kresolve did not write.
    refuse_foreign(Path(out_dir), {REQUIREMENTS: requirements_txt.OWN_MARKER, REPORT: REPORT_MARKER})
    facts, training, target, rules, approved = job.facts, job.training, job.target, job.rules, job.policy
    # Custom classes without their code: refused before anything is solved or built (exit 1);
    # under --no-smoke the lock is still written, with a warning that nothing proves it.
    # Classes a companion package provides (tfp layers, ...) come with that package, added to the lock.
    missing = missing_custom_code(facts, custom_objects, requirements, code_paths,
                                  covered=lambda obj: match_companion(obj, rules) is not None)
    if missing and smoke:
        raise CustomCodeMissing(custom_code_refusal(facts, missing))
    warnings: tuple[str, ...] = (custom_code_warning(facts, missing),) if missing else ()
    # A SavedModel whose variables were never committed cannot load: bad input (exit 2), not a
    # smoke failure after the environment is built; under --no-smoke the lock is still written.
    no_weights = missing_variables(facts)
    if no_weights and smoke:
        raise BadInput(no_weights)
    warnings += (no_weights,) if no_weights else ()
    index_config = _with_formats(index_config or read_pip_config(), only_binary, no_binary)
    cache = cache or Cache()
    env = job.solve(index_config, cache, offline)
    command = command or "kresolve lock " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["lock"] else [str(model)])
    report = {
        "kresolve_report": 1,
        "kresolve_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": {
            "model": str(model),
            "command": command,
            "target": target.describe(),
            "indexes": list(index_config.urls),
            "rules": {"root": rules.root, "count": rules.count},
            "policy": {"name": approved.name, "path": approved.path} if approved else None,
            "exclude_newer": job.exclude_newer.isoformat() if job.exclude_newer else None,
        },
        "facts": facts_json(facts),
        "training_env": training_json(training),
        "environment": environment_json(env),
        "custom_objects": custom_objects_json(facts, custom_objects, requirements, provided_classes(facts, rules)),
        "advisories": advisories_json(pin_advisories(((p.name, p.version) for p in env.pins), facts, rules)),
        "companions": [{"package": u.package, "rule": u.rule_id, "classes": list(u.class_names), "reason": u.reason}
                       for u in companion_packages(facts, rules)],
        "lockfiles": [REQUIREMENTS],
        "smoke": None,
        "warnings": list(warnings),
    }
    staging = Staging(Path(out_dir))
    try:
        lock_path = staging.write(REQUIREMENTS, requirements_txt.render(env, str(model), command, __version__))
        result = None
        if smoke:
            # The chosen route first; then the other routes for this file that the same pins serve.
            chosen = Attempt(env.plan.route.loader, tuple(sorted(env.env_vars.items())), env.plan.route.id)
            routes = [p.route for p in plans_for(facts, rules, job.extra, training)]
            attempts = attempts_for(chosen, routes, {p.name: p.version for p in env.pins})
            result = smoke_test(
                facts, lock_path, attempts, target, index_config,
                cache.root / "envs", trust=trust_model, modules=custom_objects,
                paths=code_paths or ((".",) if custom_objects else ()),
            )
            report["smoke"] = smoke_json(result)
        staging.write(REPORT, json.dumps(report, indent=2) + "\n")
        if result is not None and result.status == "failed":
            kept = staging.keep_as("kresolve-failed")
            raise SmokeFailed(f"smoke test failed for {model}: {result.reason} (the new lock is in {kept}; existing files were left as they were)")
        written = staging.commit()
    except BaseException:
        staging.discard()
        raise
    return LockResult(facts, env, tuple(written), result, report, warnings)


@dataclass(frozen=True)
class Explanation:
    facts: ModelFacts
    training: TrainingEnv
    target: Target
    environment: Environment | None
    failure: str | None  # the conflict, in words, when nothing solves
    alternatives: tuple[tuple[str, str], ...]  # (what to change, what it gives) when it failed


def explain(
    model: str | Path,
    python: str | None = None,
    platform: str | None = None,
    policy: str | Path | None = None,
    requirements: tuple[str, ...] = (),
    offline: bool = False,
    index_config: IndexConfig | None = None,
    cache: Cache | None = None,
    rules: RulesDB | None = None,
    gpu: bool = False,
    cuda_driver: str | None = None,
    exclude_newer: str | date | None = None,
    era_cap: bool = True,
    only_binary: tuple[str, ...] = (),
    no_binary: tuple[str, ...] = (),
) -> Explanation:
    """Why each pin (rules, sources, distance); on failure, the conflict and what would solve it."""
    job = _Job.prepare(model, python, platform, policy, requirements, rules, gpu, cuda_driver)
    job = replace(job, exclude_newer=_exclude_newer(exclude_newer), era_cap=era_cap)
    index_config = _with_formats(index_config or read_pip_config(), only_binary, no_binary)
    cache = cache or Cache()
    try:
        env = job.solve(index_config, cache, offline)
        return Explanation(job.facts, job.training, job.target, env, None, ())
    except Unsolvable as exc:
        failure = str(exc)
    alternatives = []
    tries: list[tuple[str, Target, bool]] = []
    if job.policy is not None:
        tries.append((f"without the policy {job.policy.name!r}", job.target, False))
    for minor in range(9, 14):
        other = f"3.{minor}"
        if other != job.target.python:
            tries.append((f"--python {other}", replace(job.target, python=other), True))
    if job.target.platform != "linux-64":
        tries.append((f"--platform linux-64 (Python {job.target.python})", make_target(job.target.python, "linux-64", job.target.gpu), True))
    if job.target.gpu:
        tries.append(("without --gpu", replace(job.target, gpu=False, cuda_driver=None), True))
    for words, target, keep_policy in tries:
        try:
            env = job.solve(index_config, cache, offline, target=target, use_policy=keep_policy)
        except Unsolvable:
            continue
        core = ", ".join(f"{p.name} {p.version}" for p in env.pins if p.top_level)
        alternatives.append((words, f"solves with {core} (route {env.plan.route.id})"))
    return Explanation(job.facts, job.training, job.target, None, failure, tuple(alternatives))


def smoke(
    model: str | Path,
    lock_file: str | Path,
    loader: str | None = None,
    trust_model: bool = False,
    custom_objects: tuple[str, ...] = (),
    code_paths: tuple[str, ...] = (),
    index_config: IndexConfig | None = None,
    cache: Cache | None = None,
) -> SmokeResult:
    """Build an env from an existing lock (on this host), load the model there, compare outputs.

    The loader and its environment variables come from the lock's header unless `loader` is given.
    """
    facts = inspect(model)
    try:
        text = Path(lock_file).read_text("utf-8")
    except OSError as exc:
        raise BadInput(f"{lock_file}: cannot read the lock ({exc.strerror or exc})") from None
    recorded, env_vars = requirements_txt.read_header(text)
    chosen_loader = loader or recorded
    if chosen_loader is None:
        raise BadInput(f"{lock_file}: the lock does not name a loader (not written by kresolve?): pass --loader")
    if chosen_loader not in LOADERS:
        raise BadInput(f"--loader {chosen_loader!r}: expected one of {', '.join(LOADERS)}")
    route_id = requirements_txt.read_route(text) if not loader else None
    attempts: tuple[Attempt, ...] = (Attempt(chosen_loader, tuple(sorted(env_vars.items())), route_id),)
    if loader is None:  # the lock's own loader: the other routes its pins serve may follow
        try:
            routes = [p.route for p in plans_for(facts, load_rules())]
        except Unsolvable:
            routes = []
        attempts = attempts_for(attempts[0], routes, pins_in_lock(text))
    cache = cache or Cache()
    return smoke_test(
        facts, Path(lock_file), attempts, make_target(), index_config or read_pip_config(),
        cache.root / "envs", trust=trust_model, modules=custom_objects,
        paths=code_paths or ((".",) if custom_objects else ()),
    )
