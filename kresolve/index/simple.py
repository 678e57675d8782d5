"""Parse a simple-repository project page (PEP 503 HTML or PEP 691 JSON) into files.

A busy project's page lists every file of every release (grpcio: 11,000), and a lock reads a few
dozen pages: parsing is on the warm path of every lock, so it avoids per-file URL joins where the
index already gives absolute URLs, and a parsed page can be stored as compact rows
(`DistFile.row` / `from_row`) that load without parsing HTML or resolving URLs again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload
from urllib.parse import urldefrag, urljoin

import orjson
from packaging.version import Version

from .filenames import parse_version, version_text

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
# Bump when what parse_page extracts changes: cached rows of another format are parsed again.
ROW_FORMAT = 1

Row = list[Any]  # [filename, url, sha256, requires_python, yanked, has_core_metadata, upload_time]
ROW_FIELDS = 7


@dataclass(frozen=True)
class DistFile:
    filename: str
    url: str  # without the #fragment
    sha256: str | None
    requires_python: str | None = None
    yanked: bool = False
    has_core_metadata: bool = False  # PEP 658/714: `url + ".metadata"` exists
    index: str = ""  # the index URL this file was listed by
    upload_time: str | None = None  # PEP 700 `upload-time` (ISO 8601, UTC) where the index gives it

    def row(self) -> Row:
        """The file as a JSON-able row; the index URL is the cache entry's, not the row's."""
        return [self.filename, self.url, self.sha256, self.requires_python, self.yanked, self.has_core_metadata,
                self.upload_time]

    @classmethod
    def from_row(cls, row: Row, index: str = "") -> DistFile:
        """The file of a cached row. A warm lock makes ~50,000 of these: the instance dict is
        filled directly, skipping the frozen dataclass's eight object.__setattr__ calls (the
        object is the same; it stays frozen for everyone else)."""
        filename, url, sha256, requires_python, yanked, core, upload_time = row
        dist = object.__new__(cls)
        dist.__dict__.update(filename=filename, url=url, sha256=sha256, requires_python=requires_python,
                             yanked=bool(yanked), has_core_metadata=bool(core), index=index, upload_time=upload_time)
        return dist


def _hash_from_fragment(fragment: str) -> str | None:
    name, _, value = fragment.partition("=")
    return value.lower() if name == "sha256" and value else None


def _absolute(base: str, href: str) -> tuple[str, str]:
    """(url without fragment, fragment). PyPI gives absolute https URLs: no join needed then."""
    if not href.startswith(("https://", "http://")):
        href = urljoin(base, href)
    if "#" not in href:
        return href, ""
    url, fragment = urldefrag(href)
    return url, fragment


def html_rows(body: str, page_url: str) -> list[Row]:
    """A PEP 503 HTML page's files as rows (DistFile.row's layout)."""
    from html import unescape

    from .htmllinks import LinkParser

    parser = LinkParser()
    parser.feed(body)
    base = urljoin(page_url, parser.base) if parser.base else page_url
    rows: list[Row] = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = _absolute(base, href)
        filename = url.rsplit("/", 1)[-1]
        core = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        requires_python = attrs.get("data-requires-python")
        rows.append([unescape(filename), url, _hash_from_fragment(fragment),
                     unescape(requires_python) if requires_python else None, "data-yanked" in attrs,
                     bool(core) and core != "false", None])
    return rows


def json_rows(body: str | bytes, page_url: str) -> list[Row]:
    """A PEP 691 JSON page's files as rows (DistFile.row's layout); ValueError if not JSON.

    orjson, not json: a cold lock reads ~19 MB of pages (grpcio's alone is 4.9 MB), and storing
    them (parse, group, re-encode, write) was about a third of its CPU. Its errors are
    json.JSONDecodeError (a ValueError), as json's."""
    data = orjson.loads(body)
    rows: list[Row] = []
    append = rows.append  # a cold lock reads ~43,000 entries here: the loop is kept lean
    for entry in data.get("files", []):
        url = entry["url"]
        if "#" in url or not url.startswith(("https://", "http://")):
            url, _ = _absolute(page_url, url)  # else it is its own absolute URL already
        get = entry.get
        core = get("core-metadata", False) if "core-metadata" in entry else get("dist-info-metadata", False)
        upload_time = get("upload-time")
        hashes = get("hashes")
        append([entry["filename"], url, hashes.get("sha256") if hashes else None, get("requires-python"),
                bool(get("yanked")), bool(core), upload_time if isinstance(upload_time, str) else None])
    return rows


def is_json(content_type: str) -> bool:
    """Whether a page's Content-Type is PEP 691 JSON (anything else is read as HTML)."""
    return content_type.split(";")[0].strip() == JSON_TYPE


def page_rows(body: str | bytes, content_type: str, page_url: str) -> list[Row]:
    """The page's files as rows, straight from the body: what the page cache stores. A JSON page
    may be given as its bytes (JSON is UTF-8); an HTML page as bytes is read as UTF-8."""
    if is_json(content_type):
        return json_rows(body, page_url)
    return html_rows(body if isinstance(body, str) else body.decode("utf-8", "replace"), page_url)


def parse_html(body: str, page_url: str, index: str = "") -> list[DistFile]:
    return [DistFile.from_row(row, index) for row in html_rows(body, page_url)]


def parse_json(body: str, page_url: str, index: str = "") -> list[DistFile]:
    return [DistFile.from_row(row, index) for row in json_rows(body, page_url)]


def parse_page(body: str, content_type: str, page_url: str, index: str = "") -> list[DistFile]:
    return [DistFile.from_row(row, index) for row in page_rows(body, content_type, page_url)]


class RowBlock:
    """The rows of one version of a page, kept as their JSON text (a slice of the cache file)
    until looked at: a warm lock reads a few dozen pages of ~43,000 files and looks at the files
    of a few hundred versions."""

    __slots__ = ("_data", "_end", "_rows", "_start")

    def __init__(self, data: bytes = b"", start: int = 0, end: int = 0, rows: list[Row] | None = None):
        self._data = data
        self._start = start
        self._end = end
        self._rows = rows

    def rows(self) -> list[Row]:
        """The rows (parsed once; two threads parsing at once get equal lists)."""
        if self._rows is None:
            self._rows = orjson.loads(memoryview(self._data)[self._start:self._end])
        return self._rows

    def data(self) -> bytes:
        """The rows as JSON text."""
        if self._rows is not None and not self._data:
            return orjson.dumps(self._rows)
        return self._data[self._start:self._end]


@dataclass(frozen=True)
class Group:
    """The files of one version on a page (or of no version of the page's project: text None)."""

    text: str | None  # the version as the filenames spell it
    positions: tuple[int, ...]  # where the files are on the page (duplicates left out), in page order
    block: RowBlock  # their rows


def group_rows(rows: Sequence[Row], project: str) -> tuple[list[Row], list[Group]]:
    """A page's rows without repeated filenames (the first is kept, as pip keeps it), and grouped
    by `version_text` for `project` in order of first appearance: what the page cache stores."""
    seen: set[str] = set()
    unique: list[Row] = []
    at: dict[str | None, list[int]] = {}
    for row in rows:  # one pass, names bound locally: a cold lock groups ~43,000 rows
        filename = row[0]
        if filename not in seen:
            seen.add(filename)
            at.setdefault(version_text(filename, project), []).append(len(unique))
            unique.append(row)
    return unique, [Group(text, tuple(positions), RowBlock(rows=[unique[i] for i in positions]))
                    for text, positions in at.items()]


@dataclass(frozen=True)
class PageRows:
    """A cached page's files grouped by version (cache.Listing), not yet made into DistFile objects."""

    groups: tuple[Group, ...]
    project: str  # the canonical project name the groups are for
    count: int
    index: str

    @classmethod
    def of(cls, rows: Sequence[Row], project: str, index: str) -> PageRows:
        unique, groups = group_rows(rows, project)
        return cls(tuple(groups), project, len(unique), index)

    def rows(self) -> list[Row]:
        """Every row, in page order."""
        out: list[Row] = [[]] * self.count
        for group in self.groups:
            for i, row in zip(group.positions, group.block.rows(), strict=True):
                out[i] = row
        return out


@dataclass(frozen=True)
class _Flat:
    """A project's files as one list over all its parts (ProjectFiles._flatten)."""

    filenames: list[str]
    sources: list[Row | DistFile]
    indexes: list[str]


class VersionFiles(Mapping[Version, list[DistFile]]):
    """One project's versions and, made on first access, each one's files (in file order).

    The versions of the first page come from its cached groups, with no filename read; files
    of the parts after it (other indexes, --find-links: few files) are grouped one by one.
    Spellings of one version ("1.0", "1.0.0") are one version, as packaging compares them."""

    def __init__(self, page: PageRows | None, page_groups: Sequence[Group],
                 extra: dict[Version, list[tuple[tuple[int, int], DistFile]]]):
        self._page = page
        self._groups: dict[Version, list[Group]] = {}
        for group in page_groups:
            version = parse_version(group.text) if group.text is not None else None
            if version is not None:
                self._groups.setdefault(version, []).append(group)
        self._extra = extra
        self._order = [*self._groups, *(v for v in extra if v not in self._groups)]
        self._files: dict[Version, list[DistFile]] = {}

    def __getitem__(self, version: Version) -> list[DistFile]:
        files = self._files.get(version)
        if files is None:
            groups, extra = self._groups.get(version, []), self._extra.get(version, [])
            if not groups and not extra:
                raise KeyError(version)
            if len(groups) == 1 and not extra:
                files = self._group_files(groups[0])
            else:  # in file order, as one group would have them
                keyed = [((0, i), f) for g in groups for i, f in zip(g.positions, self._group_files(g), strict=True)]
                files = [f for _, f in sorted(keyed + extra, key=lambda kf: kf[0])]
            self._files[version] = files
        return files

    def _group_files(self, group: Group) -> list[DistFile]:
        assert self._page is not None  # only the first page's groups are kept as groups
        index = self._page.index
        return [DistFile.from_row(row, index) for row in group.block.rows()]

    def __iter__(self) -> Iterator[Version]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, version: object) -> bool:
        return version in self._groups or version in self._extra


