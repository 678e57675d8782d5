"""On-disk cache: immutable wheel metadata by sha256, index pages with their freshness."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path


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

    def get_page(self, url: str) -> dict | None:
        """{'body', 'content_type', 'etag', 'fetched', 'max_age'} or None."""
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
