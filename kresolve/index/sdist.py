"""Dependencies of a source distribution, read from its files, never by running them.

Some releases TensorFlow pins exist only as sdists (gast 0.2.2, wrapt 1.12.1, termcolor 1.1.0).
pip would run their setup.py to learn their dependencies; kresolve does not run code at lock
time, so it reads what the sdist states statically, in this order of trust:

1. `PKG-INFO` with Metadata-Version 2.2+ (PEP 643): Requires-Dist/Requires-Python are exact
   unless listed in `Dynamic`.
2. `*.egg-info/requires.txt` (with its `[extra]` / `[:marker]` sections): what setuptools
   computed when the sdist was made; no requires.txt in an egg-info folder means none.
3. `pyproject.toml`'s `[project]` table where its dependencies are not `dynamic` (PEP 621),
   or PKG-INFO written by a declarative backend (flit, poetry, pdm) that cannot compute them.
4. A setup.py-only sdist (distutils era) whose setup.py, setup.cfg and top-level modules never
   name `install_requires`/`extras_require` (read as text): it declares no dependencies.

Anything else is refused with the reason (`unknown`), never guessed as "no dependencies".
The archive is read in memory: no extraction, no links followed, every size capped.
"""

from __future__ import annotations

import bz2
import enum
import gzip
import io
import lzma
import posixpath
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from ..artifact.limits import (
    MAX_SDIST_MEMBERS,
    MAX_SDIST_METADATA_MEMBER_BYTES,
    MAX_SDIST_UNPACKED_BYTES,
    MiB,
)

if TYPE_CHECKING:
    import tarfile

# Bump when the reading rules change: cached results of an older reader are not reused.
READER_VERSION = 1
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2")
# Backends that write PKG-INFO from static configuration only (no code decides dependencies).
DECLARATIVE_BACKENDS = frozenset({
    "flit_core.buildapi", "flit.buildapi", "poetry.core.masonry.api", "poetry.masonry.api",
    "pdm.backend", "pdm.pep517.api",
})
_DECLARES_DEPS = re.compile(rb"\b(install_requires|extras_require)\b")
_HEADER_UNKNOWN = "Kresolve-Dependencies-Unknown"
_HEADER_SOURCE = "Kresolve-Dependencies-From"


class SdistError(Exception):
    """The archive is unreadable or unsafe (the message says which member and why)."""


class DepsSource(enum.Enum):
    PKG_INFO = "PKG-INFO (Metadata 2.2+, not dynamic)"
    EGG_INFO = "egg-info/requires.txt, written by setuptools when the sdist was made"
    PYPROJECT = "pyproject.toml [project] table"
    DECLARATIVE_PKG_INFO = "PKG-INFO written by a declarative build backend"
    SETUP_PY_DECLARES_NONE = "setup.py names no install_requires (read as text, not run)"


@dataclass(frozen=True)
class SdistMetadata:
    name: str
    version: str
    requires_python: str | None = None
    requires_dist: tuple[str, ...] = ()
    provides_extra: tuple[str, ...] = ()
    source: DepsSource | None = None
    unknown: str | None = None  # why the dependencies cannot be known without running code

    def to_core_metadata(self) -> bytes:
        """METADATA-format bytes (what the index cache stores and `parse_metadata` reads)."""
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        if self.requires_python:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines += [f"Provides-Extra: {e}" for e in self.provides_extra]
        lines += [f"Requires-Dist: {r}" for r in self.requires_dist]
        if self.source is not None:
            lines.append(f"{_HEADER_SOURCE}: {self.source.name}")
        if self.unknown:
            lines.append(f"{_HEADER_UNKNOWN}: {' '.join(self.unknown.split())}")
        return ("\n".join(lines) + "\n").encode("utf-8")


def is_sdist(filename: str) -> bool:
    return filename.endswith(SDIST_SUFFIXES)


def split_sdist_filename(filename: str) -> tuple[str, str]:
    """(project, version) an sdist's file name states, by packaging's `parse_sdist_filename`.

    Two fallbacks packaging does not cover, both real on PyPI: `.tar.bz2` archives (read as
    `.tar.gz` names), and legacy versions that are not PEP 440, split at the last '-' (the version
    is then only a label: the solver skips releases whose version does not parse)."""
    suffix = next((s for s in SDIST_SUFFIXES if filename.endswith(s)), "")
    stem = filename[: len(filename) - len(suffix)]
    try:
        name, parsed = parse_sdist_filename(stem + (".zip" if suffix == ".zip" else ".tar.gz"))
        return name, str(parsed)
    except InvalidSdistFilename:
        project, _, version = stem.rpartition("-")
        return project, version


