"""One command's session: what every stage of a command shares, made once.

A `Session` owns the rules database (loaded on first use, once), the index configuration, the
on-disk cache, one `Index` (HTTP client and thread pool, opened on first use and shared by every
solve of the command: lock's targets, explain's re-solves), the policy, `offline` and the
progress sink. Every command is a method; the CLI builds one Session from its arguments and
renders what the method returns, and kresolve.api's functions build one from their keywords.

    with Session(offline=True) as session:
        result = session.lock("model.keras", python="3.11", dry_run=True)
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from packaging.requirements import InvalidRequirement, Requirement

from . import __version__
from .artifact import inspect as _inspect
from .artifact import inspect_all as _inspect_all
from .artifact.facts import ModelFacts, ModelFormat
from .artifact.h5worker import prestart_for
from .conda.colock import lock_inputs, solve_targets
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
from .lockreport import REPORT_MARKER, CustomObjectsInput, Report, ReportInputs
from .policy import Policy, load_policy
from .progress import Progress, Stage, stage
from .rules.advisories import avoid_for, pin_advisories
from .rules.companions import companion_packages, match_companion, provided_classes
from .rules.db import LOADERS, RulesDB, load_rules
from .rules.infer import TrainingEnv, infer
from .rules.plan import Need, evidence_dates, plans_for
from .smoke.status import SmokeStatus
from .solve.resolve import Environment, solve
from .target import Target, check_gpu, is_host, make_target

if TYPE_CHECKING:  # imported where used: conda (yaml), templates, the smoke test (filelock, asyncio), rules tools
    from .diagnose import Diagnosis
    from .install import InstallResult
    from .lock.template import Template
    from .rules.check import Finding
    from .rules.show import RuleLine
    from .rules.verify import Disagreement
    from .smoke.run import SmokeResult
    from .together import ManyLockResult



@dataclass(frozen=True)
class LockResult:
    facts: ModelFacts
    environment: Environment
    files: tuple[Path, ...]  # written (or, after a failed smoke test, kept aside)
    smoke: SmokeResult | None
    report: Report  # kresolve-report.json: `report.to_json()`
    warnings: tuple[str, ...] = ()  # e.g. custom classes without code under --no-smoke
    formats: FormatChoice | None = None  # the lockfile formats written, and which project file asked


@dataclass(frozen=True)
class Explanation:
    facts: ModelFacts
    training: TrainingEnv
    target: Target
    environment: Environment | None
    failure: str | None  # the conflict, in words, when nothing solves
    alternatives: tuple[tuple[str, str], ...]  # (what to change, what it gives) when it failed


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


class Session:
    """What one command shares across its stages (see the module doc). Read-only after
    construction; `close()` (or leaving a `with` block) closes the shared Index."""

    def __init__(
        self,
        *,
        index_config: IndexConfig | None = None,
        offline: bool = False,
        progress: Progress | None = None,
        policy: str | Path | Policy | None = None,
        cache: Cache | None = None,
        rules: RulesDB | None = None,
        rules_root: Path | None = None,
        only_binary: tuple[str, ...] = (),
        no_binary: tuple[str, ...] = (),
    ) -> None:
        """`index_config`: default pip's configuration (pip.conf, PIP_*), read on first use;
        `only_binary`/`no_binary`: pip's --only-binary/--no-binary over it; `policy`: a policy
        file, loaded on first use (a typo is said after the model is read, as before);
        `rules`: a rules database to use; else the one under `rules_root` (default: kresolve's
        rules/), loaded on first use."""
        self._given_config = index_config
        self._formats = (tuple(only_binary), tuple(no_binary))
        self._config: IndexConfig | None = None
        self._offline = offline
        self._progress = progress
        self._policy_source = policy
        self._policy: Policy | None = policy if isinstance(policy, Policy) else None
        self._cache = cache
        self._rules = rules
        self._rules_root = rules_root
        self._index: Index | None = None
        self.rules_loads = 0  # how often this session read the rules TOML (0 or 1)
        self.indexes_opened = 0  # how many Index objects this session made (0 or 1 until closed)

    # ------------------------------------------------------------------ what the stages share

    @property
    def offline(self) -> bool:
        return self._offline

    @property
    def progress(self) -> Progress | None:
        return self._progress

    @property
    def rules(self) -> RulesDB:
        """The rules database, read once per session."""
        if self._rules is None:
            self._rules = load_rules(self._rules_root) if self._rules_root is not None else load_rules()
            self.rules_loads += 1
        return self._rules

    @property
    def index_config(self) -> IndexConfig:
        if self._config is None:
            config = self._given_config or read_pip_config()
            only_binary, no_binary = self._formats
            if only_binary or no_binary:
                try:
                    config = config.with_formats(only_binary, no_binary)
                except ValueError as exc:
                    raise BadInput(f"--only-binary/--no-binary: {exc}") from None
            self._config = config
        return self._config

    @property
    def cache(self) -> Cache:
        if self._cache is None:
            self._cache = Cache()
        return self._cache

    @property
    def policy(self) -> Policy | None:
        source = self._policy_source
        if self._policy is None and source is not None and not isinstance(source, Policy):
            self._policy = load_policy(source)
        return self._policy

    @property
    def index(self) -> Index:
        """The one Index of this session: pages and metadata read once serve every solve."""
        if self._index is None:
            self._index = Index(self.index_config, self.cache, offline=self._offline, progress=self._progress)
            self.indexes_opened += 1
        return self._index

    @property
    def index_open(self) -> bool:
        return self._index is not None

    def close(self) -> None:
        if self._index is not None:
            index, self._index = self._index, None
            index.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ reading models

    def inspect(self, path: str | Path) -> ModelFacts:
        """What the artifact says about itself. Never imports TensorFlow, never runs model code."""
        return _inspect(path)

    def inspect_all(self, path: str | Path) -> tuple[tuple[Path, ModelFacts | BadInput], ...]:
        """Every model under `path` (a model or a directory), each read or refused."""
        return _inspect_all(path)

    def infer(self, facts: ModelFacts) -> TrainingEnv:
        """The training environment as far as the evidence tells (ranges, confidence, reasons)."""
        return infer(facts, self.rules)

    # ------------------------------------------------------------------ solving

    def _prepare(self, model: str | Path, python: str | None, platform: str | None, requirements: tuple[str, ...],
                 gpu: bool, cuda_driver: str | None, glibc: str | tuple[int, int] | None,
                 macos: str | tuple[int, int] | None, exclude_newer: str | date | None, era_cap: bool) -> _Job:
        # The target first: a typo in --python/--platform is said before any model is read.
        target = make_target(python, platform, gpu, cuda_driver, glibc=glibc, macos=macos)
        prestart_for(model)  # an HDF5 model: its reader process starts while the rules load
        rules = self.rules
        check_gpu(target, rules.accelerators)
        with stage(self._progress, Stage.INSPECT, str(model)):
            facts = self.inspect(model)
        training = infer(facts, rules)
        policy = self.policy
        extra = tuple(Need(_requirement(r), "asked for with --requirement") for r in requirements)
        return _Job(facts, training, target, rules, policy, extra, _exclude_newer(exclude_newer), era_cap)

    def _solve(self, job: _Job, target: Target | None = None, use_policy: bool = True) -> Environment:
        """One solve on the session's Index (opened on first use, kept for the next solve)."""
        index = self.index
        try:
            plans = plans_for(job.facts, job.rules, job.extra, job.training)
            with stage(self._progress, Stage.SOLVE, (target or job.target).describe()):
                return solve(plans, target or job.target, index, job.rules, job.policy if use_policy else None,
                             exclude_newer=job.exclude_newer, era_cap=job.era_cap, evidence_dates=evidence_dates(job.facts),
                             avoid=avoid_for(job.facts, job.rules))
        except Unsolvable:
            index.check_indexes()  # a mistyped index URL is an index failure (exit 4), not a conflict
            raise

    def lock(
        self,
        model: str | Path,
        python: str | None = None,
        platform: str | None = None,
        out_dir: str | Path = ".",
        smoke: bool = True,
        trust_model: bool = False,
        command: str | None = None,
        requirements: tuple[str, ...] = (),
        custom_objects: tuple[str, ...] = (),
        code_paths: tuple[str, ...] = (),
        gpu: bool = False,
        cuda_driver: str | None = None,
        exclude_newer: str | date | None = None,
        era_cap: bool = True,
        formats: str | tuple[LockFormat, ...] | None = None,
        format_options: dict[str, object] | None = None,
        glibc: str | tuple[int, int] | None = None,
        macos: str | tuple[int, int] | None = None,
        dry_run: bool = False,
        platforms: tuple[str, ...] = (),
        channels: tuple[str, ...] = (),
        template: str | Path | None = None,
    ) -> LockResult:
        """Solve, lock and (unless `smoke=False`) smoke-test the nearest environment for `model`
        (the options: kresolve.api.lock)."""
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
        job = self._prepare(model, python, platform, requirements, gpu, cuda_driver, glibc, macos, exclude_newer, era_cap)
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
        no_weights = None
        if facts.format is ModelFormat.SAVEDMODEL:  # the SavedModel reader is imported for SavedModels only
            from .artifact.savedmodel import missing_variables

            no_weights = missing_variables(facts)
        if no_weights and smoke:
            raise BadInput(no_weights)
        warnings += (no_weights,) if no_weights else ()
        index_config, cache = self.index_config, self.cache
        solved = solve_targets(targets, lambda t, needs: self._solve(replace(job, extra=job.extra + needs), target=t),
                               conda_side, tmpl, conda_channels, cache.root / "conda", self._offline, job.exclude_newer)
        env, warnings = solved.environments[0], warnings + solved.warnings
        command = command or "kresolve lock " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["lock"] else [str(model)])
        report = Report(
            kresolve_version=__version__,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            inputs=ReportInputs(
                model=str(model), command=command, target=target.describe(), indexes=tuple(index_config.urls),
                rules_root=rules.root, rules_count=rules.count, policy=approved, exclude_newer=job.exclude_newer,
                platforms=tuple(t.platform for t in targets), channels=tuple(c.url for c in conda_channels),
                template=tmpl.path if tmpl else None),
            facts=facts,
            training=training,
            environment=env,
            conda=tuple(solved.solutions.items()),
            custom_code=CustomObjectsInput(custom_objects, requirements, tuple(provided_classes(facts, rules).items())),
            advisories=tuple(pin_advisories(((p.name, p.version) for p in env.pins), facts, rules)),
            companions=tuple(companion_packages(facts, rules)),
            formats=choice,
            warnings=warnings,
        )
        if dry_run:  # solved and reported; nothing written, nothing built
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
            report = replace(report, lockfiles=tuple(staging.names))
            result = None
            if smoke:
                # Here: --no-smoke never loads filelock/asyncio.
                from .diagnose import KnownCauses
                from .smoke.run import Attempt, attempts_for, smoke_test

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
                    paths=code_paths or ((".",) if custom_objects else ()), progress=self._progress,
                    diagnoser=KnownCauses(rules),
                )
                report = replace(report, smoke=result)
            staging.write(REPORT, json.dumps(report.to_json(), indent=2) + "\n")
            if result is not None and result.status is SmokeStatus.FAILED:
                kept = staging.keep_as("kresolve-failed")
                raise SmokeFailed(f"smoke test failed for {model}: {result.reason} (the new lock is in {kept}; existing files were left as they were)")
            written = staging.commit()
        except BaseException:
            staging.discard()
            raise
        return LockResult(facts, env, tuple(written), result, report, warnings, choice)

    def explain(
        self,
        model: str | Path,
        python: str | None = None,
        platform: str | None = None,
        requirements: tuple[str, ...] = (),
        gpu: bool = False,
        cuda_driver: str | None = None,
        exclude_newer: str | date | None = None,
        era_cap: bool = True,
        glibc: str | tuple[int, int] | None = None,
        macos: str | tuple[int, int] | None = None,
    ) -> Explanation:
        """Why each pin (rules, sources, distance); on failure, the conflict and what would solve it.
        Every re-solve for another target reads its pages from the session's one Index."""
        job = self._prepare(model, python, platform, requirements, gpu, cuda_driver, glibc, macos, exclude_newer, era_cap)
        try:
            env = self._solve(job)
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
                env = self._solve(job, target=target, use_policy=keep_policy)
            except Unsolvable:
                continue
            core = ", ".join(f"{p.name} {p.version}" for p in env.pins if p.top_level)
            alternatives.append((words, f"solves with {core} (route {env.plan.route.id})"))
        return Explanation(job.facts, job.training, job.target, None, failure, tuple(alternatives))

    def lock_many(
        self,
        models: list[str | Path] | tuple[str | Path, ...],
        python: str | None = None,
        platform: str | None = None,
        out_dir: str | Path = ".",
        smoke: bool = True,
        trust_model: bool = False,
        command: str | None = None,
        custom_objects: tuple[str, ...] = (),
        code_paths: tuple[str, ...] = (),
    ) -> ManyLockResult:
        """One environment for several models: kresolve.together.lock_many, on this session."""
        from .together import lock_many

        return lock_many(models, python=python, platform=platform, out_dir=out_dir, smoke=smoke, trust_model=trust_model,
                         offline=self._offline, index_config=self.index_config, cache=self.cache, rules=self.rules,
                         policy=self._policy_source,
                         command=command, custom_objects=custom_objects, code_paths=code_paths, index=self.index)

    # ------------------------------------------------------------------ proving and installing

    def smoke(
        self,
        model: str | Path,
        lock_file: str | Path,
        loader: str | None = None,
        trust_model: bool = False,
        custom_objects: tuple[str, ...] = (),
        code_paths: tuple[str, ...] = (),
    ) -> SmokeResult:
        """Build an env from an existing lock (on this host), load the model there, compare
        outputs (the details: kresolve.api.smoke)."""
        from .diagnose import KnownCauses
        from .install import LockKind, read_lock
        from .smoke.run import Attempt, attempts_for, pins_in_lock, smoke_test

        facts = self.inspect(model)
        read = read_lock(lock_file)
        text, recorded, env_vars = read.pip_text, read.loader, read.env_vars
        if not text:
            raise BadInput(f"{lock_file}: the lock has no pip packages for this host: nothing to build a smoke env from")
        lock_path = Path(lock_file)
        cache = self.cache
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
                routes = [p.route for p in plans_for(facts, self.rules)]
            except Unsolvable:
                routes = []
            attempts = attempts_for(attempts[0], routes, pins_in_lock(text))
        return smoke_test(
            facts, lock_path, attempts, make_target(), self.index_config,
            cache.root / "envs", trust=trust_model, modules=custom_objects,
            paths=code_paths or ((".",) if custom_objects else ()), progress=self._progress,
            diagnoser=KnownCauses(self.rules),
        )

    def install(self, lock_file: str | Path, prefix: str | None = None, name: str | None = None,
                python: str | None = None) -> InstallResult:
        """Create (or update) the environment `lock_file` describes at `prefix`, or at the
        conda environment `name`; conda packages are cached in the session's cache."""
        from .install import install, prefix_for

        return install(lock_file, prefix_for(prefix, name), cache_dir=self.cache.root / "conda-pkgs", python=python,
                       index_config=self.index_config, offline=self._offline)

    # ------------------------------------------------------------------ the rules database

    def diagnose(self, text: str | bytes, installed: Mapping[str, str] | None = None) -> tuple[Diagnosis, ...]:
        """Known causes of a model-load error text, most likely first (kresolve.diagnose)."""
        from .diagnose import diagnose  # the smoke stage's reader of failures: loaded where one is read

        return diagnose(text, self.rules, installed)

    def rules_check(self) -> list[Finding]:
        """Schema and consistency findings about the session's rules database."""
        from .rules.check import check_rules

        return check_rules(self.rules, Path(self.rules.root).parent)

    def rules_show(self, package: str, version: str | None = None) -> list[RuleLine]:
        """Every rule about `package` (only those that apply to `version`, a PEP 440 version)."""
        from .rules.show import rules_about

        if version is not None:
            from packaging.version import InvalidVersion, Version

            try:
                Version(version)
            except InvalidVersion:
                raise BadInput(f"rules show {package} {version}: not a version (PEP 440, e.g. 2.15.1)") from None
        return rules_about(self.rules, package, version)

    def rules_verify(self, packages: Iterable[str] = (), rule_ids: Iterable[str] = ()) -> list[Disagreement]:
        """The constraint rules (about `packages`, or with `rule_ids`; default all) cross-checked
        against the index's wheel metadata. An unknown package or rule id is bad input."""
        from packaging.utils import canonicalize_name

        from .rules.verify import verify_rules

        packages, rule_ids = tuple(packages), tuple(rule_ids)
        rules = self.rules
        known = {canonicalize_name(c.when.name) for c in rules.constraints}
        for package in packages:
            if canonicalize_name(package) not in known:
                raise BadInput(f"rules verify {package}: no constraint rule is about {package!r} "
                               f"(rules exist for {len(known)} packages, e.g. {', '.join(sorted(known)[:6])})")
        ids = {c.id for c in rules.constraints}
        for rule_id in rule_ids:
            if rule_id not in ids:
                raise BadInput(f"rules verify --rule {rule_id}: no constraint rule has this id (see kresolve rules show PKG)")
        return verify_rules(rules, self.index, packages, rule_ids)


# ---------------------------------------------------------------------- argument checks and helpers


def _exclude_newer(text: str | date | None) -> date | None:
    if text is None or isinstance(text, date):
        return text
    try:
        return parse_user_date(text)
    except ValueError as exc:
        raise BadInput(f"--exclude-newer {text!r}: expected YYYY-MM-DD or an RFC 3339 timestamp ({exc})") from None


def _requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise BadInput(f"--requirement {text!r}: {exc}") from None


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


__all__ = ["REPORT_MARKER", "Explanation", "LockResult", "Session", "check_out_dir"]
