"""Load and schema-check the rules database (`rules/*.toml`)."""

from __future__ import annotations

import enum
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..artifact.facts import ModelFormat
from ..constants import PLATFORM_NAMES
from ..errors import KresolveError
from ..index.requirements import make_requirement
from .evidence import Confidence

# keras.multibackend: standalone Keras 1.x-2.3 (`keras.models.load_model`, backend from KERAS_BACKEND);
# tf.compat.v1.saved_model: a TF1 session + `tf.compat.v1.saved_model.loader.load` (TensorFlow 1.x).
LOADERS = ("tf.keras", "keras", "tf_keras", "tfsmlayer", "tf.saved_model", "keras.multibackend", "tf.compat.v1.saved_model")
KERAS_FLAVOURS = ("tf", "standalone")  # keras_version recorded with a "-tf" suffix (tf.keras before 2.4), or not
FORMATS = tuple(sorted(ModelFormat))  # the `format` key of a [[route]]: what artifact.inspect reports


class RulesError(KresolveError):
    exit_code = 2


class AdvisoryTrigger(enum.Enum):
    """The file feature an [[advisory]] is about (rules/advisories.toml): when the model has it,
    the solver prefers releases outside the advisory's range."""

    NONE = "none"  # hostile content kresolve cannot see (a crafted config, a huge weight shape): report only
    KERAS_ZIP_LAMBDA = "keras-zip-lambda"  # a .keras archive with Lambda layers
    LAMBDA = "lambda"  # Lambda layers, any format
    H5_LAMBDA = "h5-lambda"  # an HDF5 model with Lambda layers
    CONFIG_MODULE = "config-module"  # a .keras config naming classes from modules outside Keras
    LAYER_CLASS = "layer-class"  # one of the advisory's `layer_classes`


@dataclass(frozen=True)
class Advisory:
    """A published advisory about a loader reading untrusted files: the releases it lists as
    affected, the fixed ones, and what in a file it is about."""

    id: str  # GHSA id, or the CVE id where there is no GHSA
    cve: str | None
    package: str  # canonical name
    affected: tuple[SpecifierSet, ...]  # a version in any of them is affected
    fixed: tuple[str, ...]  # first releases outside `affected`, per line
    trigger: AdvisoryTrigger
    layer_classes: tuple[str, ...]  # for AdvisoryTrigger.LAYER_CLASS
    note: str | None
    reason: str  # what the advisory is about, in one sentence
    source: str
    file: str

    def affects(self, name: str, version: Version) -> bool:
        return canonicalize_name(name) == self.package and any(
            spec.contains(version, prereleases=True) for spec in self.affected)


@dataclass(frozen=True)
class Constraint:
    id: str
    when: Requirement
    requires: tuple[Requirement, ...]
    reason: str
    source: str
    file: str

    def applies_to(self, name: str, version: Version) -> bool:
        return canonicalize_name(self.when.name) == name and self.when.specifier.contains(version, prereleases=True)


@dataclass(frozen=True)
class Era:
    """What one piece of recorded evidence says about the training stack."""

    id: str
    keras_version: SpecifierSet | None
    tensorflow_version: SpecifierSet | None
    saved_between: tuple[str, str] | None  # ISO dates [from, until) of the file's date_saved
    keras_flavour: str | None  # "tf" (recorded with a "-tf" suffix), "standalone", or None: either
    prefer: tuple[tuple[str, str], ...]  # (canonical package, release series or version)
    ranges: tuple[tuple[str, SpecifierSet], ...]  # what the writer's stack could have been
    confidence: Confidence
    reason: str
    source: str
    file: str


@dataclass(frozen=True)
class Route:
    id: str
    format: ModelFormat
    writer_keras: SpecifierSet | None
    writer_tensorflow: SpecifierSet | None
    rank: int
    loader: str
    requires: tuple[Requirement, ...]
    env: tuple[tuple[str, str], ...]
    reason: str
    source: str
    caveats: tuple[str, ...]
    file: str
    # Only for files whose keras_version has this flavour (KERAS_FLAVOURS), and whose recorded
    # backend is one of these (a file that records no backend matches any).
    writer_keras_flavour: str | None = None
    writer_backend: tuple[str, ...] = ()

    def matches_writer_stack(self, keras_version: str | None, backend: str | None) -> bool:
        if self.writer_keras_flavour is not None:
            flavour = "tf" if (keras_version or "").strip().endswith("-tf") else "standalone"
            if flavour != self.writer_keras_flavour:
                return False
        return not (self.writer_backend and backend and backend not in self.writer_backend)