def unknown_from_headers(get: Callable[[str], str | None]) -> str | None:
    """The refusal stored by `to_core_metadata` (`get` is a header getter)."""
    return get(_HEADER_UNKNOWN)


def refused(name: str, version: str, why: str) -> SdistMetadata:
    return SdistMetadata(name, version, unknown=why)


# -- reading the archive -------------------------------------------------------------------
_WANTED_TOP = {"PKG-INFO", "pyproject.toml", "setup.py", "setup.cfg"}


def _wanted(rel: PurePosixPath) -> bool:
    parts = rel.parts
    if len(parts) == 1:
        return parts[0] in _WANTED_TOP or parts[0].endswith(".py")
    # setuptools writes NAME.egg-info next to setup.py, or under the package dir (src/).
    return len(parts) <= 3 and parts[-2].endswith(".egg-info") and parts[-1] in ("PKG-INFO", "requires.txt")


def _check_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or ".." in path.parts or re.match(r"^[A-Za-z]:", name) or "\\" in name:
        raise SdistError(f"member {name!r} has an unsafe path (absolute or leaving the archive)")
    return path


class _Bounded(io.RawIOBase):
    """A decompressed stream that stops at the unpacked-size cap (tar headers count too)."""

    def __init__(self, raw: io.BufferedIOBase, limit: int):
        self._raw, self._left, self._limit = raw, limit, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # io.RawIOBase's own parameter type is not public
        data = self._raw.read(len(buffer))
        self._left -= len(data)
        if self._left < 0:
            raise SdistError(f"it unpacks to more than {self._limit // MiB} MiB")
        buffer[: len(data)] = data
        return len(data)


def _decompressed(data: bytes) -> io.BufferedReader:
    raw: io.BufferedIOBase
    if data[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=io.BytesIO(data))
    elif data[:3] == b"BZh":
        raw = bz2.BZ2File(io.BytesIO(data))
    elif data[:6] == b"\xfd7zXZ\x00":
        raw = lzma.LZMAFile(io.BytesIO(data))  # noqa: SIM115 (in memory; read once by the caller)
    else:
        raw = io.BytesIO(data)
    return io.BufferedReader(_Bounded(raw, MAX_SDIST_UNPACKED_BYTES))


def _root(paths: list[PurePosixPath]) -> str:
    roots = {p.parts[0] for p in paths if p.parts}
    if len(roots) != 1:
        raise SdistError(f"its members do not share one top-level folder ({len(roots)} found)")
    return roots.pop()


def _tar_members(data: bytes) -> dict[str, bytes]:
    import tarfile  # only when an sdist is read: not on the path of a lock of wheels

    found: dict[PurePosixPath, bytes] = {}
    paths: list[PurePosixPath] = []
    total = 0
    try:
        # Stream mode: one pass, no seeking, nothing written anywhere.
        with tarfile.open(fileobj=_decompressed(data), mode="r|") as tar:
            for member in tar:
                if len(paths) >= MAX_SDIST_MEMBERS:
                    raise SdistError(f"it has more than {MAX_SDIST_MEMBERS} members")
                path = _check_name(member.name)
                paths.append(path)
                total += max(member.size, 0)
                if member.size > MAX_SDIST_UNPACKED_BYTES or total > MAX_SDIST_UNPACKED_BYTES:
                    raise SdistError(f"it unpacks to more than {MAX_SDIST_UNPACKED_BYTES // MiB} MiB "
                                     f"(member {member.name!r} alone claims {member.size} bytes)")
                if member.issym() or member.islnk():
                    target = _link_target(member)
                    if target.startswith(("/", "../")) or target == "..":
                        raise SdistError(f"member {member.name!r} links outside the archive ({member.linkname!r})")
                rel = PurePosixPath(*path.parts[1:]) if len(path.parts) > 1 else None
                if rel is None or not _wanted(rel):
                    continue
                if member.issym() or member.islnk():
                    raise SdistError(f"{member.name} is a link; kresolve does not follow links in archives")
                if not member.isreg():
                    continue
                if member.size > MAX_SDIST_METADATA_MEMBER_BYTES:
                    raise SdistError(f"{member.name} is {member.size} bytes, implausibly large for metadata")
                fh = tar.extractfile(member)
                found[path] = fh.read(MAX_SDIST_METADATA_MEMBER_BYTES + 1) if fh else b""
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise SdistError(f"not a readable tar archive ({type(exc).__name__}: {exc})") from None
    return _relative(found, paths)


