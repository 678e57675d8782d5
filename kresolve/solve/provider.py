"""The resolvelib Provider: everything the solver knows about packages lives here.

resolvelib's Resolver is the algorithm; this class answers its questions from the index (files,
wheel METADATA), the target (tags, markers, Python) and the rules DB (constraints the metadata
does not state), and orders candidates by distance to the preferred versions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider

from ..index import DistFile, DistMetadata, Index
from ..index.config import Format
from ..index.dates import Boundary, Cutoff, Dater
from ..index.sdist import SDIST_SUFFIXES, is_sdist
from ..index.simple import ProjectFiles
from ..policy import Policy
from ..rules.advisories import Avoid, avoided_by
from ..rules.db import Accelerator, Constraint, Distribution, RulesDB
from ..target import Target
from .distance import order_key
from .preference import Range, parse_preference

PYTHON = "python"
# Resolve the packages that define the environment first (DESIGN.md "Nearest" priority order).
PRIORITY = (PYTHON, "keras", "tf-keras", "tensorflow", "numpy")
# A candidate that turns out unusable once its metadata is read (an sdist whose dependencies only
# running it would tell) depends on itself with this: nothing matches, so the resolver moves on.
UNUSABLE = SpecifierSet("<0")
# A lock pins every file by its sha256 (`--require-hashes`): a file the index lists without one is
# never a candidate, and this is the reason the explanation gives.
NO_HASH = "no sha256 hash on the index (a lock pins every file by its hash)"
NO_RANK = 1 << 30


@dataclass(frozen=True)
class Req:
    """A requirement and where it came from (for explanations)."""

    requirement: Requirement
    parent: str | None = None  # "tensorflow 2.15.1", or None for the route's own needs
    rule_id: str | None = None
    reason: str | None = None
    objective: bool = False  # added by the nearest-objective search (resolve.py), not by the model

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def key(self) -> str:
        return identify(self.name, frozenset(self.requirement.extras))

    def describe(self) -> str:
        if self.parent and self.requirement.specifier == UNUSABLE:
            return f"{self.parent} cannot be used"  # the provider's rejections say why
        if self.parent:
            return f"{self.parent} requires {self.requirement}" + (f" [rule {self.rule_id}]" if self.rule_id else "")
        if self.rule_id:
            return f"the loading route requires {self.requirement} [rule {self.rule_id}]"
        return f"the model requires {self.requirement}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class Candidate:
    name: str  # the distribution on the index
    version: Version
    extras: frozenset[str] = frozenset()
    files: tuple[DistFile, ...] = ()  # wheels installable on the target, best tag first
    provides: str | None = None  # the package it stands in for (tensorflow-macos → tensorflow)
    via_rule: str | None = None  # the [[distribution]] rule that made it stand in

    @property
    def package(self) -> str:
        return self.provides or self.name

    @property
    def key(self) -> str:
        return identify(self.package, self.extras)

    @property
    def from_source(self) -> bool:
        """Its files are sdists: no wheel of this version installs on the target (or --no-binary)."""
        return bool(self.files) and is_sdist(self.files[0].filename)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class VersionFiles(Mapping[Version, list[DistFile]]):
    """A project's versions (from its filenames) and, made on first access, each one's files."""

    def __init__(self, project: ProjectFiles, groups: dict[Version, list[int]]):
        self._project = project
        self._groups = groups
        self._files: dict[Version, list[DistFile]] = {}

    def __getitem__(self, version: Version) -> list[DistFile]:
        files = self._files.get(version)
        if files is None:
            files = [self._project.file(i) for i in self._groups[version]]  # KeyError: no such version
            self._files[version] = files
        return files

    def __iter__(self) -> Iterator[Version]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, version: object) -> bool:
        return version in self._groups


def identify(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


@dataclass
class Rejections:
    """Versions that matched the specifiers but cannot be used on the target, and why."""

    by_name: dict[str, dict[Version, str]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, name: str, version: Version, why: str) -> None:
        self.by_name[name].setdefault(version, why)

    def summary(self, name: str, within: SpecifierSet | None = None, limit: int = 4) -> str | None:
        """Why versions of `name` were unusable, grouped by reason; only those `within` the
        requirement being explained (a 2.21 wheel says nothing about `==2.4.*`)."""
        entries = {v: why for v, why in self.by_name.get(name, {}).items()
                   if within is None or within.contains(v, prereleases=True)}
        if not entries:
            return None
        grouped: dict[str, list[Version]] = defaultdict(list)
        for version, why in entries.items():
            grouped[why].append(version)
        parts = []
        for why, versions in sorted(grouped.items(), key=lambda kv: max(kv[1]), reverse=True):
            versions.sort()
            span = str(versions[0]) if len(versions) == 1 else f"{len(versions)} of the versions {versions[0]}…{versions[-1]}"
            parts.append(f"{span}: {why}")
        return "; ".join(parts[:limit])


class Provider(AbstractProvider):
    def __init__(self, index: Index, target: Target, rules: RulesDB, preferences: Mapping[str, str],
                 policy: Policy | None = None, dater: Dater | None = None, avoid: tuple[Avoid, ...] = ()):
        self.index = index
        # Versions an advisory about this very file covers: ranked after every other candidate.
        self.avoid = avoid
        # The era cap: set by resolve.py once the evidence gives a date (None: newest first).
        self.cutoff: Cutoff | None = None
        self.dater = dater
        self.policy = policy
        self.target = target
        self.rules = rules
        self.preferences = dict(preferences)
        self.rejections = Rejections()
        # Ranked by (interpreter, abi, platform) strings, so a wheel's tag string never becomes Tag objects.
        self._tag_rank: dict[tuple[str, str, str], int] = {}
        for i, tag in enumerate(target.supported_tags()):
            self._tag_rank.setdefault((tag.interpreter, tag.abi, tag.platform), i)
        self._rank_by_tags: dict[str, int] = {}
        self._no_wheel = f"no wheel for {target.describe()}"
        # find_matches is asked again for the same names as criteria narrow: parse once.
        self._by_version: dict[str, VersionFiles] = {}
        self._base: dict[tuple[str, Version], Candidate | None] = {}
        self._markers = target.markers()
        self._python = Version(target.python + ".0")

    # -- resolvelib interface -----------------------------------------------------------------
    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.key

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes) -> tuple:
        base = identifier.split("[")[0]
        causes = {c.requirement.key for c in backtrack_causes} | {c.parent.key for c in backtrack_causes if c.parent}
        rank = PRIORITY.index(base) if base in PRIORITY else len(PRIORITY)
        pinned = any(
            s.operator in ("==", "===") for info in information[identifier] for s in info.requirement.requirement.specifier
        )
        return (identifier not in causes, rank, not pinned, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Sequence[Candidate] | Callable[[], Iterator[Candidate]]:
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        name = reqs[0].name if reqs else identifier.split("[")[0]
        extras = frozenset(e for r in reqs for e in r.requirement.extras)
        if name == PYTHON:
            ok = all(r.requirement.specifier.contains(self._python, prereleases=True) for r in reqs)
            return [Candidate(PYTHON, self._python)] if ok and self._python not in bad else []
        specifier = SpecifierSet()
        for r in reqs:
            specifier &= r.requirement.specifier
        # A factory: resolvelib takes candidates from the front and rarely goes far, so each
        # version's files are only looked at (tags ranked, hashes checked) when it is reached.
        return self._lazy_matches(name, specifier, bad, extras)

    def matches(self, name: str, specifier: SpecifierSet, bad: frozenset[Version] | set[Version] = frozenset(),
                extras: frozenset[str] = frozenset()) -> list[Candidate]:
        """Installable candidates of `name` within `specifier`, nearest (or era-ordered) first."""
        return list(self._lazy_matches(name, specifier, bad, extras)())

    def _lazy_matches(self, name: str, specifier: SpecifierSet, bad: frozenset[Version] | set[Version],
                      extras: frozenset[str]) -> Callable[[], Iterator[Candidate]]:
        """The versions in order, decided now from version numbers alone; their candidates made
        as they are iterated. The order is the one sorting every candidate would give: wheel
        candidates first (as pip's --prefer-binary), then by advisory and distance (or era)."""
        wanted = self.preferences.get(name)
        preferred = parse_preference(wanted) if wanted else None
        allow_pre = bool(preferred is not None and not isinstance(preferred, Range) and preferred.version.is_prerelease) or any(
            s.prereleases for s in specifier)
        entries: list[tuple[str, Version, VersionFiles, Distribution | None]] = []
        aliases = self._distributions(name)
        for dist_name, rule in [(name, None)] + [(d.provided_by, d) for d in aliases]:
            versions = self._versions(dist_name)
            for version in versions:
                if version in bad or not specifier.contains(version, prereleases=True):
                    continue
                if version.is_prerelease and not allow_pre:
                    continue
                if rule is None and any(d.versions.contains(version, prereleases=True) for d in aliases):
                    continue  # on this target another distribution provides these versions
                if rule is not None and not rule.versions.contains(version, prereleases=True):
                    continue
                if self.policy is not None and (blocked := self.policy.verdict(name, version)) is not None:
                    self.rejections.add(name, version, blocked.describe(self.policy.name))
                    continue
                entries.append((dist_name, version, versions, rule))
        boundary = self.boundary(name)
        hard = self.cutoff if boundary is not None and self.cutoff is not None and self.cutoff.hard else None
        if preferred is None and boundary is not None:
            era = boundary
            entries.sort(key=lambda e: (self._avoided(name, e[1]), era_key(e[1], era)))
        else:
            entries.sort(key=lambda e: (self._avoided(name, e[1]), order_key(e[1], preferred)))

        def candidates() -> Iterator[Candidate]:
            sdists: list[Candidate] = []
            prefetched = 0
            for dist_name, version, versions, rule in entries:
                base = self._base_candidate(dist_name, version, versions, name if rule else None, rule.id if rule else None)
                if base is None:
                    continue
                if hard is not None and boundary is not None and boundary.before(version) is False:
                    self.rejections.add(name, version, f"released after --exclude-newer {hard.date.isoformat()}")
                    continue
                cand = base if not extras else Candidate(base.name, version, extras, base.files, base.provides, base.via_rule)
                if cand.from_source:
                    sdists.append(cand)  # an sdist only when no wheel candidate is left
                    continue
                if prefetched < 2:
                    prefetched += 1
                    self.index.prefetch_metadata([cand.files[0]], then=self._prefetch_pages)
                yield cand
            for cand in sdists:
                if prefetched < 2:
                    prefetched += 1
                    self.index.prefetch_metadata([cand.files[0]])
                yield cand

        return candidates

    def _prefetch_pages(self, meta: DistMetadata) -> None:
        """Once a likely candidate's METADATA is read, ask for its dependencies' index pages:
        the resolver would ask for them only after pinning it, one level of the dependency
        tree at a time (on a cold cache, most of a lock's wall time is that chain of waits).
        Only the dependencies it has on the target (markers evaluated, no extras)."""
        names = set()
        for line in meta.requires_dist:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if self._wanted(req, frozenset()):
                names.add(canonicalize_name(req.name))
        try:
            self.index.prefetch(sorted(names))
        except RuntimeError:
            pass  # the index is closing (cannot schedule new futures after shutdown)

    def _avoided(self, name: str, version: Version) -> bool:
        return avoided_by(self.avoid, name, version) is not None

    def boundary(self, name: str) -> Boundary | None:
        """Where the era cap falls in this project's versions (None: no cap, or no dater)."""
        if self.cutoff is None or self.dater is None:
            return None
        if name in self.preferences and not self.cutoff.hard:
            return None  # evidence beats the era: the soft cap is for packages without it
        return self.dater.boundary(name, self.cutoff.date, self._versions, self.cutoff.hard)

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        return requirement.requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> Iterable[Req]:
        if candidate.name == PYTHON:
            return []
        meta = self.index.metadata(candidate.files[0])
        parent = str(candidate)
        if meta.unknown_dependencies:
            self.rejections.by_name[candidate.package][candidate.version] = meta.unknown_dependencies
            return [Req(Requirement(f"{candidate.package}{UNUSABLE}"), parent, reason=meta.unknown_dependencies)]
        deps: list[Req] = []
        if candidate.extras:
            # An extra is the base distribution plus the extra's own requirements.
            deps.append(Req(Requirement(f"{candidate.package}=={candidate.version}"), parent))
        if meta.requires_python:
            req = _python_requirement(meta.requires_python)
            if req is not None:
                deps.append(Req(req, parent, reason="Requires-Python in its METADATA"))
        for line in meta.requires_dist:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue  # pip skips unparsable lines too; the package still installs
            if not self._wanted(req, candidate.extras):
                continue
            req.marker = None
            deps.append(Req(req, parent))
        if not candidate.extras:
            for rule, req in self._rule_requirements(candidate.package, candidate.version):
                deps.append(Req(req, parent, rule.id, rule.reason))
            accelerator = self.accelerator(candidate.package, candidate.version)
            if accelerator is not None:
                deps.extend(Req(r, parent, accelerator.id, accelerator.reason) for r in accelerator.requires)
        self.index.prefetch(d.name for d in deps if d.name != PYTHON)
        if self.cutoff is not None and self.dater is not None:
            self.dater.prefetch({d.name for d in deps if d.name != PYTHON and (self.cutoff.hard or d.name not in self.preferences)},
                                self.cutoff.date, self._versions, self.cutoff.hard)
        return deps

    # -- helpers -----------------------------------------------------------------------------
    def _rule_requirements(self, name: str, version: Version) -> list[tuple[Constraint, Requirement]]:
        """The rules' extra requirements for this release that apply on the target (markers)."""
        found = []
        for rule in self.rules.constraints_for(name, version):
            for req in rule.requires:
                if req.marker is not None:
                    if not req.marker.evaluate({**self._markers, "extra": ""}):
                        continue
                    req = Requirement(str(req).split(";")[0])
                found.append((rule, req))
        return found

    def _wanted(self, req: Requirement, extras: frozenset[str]) -> bool:
        if req.marker is None:
            return not extras  # unconditional deps belong to the base candidate
        if not extras:
            return req.marker.evaluate({**self._markers, "extra": ""})
        return any(req.marker.evaluate({**self._markers, "extra": e}) for e in extras) and not req.marker.evaluate(
            {**self._markers, "extra": ""}
        )

    def _versions(self, name: str) -> VersionFiles:
        """The project's files by version. Only names and versions are read from the filenames
        here (a page lists every file of every release: grpcio 11,000, most never looked at);
        a version's files are made when it is looked at, and their tags ranked in
        _make_candidate, for the versions the resolver reaches."""
        found = self._by_version.get(name)
        if found is None:
            project = self.index.project(name)
            found = VersionFiles(project, project.by_version(lambda filename: file_version(filename, name)))
            self._by_version[name] = found
        return found

    def _wheel_rank(self, filename: str) -> int:
        """The best (lowest) rank of the wheel's tags among the target's; NO_RANK: not installable."""
        tags = filename[:-4].rsplit("-", 3)[-3:]
        key = "-".join(tags)
        rank = self._rank_by_tags.get(key)
        if rank is None:
            rank = min((self._tag_rank.get(t, NO_RANK) for t in wheel_tags(key)), default=NO_RANK)
            self._rank_by_tags[key] = rank
        return rank

    def _distributions(self, package: str) -> list[Distribution]:
        """Rules by which another distribution provides `package` on this target."""
        return [
            d for d in self.rules.distributions
            if d.package == package and self.target.platform in d.platforms and d.gpu in (None, self.target.gpu)
        ]

    def accelerator(self, package: str, version: Version) -> Accelerator | None:
        """The GPU facts for this release on the target, when solving for a GPU."""
        if not self.target.gpu:
            return None
        for rule in self.rules.accelerators:
            if (canonicalize_name(rule.when.name) == package and self.target.platform in rule.platforms
                    and rule.when.specifier.contains(version, prereleases=True)):
                return rule
        return None

    def _base_candidate(self, name: str, version: Version, versions: VersionFiles, provides: str | None = None,
                        via_rule: str | None = None) -> Candidate | None:
        key = (name, version)
        if key not in self._base:
            made = self._make_candidate(name, version, versions[version], provides or name)
            if made is not None and provides:
                made = Candidate(made.name, version, frozenset(), made.files, provides, via_rule)
            self._base[key] = made
        return self._base[key]

    def _make_candidate(self, name: str, version: Version, files: list[DistFile], package: str) -> Candidate | None:
        """Its wheels for the target, best tag first; else its sdist (unless --only-binary).

        An sdist candidate's dependencies are read from the sdist when the resolver first asks
        (get_dependencies): most sdist candidates are never tried, so none is downloaded here.
        """
        wheels: list[tuple[int, DistFile]] = []
        sdists: list[DistFile] = []
        reasons = set()
        allowed = self.index.config.formats.allowed(package)
        for dist in files:
            wheel = dist.filename.endswith(".whl")
            if not wheel and not is_sdist(dist.filename):
                continue  # eggs, installers: nothing pip installs
            if dist.yanked:
                reasons.add("yanked")
                continue
            if dist.requires_python and not _python_ok(dist.requires_python, self._python):
                reasons.add(f"Requires-Python {dist.requires_python}")
                continue
            if not wheel:
                if Format.SOURCE in allowed and not dist.sha256:
                    reasons.add(NO_HASH)
                elif Format.SOURCE in allowed:
                    sdists.append(dist)
                else:
                    reasons.add("only a source distribution, and --only-binary forbids building it")
                continue
            if Format.BINARY not in allowed:
                reasons.add("--no-binary: its wheels are not used")
                continue
            rank = self._wheel_rank(dist.filename)
            if rank == NO_RANK:
                reasons.add(self._no_wheel)
                continue
            if not dist.sha256:
                reasons.add(NO_HASH)
                continue
            wheels.append((rank, dist))
        if not wheels and not sdists:
            self.rejections.add(package, version, _most_telling(reasons))
            return None
        for rule, req in self._rule_requirements(package, version):
            if canonicalize_name(req.name) == PYTHON and not req.specifier.contains(self._python, prereleases=True):
                self.rejections.add(package, version, f"rule {rule.id}: {rule.reason}")
                return None
        gpu = self.accelerator(package, version)
        if self.target.gpu and gpu is not None:
            if gpu.cuda is None and not gpu.requires:
                self.rejections.add(package, version, f"no GPU build on {self.target.platform} (rule {gpu.id}: {gpu.note})")
                return None
            if gpu.min_driver and self.target.cuda_driver and _driver_key(self.target.cuda_driver) < _driver_key(gpu.min_driver):
                self.rejections.add(package, version, f"its CUDA {gpu.cuda} needs NVIDIA driver ≥ {gpu.min_driver} (rule {gpu.id})")
                return None
        if not wheels and reasons and Format.BINARY in allowed:
            # Still the explanation when this version is not chosen: why no wheel of it was used.
            self.rejections.add(package, version, _most_telling(reasons) + " (its sdist is tried after every wheel)")
        wheels.sort(key=lambda rw: rw[0])
        chosen = tuple(d for _, d in wheels) or tuple(sorted(sdists, key=lambda d: SDIST_SUFFIXES.index(
            next(x for x in SDIST_SUFFIXES if d.filename.endswith(x)))))
        return Candidate(name, version, frozenset(), chosen)


def era_key(version: Version, boundary: Boundary) -> tuple:
    """Newest released before the cut-off first; then later ones, the nearest in time first."""
    before = boundary.before(version)
    if before is None or before:
        return (0, order_key(version, None))
    return (1, version)


def _driver_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _most_telling(reasons: set[str]) -> str:
    for prefix in (NO_HASH, "no wheel", "Requires-Python", "yanked", "only a source", "--no-binary"):
        for r in sorted(reasons):
            if r.startswith(prefix):
                forbidden = prefix == "no wheel" and any(x.startswith("only a source") for x in reasons)
                return r + ("; its source distribution is not used (--only-binary)" if forbidden else "")
    return "no usable file"


def _python_requirement(requires_python: str) -> Requirement | None:
    try:
        return Requirement(f"{PYTHON}{SpecifierSet(requires_python)}")
    except (InvalidSpecifier, InvalidRequirement):
        return None  # malformed Requires-Python: pip ignores it as well


@lru_cache(maxsize=4096)
def _python_ok(requires_python: str, python: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True


# -- filenames -------------------------------------------------------------------------------
# The same checks as packaging.utils.parse_wheel_filename / parse_sdist_filename (a file they
# refuse is not a candidate), done on strings and cached per distinct part: a lock sees ~50,000
# filenames but a few hundred distinct names, versions and tag strings.
_WHEEL_NAME = re.compile(r"^[\w\d._]*$", re.UNICODE)
_BUILD_TAG = re.compile(r"(\d+)(.*)")


@lru_cache(maxsize=4096)
def _wheel_name(part: str) -> str | None:
    if "__" in part or not part or _WHEEL_NAME.match(part) is None:
        return None
    return canonicalize_name(part)


@lru_cache(maxsize=4096)
def _sdist_name(part: str) -> str:
    return canonicalize_name(part)


@lru_cache(maxsize=16384)
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=8192)
def wheel_tags(tags: str) -> tuple[tuple[str, str, str], ...]:
    """`cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64` → its (interpreter, abi, platform)
    triples, lower-cased as packaging.tags.Tag does; () for a tag string packaging refuses."""
    parts = [component.split(".") for component in tags.split("-")]
    if len(parts) != 3 or any("" in p for p in parts) or not all(i.isidentifier() for i in parts[0]):
        return ()
    return tuple((i.lower(), a.lower(), p.lower()) for i in parts[0] for a in parts[1] for p in parts[2])


def file_version(filename: str, name: str) -> Version | None:
    """The version of a wheel or sdist of project `name` (canonical); None for another project's
    file, an unparsable name, or a file pip would not install."""
    if filename.endswith(".whl"):
        stem = filename[:-4]
        dashes = stem.count("-")
        if dashes not in (4, 5):
            return None
        parts = stem.split("-", dashes - 2)
        if _wheel_name(parts[0]) != name:
            return None
        if dashes == 5 and _BUILD_TAG.match(parts[2]) is None:
            return None
        if not wheel_tags(parts[-1]):
            return None
        return _version(parts[1])
    for ext in (".tar.gz", ".zip", ".tar.bz2"):
        if filename.endswith(ext):
            prefix, _, version = filename[: -len(ext)].rpartition("-")
            return _version(version) if _sdist_name(prefix) == name else None
    return None
