"""The Python API: every CLI command is a function call away. I/O lives here, at the edge."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement

from . import __version__
from .artifact import inspect as _inspect
from .artifact.facts import ModelFacts
from .artifact.h5worker import prestart_for
from .artifact.savedmodel import missing_variables
from .conda.colock import conda_json, lock_inputs, solve_targets
from .constants import EXPLAIN_PYTHONS, FALLBACK_PLATFORM
from .constants import REPORT_FILE as REPORT
from .constants import REQUIREMENTS_FILE as REQUIREMENTS
from .customcode import missing_custom_code
from .customcode import refusal as custom_code_refusal
from .customcode import warning as custom_code_warning
from .errors import BadInput, CustomCodeMissing, SmokeFailed, Unsolvable
from .index import Cache, Index, IndexConfig, read_pip_config
from .index.dates import parse_user_date
from .lock import requirements_txt
from .lock.formats import FormatChoice, LockFormat, LockInput, default_formats, parse_formats, writer
from .lock.output import Staging, refuse_foreign
from .policy import Policy, load_policy
from .progress import Progress, Stage, stage
from .report import advisories_json, custom_objects_json, environment_json, facts_json, smoke_json, training_json
from .rules.advisories import avoid_for, pin_advisories
from .rules.companions import companion_packages, match_companion, provided_classes
from .rules.db import LOADERS, RulesDB, load_rules
from .rules.infer import TrainingEnv, infer
from .rules.plan import Need, evidence_dates, plans_for
from .solve.resolve import Environment, solve
from .target import Target, check_gpu, is_host, make_target

if TYPE_CHECKING:  # imported where used: conda (yaml), templates and the smoke test (filelock, asyncio) cost a plain lock ~0.15 s
    from .lock.template import Template
    from .smoke.run import SmokeResult

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
    progress: Progress | None = None  # where index pages/metadata fetched are counted (None: silent)

    @classmethod
    def prepare(cls, model, python, platform, policy, requirements, rules, gpu=False, cuda_driver=None,
                glibc=None, macos=None, progress: Progress | None = None) -> _Job:
        # The target first: a typo in --python/--platform is said before any model is read.
        target = make_target(python, platform, gpu, cuda_driver, glibc=glibc, macos=macos)
        prestart_for(model)  # an HDF5 model: its reader process starts while the rules load
        rules = rules or load_rules()
        check_gpu(target, rules.accelerators)
        with stage(progress, Stage.INSPECT, str(model)):
            facts = inspect(model)
        return cls(
            facts=facts,
            training=infer(facts, rules),
            target=target,
            rules=rules,
            policy=load_policy(policy) if policy else None,
            extra=tuple(Need(_requirement(r), "asked for with --requirement") for r in requirements),
            progress=progress,
        )

    def solve(self, index_config: IndexConfig, cache: Cache, offline: bool, target: Target | None = None,
              use_policy: bool = True, shared: Index | None = None) -> Environment:
        """`shared`: an Index kept open by the caller across several solves (explain's re-solves
        for other targets): pages and metadata already read are not read again."""
        index = shared or Index(index_config, cache, offline=offline, progress=self.progress)
        try:
            plans = plans_for(self.facts, self.rules, self.extra, self.training)
            with stage(self.progress, Stage.SOLVE, (target or self.target).describe()):
                return solve(plans, target or self.target, index, self.rules, self.policy if use_policy else None,
                             exclude_newer=self.exclude_newer, era_cap=self.era_cap, evidence_dates=evidence_dates(self.facts),
                             avoid=avoid_for(self.facts, self.rules))
        except Unsolvable:
            index.check_indexes()  # a mistyped index URL is an index failure (exit 4), not a conflict
            raise
        finally:
            if shared is None:
                index.close()


@dataclass(frozen=True)
class LockResult:
    facts: ModelFacts
    environment: Environment
    files: tuple[Path, ...]  # written (or, after a failed smoke test, kept aside)
    smoke: SmokeResult | None
    report: dict
    warnings: tuple[str, ...] = ()  # e.g. custom classes without code under --no-smoke
    formats: FormatChoice | None = None  # the lockfile formats written, and which project file asked


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
    formats: str | tuple[LockFormat, ...] | None = None,
    format_options: dict[str, object] | None = None,
    glibc: str | tuple[int, int] | None = None,
    macos: str | tuple[int, int] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    platforms: tuple[str, ...] = (),
    channels: tuple[str, ...] = (),
    template: str | Path | None = None,
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
    `formats`: `"pip,pylock"` or LockFormat values (default: pip plus the formats the project
    already uses, see `lock.formats.default_formats`); `format_options` go to their writers.
    `glibc` / `macos`: the target's floors ("2.17", "11.0"); `dry_run`: solve and return the
    result, write nothing and build nothing; `progress`: a progress sink (kresolve.progress).
    `platforms`: lock these platforms too (the first is the primary target when `platform` is not
    given; the smoke test runs for the host only); `channels`: conda channels (`-c`, else the
    template's, the .condarc's, conda-forge); `template`: an environment.template.yml co-resolved
    with the model's needs (conda list into the conda solve of conda-lock/env, pip list into the pip solve).
    """
    if not dry_run:
        check_out_dir(Path(out_dir))  # before any work: -o must be a directory kresolve can write
    choice = _choose_formats(formats, model)
    platform = platform or (platforms[0] if platforms else None)
    conda_side = LockFormat.CONDA_LOCK in choice.formats or LockFormat.ENV in choice.formats
    if template is not None or conda_side:  # here, not at the top: a plain pip lock never loads yaml or conda
        from .conda.channels import resolve_channels
        from .lock.template import read_template
    tmpl = read_template(template) if template is not None else None
    conda_channels = resolve_channels(channels, tmpl.channels if tmpl else ()) if conda_side else ()
    job = _Job.prepare(model, python, platform, policy, requirements, rules, gpu, cuda_driver,
                       glibc=glibc, macos=macos, progress=progress)
    job = replace(job, exclude_newer=_exclude_newer(exclude_newer), era_cap=era_cap)
    # Before any work: never replace a file kresolve did not write.
    writers = {f: writer(f) for f in choice.formats if f is not LockFormat.PIP}
    others = [make_target(job.target.python_full or job.target.python, p, gpu, cuda_driver, glibc=glibc, macos=macos)
              for p in platforms]
    targets = (job.target,) + tuple({t.platform: t for t in others if t.platform != job.target.platform}.values())
    markers = {REPORT: REPORT_MARKER}
    if LockFormat.PIP in choice.formats:
        markers[REQUIREMENTS] = requirements_txt.OWN_MARKER
    for w in writers.values():
        markers |= {name: w.marker for name in w.names(targets)}
    if not dry_run:
        refuse_foreign(Path(out_dir), markers)
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
    solved = solve_targets(targets, lambda t, needs: replace(job, extra=job.extra + needs).solve(index_config, cache, offline, target=t),
                           conda_side, tmpl, conda_channels, cache.root / "conda", offline, job.exclude_newer)
    env, warnings = solved.environments[0], warnings + solved.warnings
    command = command or "kresolve lock " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["lock"] else [str(model)])
    report = {
        "kresolve_report": 1,
        "kresolve_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": {
            "model": str(model),
            "command": command,
            "target": target.describe(),
            "indexes": list(index_config.urls),
            "rules": {"root": rules.root, "count": rules.count},
            "policy": {"name": approved.name, "path": approved.path} if approved else None,
            "exclude_newer": job.exclude_newer.isoformat() if job.exclude_newer else None,
            "platforms": [t.platform for t in targets],
            "channels": [c.url for c in conda_channels],
            "template": tmpl.path if tmpl else None,
        },
        "conda": conda_json(solved.solutions),
        "facts": facts_json(facts),
        "training_env": training_json(training),
        "environment": environment_json(env),
        "custom_objects": custom_objects_json(facts, custom_objects, requirements, provided_classes(facts, rules)),
        "advisories": advisories_json(pin_advisories(((p.name, p.version) for p in env.pins), facts, rules)),
        "companions": [{"package": u.package, "rule": u.rule_id, "classes": list(u.class_names), "reason": u.reason}
                       for u in companion_packages(facts, rules)],
        "lockfiles": [],
        "formats": {"chosen": [f.value for f in choice.formats],
                    "because": {f.value: str(path) for f, path in choice.because}},
        "smoke": None,
        "warnings": list(warnings),
    }
    if dry_run:  # solved and reported; nothing written, nothing built
        report["lockfiles"] = []
        return LockResult(facts, env, (), None, report, warnings, choice)
    staging = Staging(Path(out_dir))
    try:
        pip_lock = requirements_txt.render(env, str(model), command, __version__)
        if LockFormat.PIP in choice.formats:
            lock_path = staging.write(REQUIREMENTS, pip_lock)
        else:  # the smoke env is built from the same pins; the file itself is not kept
            lock_path = staging.dir / f".smoke-{REQUIREMENTS}"
            lock_path.write_text(pip_lock, "utf-8")
        for w in writers.values():
            for name, text in w.write(LockInput(solved.environments, str(model), command, __version__, {
                **(format_options or {}), "conda": solved.solutions, "template": tmpl, "sources": _sources(model, tmpl, out_dir),
                "inputs": lock_inputs(model, targets, conda_channels, tmpl.text if tmpl else None, {
                    "kresolve": __version__, "rules": rules.count, "requirements": list(requirements),
                    "policy": approved.path if approved else None, "exclude_newer": str(job.exclude_newer)})})).items():
                staging.write(name, text)
        report["lockfiles"] = list(staging.names)
        result = None
        if smoke:
            from .smoke.run import Attempt, attempts_for, smoke_test  # here: --no-smoke never loads filelock/asyncio

            # Several platforms (-p): the one that is this host is smoke-tested, from its pip pins.
            tested = next((e for e in solved.environments if is_host(e.target)), env)
            if tested is not env:
                lock_path = staging.dir / f".smoke-{REQUIREMENTS}"
                lock_path.write_text(requirements_txt.render(tested, str(model), command, __version__), "utf-8")
            # The chosen route first; then the other routes for this file that the same pins serve.
            chosen = Attempt(tested.plan.route.loader, tuple(sorted(tested.env_vars.items())), tested.plan.route.id)
            routes = [p.route for p in plans_for(facts, rules, job.extra, training)]
            attempts = attempts_for(chosen, routes, {p.name: p.version for p in tested.pins})
            result = smoke_test(
                facts, lock_path, attempts, tested.target, index_config,
                cache.root / "envs", trust=trust_model, modules=custom_objects,
                paths=code_paths or ((".",) if custom_objects else ()), progress=progress,
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
    return LockResult(facts, env, tuple(written), result, report, warnings, choice)


def _sources(model: str | Path, template: Template | None, out_dir: str | Path) -> list[str]:
    """conda-lock's `sources`: the inputs, relative to the lockfile's directory where possible."""
    found = []
    for path in [Path(model)] + ([Path(template.path)] if template else []):
        try:
            found.append(Path(os.path.relpath(path.absolute(), Path(out_dir).absolute())).as_posix())
        except ValueError:  # another drive on Windows
            found.append(path.absolute().as_posix())
    return found


def check_out_dir(out_dir: Path) -> None:
    """`-o DIR` must be (or be creatable as) a directory kresolve can write: a file there, or a
    directory it may not write, is bad usage (exit 2), said before any work is done."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"-o {out_dir}: is a file, not a directory (lock writes several files into a directory)")
    existing = out_dir
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise BadInput(f"-o {out_dir}: {existing} is a file, not a directory")
    try:  # a real probe: permissions, read-only mounts and ACLs all say no the same way
        fd, probe = tempfile.mkstemp(prefix=".kresolve-probe-", dir=existing)
    except OSError as exc:
        raise BadInput(f"-o {out_dir}: cannot write in {existing} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def _choose_formats(formats: str | tuple[LockFormat, ...] | None, model: str | Path) -> FormatChoice:
    """Asked-for formats as given; by default pip plus the project's own (beside the model, in
    the current directory), leaving out any this kresolve has no writer for."""
    if isinstance(formats, str):
        return FormatChoice(parse_formats(formats))
    if formats:
        return FormatChoice(tuple(formats))
    found = default_formats([Path(model).absolute().parent, Path.cwd()])
    usable = tuple(f for f in found.formats if f is LockFormat.PIP or _has_writer(f))
    return FormatChoice(usable, tuple((f, p) for f, p in found.because if f in usable))


def _has_writer(fmt: LockFormat) -> bool:
    try:
        writer(fmt)
    except BadInput:
        return False
    return True


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
    glibc: str | tuple[int, int] | None = None,
    macos: str | tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> Explanation:
    """Why each pin (rules, sources, distance); on failure, the conflict and what would solve it."""
    job = _Job.prepare(model, python, platform, policy, requirements, rules, gpu, cuda_driver,
                       glibc=glibc, macos=macos, progress=progress)
    job = replace(job, exclude_newer=_exclude_newer(exclude_newer), era_cap=era_cap)
    index_config = _with_formats(index_config or read_pip_config(), only_binary, no_binary)
    cache = cache or Cache()
    index = Index(index_config, cache, offline=offline, progress=job.progress)
    try:
        return _explain(job, index_config, cache, offline, index)
    finally:
        index.close()


def _explain(job: _Job, index_config: IndexConfig, cache: Cache, offline: bool, index: Index) -> Explanation:
    try:
        env = job.solve(index_config, cache, offline, shared=index)
        return Explanation(job.facts, job.training, job.target, env, None, ())
    except Unsolvable as exc:
        failure = str(exc)
    alternatives = []
    tries: list[tuple[str, Target, bool]] = []
    if job.policy is not None:
        tries.append((f"without the policy {job.policy.name!r}", job.target, False))
    for other in EXPLAIN_PYTHONS:
        if other != job.target.python:
            tries.append((f"--python {other}", replace(job.target, python=other), True))
    if job.target.platform != FALLBACK_PLATFORM:
        tries.append((f"--platform {FALLBACK_PLATFORM} (Python {job.target.python})",
                      make_target(job.target.python, FALLBACK_PLATFORM, job.target.gpu), True))
    if job.target.gpu:
        tries.append(("without --gpu", replace(job.target, gpu=False, cuda_driver=None), True))
    for words, target, keep_policy in tries:
        try:
            env = job.solve(index_config, cache, offline, target=target, use_policy=keep_policy, shared=index)
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
    progress: Progress | None = None,
) -> SmokeResult:
    """Build an env from an existing lock (on this host), load the model there, compare outputs.

    The loader and its environment variables come from the lock's header unless `loader` is given:
    a requirements.txt's header comments, pylock.toml's `[tool.kresolve]`, conda-lock.yml's
    `custom_metadata`. From a pylock or conda-lock file the env is built from its pip packages
    (conda-lock: this host's platform; its conda packages besides Python are not in that env).
    `progress`: a progress sink for the environment build and the load (default: silent).
    """
    from .install import LockKind, read_lock
    from .smoke.run import Attempt, attempts_for, pins_in_lock, smoke_test

    facts = inspect(model)
    read = read_lock(lock_file)
    text, recorded, env_vars = read.pip_text, read.loader, read.env_vars
    if not text:
        raise BadInput(f"{lock_file}: the lock has no pip packages for this host: nothing to build a smoke env from")
    lock_path = Path(lock_file)
    cache = cache or Cache()
    if read.kind is not LockKind.REQUIREMENTS:  # the same pins as a --require-hashes requirements file
        lock_path = cache.root / "locks" / f"{read.digest[:20]}.requirements.txt"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path.write_text(text, "utf-8")
    chosen_loader = loader or recorded
    if chosen_loader is None:
        raise BadInput(f"{lock_file}: the lock does not name a loader (not written by kresolve?): pass --loader")
    if chosen_loader not in LOADERS:
        raise BadInput(f"--loader {chosen_loader!r}: expected one of {', '.join(LOADERS)}")
    route_id = read.route if not loader else None
    attempts: tuple[Attempt, ...] = (Attempt(chosen_loader, tuple(sorted(env_vars.items())), route_id),)
    if loader is None:  # the lock's own loader: the other routes its pins serve may follow
        try:
            routes = [p.route for p in plans_for(facts, load_rules())]
        except Unsolvable:
            routes = []
        attempts = attempts_for(attempts[0], routes, pins_in_lock(text))
    return smoke_test(
        facts, lock_path, attempts, make_target(), index_config or read_pip_config(),
        cache.root / "envs", trust=trust_model, modules=custom_objects,
        paths=code_paths or ((".",) if custom_objects else ()), progress=progress,
    )


def lock_many(models, **options):
    """One environment for several models (`kresolve lock A B C`): see kresolve.together.lock_many.
    Raises solve.many.CoConflict (an Unsolvable) naming which model conflicts with which."""
    from .together import lock_many as _lock_many

    return _lock_many(models, **options)


def scan(paths, pythons=(), platforms=(), policy=None, smoke=False, jobs=1, out_dir=".", resume=False,
         scheduler=None, formats=(), index_config=None, offline=False, trust_model=False, timeout=1800.0):
    """The fleet view (`kresolve scan`): every model under `paths` on every target (each of
    `pythons` × each of `platforms`, default this host); writes scan.json and scan.html to
    `out_dir` and returns the kresolve.scan.ScanResult."""
    from .scan import ScanOptions, TargetSpec, run_scan

    targets = tuple(dict.fromkeys(TargetSpec(py, pl) for py in (pythons or (None,)) for pl in (platforms or (None,))))
    options = ScanOptions(targets=targets, policy=str(policy) if policy else None,
                          index_config=index_config or read_pip_config(), offline=offline, smoke=smoke,
                          trust_model=trust_model, timeout=timeout)
    return run_scan(paths, options, out_dir, jobs=jobs, resume=resume, scheduler=scheduler, formats=formats)[0]
