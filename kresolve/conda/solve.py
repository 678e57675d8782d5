"""Solve the conda side of a lock with py-rattler (no conda binary): real repodata, real solver.

What conda provides: the target's Python, pip, the CUDA toolkit and cuDNN for GPU targets of
TensorFlow lines whose GPU build takes them from the system (no `nvidia-*` wheels: the
`[[accelerator]]` rules with an empty `requires`), and the template's conda packages. The
same code path reaches conda-forge and a local `file://` channel.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from packaging.utils import canonicalize_name

from ..errors import BadInput, IndexUnavailable, Unsolvable
from ..solve.resolve import Environment
from ..target import Target
from .channels import CondaChannel
from .virtual import VirtualPackage, virtual_packages

if TYPE_CHECKING:
    from rattler import RepoDataRecord
    from rattler.platform.subdir import SubdirLiteral

SOLVE_TIMEOUT = datetime.timedelta(minutes=5)

# conda names whose PyPI distribution is named otherwise (the rest: the same name). Only packages
# that are Python distributions (noarch: python, or depending on python) are mapped at all.
PYPI_NAMES = {
    "pytorch": "torch",
    "msgpack-python": "msgpack",
    "python-flatbuffers": "flatbuffers",
    "py-opencv": "opencv-python",
    "tensorflow-base": None,  # the libraries of tensorflow, not a distribution of its own
    "pip": "pip",
}
NOT_DISTRIBUTIONS = frozenset({"python", "python_abi", "libpython-static"})


@dataclass(frozen=True)
class CondaSpec:
    spec: str  # a conda MatchSpec: "python 3.11.*"
    reason: str


@dataclass(frozen=True)
class CondaPackage:
    name: str
    version: str
    build: str
    build_number: int
    url: str
    md5: str
    sha256: str | None
    depends: tuple[str, ...]
    subdir: str
    channel: str
    file_name: str
    noarch_python: bool

    @property
    def pypi_name(self) -> str | None:
        """The PyPI distribution this package installs (canonical), or None if it is not one."""
        if self.name in NOT_DISTRIBUTIONS or self.name.startswith("__"):
            return None
        if not (self.noarch_python or any(_dep_name(d) == "python" for d in self.depends)):
            return None
        name = PYPI_NAMES.get(self.name, self.name)
        return canonicalize_name(name) if name else None

    def dependencies(self) -> dict[str, str]:
        """`depends` as conda-lock writes it: name -> the rest of the spec ("" for any)."""
        found: dict[str, str] = {}
        for dep in self.depends:
            name, _, rest = dep.strip().partition(" ")
            found[name] = rest.strip()
        return found


@dataclass(frozen=True)
class CondaSolution:
    platform: str
    channels: tuple[CondaChannel, ...]
    specs: tuple[CondaSpec, ...]
    packages: tuple[CondaPackage, ...]
    virtual: tuple[VirtualPackage, ...]

    def provided(self) -> dict[str, CondaPackage]:
        """PyPI name -> the conda package that installs it (the pip side takes these as fixed)."""
        return {p.pypi_name: p for p in self.packages if p.pypi_name}


def _dep_name(spec: str) -> str:
    return spec.strip().split(" ")[0].split("=")[0].split("<")[0].split(">")[0]


def gpu_cuda(env: Environment | None) -> tuple[str, str] | None:
    """(cuda, cudnn) conda must bring for this environment, or None: only for GPU targets of lines
    whose GPU build takes CUDA from the system (the accelerator rule adds nothing from pip)."""
    acc = env.accelerator if env is not None else None
    if env is None or not env.target.gpu or acc is None or not acc.cuda or acc.requires:
        return None
    return acc.cuda, acc.cudnn or ""


def conda_specs(target: Target, env: Environment | None, template: Sequence[str] = (),
                template_name: str = "the template") -> tuple[CondaSpec, ...]:
    """The conda packages to solve for `target`: Python, pip, CUDA where needed, the template's."""
    python = target.python_full or target.python
    specs = [CondaSpec(f"python {python}.*", f"the target Python {python}"),
             CondaSpec("pip", "installs the pip section of the lock")]
    cuda = gpu_cuda(env)
    if cuda is not None and env is not None and env.accelerator is not None:
        rule = env.accelerator.id
        specs.append(CondaSpec(f"cudatoolkit {cuda[0]}.*", f"CUDA {cuda[0]} for the GPU build (rule {rule})"))
        if cuda[1]:
            specs.append(CondaSpec(f"cudnn {cuda[1]}.*", f"cuDNN {cuda[1]} for the GPU build (rule {rule})"))
    specs += [CondaSpec(s, f"from {template_name}") for s in template]
    return tuple(specs)


