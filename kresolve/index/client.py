"""The package index as the solver sees it: project files and wheel metadata, cached, concurrent."""

from __future__ import annotations

import hashlib
import re
import ssl
import threading
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from functools import lru_cache
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import httpx
from packaging.utils import canonicalize_name

from ..artifact.limits import MAX_SDIST_BYTES, MiB
from ..errors import IndexUnavailable
from .cache import Cache
from .config import IndexConfig
from .rangezip import RangeFile, read_dist_info_metadata
from .sdist import READER_VERSION, SDIST_SUFFIXES, is_sdist, read_sdist, refused, unknown_from_headers
from .simple import ACCEPT, DistFile, parse_page

USER_AGENT = "kresolve (+https://github.com/kresolve)"
RETRIES = 3


@dataclass(frozen=True)
class DistMetadata:
    name: str
    version: str
    requires_python: str | None
    requires_dist: tuple[str, ...]
    provides_extra: tuple[str, ...]
    unknown_dependencies: str | None = None  # an sdist whose dependencies only running it would tell


def parse_metadata(data: bytes) -> DistMetadata:
    msg = BytesHeaderParser().parsebytes(data)
    return DistMetadata(
        name=msg.get("Name", ""),
        version=msg.get("Version", ""),
        requires_python=msg.get("Requires-Python"),
        requires_dist=tuple(msg.get_all("Requires-Dist") or ()),
        provides_extra=tuple(canonicalize_name(e) for e in msg.get_all("Provides-Extra") or ()),
        unknown_dependencies=unknown_from_headers(msg.get),
    )


def _max_age(cache_control: str | None, default: int = 600) -> int:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return int(match.group(1)) if match else default


@lru_cache(maxsize=None)
def _ssl_context(cafile: str) -> ssl.SSLContext:
    """One context per CA bundle for the process: contexts are thread-safe, and loading the
    bundle again while other threads do TLS can fail with a stale OpenSSL error."""
    return ssl.create_default_context(cafile=cafile)


def _local_path(url: str) -> Path:
    return Path(url2pathname(unquote(urlparse(url).path)))


