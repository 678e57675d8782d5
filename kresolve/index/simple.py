"""Parse a simple-repository project page (PEP 503 HTML or PEP 691 JSON) into files.

A busy project's page lists every file of every release (grpcio: 11,000), and a lock reads a few
dozen pages: parsing is on the warm path of every lock, so it avoids per-file URL joins where the
index already gives absolute URLs, and a parsed page can be stored as compact rows
(`DistFile.row` / `from_row`) that load without parsing HTML or resolving URLs again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from typing import Any, TypeVar, overload
from urllib.parse import urldefrag, urljoin

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
# Bump when what parse_page extracts changes: cached rows of another format are parsed again.
ROW_FORMAT = 1

Row = list[Any]  # [filename, url, sha256, requires_python, yanked, has_core_metadata, upload_time]
ROW_FIELDS = 7
V = TypeVar("V", bound=Hashable)


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


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            self.base = dict(attrs).get("href") or self.base
        elif tag == "a":
            self.anchors.append(dict(attrs))


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
    parser = _LinkParser()
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


def json_rows(body: str, page_url: str) -> list[Row]:
    """A PEP 691 JSON page's files as rows (DistFile.row's layout); ValueError if not JSON."""
    data = json.loads(body)
    rows: list[Row] = []
    for entry in data.get("files", []):
        url, _ = _absolute(page_url, entry["url"])
        core = entry.get("core-metadata", entry.get("dist-info-metadata", False))
        upload_time = entry.get("upload-time")
        rows.append([entry["filename"], url, (entry.get("hashes") or {}).get("sha256"), entry.get("requires-python"),
                     bool(entry.get("yanked")), bool(core), upload_time if isinstance(upload_time, str) else None])
    return rows


def page_rows(body: str, content_type: str, page_url: str) -> list[Row]:
    """The page's files as rows, straight from the body: what the page cache stores."""
    if content_type.split(";")[0].strip() == JSON_TYPE:
        return json_rows(body, page_url)
    return html_rows(body, page_url)


def parse_html(body: str, page_url: str, index: str = "") -> list[DistFile]:
    return [DistFile.from_row(row, index) for row in html_rows(body, page_url)]


def parse_json(body: str, page_url: str, index: str = "") -> list[DistFile]:
    return [DistFile.from_row(row, index) for row in json_rows(body, page_url)]


def parse_page(body: str, content_type: str, page_url: str, index: str = "") -> list[DistFile]:
    return [DistFile.from_row(row, index) for row in page_rows(body, content_type, page_url)]


@dataclass(frozen=True)
class PageRows:
    """A cached page's files as rows (cache.Listing), not yet made into DistFile objects."""

    rows: tuple[Row, ...]
    index: str


class ProjectFiles(Sequence[DistFile]):
    """One project's files over all configured indexes, merged as pip merges them (the first
    index wins for a duplicate filename), with DistFile objects made only for the files looked at.

    A lock reads ~50,000 files from a few dozen pages and looks at a few hundred of them:
    `by_version` groups by filename alone, and `file` makes one DistFile when it is needed.
    Thread-safe for readers: making the same DistFile twice gives equal objects.
    """

    def __init__(self) -> None:
        self._filenames: list[str] = []
        self._sources: list[Row | DistFile] = []
        self._indexes: list[str] = []
        self._made: dict[int, DistFile] = {}
        self._all: list[DistFile] | None = None

    def add(self, part: Sequence[DistFile] | PageRows) -> None:
        if isinstance(part, PageRows) and not self._filenames:
            names = [row[0] for row in part.rows]
            if len(set(names)) == len(names):  # the first page, no duplicates: taken whole
                self._filenames = names
                self._sources = list(part.rows)
                self._indexes = [part.index] * len(names)
                return
        seen = set(self._filenames)
        if isinstance(part, PageRows):
            for row in part.rows:
                if row[0] not in seen:
                    seen.add(row[0])
                    self._filenames.append(row[0])
                    self._sources.append(row)
                    self._indexes.append(part.index)
        else:
            for dist in part:
                if dist.filename not in seen:
                    seen.add(dist.filename)
                    self._filenames.append(dist.filename)
                    self._sources.append(dist)
                    self._indexes.append(dist.index)

    def __len__(self) -> int:
        return len(self._filenames)

    @overload
    def __getitem__(self, i: int) -> DistFile: ...

    @overload
    def __getitem__(self, i: slice) -> list[DistFile]: ...

    def __getitem__(self, i: int | slice) -> DistFile | list[DistFile]:
        if isinstance(i, slice):
            return self.all()[i]
        return self.file(range(len(self._filenames))[i])  # IndexError and negative positions, as a list

    def __iter__(self) -> Iterator[DistFile]:
        return iter(self.all())

    def file(self, i: int) -> DistFile:
        made = self._made.get(i)
        if made is None:
            source = self._sources[i]
            made = source if isinstance(source, DistFile) else DistFile.from_row(source, self._indexes[i])
            self._made[i] = made
        return made

    def all(self) -> list[DistFile]:
        if self._all is None:
            self._all = [self.file(i) for i in range(len(self._filenames))]
        return self._all

    def by_version(self, version_of: Callable[[str], V | None]) -> dict[V, list[int]]:
        """File positions grouped by `version_of(filename)` (None: left out), in file order."""
        groups: dict[V, list[int]] = {}
        for i, filename in enumerate(self._filenames):
            version = version_of(filename)
            if version is not None:
                groups.setdefault(version, []).append(i)
        return groups
