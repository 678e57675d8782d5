"""The Python API: every CLI command is a function call away. I/O lives here, at the edge.

Each function builds one kresolve.session.Session from its keyword options (the rules, index
configuration, cache and policy it shares between its stages) and runs the command on it; several
commands in a row can share one Session themselves.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .artifact.facts import ModelFacts
from .constants import REPORT_FILE as REPORT
from .index import Cache, IndexConfig, read_pip_config
from .lock.formats import LockFormat
from .lockreport import Report
from .progress import Progress
from .rules.db import RulesDB
from .rules.infer import TrainingEnv
from .session import REPORT_MARKER, Explanation, LockResult, Session, check_out_dir

if TYPE_CHECKING:  # imported where used: the smoke test (filelock, asyncio), the scan machinery
    from .scan import ScanResult
    from .smoke.run import SmokeResult
    from .together import ManyLockResult

__all__ = ["REPORT", "REPORT_MARKER", "Explanation", "LockResult", "Report", "Session", "check_out_dir", "explain",
           "infer_training_env", "inspect", "lock", "lock_many", "scan", "smoke"]


def inspect(path: str | Path) -> ModelFacts:
    """What the artifact says about itself. Never imports TensorFlow, never runs model code."""
    return Session().inspect(path)


def infer_training_env(facts: ModelFacts, rules: RulesDB | None = None) -> TrainingEnv:
    """The training environment as far as the evidence tells (ranges, confidence, reasons)."""
    return Session(rules=rules).infer(facts)


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
    with Session(index_config=index_config, offline=offline, progress=progress, policy=policy, cache=cache,
                 rules=rules, only_binary=only_binary, no_binary=no_binary) as session:
        return session.lock(model, python=python, platform=platform, out_dir=out_dir, smoke=smoke,
                            trust_model=trust_model, command=command, requirements=requirements,
                            custom_objects=custom_objects, code_paths=code_paths, gpu=gpu, cuda_driver=cuda_driver,
                            exclude_newer=exclude_newer, era_cap=era_cap, formats=formats,
                            format_options=format_options, glibc=glibc, macos=macos, dry_run=dry_run,
                            platforms=platforms, channels=channels, template=template)


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
    with Session(index_config=index_config, offline=offline, progress=progress, policy=policy, cache=cache,
                 rules=rules, only_binary=only_binary, no_binary=no_binary) as session:
        return session.explain(model, python=python, platform=platform, requirements=requirements, gpu=gpu,
                               cuda_driver=cuda_driver, exclude_newer=exclude_newer, era_cap=era_cap,
                               glibc=glibc, macos=macos)


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
    with Session(index_config=index_config, cache=cache, progress=progress) as session:
        return session.smoke(model, lock_file, loader=loader, trust_model=trust_model,
                             custom_objects=custom_objects, code_paths=code_paths)


def lock_many(models: list[str | Path] | tuple[str | Path, ...], **options: Any) -> ManyLockResult:
    """One environment for several models (`kresolve lock A B C`): see kresolve.together.lock_many.
    Raises solve.many.CoConflict (an Unsolvable) naming which model conflicts with which."""
    from .together import lock_many as _lock_many

    return _lock_many(models, **options)


def scan(paths: list[str | Path] | tuple[str | Path, ...], pythons: tuple[str, ...] = (), platforms: tuple[str, ...] = (),
         policy: str | Path | None = None, smoke: bool = False, jobs: int = 1, out_dir: str | Path = ".",
         resume: bool = False, scheduler: str | None = None, formats: tuple[str, ...] = (),
         index_config: IndexConfig | None = None, offline: bool = False, trust_model: bool = False,
         timeout: float = 1800.0) -> ScanResult:
    """The fleet view (`kresolve scan`): every model under `paths` on every target (each of
    `pythons` × each of `platforms`, default this host); writes scan.json and scan.html to
    `out_dir` and returns the kresolve.scan.ScanResult."""
    from .scan import ScanOptions, TargetSpec, run_scan

    targets = tuple(dict.fromkeys(TargetSpec(py, pl) for py in (pythons or (None,)) for pl in (platforms or (None,))))
    options = ScanOptions(targets=targets, policy=str(policy) if policy else None,
                          index_config=index_config or read_pip_config(), offline=offline, smoke=smoke,
                          trust_model=trust_model, timeout=timeout)
    return run_scan(paths, options, out_dir, jobs=jobs, resume=resume, scheduler=scheduler, formats=formats)[0]
