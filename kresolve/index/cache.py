"""On-disk cache: immutable wheel metadata by sha256, index pages with their freshness.

Index pages are stored parsed (`Listing`): compact rows grouped by version, with the page's
validators (URL, ETag, sha256 of the body) and freshness (`max-age`). A warm lock reads a few
dozen pages with ~43,000 files and looks at a few hundred: loading a page reads one line of JSON
(the versions and where their rows are), and only the rows of the versions looked at are parsed;
no HTML/JSON page parsing, URL resolution or filename splitting. A re-fetched page whose body
hash is unchanged keeps its groups.
JSON, not pickle: the cache directory may be shared, and loading it must never run code. Written
and read with orjson (entries json wrote, with \\u escapes, read the same).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import packaging

from .simple import ROW_FIELDS, ROW_FORMAT, DistFile, Group, PageRows, Row, RowBlock, group_rows, page_rows


def default_cache_dir() -> Path:
    if os.environ.get("KRESOLVE_CACHE_DIR"):
        return Path(os.environ["KRESOLVE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kresolve"


def atomic_write(path: Path, data: bytes) -> None:
    """Readers never see half a file: write beside it, then rename over it."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except FileNotFoundError:  # the first entry of its directory (no mkdir call per write)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# The page cache's file: one line of JSON (validators, freshness, and each version group's
# positions and place in the rest), then the groups' rows as JSON text, one slice per group.
LISTING_FORMAT = 2
# The groups depend on filenames.version_text and on packaging's Version: files grouped by another
# kresolve or packaging are grouped again from their rows (the rows themselves stay valid).
GROUPING = f"1/packaging-{packaging.__version__}"
_FAULTS = (ValueError, KeyError, TypeError, AttributeError, IndexError)  # a damaged entry: a miss
LOCAL_TYPE = "text/html"  # a file: index page is read as HTML (pip does the same)


@dataclass(frozen=True)
class Listing:
    """One index page, parsed: its files as rows grouped by version, and what says whether it is
    still current."""

    url: str
    project: str  # the canonical project name the page is for (the groups are by its versions)
    groups: tuple[Group, ...]
    count: int
    content_type: str
    etag: str | None
    body_sha256: str
    fetched: float
    max_age: int

    @classmethod
    def of_rows(cls, url: str, project: str, rows: Sequence[Row], content_type: str, etag: str | None,
                body_sha256: str, fetched: float, max_age: int) -> Listing:
        unique, groups = group_rows(rows, project)
        return cls(url, project, tuple(groups), len(unique), content_type, etag, body_sha256, fetched, max_age)

    def fresh(self) -> bool:
        return time.time() - self.fetched < self.max_age

    @property
    def rows(self) -> tuple[Row, ...]:
        """Every row, in page order (repeated filenames left out)."""
        return tuple(self.page("").rows())

    def files(self, index: str) -> list[DistFile]:
        return [DistFile.from_row(row, index) for row in self.page(index).rows()]

    def page(self, index: str) -> PageRows:
        """The groups as they are, for simple.ProjectFiles to make into files when looked at."""
        return PageRows(self.groups, self.project, self.count, index)

    def encode(self) -> bytes:
        blocks = [g.block.data() for g in self.groups]
        spans, at = [], 0
        for group, block in zip(self.groups, blocks, strict=True):
            spans.append([group.text, group.positions, at, at + len(block)])
            at += len(block)
        header = {"format": LISTING_FORMAT, "grouping": GROUPING, "url": self.url, "project": self.project,
                  "count": self.count, "content_type": self.content_type, "etag": self.etag,
                  "body_sha256": self.body_sha256, "fetched": self.fetched, "max_age": self.max_age,
                  "groups": spans}
        head = orjson.dumps(header) + b"\n"
        crc = zlib.crc32(head)
        for block in blocks:  # one join below: a big page is not copied once more per step
            crc = zlib.crc32(block, crc)
        return b"".join([b"%08x\n" % crc, head, *blocks])

    @classmethod
    def decode(cls, data: bytes, url: str, project: str) -> tuple[Listing, bool] | None:
        """(the listing, whether it was grouped again) from `encode`'s bytes; None for another
        format, another page, or a damaged or truncated entry (the file's CRC-32 leads it)."""
        try:
            if data[8:9] != b"\n" or int(data[:8], 16) != zlib.crc32(memoryview(data)[9:]):
                return None
            newline = data.index(b"\n", 9)
            header = orjson.loads(memoryview(data)[9:newline])
            if header.get("format") != LISTING_FORMAT or header["url"] != url or header["project"] != project:
                return None
            base, size = newline + 1, len(data) - newline - 1  # the groups' rows follow: sliced when parsed
            groups = []
            for text, positions, start, end in header["groups"]:
                if not (text is None or type(text) is str) or not 0 <= start <= end <= size:
                    return None
                groups.append(Group(text, tuple(positions), RowBlock(data, base + start, base + end)))
            if sum(len(g.positions) for g in groups) != header["count"]:
                return None
            listing = cls(url, project, tuple(groups), int(header["count"]), header["content_type"], header.get("etag"),
                          header["body_sha256"], float(header["fetched"]), int(header["max_age"]))
            if header.get("grouping") == GROUPING:
                return listing, False
            rows = listing.page("").rows()
            if not all(type(row) is list and len(row) == ROW_FIELDS for row in rows):
                return None
            return replace(listing, groups=tuple(group_rows(rows, project)[1])), True
        except _FAULTS:
            return None

    @classmethod
    def from_rows_json(cls, data: bytes, url: str, project: str) -> Listing | None:
        """A page stored by the kresolve before version groups (one JSON document of rows)."""
        try:
            entry = json.loads(data)
            if entry.get("format") != ROW_FORMAT or entry.get("url") != url:
                return None
            if not all(type(row) is list and len(row) == ROW_FIELDS for row in entry["files"]):
                return None  # not what a kresolve wrote: read the page again
            return cls.of_rows(url, project, entry["files"], entry["content_type"], entry.get("etag"),
                               entry["body_sha256"], float(entry["fetched"]), int(entry["max_age"]))
        except _FAULTS:
            return None


