"""The resolvelib Provider: everything the solver knows about packages lives here.

resolvelib's Resolver is the algorithm; this class answers its questions from the index (files,
wheel METADATA), the target (tags, markers, Python) and the rules DB (constraints the metadata
does not state), and orders candidates by distance to the preferred versions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from ..index import DistFile, DistMetadata, Index
from ..index.config import Format
from ..index.dates import Boundary, Cutoff, Dater
from ..index.filenames import wheel_tags
from ..index.requirements import make_requirement, parse_requirement
from ..index.sdist import SDIST_SUFFIXES, is_sdist
from ..index.simple import VersionFiles
from ..policy import Policy
from ..rules.advisories import Avoid, avoided_by
from ..rules.db import Accelerator, Constraint, Distribution, RulesDB
from ..target import Target
from .distance import order_key
from .preference import Preferred, Range, parse_preference

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
        return _canonical(self.requirement.name)

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


_canonical = lru_cache(maxsize=4096)(canonicalize_name)  # Req.name is asked thousands of times a solve


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


class Provider(AbstractProvider[Req, Candidate, str]):
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
        # resolvelib asks again about the same requirements and versions as criteria narrow (and
        # a version's distance each time its project is matched): answers kept per solve, keyed
        # by the objects themselves (hashing a SpecifierSet costs more than asking it), which
        # each entry keeps alive.
        self._contains: dict[tuple[int, int], tuple[SpecifierSet, Version, bool]] = {}
        self._order: dict[tuple[int, int], tuple[Version, Preferred | None, tuple[Any, ...]]] = {}
        self._preferred: dict[str, Preferred] = {}

    def contains(self, specifier: SpecifierSet, version: Version) -> bool:
        """specifier.contains(version, prereleases=True), remembered."""
        key = (id(specifier), id(version))
        found = self._contains.get(key)
        if found is None:
            found = self._contains[key] = (specifier, version, specifier.contains(version, prereleases=True))
        return found[2]

    def _order_key(self, version: Version, preferred: Preferred | None) -> tuple[Any, ...]:
        key = (id(version), id(preferred))
        found = self._order.get(key)
        if found is None:
            found = self._order[key] = (version, preferred, order_key(version, preferred))
        return found[2]

    def _preference(self, name: str) -> Preferred | None:
        """The parsed preference for `name` (one object per text, for _order_key)."""
        wanted = self.preferences.get(name)
        if not wanted:
            return None
        found = self._preferred.get(wanted)
        if found is None:
            found = self._preferred[wanted] = parse_preference(wanted)
        return found

    # -- resolvelib interface -----------------------------------------------------------------
    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.key

    def get_preference(self, identifier: str, resolutions: Mapping[str, Candidate], candidates: Mapping[str, Iterator[Candidate]],
                       information: Mapping[str, Iterator[RequirementInformation[Req, Candidate]]],
                       backtrack_causes: Sequence[RequirementInformation[Req, Candidate]]) -> tuple[bool, int, bool, str]:
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
            ok = all(self.contains(r.requirement.specifier, self._python) for r in reqs)
            return [Candidate(PYTHON, self._python)] if ok and self._python not in bad else []
        # A factory: resolvelib takes candidates from the front and rarely goes far, so each
        # version's files are only looked at (tags ranked, hashes checked) when it is reached.
        # Each requirement's specifier is asked on its own (a version is within their
        # intersection when it is within each), so the answers carry over between calls.
        return self._lazy_matches(name, [r.requirement.specifier for r in reqs], bad, extras)

    def matches(self, name: str, specifier: SpecifierSet, bad: frozenset[Version] | set[Version] = frozenset(),
                extras: frozenset[str] = frozenset()) -> list[Candidate]:
        """Installable candidates of `name` within `specifier`, nearest (or era-ordered) first."""
        return list(self._lazy_matches(name, [specifier], bad, extras)())

    def _lazy_matches(self, name: str, specifiers: Sequence[SpecifierSet], bad: frozenset[Version] | set[Version],
                      extras: frozenset[str]) -> Callable[[], Iterator[Candidate]]:
        """The versions in order, decided now from version numbers alone; their candidates made
        as they are iterated. The order is the one sorting every candidate would give: wheel
        candidates first (as pip's --prefer-binary), then by advisory and distance (or era)."""
        preferred = self._preference(name)
        allow_pre = bool(preferred is not None and not isinstance(preferred, Range) and preferred.version.is_prerelease) or any(
            s.prereleases for specifier in specifiers for s in specifier)
        specifiers = [s for s in specifiers if len(s)]  # an empty one holds every version
        entries: list[tuple[str, Version, VersionFiles, Distribution | None]] = []
        aliases = self._distributions(name)
        for dist_name, rule in [(name, None)] + [(d.provided_by, d) for d in aliases]:
            versions = self._versions(dist_name)
            for version in versions:
                if version in bad or not all(self.contains(s, version) for s in specifiers):
                    continue
                if version.is_prerelease and not allow_pre:
                    continue
                if rule is None and any(self.contains(d.versions, version) for d in aliases):
                    continue  # on this target another distribution provides these versions
                if rule is not None and not self.contains(rule.versions, version):
                    continue
                if self.policy is not None and (blocked := self.policy.verdict(name, version)) is not None:
                    self.rejections.add(name, version, blocked.describe(self.policy.name))
                    continue
                entries.append((dist_name, version, versions, rule))
        boundary = self.boundary(name)
        hard = self.cutoff if boundary is not None and self.cutoff is not None and self.cutoff.hard else None
        avoided = self._avoided_in(name)
        if preferred is None and boundary is not None:
            era = boundary
            entries.sort(key=lambda e: (avoided(e[1]), era_key(e[1], era)))
        else:
            entries.sort(key=lambda e: (avoided(e[1]), self._order_key(e[1], preferred)))

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
            req = parse_requirement(line)
            if req is not None and self._wanted(req, frozenset()):
                names.add(canonicalize_name(req.name))
        try:
            self.index.prefetch(sorted(names))
        except RuntimeError:
            pass  # the index is closing (cannot schedule new futures after shutdown)

    def _avoided_in(self, name: str) -> Callable[[Version], bool]:
        """Whether an advisory about this very file covers a version of `name` (ranked last);
        the package's advisories picked once, as the sort asks per version."""
        canonical = canonicalize_name(name)
        avoid = tuple(a for a in self.avoid if a.package == canonical)  # what avoided_by would look at
        return lambda version: bool(avoid) and avoided_by(avoid, name, version) is not None

    def boundary(self, name: str) -> Boundary | None:
        """Where the era cap falls in this project's versions (None: no cap, or no dater)."""
        if self.cutoff is None or self.dater is None:
            return None
        if name in self.preferences and not self.cutoff.hard:
            return None  # evidence beats the era: the soft cap is for packages without it
        return self.dater.boundary(name, self.cutoff.date, self._versions, self.cutoff.hard)

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        return self.contains(requirement.requirement.specifier, candidate.version)

    def get_dependencies(self, candidate: Candidate) -> Iterable[Req]:
        if candidate.name == PYTHON:
            return []
        meta = self.index.metadata(candidate.files[0])
        parent = str(candidate)
        if meta.unknown_dependencies:
            self.rejections.by_name[candidate.package][candidate.version] = meta.unknown_dependencies
            return [Req(make_requirement(f"{candidate.package}{UNUSABLE}"), parent, reason=meta.unknown_dependencies)]
        deps: list[Req] = []
        if candidate.extras:
            # An extra is the base distribution plus the extra's own requirements.
            deps.append(Req(make_requirement(f"{candidate.package}=={candidate.version}"), parent))
        if meta.requires_python:
            req = _python_requirement(meta.requires_python)
            if req is not None:
                deps.append(Req(req, parent, reason="Requires-Python in its METADATA"))
        for line in meta.requires_dist:
            req = parse_requirement(line)  # None: pip skips unparsable lines too; the package still installs
            if req is None or not self._wanted(req, candidate.extras):
                continue
            deps.append(Req(_unmarked(line) if req.marker is not None else req, parent))
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
                    req = make_requirement(str(req).split(";")[0])
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
            found = self.index.project(name).versions(name)
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


@lru_cache(maxsize=8192)
def _unmarked(line: str) -> Requirement:
    """The requirement of a line whose marker held on the target, without the marker."""
    req = make_requirement(line)
    req.marker = None
    return req


def era_key(version: Version, boundary: Boundary) -> tuple[Any, ...]:
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
        return make_requirement(f"{PYTHON}{SpecifierSet(requires_python)}")
    except (InvalidSpecifier, InvalidRequirement):
        return None  # malformed Requires-Python: pip ignores it as well


@lru_cache(maxsize=4096)
def _python_ok(requires_python: str, python: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True
