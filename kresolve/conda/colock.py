"""Co-resolve the conda and pip sides of a lock, one platform at a time.

1. kresolve's pip solve for the target (the model's needs, plus the template's pip list);
2. py-rattler's conda solve: Python, pip, CUDA/cuDNN where the GPU build needs them from the
   system, the template's conda list, with the versions the pip side chose as constraints (kept
   where the channels have them; dropped, and the conda solve retried, where they do not);
3. every conda package that is a Python distribution becomes a fixed `==` requirement of the
   pip solve ("provided by conda package X"), which is re-run until nothing new overlaps; the
   writers then leave those packages out of the pip section, so nothing is in both.
A template pin that conflicts with what the model needs surfaces in step 3 as an ordinary pip
conflict (exit 1, naming the conda package); an unsolvable conda side is rattler's explanation.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import Unsolvable
from ..rules.plan import Need
from ..solve.resolve import Environment
from ..target import Target

if TYPE_CHECKING:  # every lock passes through solve_targets; only conda formats need these (rattler, asyncio, yaml)
    from ..lock.template import Template
    from .channels import CondaChannel
    from .solve import CondaPackage, CondaSolution

MAX_ROUNDS = 4  # pip re-solves after the conda side fixed some packages

SolvePip = Callable[[Target, tuple[Need, ...]], Environment]


@dataclass(frozen=True)
class CoResolved:
    environments: tuple[Environment, ...]  # the pip side per target (conda-provided pins included)
    solutions: dict[str, CondaSolution]  # platform -> the conda side


def provided_need(pypi: str, pkg: CondaPackage) -> Need | None:
    try:
        Version(pkg.version)
    except InvalidVersion:
        return None  # not a PEP 440 version: pip cannot be told it; the writers still leave it out
    return Need(Requirement(f"{pypi}=={pkg.version}"),
                f"provided by conda package {pkg.name} {pkg.version} ({pkg.build}, {pkg.channel.rstrip('/')})")


def _constraints(env: Environment) -> list[str]:
    found = []
    for pin in env.pins:
        try:
            Version(pin.version)
        except InvalidVersion:
            continue
        found.append(f"{canonicalize_name(pin.name)} =={pin.version}")
    return found


def co_resolve_target(target: Target, solve_pip: SolvePip, channels: Sequence[CondaChannel],
                      template_conda: Sequence[str] = (), template_name: str = "the template",
                      template_needs: tuple[Need, ...] = (), cache_dir: Path | None = None, offline: bool = False,
                      exclude_newer: datetime.date | None = None) -> tuple[Environment, CondaSolution]:
    from .solve import conda_specs, solve_conda  # here: a pip-only lock never loads the conda solver

    env = solve_pip(target, template_needs)
    specs = conda_specs(target, env, template_conda, template_name)
    try:
        solution = solve_conda(channels, specs, target, env, _constraints(env), cache_dir, offline, exclude_newer)
    except Unsolvable:
        # The pip side's versions are preferences, not conda's requirements: without them the
        # conda side may solve, and the pip re-solve below then explains any real conflict.
        solution = solve_conda(channels, specs, target, env, (), cache_dir, offline, exclude_newer)
    fixed: dict[str, Need] = {}
    for _ in range(MAX_ROUNDS):
        names = {canonicalize_name(p.name) for p in env.pins}
        new = {n: need for n, pkg in solution.provided().items()
               if n in names and n not in fixed and (need := provided_need(n, pkg)) is not None}
        if not new:
            break
        fixed |= new
        env = solve_pip(target, template_needs + tuple(fixed.values()))
    return env, solution


def co_resolve(targets: Sequence[Target], solve_pip: SolvePip, channels: Sequence[CondaChannel],
               template_conda: Sequence[str] = (), template_name: str = "the template",
               template_needs: tuple[Need, ...] = (), cache_dir: Path | None = None, offline: bool = False,
               exclude_newer: datetime.date | None = None) -> CoResolved:
    envs: list[Environment] = []
    solutions: dict[str, CondaSolution] = {}
    for target in targets:
        env, solution = co_resolve_target(target, solve_pip, channels, template_conda, template_name,
                                          template_needs, cache_dir, offline, exclude_newer)
        envs.append(env)
        solutions[target.platform] = solution
    return CoResolved(tuple(envs), solutions)


@dataclass(frozen=True)
class Solved:
    environments: tuple[Environment, ...]  # one per target, the first is the primary target's
    solutions: dict[str, CondaSolution]  # platform -> conda side (empty without a conda format)
    warnings: tuple[str, ...] = ()


def template_needs(template: Template | None) -> tuple[Need, ...]:
    if template is None:
        return ()
    return tuple(Need(Requirement(r), f"from the template {template.path}") for r in template.pip)


def solve_targets(targets: Sequence[Target], solve_pip: SolvePip, conda: bool, template: Template | None,
                  channels: Sequence[CondaChannel], cache_dir: Path | None = None, offline: bool = False,
                  exclude_newer: datetime.date | None = None) -> Solved:
    """Every target's environment; with `conda` (a conda format asked for) co-resolved with the
    conda side. The template's pip list joins the pip solve either way."""
    needs = template_needs(template)
    if not conda:
        warnings = ((f"{template.path}: its conda dependencies are used only by --format conda-lock or env",)
                    if template is not None and template.conda else ())
        return Solved(tuple(solve_pip(t, needs) for t in targets), {}, warnings)
    co = co_resolve(targets, solve_pip, channels, template.conda if template else (),
                    f"the template {template.path}" if template else "the template", needs, cache_dir, offline,
                    exclude_newer)
    return Solved(co.environments, co.solutions)


def _digest_path(path: Path) -> str:
    """sha256 of a model file, or of a model directory's files (names and bytes, sorted)."""
    import hashlib

    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f != path:
            h.update(f.relative_to(path).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def lock_inputs(model: str | Path, targets: Sequence[Target], channels: Sequence[CondaChannel],
                template_text: str | None, extra: dict[str, object]) -> dict[str, object]:
    """What decided a lock, for conda-lock's per-platform `content_hash`."""
    import hashlib

    path = Path(model)
    return {
        "model": _digest_path(path) if path.exists() else str(model),
        "targets": [t.describe() for t in targets],
        "channels": [c.url for c in channels],
        "template": hashlib.sha256(template_text.encode()).hexdigest() if template_text is not None else None,
        **extra,
    }


def conda_json(solutions: dict[str, CondaSolution]) -> dict[str, object]:
    """The conda side for the report: per platform, what was asked, why, and what was solved."""
    return {
        platform: {
            "channels": [c.url for c in s.channels],
            "virtual_packages": [v.spec() for v in s.virtual],
            "specs": [{"spec": c.spec, "reason": c.reason} for c in s.specs],
            "packages": [{"name": p.name, "version": p.version, "build": p.build, "url": p.url,
                          "provides_pypi": p.pypi_name} for p in s.packages],
        }
        for platform, s in solutions.items()
    }