@dataclass(frozen=True)
class KnownBad:
    """A combination that breaks, the message fragment users see, and the fix."""

    id: str
    signatures: tuple[str, ...]  # regular expressions matched against error text
    when: tuple[Requirement, ...]  # the combination that causes it (may be empty)
    cause: str
    fix: str
    reason: str
    source: str
    file: str


@dataclass(frozen=True)
class Distribution:
    """On some platforms a package is published under another name (tensorflow-macos,
    tensorflow-gpu, ...): that distribution provides the package for those versions."""

    id: str
    package: str  # canonical name the routes and dependents ask for ("tensorflow")
    provided_by: str  # canonical distribution name on the index ("tensorflow-macos")
    versions: SpecifierSet  # versions of `provided_by` this applies to
    platforms: tuple[str, ...]  # conda-style target platforms
    gpu: bool | None  # True: only for --gpu targets; False: only CPU targets; None: both
    reason: str
    source: str
    file: str


@dataclass(frozen=True)
class Accelerator:
    """What a TensorFlow release's GPU build needs: CUDA/cuDNN, how it gets them, min driver."""

    id: str
    when: Requirement  # e.g. tensorflow>=2.15,<2.16
    platforms: tuple[str, ...]
    cuda: str | None  # "12.2"; None: no GPU build on these platforms
    cudnn: str | None
    min_driver: str | None  # minimum NVIDIA driver for that CUDA on Linux ("525.60.13")
    requires: tuple[Requirement, ...]  # what --gpu adds (e.g. tensorflow[and-cuda]==…); may be empty
    note: str  # how the CUDA libraries arrive (pip extra, system install, not supported …)
    reason: str
    source: str
    file: str


@dataclass(frozen=True)
class Companion:
    """A package that provides Keras classes a model may reference (tensorflow-probability's
    layers, tensorflow-addons' ...): how to recognise its classes in a file. Its version pairing
    with TensorFlow is ordinary [[constraint]] rules on `package`."""

    id: str
    package: str  # canonical distribution name to add ("tensorflow-probability")
    modules: tuple[str, ...]  # top-level import packages ("tensorflow_probability")
    registered_packages: tuple[str, ...]  # Keras registered_name prefixes ("Addons" in "Addons>WeightNormalization")
    class_names: tuple[str, ...]  # class names only this package defines (files that record no module)
    reason: str
    source: str
    file: str


@dataclass(frozen=True)
class RulesDB:
    root: str
    constraints: tuple[Constraint, ...]
    eras: tuple[Era, ...]
    routes: tuple[Route, ...]
    known_bad: tuple[KnownBad, ...] = ()
    distributions: tuple[Distribution, ...] = ()
    accelerators: tuple[Accelerator, ...] = ()
    companions: tuple[Companion, ...] = ()
    advisories: tuple[Advisory, ...] = ()

    def constraints_for(self, name: str, version: Version) -> list[Constraint]:
        return [c for c in self._constraints_by_name.get(name, ()) if c.applies_to(name, version)]

    @cached_property
    def _constraints_by_name(self) -> dict[str, list[Constraint]]:
        grouped: dict[str, list[Constraint]] = {}
        for c in self.constraints:
            grouped.setdefault(canonicalize_name(c.when.name), []).append(c)
        return grouped

    def by_id(self, rule_id: str) -> Constraint | Era | Route | KnownBad | Distribution | Accelerator | Companion | Advisory | None:
        every: tuple[Constraint | Era | Route | KnownBad | Distribution | Accelerator | Companion | Advisory, ...] = (
            *self.constraints, *self.eras, *self.routes, *self.known_bad, *self.distributions, *self.accelerators,
            *self.companions, *self.advisories)
        for rule in every:
            if rule.id == rule_id:
                return rule
        return None

    @property
    def count(self) -> int:
        return (len(self.constraints) + len(self.eras) + len(self.routes) + len(self.known_bad)
                + len(self.distributions) + len(self.accelerators) + len(self.companions) + len(self.advisories))


