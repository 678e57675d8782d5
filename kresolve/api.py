"""The Python API: every CLI command is a function call away. I/O lives here, at the edge."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from . import __version__
from .artifact import inspect as _inspect
from .artifact.facts import ModelFacts
from .errors import BadInput, SmokeFailed, Unsolvable
from .index import Cache, Index, IndexConfig, read_pip_config
from .lock import requirements_txt
from .lock.output import Staging
from .policy import Policy, load_policy
from .report import custom_objects_json, environment_json, facts_json, smoke_json, training_json
from .rules.db import LOADERS, RulesDB, load_rules
from .rules.infer import TrainingEnv, infer
from .rules.plan import Need, plans_for
from .smoke.run import SmokeResult, smoke_test
from .solve.resolve import Environment, solve
from .target import Target, make_target

REPORT = "kresolve-report.json"
REQUIREMENTS = "requirements.txt"


def inspect(path: str | Path) -> ModelFacts:
    """What the artifact says about itself. Never imports TensorFlow, never runs model code."""
    return _inspect(path)


def infer_training_env(facts: ModelFacts, rules: RulesDB | None = None) -> TrainingEnv:
    """The training environment as far as the evidence tells (ranges, confidence, reasons)."""
    return infer(facts, rules or load_rules())


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
            return solve(plans, target or self.target, index, self.rules, self.policy if use_policy else None)
        finally:
            index.close()


@dataclass(frozen=True)
class LockResult:
    facts: ModelFacts
    environment: Environment
    files: tuple[Path, ...]  # written (or, after a failed smoke test, kept aside)
    smoke: SmokeResult | None
    report: dict


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
) -> LockResult:
    """Solve, lock and (unless `smoke=False`) smoke-test the nearest environment for `model`.

    Existing files in `out_dir` are replaced only when the run succeeds; after a failed smoke
    test the new lock is kept in `out_dir/kresolve-failed/` and `SmokeFailed` is raised.
    `requirements`: extra PEP 508 requirements (e.g. the package defining custom layers);
    `custom_objects`: modules the smoke test imports before loading (they register custom
    classes), found on `code_paths` (default: the current directory).
    """
    job = _Job.prepare(model, python, platform, policy, requirements, rules, gpu, cuda_driver)
    facts, training, target, rules, approved = job.facts, job.training, job.target, job.rules, job.policy
    index_config = index_config or read_pip_config()
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
        },
        "facts": facts_json(facts),
        "training_env": training_json(training),
        "environment": environment_json(env),
        "custom_objects": custom_objects_json(facts, custom_objects, requirements),
        "lockfiles": [REQUIREMENTS],
        "smoke": None,
    }
    staging = Staging(Path(out_dir))
    try:
        lock_path = staging.write(REQUIREMENTS, requirements_txt.render(env, str(model), command, __version__))
        result = None
        if smoke:
            result = smoke_test(
                facts, lock_path, env.plan.route.loader, env.env_vars, target, index_config,
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
    return LockResult(facts, env, tuple(written), result, report)


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
) -> Explanation:
    """Why each pin (rules, sources, distance); on failure, the conflict and what would solve it."""
    job = _Job.prepare(model, python, platform, policy, requirements, rules, gpu, cuda_driver)
    index_config = index_config or read_pip_config()
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
    loader = loader or recorded
    if loader is None:
        raise BadInput(f"{lock_file}: the lock does not name a loader (not written by kresolve?): pass --loader")
    if loader not in LOADERS:
        raise BadInput(f"--loader {loader!r}: expected one of {', '.join(LOADERS)}")
    cache = cache or Cache()
    return smoke_test(
        facts, Path(lock_file), loader, env_vars, make_target(), index_config or read_pip_config(),
        cache.root / "envs", trust=trust_model, modules=custom_objects,
        paths=code_paths or ((".",) if custom_objects else ()),
    )