def _hex(value: bytes | None) -> str | None:
    return value.hex() if value else None


def _package(record: RepoDataRecord) -> CondaPackage:
    md5 = _hex(record.md5)
    if md5 is None:
        raise IndexUnavailable(f"conda channel {record.channel}: no md5 for {record.file_name} in its repodata")
    return CondaPackage(
        name=record.name.normalized, version=str(record.version), build=str(record.build),
        build_number=int(record.build_number), url=str(record.url), md5=md5, sha256=_hex(record.sha256),
        depends=tuple(record.depends), subdir=str(record.subdir), channel=str(record.channel),
        file_name=str(record.file_name), noarch_python=bool(record.noarch.python),
    )


def _channel_named(message: str, channels: Sequence[CondaChannel]) -> str:
    for c in channels:
        if c.url.rstrip("/") in message:
            return c.url
    return ", ".join(c.url for c in channels)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def solve_conda(channels: Sequence[CondaChannel], specs: Sequence[CondaSpec], target: Target,
                env: Environment | None = None, constraints: Sequence[str] = (), cache_dir: Path | None = None,
                offline: bool = False, exclude_newer: datetime.date | None = None) -> CondaSolution:
    """py-rattler's solve for one platform. Unsolvable: exit 1 with rattler's explanation; a
    channel that cannot be read (unreachable, 404, no repodata): exit 4 naming its URL.
    `constraints`: versions the pip side chose, kept where the channels have them (not installed
    unless something needs them)."""
    import rattler
    from rattler.exceptions import (
        FetchRepoDataError,
        GatewayError,
        InvalidChannelError,
        InvalidMatchSpecError,
        InvalidUrlError,
        SolverError,
    )
    from rattler.repo_data.gateway import SourceConfig

    cuda = gpu_cuda(env)
    virtual = virtual_packages(target, cuda[0] if cuda else None)
    vpkgs = [rattler.GenericVirtualPackage(rattler.PackageName(v.name), rattler.Version(v.version),
                                           rattler.BuildString(v.build)) for v in virtual]
    gateway = rattler.Gateway(cache_dir=cache_dir,
                              default_config=SourceConfig(cache_action="force-cache-only" if offline else "cache-or-fetch"))
    newer = (datetime.datetime.combine(exclude_newer, datetime.time(23, 59, 59), datetime.UTC)
             if exclude_newer else None)
    try:
        match = [rattler.MatchSpec(s.spec) for s in specs]
        limits = [rattler.MatchSpec(c) for c in constraints]
    except InvalidMatchSpecError as exc:
        raise BadInput(f"conda spec: {_one_line(str(exc))}") from None

    async def run() -> list[RepoDataRecord]:
        return await rattler.solve(
            [rattler.Channel(c.url) for c in channels], match, gateway=gateway,
            platforms=[cast("SubdirLiteral", target.platform), "noarch"], virtual_packages=vpkgs, timeout=SOLVE_TIMEOUT,
            constraints=limits or None, exclude_newer=newer, timestamp_policy="allow-missing",
            channel_relations="disabled",
        )

    try:
        records = asyncio.run(run())
    except SolverError as exc:
        asked = ", ".join(s.spec for s in specs)
        virt = ", ".join(v.spec() for v in virtual)
        raise Unsolvable(f"the conda side does not solve on {target.platform} ({asked}; target has {virt}): "
                         f"{_one_line(str(exc))}") from None
    except (GatewayError, FetchRepoDataError, InvalidChannelError, InvalidUrlError) as exc:
        where = _channel_named(str(exc), channels)
        note = " (--offline: only the cache was used)" if offline else ""
        raise IndexUnavailable(f"conda channel {where} could not be read for {target.platform}{note}: "
                               f"{_one_line(str(exc))}") from None
    packages = sorted((_package(r) for r in records), key=lambda p: p.name)
    return CondaSolution(target.platform, tuple(channels), tuple(specs), tuple(packages), virtual)