class Index:
    """All configured indexes merged, as pip merges them; first index wins for a duplicate file."""

    def __init__(
        self,
        config: IndexConfig,
        cache: Cache | None = None,
        offline: bool = False,
        workers: int = 8,
        backoff: float = 0.5,
    ):
        self.config = config
        self.cache = cache or Cache()
        self.offline = offline
        self.backoff = backoff
        verify: ssl.SSLContext | bool = _ssl_context(config.cert) if config.cert else True
        self._http = httpx.Client(
            follow_redirects=True,
            timeout=httpx.Timeout(30.0, connect=15.0),
            headers={"User-Agent": USER_AGENT},
            verify=verify,
            auth=httpx.NetRCAuth(None) if (Path.home() / ".netrc").exists() else None,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kresolve-index")
        self._lock = threading.Lock()
        self._files: dict[str, Future[list[DistFile]]] = {}
        self._meta: dict[str, Future[DistMetadata]] = {}
        self.stats = {"pages_fetched": 0, "metadata_ranged": 0, "metadata_downloaded": 0, "metadata_pep658": 0}

    def close(self) -> None:
        # Wait for requests already running before closing their client: a socket closed under a
        # worker frees its descriptor number for the next open() of another thread, and the
        # worker's next read then takes bytes from that file (a rules file lost its first five
        # bytes to a TLS record-header read that way).
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    # -- project pages ---------------------------------------------------------------------
    def files(self, project: str) -> list[DistFile]:
        return self._files_future(project).result()

    def prefetch(self, projects: Iterable[str]) -> None:
        for project in projects:
            self._files_future(project)

    def _files_future(self, project: str) -> Future[list[DistFile]]:
        name = canonicalize_name(project)
        with self._lock:
            if name not in self._files:
                self._files[name] = self._pool.submit(self._load_files, name)
            return self._files[name]

    def _load_files(self, name: str) -> list[DistFile]:
        seen: set[str] = set()
        merged: list[DistFile] = []
        for index_url in self.config.urls:
            for dist in self._project_page(index_url, name):
                if dist.filename not in seen:
                    seen.add(dist.filename)
                    merged.append(dist)
        return merged

    def _project_page(self, index_url: str, name: str) -> list[DistFile]:
        url = f"{index_url}/{name}/"
        if url.startswith("file:"):
            path = _local_path(url)
            page = path / "index.html" if path.is_dir() else path
            if not page.is_file():
                return []
            return parse_page(page.read_text("utf-8", "replace"), "text/html", url, index_url)
        cached = self.cache.get_page(url)
        if cached and (self.offline or Cache.is_fresh(cached)):
            return parse_page(cached["body"], cached["content_type"], url, index_url)
        if self.offline:
            raise IndexUnavailable(f"offline: no cached index page for {name!r} from {index_url}")
        headers = {"Accept": ACCEPT}
        if cached and cached.get("etag"):
            headers["If-None-Match"] = cached["etag"]
        response = self._get(url, headers, index_url, allow_404=True)
        if response.status_code == 404:
            return []
        if response.status_code == 304 and cached:
            body, ctype = cached["body"], cached["content_type"]
        else:
            body, ctype = response.text, response.headers.get("content-type", "text/html")
            self.stats["pages_fetched"] += 1
        self.cache.put_page(url, body, ctype, response.headers.get("etag"), _max_age(response.headers.get("cache-control")))
        try:
            return parse_page(body, ctype, url, index_url)
        except ValueError as exc:
            raise IndexUnavailable(f"index {index_url} sent an unreadable page for {name!r}: {exc}") from None

    def _get(self, url: str, headers: dict[str, str], index_url: str, allow_404: bool = False) -> httpx.Response:
        last = ""
        for attempt in range(RETRIES):
            try:
                response = self._http.get(url, headers=headers)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400 or (allow_404 and response.status_code == 404):
                    return response
                last = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # a client error will not go away by asking again
            if attempt + 1 < RETRIES:
                time.sleep(self.backoff * 2**attempt)
        raise IndexUnavailable(f"index {index_url} failed for {url}: {last}")

    # -- wheel metadata --------------------------------------------------------------------
    def metadata(self, dist: DistFile) -> DistMetadata:
        return self._meta_future(dist).result()

    def prefetch_metadata(self, dists: Iterable[DistFile]) -> None:
        for dist in dists:
            if not is_sdist(dist.filename):  # an sdist is downloaded whole: only when the solver tries it
                self._meta_future(dist)

    def _meta_future(self, dist: DistFile) -> Future[DistMetadata]:
        key = dist.sha256 or dist.url
        with self._lock:
            if key not in self._meta:
                self._meta[key] = self._pool.submit(self._load_metadata, dist)
            return self._meta[key]

    def _load_metadata(self, dist: DistFile) -> DistMetadata:
        # Keyed by the file's hash: the same wheel has the same METADATA on every index.
        key = dist.sha256 or re.sub(r"[^A-Za-z0-9]", "_", dist.url)[-200:]
        if is_sdist(dist.filename):
            key += f".sdist{READER_VERSION}"  # what kresolve read from it, not the file's own METADATA
        data = self.cache.get_metadata(key)
        if data is None:
            if self.offline:
                raise IndexUnavailable(f"offline: metadata of {dist.filename} is not in the cache")
            data = self._fetch_metadata(dist)
            self.cache.put_metadata(key, data)
        return parse_metadata(data)

    def range_file(self, dist: DistFile, tail: int | None = None) -> RangeFile:
        """A seekable view of a remote file that fetches only the byte ranges read (HTTP Range)."""

        def fetch(start: int | None, end: int | None) -> tuple[bytes, int | None, bool]:
            rng = f"bytes=-{end}" if start is None else f"bytes={start}-{end}"
            response = self._get(dist.url, {"Range": rng, "Accept-Encoding": "identity"}, dist.index)
            total = None
            content_range = response.headers.get("content-range", "")
            if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
                total = int(content_range.rsplit("/", 1)[1])
            return response.content, total, response.status_code == 206

        return RangeFile(fetch) if tail is None else RangeFile(fetch, tail)

    def _fetch_metadata(self, dist: DistFile) -> bytes:
        if is_sdist(dist.filename):
            return self._sdist_metadata(dist)
        if dist.url.startswith("file:"):
            with open(_local_path(dist.url), "rb") as fh:
                return read_dist_info_metadata(fh)
        if dist.has_core_metadata:
            self.stats["metadata_pep658"] += 1
            return self._get(dist.url + ".metadata", {}, dist.index).content

        try:
            remote = self.range_file(dist)
            if remote.whole:
                self.stats["metadata_downloaded"] += 1
            else:
                self.stats["metadata_ranged"] += 1
            return read_dist_info_metadata(remote)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise IndexUnavailable(f"could not read METADATA of {dist.filename} from {dist.index}: {exc}") from None

    # -- source distributions ------------------------------------------------------------------
    def _sdist_metadata(self, dist: DistFile) -> bytes:
        """What the sdist states about its dependencies, read without running it (index/sdist.py)."""
        project, _, version = dist.filename[: -len(next(s for s in SDIST_SUFFIXES if dist.filename.endswith(s)))].rpartition("-")
        data = self._download(dist, MAX_SDIST_BYTES)
        if data is None:
            why = f"its source distribution is larger than {MAX_SDIST_BYTES // MiB} MiB, more than kresolve reads at lock time"
            return refused(canonicalize_name(project), version, why).to_core_metadata()
        return read_sdist(dist.filename, data, project, version).to_core_metadata()

    def _download(self, dist: DistFile, limit: int) -> bytes | None:
        """The whole file, checked against its sha256; None when it is larger than `limit`."""
        if dist.url.startswith("file:"):
            path = _local_path(dist.url)
            if path.stat().st_size > limit:
                return None
            data = path.read_bytes()
        else:
            data = self._stream(dist, limit)
            if data is None:
                return None
        if dist.sha256 and hashlib.sha256(data).hexdigest() != dist.sha256:
            raise IndexUnavailable(f"{dist.filename} from {dist.index} does not match the sha256 its index page gives")
        self.stats["sdists_downloaded"] = self.stats.get("sdists_downloaded", 0) + 1
        return data

    def _stream(self, dist: DistFile, limit: int) -> bytes | None:
        last = ""
        for attempt in range(RETRIES):
            try:
                with self._http.stream("GET", dist.url, headers={"Accept-Encoding": "identity"}) as response:
                    if response.status_code < 400:
                        length = response.headers.get("content-length", "")
                        if length.isdigit() and int(length) > limit:
                            return None
                        buf = bytearray()
                        for chunk in response.iter_raw():
                            buf += chunk
                            if len(buf) > limit:
                                return None
                        return bytes(buf)
                    last = f"HTTP {response.status_code}"
                    if response.status_code < 500 and response.status_code != 429:
                        break
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < RETRIES:
                time.sleep(self.backoff * 2**attempt)
        raise IndexUnavailable(f"index {dist.index} failed for {dist.url}: {last}")