def _body_digest(body: str | bytes) -> str:
    """A page body's sha256 (Listing.body_sha256): of its UTF-8 bytes, however it was given."""
    return hashlib.sha256(body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")).hexdigest()


def _file_key(path: Path, st: os.stat_result) -> str:
    return f"{path}\0{st.st_size}\0{st.st_mtime_ns}"


class Cache:
    def __init__(self, root: Path | None = None):
        self.root = root or default_cache_dir()

    def _key_path(self, kind: str, key: str, suffix: str) -> Path:
        digest = key if kind in ("metadata", "dates") else hashlib.sha256(key.encode()).hexdigest()
        return self.root / kind / digest[:2] / f"{digest}{suffix}"

    # Wheel METADATA never changes for a given file hash, so it never expires. It is stored with
    # what kresolve parsed from it (client.DistMetadata, one line of JSON) in one file: a warm
    # lock reads a few dozen of them and parses no METADATA.
    def get_metadata_entry(self, key: str) -> tuple[bytes, bytes] | None:
        """(the parsed line, b"" if none; the METADATA bytes), or None. A file of an earlier
        kresolve (the METADATA alone) is read too."""
        try:
            parsed, newline, data = self._key_path("metadata", key, ".meta").read_bytes().partition(b"\n")
            if newline:
                return parsed, data
        except OSError:
            pass
        try:
            return b"", self._key_path("metadata", key, ".METADATA").read_bytes()
        except OSError:
            return None

    def get_metadata(self, key: str) -> bytes | None:
        entry = self.get_metadata_entry(key)
        return entry[1] if entry is not None else None

    def put_metadata(self, key: str, data: bytes, parsed: bytes) -> None:
        """`parsed`: one line (JSON escapes newlines)."""
        atomic_write(self._key_path("metadata", key, ".meta"), parsed + b"\n" + data)

    # A file's release date (read from inside it) never changes for a given hash either.
    def get_date(self, sha256: str) -> str | None:
        try:
            return self._key_path("dates", sha256, ".date").read_text("utf-8")
        except OSError:
            return None

    def put_date(self, sha256: str, text: str) -> None:
        atomic_write(self._key_path("dates", sha256, ".date"), text.encode())

    # A local file's sha256 (a --find-links directory's wheels), keyed by its path, size and
    # modification time as uv keys local files: a torch wheel there is not hashed on every lock.
    def get_file_hash(self, path: Path, st: os.stat_result) -> str | None:
        try:
            text = self._key_path("filehashes", _file_key(path, st), ".sha256").read_text("utf-8")
        except OSError:
            return None
        return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None

    def put_file_hash(self, path: Path, st: os.stat_result, sha256: str) -> None:
        try:
            atomic_write(self._key_path("filehashes", _file_key(path, st), ".sha256"), sha256.encode())
        except OSError:
            pass  # a cache this process cannot write: the file is hashed again next time

    # -- index pages ---------------------------------------------------------------------------
    def _listing_path(self, url: str) -> Path:
        return self._key_path("pages", url, ".listing")

    def get_listing(self, url: str, project: str) -> Listing | None:
        """The parsed page cached for `url` (project `project`, canonical). An entry an earlier
        kresolve wrote (rows without version groups, or the page body) is converted and stored
        in this format, so a cache filled by an earlier kresolve stays usable offline; a damaged
        entry is a miss."""
        try:
            decoded = Listing.decode(self._listing_path(url).read_bytes(), url, project)
        except OSError:
            decoded = None
        if decoded is not None:
            listing, regrouped = decoded
            if regrouped:
                self._store(listing)
            return listing
        try:
            converted = Listing.from_rows_json(self._key_path("pages", url, ".rows.json").read_bytes(), url, project)
        except OSError:
            converted = None
        if converted is not None:
            return self._store(converted)
        old = self.get_page(url)
        if old is None:
            return None
        try:
            return self.put_listing(url, old["body"], old["content_type"], old.get("etag"), int(old.get("max_age", 0)),
                                    project, fetched=float(old.get("fetched", 0)))
        except _FAULTS:
            return None

    def _store(self, listing: Listing) -> Listing:
        atomic_write(self._listing_path(listing.url), listing.encode())
        return listing

    def put_listing(self, url: str, body: str | bytes, content_type: str, etag: str | None, max_age: int, project: str,
                    previous: Listing | None = None, fetched: float | None = None) -> Listing:
        """Parse and store a page just fetched (its groups kept from `previous` when the body is
        the same). Raises ValueError for a page that cannot be parsed, storing nothing. `body`
        as bytes is hashed as it is (the same digest as its text for a UTF-8 page)."""
        digest = _body_digest(body)
        when = time.time() if fetched is None else fetched
        if (previous is not None and previous.body_sha256 == digest and previous.content_type == content_type
                and previous.project == project):
            listing = replace(previous, etag=etag, fetched=when, max_age=max_age)
        else:
            listing = Listing.of_rows(url, project, page_rows(body, content_type, url), content_type, etag, digest,
                                      when, max_age)
        return self._store(listing)

    def local_listing(self, url: str, body: str, project: str) -> Listing:
        """A local (file:) index page, parsed: the cached parse when the body's sha256 is the one
        it was made from (a local page has no validators, but reading and hashing it costs a
        fraction of parsing its HTML). Stored best-effort: an unwritable cache parses each time.
        Raises ValueError for a page that cannot be parsed, as put_listing does."""
        digest = _body_digest(body)
        cached = self.get_listing(url, project)
        if cached is not None and cached.body_sha256 == digest and cached.content_type == LOCAL_TYPE:
            return cached
        listing = Listing.of_rows(url, project, page_rows(body, LOCAL_TYPE, url), LOCAL_TYPE, None, digest, time.time(), 0)
        try:
            self._store(listing)
        except OSError:
            pass
        return listing

    def revalidated(self, listing: Listing, max_age: int) -> Listing:
        """The index answered 304 Not Modified: the same rows, fresh again."""
        return self._store(replace(listing, fetched=time.time(), max_age=max_age))

    def get_page(self, url: str) -> dict[str, Any] | None:
        """{'body', 'content_type', 'etag', 'fetched', 'max_age'} or None (the format before `Listing`)."""
        try:
            entry = json.loads(self._key_path("pages", url, ".json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) else None

    def put_page(self, url: str, body: str, content_type: str, etag: str | None, max_age: int) -> None:
        entry = {
            "url": url,
            "body": body,
            "content_type": content_type,
            "etag": etag,
            "fetched": time.time(),
            "max_age": max_age,
        }
        atomic_write(self._key_path("pages", url, ".json"), json.dumps(entry).encode())