def _link_target(member: tarfile.TarInfo) -> str:
    """Where a link points, normalised to a path inside the archive (hard links name archive paths)."""
    if member.linkname.startswith("/"):
        return member.linkname
    base = "" if member.islnk() else posixpath.dirname(member.name)
    return posixpath.normpath(posixpath.join(base, member.linkname))


def _zip_members(data: bytes) -> dict[str, bytes]:
    found: dict[PurePosixPath, bytes] = {}
    paths: list[PurePosixPath] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_SDIST_MEMBERS:
                raise SdistError(f"it has more than {MAX_SDIST_MEMBERS} members")
            total = sum(i.file_size for i in infos)
            if total > MAX_SDIST_UNPACKED_BYTES:
                raise SdistError(f"it unpacks to more than {MAX_SDIST_UNPACKED_BYTES // MiB} MiB")
            for info in infos:
                path = _check_name(info.filename)
                paths.append(path)
                rel = PurePosixPath(*path.parts[1:]) if len(path.parts) > 1 else None
                if rel is None or info.is_dir() or not _wanted(rel):
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise SdistError(f"{info.filename} is a link; kresolve does not follow links in archives")
                if info.file_size > MAX_SDIST_METADATA_MEMBER_BYTES:
                    raise SdistError(f"{info.filename} is {info.file_size} bytes, implausibly large for metadata")
                with zf.open(info) as fh:
                    found[path] = fh.read(MAX_SDIST_METADATA_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error, NotImplementedError) as exc:
        raise SdistError(f"not a readable zip archive ({type(exc).__name__}: {exc})") from None
    return _relative(found, paths)


def _relative(found: dict[PurePosixPath, bytes], paths: list[PurePosixPath]) -> dict[str, bytes]:
    if not paths:
        raise SdistError("the archive is empty")
    root = _root(paths)
    return {str(PurePosixPath(*p.parts[1:])): data for p, data in found.items() if p.parts[0] == root}


def read_members(filename: str, data: bytes) -> dict[str, bytes]:
    """The metadata-bearing members, keyed by their path below the sdist's top folder."""
    if filename.endswith(".zip"):
        return _zip_members(data)
    return _tar_members(data)


# -- deciding the dependencies ---------------------------------------------------------------
def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def parse_requires_txt(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """setuptools' requires.txt → (Requires-Dist lines, extras). Raises ValueError on bad lines.

    Hand code on purpose: requires.txt is setuptools' private format (`[extra:marker]` sections)
    and only pkg_resources reads it, which is deprecated and slow to import; each line is still
    parsed by packaging's `Requirement`."""
    reqs: list[str] = []
    extras: list[str] = []
    extra, marker = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            extra, marker = extra.strip(), marker.strip()
            if extra and canonicalize_name(extra) not in extras:
                extras.append(canonicalize_name(extra))
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"requires.txt line {line!r}: {exc}") from None
        conditions = [f"({req.marker})"] if req.marker else []
        if marker:
            conditions.append(f"({marker})")
        if extra:
            conditions.append(f'extra == "{canonicalize_name(extra)}"')
        req.marker = None
        text_req = str(req) + (" ; " + " and ".join(conditions) if conditions else "")
        try:
            Requirement(text_req)
        except InvalidRequirement as exc:
            raise ValueError(f"requires.txt section [{extra}:{marker}]: {exc}") from None
        reqs.append(text_req)
    return tuple(reqs), tuple(extras)


def _egg_info(members: dict[str, bytes], project: str) -> tuple[str, dict[str, bytes]] | None:
    dirs = sorted({str(PurePosixPath(p).parent) for p in members if ".egg-info/" in p}, key=lambda d: (d.count("/"), d))
    for d in dirs:
        stem = PurePosixPath(d).name[: -len(".egg-info")]
        if canonicalize_name(stem) == project:
            return d, {PurePosixPath(p).name: v for p, v in members.items() if str(PurePosixPath(p).parent) == d}
    return None


def _pyproject(members: dict[str, bytes]) -> dict[str, Any]:
    if "pyproject.toml" not in members:
        return {}
    import tomllib  # here: only an sdist with a pyproject.toml needs it

    try:
        data = tomllib.loads(_text(members["pyproject.toml"]))
    except tomllib.TOMLDecodeError:
        return {}  # an unreadable pyproject cannot prove anything: later rules decide
    return data if isinstance(data, dict) else {}