def default_rules_dir() -> Path:
    """Packaged copy in a wheel install, else the repository's `rules/` (editable/dev)."""
    packaged = Path(__file__).resolve().parent.parent / "_rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "rules"


_COMMON = {"id", "reason", "source"}
_KEYS = {
    "constraint": _COMMON | {"when", "requires"},
    "era": _COMMON | {"keras_version", "tensorflow_version", "saved_between", "keras_flavour", "prefer", "ranges", "confidence"},
    "known_bad": _COMMON | {"signatures", "when", "cause", "fix"},
    "distribution": _COMMON | {"package", "provided_by", "versions", "platforms", "gpu"},
    "accelerator": _COMMON | {"when", "platforms", "cuda", "cudnn", "min_driver", "requires", "note"},
    "route": _COMMON | {"format", "writer_keras", "writer_tensorflow", "rank", "loader", "requires", "env", "caveats",
                        "writer_keras_flavour", "writer_backend"},
    "companion": _COMMON | {"package", "modules", "registered_packages", "class_names"},
    "advisory": _COMMON | {"cve", "package", "affected", "fixed", "trigger", "layer_classes", "note"},
}


class _Checker:
    """Turns one TOML table into a rule, naming the file and rule id in every complaint."""

    def __init__(self, file: str, kind: str, table: dict[str, Any], compile_patterns: bool = True):
        self.file, self.kind, self.table = file, kind, table
        self.compile_patterns = compile_patterns  # False: these very rules' patterns compiled before
        self.id: str = table["id"] if isinstance(table.get("id"), str) else "?"

    def fail(self, what: str) -> RulesError:
        return RulesError(f"rules file {self.file}: {self.kind} {self.id!r}: {what}")

    def check_keys(self) -> None:
        unknown = set(self.table) - _KEYS[self.kind]
        if unknown:
            raise self.fail(f"unknown key(s) {', '.join(sorted(unknown))}")
        for key in sorted(_COMMON):
            if not isinstance(self.table.get(key), str) or not self.table[key].strip():
                raise self.fail(f"missing or empty {key!r}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(f"{key!r} must be a string")
        return value

    def requirement(self, text: object) -> Requirement:
        try:
            return make_requirement(str(text))
        except InvalidRequirement as exc:
            raise self.fail(f"bad requirement {text!r}: {exc}") from None

    def requirements(self, key: str) -> tuple[Requirement, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"{key!r} must be a list of requirement strings")
        return tuple(self.requirement(v) for v in value)

    def specifier(self, key: str) -> SpecifierSet | None:
        if key not in self.table:
            return None
        try:
            return SpecifierSet(self.text(key))
        except InvalidSpecifier:
            raise self.fail(f"bad version range {self.table[key]!r} for {key!r}") from None

    def pairs(self, key: str) -> tuple[tuple[str, str], ...]:
        value = self.table.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail(f"{key!r} must be a table of strings")
        return tuple(sorted(value.items()))


def _is_date(text: object) -> bool:
    try:
        date.fromisoformat(str(text))
        return True
    except ValueError:
        return False


def _build(check: _Checker) -> Constraint | Era | Route | KnownBad | Distribution | Accelerator | Companion | Advisory:
    t = check.table
    common: dict[str, Any] = {"id": check.id, "reason": t["reason"], "source": t["source"], "file": check.file}
    if check.kind == "advisory":
        return _advisory(check, common)
    if check.kind == "companion":
        lists: dict[str, Any] = {}
        for key in ("modules", "registered_packages", "class_names"):
            value = t.get(key, [])
            if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
                raise check.fail(f"{key!r} must be a list of non-empty strings")
            lists[key] = tuple(value)
        if not any(lists.values()):
            raise check.fail("needs at least one of 'modules', 'registered_packages' or 'class_names'")
        if any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", m) for m in lists["modules"]):
            raise check.fail("'modules' are top-level import names (tensorflow_probability), not dotted paths")
        return Companion(package=canonicalize_name(check.text("package")), **lists, **common)
    if check.kind == "constraint":
        requires = check.requirements("requires")
        if not requires:
            raise check.fail("'requires' is empty")
        return Constraint(when=check.requirement(check.text("when")), requires=requires, **common)
    if check.kind == "era":
        keras, tf = check.specifier("keras_version"), check.specifier("tensorflow_version")
        saved = t.get("saved_between")
        if saved is not None:
            if not (isinstance(saved, list) and len(saved) == 2 and all(_is_date(d) for d in saved) and saved[0] < saved[1]):
                raise check.fail("'saved_between' must be two ISO dates [from, until), from < until")
            saved = (saved[0], saved[1])
        if sum(x is not None for x in (keras, tf, saved)) != 1:
            raise check.fail("needs exactly one of 'keras_version', 'tensorflow_version' or 'saved_between'")
        prefer = tuple((canonicalize_name(k), v) for k, v in check.pairs("prefer"))
        for _, version in prefer:
            try:
                Version(version)
            except (InvalidVersion, TypeError):
                raise check.fail(f"prefer: {version!r} is not a version") from None
        ranges = []
        for name, text in check.pairs("ranges"):
            try:
                ranges.append((canonicalize_name(name), SpecifierSet(text)))
            except InvalidSpecifier:
                raise check.fail(f"ranges: bad version range {text!r} for {name!r}") from None
        flavour = t.get("keras_flavour")
        if flavour is not None and (flavour not in ("tf", "standalone") or keras is None):
            raise check.fail("'keras_flavour' must be \"tf\" or \"standalone\" and goes with 'keras_version'")
        confidence = check.text("confidence", "medium")
        if confidence not in tuple(Confidence):
            raise check.fail("'confidence' must be high, medium or low")
        return Era(keras_version=keras, tensorflow_version=tf, saved_between=saved, keras_flavour=flavour, prefer=prefer,
                   ranges=tuple(ranges), confidence=Confidence(confidence), **common)
    if check.kind in ("distribution", "accelerator"):
        platforms = t.get("platforms")
        if not isinstance(platforms, list) or not platforms or not all(p in PLATFORM_NAMES for p in platforms):
            raise check.fail(f"'platforms' must be a non-empty list of {', '.join(PLATFORM_NAMES)}")
        if check.kind == "distribution":
            gpu = t.get("gpu")
            if gpu is not None and not isinstance(gpu, bool):
                raise check.fail("'gpu' must be true or false (or left out: both)")
            versions = check.specifier("versions")
            if versions is None:
                raise check.fail("'versions' is required")
            return Distribution(package=canonicalize_name(check.text("package")), provided_by=canonicalize_name(check.text("provided_by")),
                                versions=versions, platforms=tuple(platforms), gpu=gpu, **common)
        optional: dict[str, Any] = {k: t.get(k) for k in ("cuda", "cudnn", "min_driver")}
        if not all(v is None or isinstance(v, str) for v in optional.values()):
            raise check.fail("'cuda', 'cudnn' and 'min_driver' must be strings")
        return Accelerator(when=check.requirement(check.text("when")), platforms=tuple(platforms),
                           requires=check.requirements("requires"), note=check.text("note"), **optional, **common)
    if check.kind == "known_bad":
        signatures = t.get("signatures")
        if not isinstance(signatures, list) or not signatures or not all(isinstance(x, str) and x for x in signatures):
            raise check.fail("'signatures' must be a non-empty list of regular expressions")
        for pattern in signatures if check.compile_patterns else ():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise check.fail(f"signature {pattern!r} is not a valid regular expression: {exc}") from None
        return KnownBad(signatures=tuple(signatures), when=check.requirements("when"),
                        cause=check.text("cause"), fix=check.text("fix"), **common)
    fmt, loader = check.text("format"), check.text("loader")
    if fmt not in FORMATS:
        raise check.fail(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if loader not in LOADERS:
        raise check.fail(f"loader {loader!r} is not one of {', '.join(LOADERS)}")
    rank, caveats = t.get("rank"), t.get("caveats", [])
    if not isinstance(rank, int):
        raise check.fail("'rank' must be an integer")
    if not isinstance(caveats, list) or not all(isinstance(c, str) for c in caveats):
        raise check.fail("'caveats' must be a list of strings")
    flavour, backends = t.get("writer_keras_flavour"), t.get("writer_backend", [])
    if flavour is not None and (flavour not in KERAS_FLAVOURS or "writer_keras" not in t):
        raise check.fail(f"'writer_keras_flavour' must be one of {', '.join(KERAS_FLAVOURS)} and goes with 'writer_keras'")
    if not isinstance(backends, list) or not all(isinstance(b, str) and b for b in backends):
        raise check.fail("'writer_backend' must be a list of backend names (tensorflow, theano, cntk)")
    return Route(
        writer_keras_flavour=flavour,
        writer_backend=tuple(backends),
        format=ModelFormat(fmt),
        writer_keras=check.specifier("writer_keras"),
        writer_tensorflow=check.specifier("writer_tensorflow"),
        rank=rank,
        loader=loader,
        requires=check.requirements("requires"),
        env=check.pairs("env"),
        caveats=tuple(caveats),
        **common,
    )


def _advisory(check: _Checker, common: dict[str, Any]) -> Advisory:
    t = check.table
    if not re.fullmatch(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}|CVE-\d{4}-\d{4,}", check.id):
        raise check.fail("'id' must be a GHSA id (GHSA-xxxx-xxxx-xxxx) or, without one, a CVE id")
    cve = t.get("cve")
    if cve is not None and not (isinstance(cve, str) and re.fullmatch(r"CVE-\d{4}-\d{4,}", cve)):
        raise check.fail("'cve' must be a CVE id (CVE-YYYY-NNNN)")
    lists = {}
    for key in ("affected", "fixed", "layer_classes"):
        value = t.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
            raise check.fail(f"{key!r} must be a list of non-empty strings")
        lists[key] = value
    try:
        affected = tuple(SpecifierSet(text) for text in lists["affected"])
        fixed = tuple(Version(text) for text in lists["fixed"])
    except (InvalidSpecifier, ValueError) as exc:
        raise check.fail(f"bad version or range in 'affected'/'fixed' ({exc})") from None
    if not affected or not fixed:
        raise check.fail("'affected' and 'fixed' must each name at least one range / release")
    if any(spec.contains(v, prereleases=True) for spec in affected for v in fixed):
        raise check.fail("a 'fixed' release lies inside an 'affected' range")
    try:
        trigger = AdvisoryTrigger(check.text("trigger"))
    except ValueError:
        raise check.fail(f"'trigger' must be one of {', '.join(t.value for t in AdvisoryTrigger)}") from None
    if (trigger is AdvisoryTrigger.LAYER_CLASS) != bool(lists["layer_classes"]):
        raise check.fail("'layer_classes' goes with trigger 'layer-class', and that trigger needs it")
    note = t.get("note")
    if note is not None and not isinstance(note, str):
        raise check.fail("'note' must be a string")
    return Advisory(cve=cve, package=canonicalize_name(check.text("package")), affected=affected,
                    fixed=tuple(str(v) for v in fixed), trigger=trigger, layer_classes=tuple(lists["layer_classes"]),
                    note=note, **common)


# The parsed TOML of a rules directory, stored as JSON under the cache directory and keyed by the
# sha256 of the files' names and bytes: every command loads the rules, and TOML parsing is about
# half of that. Only the parse is cached; every rule is still built and checked from it, so a
# cached DB says exactly what its TOML says. Bump when what is stored changes.
_PARSED_FORMAT = 1


def _parsed_cache_path(key: str) -> Path:
    from ..index.cache import default_cache_dir

    return default_cache_dir() / "rules" / f"{key}.json"


def _patterns_mark(cache: Path | None) -> Path | None:
    """Beside a parsed entry: these rules loaded, their regular expressions compiled by this
    Python's `re` (compiling ~100 signatures is a third of building the rules; they are used
    only when a smoke test fails)."""
    return None if cache is None else cache.parent / f"{cache.stem}.patterns-py{sys.version_info[0]}.{sys.version_info[1]}"


def _parse_files(root: Path, files: list[Path]) -> tuple[list[tuple[str, dict[str, Any]]], Path | None]:
    """(relative path, parsed TOML) per file, from the parse cache when the bytes are the same;
    and the cache entry's path (None: no cache)."""
    raw: list[tuple[str, bytes]] = []
    digest = hashlib.sha256(f"kresolve-rules-{_PARSED_FORMAT}".encode())
    for path in files:
        rel = str(path.relative_to(root))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RulesError(f"rules file {rel}: {exc}") from None
        raw.append((rel, data))
        digest.update(b"\0%d\0%s\0%d\0" % (len(rel.encode()), rel.encode(), len(data)) + data)
    try:
        cache: Path | None = _parsed_cache_path(digest.hexdigest())
    except (OSError, RuntimeError, KeyError):  # no home directory to find a cache in: parse every time
        cache = None
    try:
        stored = json.loads(cache.read_bytes()) if cache is not None else None
        if isinstance(stored, list) and [rel for rel, _ in stored] == [rel for rel, _ in raw]:
            return [(rel, tables) for rel, tables in stored], cache
    except (OSError, ValueError, TypeError):
        pass
    import tomllib  # only when the compiled copy is missing or stale: a warm run never parses TOML

    parsed = []
    for rel, data in raw:
        try:
            # As read_text does: universal newlines (they matter inside multi-line strings).
            parsed.append((rel, tomllib.loads(data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"))))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RulesError(f"rules file {rel}: {exc}") from None
    try:
        # A TOML date or time has no JSON form: such rules are parsed every time instead.
        text = json.dumps(parsed, allow_nan=False)
        from ..index.cache import atomic_write

        # Only into a kresolve cache that exists: a command that stops early (a refused lock)
        # must not leave a cache directory behind where none was.
        if cache is not None and cache.parent.parent.is_dir():
            atomic_write(cache, text.encode())
    except (TypeError, ValueError, OSError):
        pass
    return parsed, cache


def load_rules(root: Path | None = None) -> RulesDB:
    root = root or default_rules_dir()
    files = sorted(p for p in root.rglob("*.toml") if "approved" not in p.relative_to(root).parts)
    if not files:
        raise RulesError(f"no rules found under {root}")
    built: dict[str, list[Any]] = {k: [] for k in _KEYS}
    seen: dict[str, str] = {}
    parsed, cache = _parse_files(root, files)
    mark = _patterns_mark(cache)
    compiled = mark is not None and mark.is_file()
    for rel, data in parsed:
        unknown = set(data) - set(built)
        if unknown:
            raise RulesError(f"rules file {rel}: unknown section(s) {', '.join(sorted(unknown))}")
        for kind, tables in data.items():
            if not isinstance(tables, list):
                raise RulesError(f"rules file {rel}: {kind} must be an array of tables ([[{kind}]])")
            for table in tables:
                check = _Checker(rel, kind, table, compile_patterns=not compiled)
                check.check_keys()
                if check.id in seen:
                    raise check.fail(f"duplicate id (also in {seen[check.id]})")
                seen[check.id] = rel
                built[kind].append(_build(check))
    if mark is not None and not compiled and mark.parent.is_dir():  # only beside a parsed entry
        try:
            mark.touch()
        except OSError:
            pass
    return RulesDB(
        root=str(root),
        constraints=tuple(built["constraint"]),
        eras=tuple(built["era"]),
        routes=tuple(sorted(built["route"], key=lambda r: (r.format, r.rank, r.id))),
        known_bad=tuple(built["known_bad"]),
        distributions=tuple(built["distribution"]),
        accelerators=tuple(built["accelerator"]),
        companions=tuple(built["companion"]),
        advisories=tuple(built["advisory"]),
    )
