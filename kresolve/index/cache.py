"""On-disk cache: immutable wheel metadata by sha256, index pages with their freshness.

Index pages are stored parsed (`Listing`): one JSON document of compact rows per page, with the
page's validators (URL, ETag, sha256 of the body) and freshness (`max-age`). A warm lock reads
a few dozen pages with tens of thousands of files; loading rows skips HTML/JSON page parsing and
URL resolution, and a re-fetched page whose body hash is unchanged keeps its rows unparsed.
JSON, not pickle: the cache directory may be shared, and loading it must never run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .simple import ROW_FIELDS, ROW_FORMAT, DistFile, PageRows, Row, page_rows


def default_cache_dir() -> Path:
    if os.environ.get("KRESOLVE_CACHE_DIR"):
        return Path(os.environ["KRESOLVE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kresolve"


def atomic_write(path: Path, data: bytes) -> None:
    """Readers never see half a file: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Listing:
    """One index page, parsed: its files as rows, and what says whether it is still current."""

    url: str
    rows: tuple[Row, ...]
    content_type: str
    etag: str | None
    body_sha256: str
    fetched: float
    max_age: int

    def fresh(self) -> bool:
        return time.time() - self.fetched < self.max_age

    def files(self, index: str) -> list[DistFile]:
        return [DistFile.from_row(row, index) for row in self.rows]

    def page(self, index: str) -> PageRows:
        """The rows as they are, for simple.ProjectFiles to make into files when looked at."""
        return PageRows(self.rows, index)

    def to_json(self) -> bytes:
        return json.dumps({"format": ROW_FORMAT, "url": self.url, "content_type": self.content_type, "etag": self.etag,
                           "body_sha256": self.body_sha256, "fetched": self.fetched, "max_age": self.max_age,
                           "files": list(self.rows)}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Listing | None:
        """None for another row format (or a damaged entry): the page is then read again."""
        try:
            entry = json.loads(data)
            if entry.get("format") != ROW_FORMAT:
                return None
            if not all(type(row) is list and len(row) == ROW_FIELDS for row in entry["files"]):
                return None  # not what this kresolve writes: read the page again
            return cls(entry["url"], tuple(entry["files"]), entry["content_type"], entry.get("etag"),
                       entry["body_sha256"], float(entry["fetched"]), int(entry["max_age"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


class Cache:
    def __init__(self, root: Path | None = None):
        self.root = root or default_cache_dir()

    def _key_path(self, kind: str, key: str, suffix: str) -> Path:
        digest = key if kind in ("metadata", "dates") else hashlib.sha256(key.encode()).hexdigest()
        return self.root / kind / digest[:2] / f"{digest}{suffix}"

    # Wheel METADATA never changes for a given file hash, so it never expires.
    def get_metadata(self, key: str) -> bytes | None:
        try:
            return self._key_path("metadata", key, ".METADATA").read_bytes()
        except OSError:
            return None

    def put_metadata(self, key: str, data: bytes) -> None:
        atomic_write(self._key_path("metadata", key, ".METADATA"), data)

    # A file's release date (read from inside it) never changes for a given hash either.
    def get_date(self, sha256: str) -> str | None:
        try:
            return self._key_path("dates", sha256, ".date").read_text("utf-8")
        except OSError:
            return None

    def put_date(self, sha256: str, text: str) -> None:
        atomic_write(self._key_path("dates", sha256, ".date"), text.encode())

    # -- index pages ---------------------------------------------------------------------------
    def get_listing(self, url: str) -> Listing | None:
        """The parsed page cached for `url`; an entry of the older body-only format is parsed
        once and stored as rows, so a cache filled by an earlier kresolve stays usable offline."""
        try:
            listing = Listing.from_json(self._key_path("pages", url, ".rows.json").read_bytes())
        except OSError:
            listing = None
        if listing is not None and listing.url == url:
            return listing
        old = self.get_page(url)
        if old is None:
            return None
        try:
            return self.put_listing(url, old["body"], old["content_type"], old.get("etag"), int(old.get("max_age", 0)),
                                    fetched=float(old.get("fetched", 0)))
        except (ValueError, KeyError, TypeError):
            return None

    def put_listing(self, url: str, body: str, content_type: str, etag: str | None, max_age: int,
                    previous: Listing | None = None, fetched: float | None = None) -> Listing:
        """Parse and store a page just fetched (its rows kept from `previous` when the body is
        the same). Raises ValueError for a page that cannot be parsed, storing nothing."""
        digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
        if previous is not None and previous.body_sha256 == digest and previous.content_type == content_type:
            rows = previous.rows
        else:
            rows = tuple(page_rows(body, content_type, url))
        listing = Listing(url, rows, content_type, etag, digest, time.time() if fetched is None else fetched, max_age)
        atomic_write(self._key_path("pages", url, ".rows.json"), listing.to_json())
        return listing

    def revalidated(self, listing: Listing, max_age: int) -> Listing:
        """The index answered 304 Not Modified: the same rows, fresh again."""
        renewed = replace(listing, fetched=time.time(), max_age=max_age)
        atomic_write(self._key_path("pages", listing.url, ".rows.json"), renewed.to_json())
        return renewed

    def get_page(self, url: str) -> dict | None:
        """{'body', 'content_type', 'etag', 'fetched', 'max_age'} or None (the format before `Listing`)."""
        try:
            return json.loads(self._key_path("pages", url, ".json").read_text("utf-8"))
        except (OSError, ValueError):
            return None

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

    @staticmethod
    def is_fresh(entry: dict) -> bool:
        return time.time() - entry.get("fetched", 0) < entry.get("max_age", 0)