def _from_pyproject(project_table: dict[str, Any]) -> tuple[str | None, tuple[str, ...], tuple[str, ...]] | None:
    dynamic = {str(d).lower() for d in project_table.get("dynamic", [])}
    if {"dependencies", "optional-dependencies"} & dynamic:
        return None
    deps = [str(d) for d in project_table.get("dependencies", [])]
    extras: list[str] = []
    for extra, reqs in (project_table.get("optional-dependencies") or {}).items():
        extras.append(canonicalize_name(extra))
        for r in reqs:
            req = Requirement(str(r))
            cond = f'extra == "{canonicalize_name(extra)}"'
            if req.marker:
                cond = f"({req.marker}) and {cond}"
            req.marker = None
            deps.append(f"{req} ; {cond}")
    for d in deps:
        Requirement(d)  # raises InvalidRequirement: the caller refuses the sdist
    python = None if "requires-python" in dynamic else project_table.get("requires-python")
    return (str(python) if python else None), tuple(deps), tuple(extras)


def metadata_from_members(members: dict[str, bytes], project: str, version: str) -> SdistMetadata:
    """Apply the rules of this module's docstring to the members `read_members` returned."""
    label = f"{project} {version}"
    if "PKG-INFO" not in members:
        return refused(project, version, "its source distribution has no PKG-INFO, so its dependencies are only "
                                         "known by running its build; kresolve does not run code at lock time")
    from packaging.metadata import parse_email  # with email: only when an sdist is read

    raw, _ = parse_email(members["PKG-INFO"])
    name = str(raw.get("name") or project)
    if canonicalize_name(name) != project:
        return refused(project, version, f"its PKG-INFO names another project ({name!r})")
    try:
        meta_version = Version(str(raw.get("metadata_version", "1.0")))
    except InvalidVersion:
        meta_version = Version("1.0")
    requires_python = raw.get("requires_python")
    dynamic = {d.lower() for d in raw.get("dynamic", [])}

    def found(source: DepsSource, python: str | None, reqs: Iterable[str] = (), extras: Iterable[str] = ()) -> SdistMetadata:
        return SdistMetadata(project, version, python, tuple(reqs), tuple(extras), source)

    if meta_version >= Version("2.2") and not {"requires-dist", "requires-python"} & dynamic:
        return found(DepsSource.PKG_INFO, requires_python, raw.get("requires_dist", []),
                     (canonicalize_name(e) for e in raw.get("provides_extra", [])))
    egg = _egg_info(members, project)
    if egg is not None:
        _, files = egg
        try:
            reqs, extras = parse_requires_txt(_text(files["requires.txt"])) if "requires.txt" in files else ((), ())
        except ValueError as exc:
            return refused(project, version, f"its egg-info is unreadable: {exc}")
        if requires_python is None and "PKG-INFO" in files:
            requires_python = parse_email(files["PKG-INFO"])[0].get("requires_python")
        return found(DepsSource.EGG_INFO, requires_python, reqs, extras)
    pyproject = _pyproject(members)
    if isinstance(pyproject.get("project"), dict):
        try:
            static = _from_pyproject(pyproject["project"])
        except (InvalidRequirement, TypeError, AttributeError) as exc:
            return refused(project, version, f"its pyproject.toml [project] table is unreadable: {exc}")
        if static is not None:
            python, reqs, extras = static
            return found(DepsSource.PYPROJECT, python or requires_python, reqs, extras)
    backend = str((pyproject.get("build-system") or {}).get("build-backend") or "")
    if backend in DECLARATIVE_BACKENDS and "requires-dist" not in dynamic:
        return found(DepsSource.DECLARATIVE_PKG_INFO, requires_python, raw.get("requires_dist", []),
                     (canonicalize_name(e) for e in raw.get("provides_extra", [])))
    if "setup.py" in members and (not backend or backend.startswith("setuptools")):
        sources = [k for k in members if k in ("setup.py", "setup.cfg") or ("/" not in k and k.endswith(".py"))]
        if not any(_DECLARES_DEPS.search(members[k]) for k in sources):
            return found(DepsSource.SETUP_PY_DECLARES_NONE, requires_python)
        return refused(project, version, f"the dependencies of {label} are only known by running its setup.py "
                                         "(the sdist has no egg-info or static metadata); kresolve does not run "
                                         "code at lock time")
    return refused(project, version, f"the dependencies of {label} are only known by running its build backend "
                                     f"({backend or 'unknown'}); kresolve does not run code at lock time")


def read_sdist(filename: str, data: bytes, project: str, version: str) -> SdistMetadata:
    """Never raises for a bad archive: an unreadable or unsafe sdist is a refused candidate."""
    project = canonicalize_name(project)
    try:
        members = read_members(filename, data)
    except SdistError as exc:
        return refused(project, version, f"its source distribution {filename} is refused: {exc}")
    return metadata_from_members(members, project, version)