class ProjectFiles(Sequence[DistFile]):
    """One project's files over all configured indexes, merged as pip merges them (the first
    index wins for a duplicate filename), with DistFile objects made only for the files looked at.

    A lock reads ~43,000 files from a few dozen pages and looks at a few hundred of them: a
    cached page keeps its version groups (`versions`), and only the rows of the versions looked
    at are parsed. The flat sequence (`all`, indexing) is made only when asked for.
    Thread-safe for readers: making the same DistFile twice gives equal objects.
    """

    def __init__(self) -> None:
        self._parts: list[PageRows | Sequence[DistFile]] = []
        self._flat: _Flat | None = None
        self._made: dict[int, DistFile] = {}
        self._all: list[DistFile] | None = None

    def add(self, part: Sequence[DistFile] | PageRows) -> None:
        if part.count if isinstance(part, PageRows) else part:  # a 404 on another index adds nothing
            self._parts.append(part)
            self._flat = None
            self._all = None
            self._made = {}

    def _flatten(self) -> _Flat:
        """The files as one list, the first of a filename kept (made the first time asked for)."""
        flat = self._flat
        if flat is None:
            flat = _Flat([], [], [])
            seen: set[str] = set()
            for part in self._parts:
                if isinstance(part, PageRows):
                    for row in part.rows():
                        if row[0] not in seen:
                            seen.add(row[0])
                            flat.filenames.append(row[0])
                            flat.sources.append(row)
                            flat.indexes.append(part.index)
                else:
                    for dist in part:
                        if dist.filename not in seen:
                            seen.add(dist.filename)
                            flat.filenames.append(dist.filename)
                            flat.sources.append(dist)
                            flat.indexes.append(dist.index)
            self._flat = flat
        return flat

    def __len__(self) -> int:
        if len(self._parts) == 1 and isinstance(self._parts[0], PageRows):
            return self._parts[0].count  # a page's rows have no repeated filename (group_rows)
        return len(self._flatten().filenames)

    @overload
    def __getitem__(self, i: int) -> DistFile: ...

    @overload
    def __getitem__(self, i: slice) -> list[DistFile]: ...

    def __getitem__(self, i: int | slice) -> DistFile | list[DistFile]:
        if isinstance(i, slice):
            return self.all()[i]
        return self.file(range(len(self))[i])  # IndexError and negative positions, as a list

    def __iter__(self) -> Iterator[DistFile]:
        return iter(self.all())

    def file(self, i: int) -> DistFile:
        made = self._made.get(i)
        if made is None:
            flat = self._flatten()
            source = flat.sources[i]
            made = source if isinstance(source, DistFile) else DistFile.from_row(source, flat.indexes[i])
            self._made[i] = made
        return made

    def all(self) -> list[DistFile]:
        if self._all is None:
            self._all = [self.file(i) for i in range(len(self))]
        return self._all

    def versions(self, name: str) -> VersionFiles:
        """The files of project `name` (canonical) by version, in order of first appearance;
        files of no version of `name` left out. The first part's groups are used as cached when
        it is a page of `name`; the files of the other parts are read one by one, and a file
        whose name an earlier part has is left out (only that version's group is read for it)."""
        parts = self._parts
        page = parts[0] if parts and isinstance(parts[0], PageRows) and parts[0].project == name else None
        groups = page.groups if page is not None else ()
        by_text = {g.text: g for g in groups if g.text is not None}
        taken: dict[str, set[str]] = {}  # version text -> filenames already listed

        def seen(text: str) -> set[str]:
            names = taken.get(text)
            if names is None:
                group = by_text.get(text)
                names = {row[0] for row in group.block.rows()} if group is not None else set()
                taken[text] = names
            return names

        extra: dict[Version, list[tuple[tuple[int, int], DistFile]]] = {}
        for p, part in enumerate(parts):
            if part is page:
                continue
            dists = part if not isinstance(part, PageRows) else [DistFile.from_row(row, part.index) for row in part.rows()]
            for i, dist in enumerate(dists):
                text = version_text(dist.filename, name)
                if text is None or dist.filename in seen(text):
                    continue
                taken[text].add(dist.filename)
                version = parse_version(text)
                assert version is not None  # version_text gives only versions packaging reads
                extra.setdefault(version, []).append(((p, i), dist))
        return VersionFiles(page, groups, extra)
