"""The package index as the solver sees it: project files and wheel metadata, cached, concurrent."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlparse

import packaging
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from ..artifact.limits import MAX_SDIST_BYTES, MiB
from ..errors import IndexUnavailable
from ..progress import NO_PROGRESS, Counter, Progress
from .cache import Cache, Listing
from .config import IndexConfig
from .rangezip import RangeFile, read_dist_info_metadata
from .sdist import READER_VERSION, is_sdist, read_sdist, refused, split_sdist_filename, unknown_from_headers
from .simple import ACCEPT, DistFile, PageRows, ProjectFiles, is_json, parse_page

if TYPE_CHECKING:
    import ssl

    import httpx  # imported where a request is made: a warm or offline lock never needs it

USER_AGENT = "kresolve (+https://github.com/kresolve)"
RETRIES = 3

_T = TypeVar("_T")


class _NeedsNetwork(Exception):  # a signal between Index's own methods, never seen outside
    """A load tried from the cache and local files alone (network=False) needs a request."""


class OnDemand(Future[_T]):
    """A Future that the first thread asking for its result computes, in that thread.

    For an index that needs no network (offline, or only local pages and files), loading a
    page or a METADATA is CPU work under the GIL: worker threads would only take turns with the
    solver (a warm offline lock spent ~140 ms of its solve waiting for the GIL), and would load
    pages the solver never asks for."""

    def __init__(self, load: Callable[[], _T]):
        super().__init__()
        self._load = load
        self._once = threading.Lock()

    def result(self, timeout: float | None = None) -> _T:
        with self._once:
            if not self.done():
                try:
                    self.set_result(self._load())
                except Exception as exc:  # noqa: BLE001  # kept as a worker's Future keeps it: raised to every caller
                    self.set_exception(exc)
        return super().result(timeout)


@dataclass(frozen=True)
class DistMetadata:
    name: str
    version: str
    requires_python: str | None
    requires_dist: tuple[str, ...]
    provides_extra: tuple[str, ...]
    unknown_dependencies: str | None = None  # an sdist whose dependencies only running it would tell

    def to_json(self) -> bytes:
        return json.dumps({"parser": METADATA_PARSER, "name": self.name, "version": self.version,
                           "requires_python": self.requires_python, "requires_dist": self.requires_dist,
                           "provides_extra": self.provides_extra, "unknown_dependencies": self.unknown_dependencies},
                          separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> DistMetadata | None:
        """None for another parser's entry or a damaged one: the METADATA is parsed again."""
        try:
            entry = json.loads(data)
            if entry["parser"] != METADATA_PARSER:
                return None
            strings = (entry["name"], entry["version"], *entry["requires_dist"], *entry["provides_extra"])
            optional = (entry["requires_python"], entry["unknown_dependencies"])
            if not all(type(x) is str for x in strings) or not all(x is None or type(x) is str for x in optional):
                return None
            return cls(entry["name"], entry["version"], entry["requires_python"], tuple(entry["requires_dist"]),
                       tuple(entry["provides_extra"]), entry["unknown_dependencies"])
        except (ValueError, KeyError, TypeError):
            return None


# What `parse_metadata` makes of METADATA depends on it and on packaging: a parsed entry of
# another is parsed again from the METADATA bytes (which never change).
METADATA_PARSER = f"1/packaging-{packaging.__version__}"


def parse_metadata(data: bytes) -> DistMetadata:
    """The fields the solver needs from METADATA / PKG-INFO bytes, by `packaging.metadata`.

    `parse_email` is the tolerant half of packaging's reader: real old wheels carry fields the
    strict `Metadata.from_email` rejects (a bad License-Expression, a repeated Name), and such a
    field lands in `unparsed` instead of failing the file, so it is read from there as the email
    headers said it (the first value of a single-use field)."""
    from packaging.metadata import parse_email  # and the email package: only when METADATA is parsed

    raw, unparsed = parse_email(data)

    def first(field: str) -> str | None:
        values = unparsed.get(field)
        return values[0] if values else None

    requires_dist = [*raw.get("requires_dist", ()), *unparsed.get("requires-dist", ())]
    extras = [*raw.get("provides_extra", ()), *unparsed.get("provides-extra", ())]
    return DistMetadata(
        name=raw.get("name") or first("name") or "",
        version=raw.get("version") or first("version") or "",
        requires_python=raw.get("requires_python", first("requires-python")),
        requires_dist=tuple(requires_dist),
        provides_extra=tuple(canonicalize_name(e) for e in extras),
        unknown_dependencies=unknown_from_headers(lambda header: first(header.lower())),
    )


def _max_age(cache_control: str | None, default: int = 600) -> int:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return int(match.group(1)) if match else default


@cache
def _ssl_context(cafile: str) -> ssl.SSLContext:
    """One context per CA bundle for the process: contexts are thread-safe, and loading the
    bundle again while other threads do TLS can fail with a stale OpenSSL error."""
    import ssl  # with the HTTP client: not on the path of an offline lock

    return ssl.create_default_context(cafile=cafile)


# Imported by httpx and httpcore only if installed, and only for what kresolve never uses: trio
# and anyio for async clients (httpcore._synchronization), click (and with it rich.syntax,
# pygments) for the `httpx` command line. Importing them is ~0.25 s of CPU of a cold or online
# lock, so they are held off while httpx imports (see load_httpx).
_NOT_FOR_HTTPX = ("trio", "anyio", "click")


@cache
def load_httpx() -> ModuleType:
    """httpx, imported once without the async and command-line extras above (each is a
    try-import there: absent, httpcore's sync client and httpx's API are the same). The modules
    are held off only during that import: a later `import click` elsewhere imports it as usual.
    One already imported is left as it is."""
    held = [name for name in _NOT_FOR_HTTPX if name not in sys.modules]
    for name in held:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        import httpcore  # noqa: F401  # httpx imports it when a client is made: that import is the one to guard
        import httpx
    except ImportError:
        held_off = True  # a release that needs one of them at import: the plain import below
    else:
        held_off = False
    finally:
        for name in held:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
    if held_off:
        for name in [m for m in sys.modules if m.split(".")[0] in ("httpx", "httpcore")]:
            del sys.modules[name]  # half-imported without the extras: imported again with them
        import httpx
    return httpx


def _local_path(url: str) -> Path:
    path = unquote(urlparse(url).path)
    if os.name == "nt":
        from nturl2path import url2pathname

        return Path(url2pathname(path))
    # urllib.request.url2pathname on POSIX, without importing urllib.request (ssl, http.client,
    # email: a lock reading local index pages would import them for this one call).
    return Path(unquote(path))


def _project_of(filename: str) -> str | None:
    """The canonical project name of a wheel or sdist file name (None: neither)."""
    try:
        if filename.endswith(".whl"):
            return canonicalize_name(parse_wheel_filename(filename)[0])
        if is_sdist(filename):
            return canonicalize_name(parse_sdist_filename(filename.replace(".tar.bz2", ".tar.gz"))[0])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


class Index:
    """All configured indexes merged, as pip merges them; first index wins for a duplicate file."""

    def __init__(
        self,
        config: IndexConfig,
        cache: Cache | None = None,
        offline: bool = False,
        workers: int = 8,
        backoff: float = 0.5,
        progress: Progress | None = None,
    ):
        self.config = config
        self.cache = cache or Cache()
        self.offline = offline
        self.backoff = backoff
        self.progress: Progress = progress or NO_PROGRESS  # counts pages and metadata fetched
        self._live: set[str] = set()  # indexes that served a project page: their root exists
        self._links: dict[str, list[DistFile]] = {}  # --find-links HTML pages, fetched once
        self._dirs: dict[Path, dict[str, list[Path]]] = {}  # --find-links directories, listed once
        self._stale: dict[str, Listing] = {}  # cached pages past their max-age, handed to the worker that asks again
        self._client: httpx.Client | None = None  # made on first use (`_http`)
        self._client_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kresolve-index")
        # METADATA reads have their own workers: on a cold cache the pages of a whole level of the
        # dependency tree are queued at once (big pages take a few hundred ms each), and the
        # METADATA the resolver waits for next would otherwise queue behind all of them.
        self._meta_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kresolve-meta")
        self._lock = threading.RLock()  # reentrant: a load tried in the asking thread runs under it
        self._files: dict[str, Future[ProjectFiles]] = {}
        self._meta: dict[str, Future[DistMetadata]] = {}
        self.stats = {"pages_fetched": 0, "metadata_ranged": 0, "metadata_downloaded": 0, "metadata_pep658": 0}
        # Nothing to wait for on a network: pages and METADATA are read when the solver asks (OnDemand).
        self.needs_network = not offline and any(
            u.startswith(("http://", "https://")) for u in (*config.urls, *config.find_links))

    def close(self) -> None:
        # Wait for requests already running before closing their client: a socket closed under a
        # worker frees its descriptor number for the next open() of another thread, and the
        # worker's next read then takes bytes from that file (a rules file lost its first five
        # bytes to a TLS record-header read that way).
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._meta_pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    @property
    def _http(self) -> httpx.Client:
        """The HTTP client, made on first use: importing httpx (and what it pulls in) and loading
        the CA bundle are a large part of a warm lock's start-up, and an offline or warm lock
        whose pages are all fresh makes no request at all."""
        with self._client_lock:
            if self._client is None:
                httpx = load_httpx()

                verify: ssl.SSLContext | bool = _ssl_context(self.config.cert) if self.config.cert else True
                self._client = httpx.Client(
                    follow_redirects=True,
                    timeout=httpx.Timeout(30.0, connect=15.0),
                    headers={"User-Agent": USER_AGENT},
                    verify=verify,
                    auth=httpx.NetRCAuth(None) if (Path.home() / ".netrc").exists() else None,
                )
            return self._client

    # -- project pages ---------------------------------------------------------------------
    def files(self, project: str) -> list[DistFile]:
        return self._files_future(project).result().all()

    def project(self, project: str) -> ProjectFiles:
        """The project's files, made into DistFile objects only as they are looked at (the
        solver groups them by version from the filenames and opens a few versions)."""
        return self._files_future(project).result()

    def prefetch(self, projects: Iterable[str]) -> None:
        if not self.needs_network:
            return  # read when asked for: the solver may never ask
        for project in projects:
            self._files_future(project)

    def _files_future(self, project: str) -> Future[ProjectFiles]:
        name = canonicalize_name(project)
        with self._lock:
            if name not in self._files:
                self._files[name] = self._start(self._pool, lambda network: self._load_files(name, network))
            return self._files[name]

    def _start(self, pool: ThreadPoolExecutor, load: Callable[[bool], _T]) -> Future[_T]:
        """The Future of a page or METADATA load. Without a network, read when first asked for
        (OnDemand). With one, what the cache and local files answer (a fresh cached page, any
        cached METADATA) is read now in this thread, for the reason OnDemand gives; only what
        needs a request goes to a worker."""
        if not self.needs_network:
            return OnDemand(lambda: load(False))
        future: Future[_T] = Future()
        try:
            future.set_result(load(False))
        except _NeedsNetwork:
            return pool.submit(load, True)
        except Exception as exc:  # noqa: BLE001  # kept as a worker's Future keeps it: raised to every caller
            future.set_exception(exc)
        return future

    def _load_files(self, name: str, network: bool = True) -> ProjectFiles:
        merged = ProjectFiles()  # the first index wins for a duplicate filename
        for index_url in self.config.urls:
            merged.add(self._project_page(index_url, name, network))
        for location in self.config.find_links:
            merged.add(self._find_links(location, name, network))
        return merged

    # -- --find-links ------------------------------------------------------------------------
    def _find_links(self, location: str, name: str, network: bool = True) -> list[DistFile]:
        """pip's --find-links: a local directory of wheels/sdists, or an HTML page of links
        (a URL or a local file); the files of project `name` in it, with their sha256."""
        if location.startswith(("http://", "https://")):
            if location not in self._links:
                if self.offline:
                    raise IndexUnavailable(f"offline: --find-links {location} is a URL")
                if not network:
                    raise _NeedsNetwork
                response = self._get(location, {"Accept": "text/html"}, location)
                self.progress.advance(Counter.PAGES)
                self._links[location] = parse_page(response.text, "text/html", str(response.url), location)
            return [d for d in self._links[location] if _project_of(d.filename) == name]
        path = _local_path(location) if location.startswith("file:") else Path(location)
        if path.is_dir():
            return [DistFile(filename=f.name, url=f.resolve().as_uri(), sha256=self._local_sha256(f), index=location)
                    for f in self._listed(path).get(name, ())]
        if path.is_file():
            page = parse_page(path.read_text("utf-8", "replace"), "text/html", path.resolve().as_uri(), location)
            return [d for d in page if _project_of(d.filename) == name]
        return []  # pip ignores a location that does not exist (the command line checks its own)

    def _local_sha256(self, path: Path) -> str:
        """The file's sha256, remembered in the cache by path, size and modification time."""
        resolved = path.resolve()
        st = resolved.stat()
        known = self.cache.get_file_hash(resolved, st)
        if known is None:
            known = _sha256(resolved)
            self.cache.put_file_hash(resolved, st, known)
        return known

    def _listed(self, directory: Path) -> dict[str, list[Path]]:
        """A --find-links directory's files by project, listed once per Index (a lock asks it
        for every project it meets)."""
        with self._lock:
            found = self._dirs.get(directory)
        if found is None:
            found = {}
            for f in sorted(directory.iterdir()):
                project = _project_of(f.name)
                if project is not None and f.is_file():
                    found.setdefault(project, []).append(f)
            with self._lock:
                self._dirs[directory] = found
        return found

    def _project_page(self, index_url: str, name: str, network: bool = True) -> list[DistFile] | PageRows:
        url = f"{index_url}/{name}/"
        if url.startswith("file:"):
            path = _local_path(url)
            page = path / "index.html" if path.is_dir() else path
            if not page.is_file():
                if not _local_path(index_url).is_dir():
                    raise IndexUnavailable(f"index {index_url} does not exist (no such directory)")
                return []
            # Parsed once per page content (cache.local_listing), as the cached pages of a remote index are.
            return self.cache.local_listing(url, page.read_text("utf-8", "replace"), name).page(index_url)
        with self._lock:
            cached = self._stale.pop(url, None)  # read by the try without network just before
        if cached is None:
            cached = self.cache.get_listing(url, name)  # stored parsed (cache.Listing): no page parsing when warm
        if cached and (self.offline or cached.fresh()):
            self._live.add(index_url)  # it served this page before: it is an index
            return cached.page(index_url)
        if self.offline:
            raise IndexUnavailable(f"offline: no cached index page for {name!r} from {index_url}")
        if not network:
            if cached is not None:
                with self._lock:
                    self._stale[url] = cached  # the worker revalidates it without reading it again
            raise _NeedsNetwork
        headers = {"Accept": ACCEPT}
        if cached and cached.etag:
            headers["If-None-Match"] = cached.etag
        response = self._get(url, headers, index_url, allow_404=True)
        if response.status_code == 404:
            return []  # not on this index (another may have it): check_indexes() judges the index itself
        self._live.add(index_url)
        max_age = _max_age(response.headers.get("cache-control"))
        if response.status_code == 304 and cached:
            return self.cache.revalidated(cached, max_age).page(index_url)
        self.stats["pages_fetched"] += 1
        self.progress.advance(Counter.PAGES)
        try:
            content_type = response.headers.get("content-type", "text/html")
            # A JSON page is parsed from its bytes: its text would be a second copy of a page of
            # up to ~5 MB (grpcio), kept by the response while the page is parsed.
            body = response.content if is_json(content_type) else response.text
            listing = self.cache.put_listing(url, body, content_type, response.headers.get("etag"), max_age, name,
                                             previous=cached)
        except ValueError as exc:
            raise IndexUnavailable(f"index {index_url} sent an unreadable page for {name!r}: {exc}") from None
        return listing.page(index_url)

    def check_indexes(self) -> None:
        """Called when nothing solved: was an index simply wrong? A project page answering 404
        means "not on this index" (another index may have it), so a 404 alone is never an error.
        But an index that served no project page at all in the whole solve, and whose own root
        page answers 404 or 410 too, is not an index (a mistyped --index-url): IndexUnavailable
        (exit 4) names it, instead of "no environment satisfies". The root's body is never read.
        5xx answers and connection errors fail at once, after retries, in `_get`."""
        httpx = load_httpx()

        for index_url in self.config.urls:
            if index_url in self._live or index_url.startswith("file:") or self.offline:
                continue
            try:
                with self._http.stream("GET", index_url + "/", headers={"Accept": ACCEPT}) as response:
                    status = response.status_code
            except httpx.HTTPError as exc:
                raise IndexUnavailable(f"index {index_url} failed: GET {index_url}/: {type(exc).__name__}: {exc}") from None
            if status in (404, 410):
                raise IndexUnavailable(f"index {index_url} is not a package index: it served none of the projects asked "
                                       f"and {index_url}/ answers HTTP {status} (check --index-url, --extra-index-url, pip.conf)")

    def _get(self, url: str, headers: dict[str, str], index_url: str, allow_404: bool = False) -> httpx.Response:
        httpx = load_httpx()

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
        raise IndexUnavailable(f"index {index_url} failed: GET {url}: {last} (after {attempt + 1} attempt{'s' if attempt else ''})")

    # -- wheel metadata --------------------------------------------------------------------
    def metadata(self, dist: DistFile) -> DistMetadata:
        return self._meta_future(dist).result()

    def prefetch_metadata(self, dists: Iterable[DistFile], then: Callable[[DistMetadata], None] | None = None) -> None:
        """Start reading the files' METADATA; `then` is called with each one once it is read
        (in a worker thread; not for a file whose read failed). Nothing when nothing needs the
        network: each METADATA is read when asked for."""
        if not self.needs_network:
            return
        for dist in dists:
            if not is_sdist(dist.filename):  # an sdist is downloaded whole: only when the solver tries it
                future = self._meta_future(dist)
                if then is not None:
                    future.add_done_callback(lambda f: then(f.result()) if not f.cancelled() and f.exception() is None else None)

    def _meta_future(self, dist: DistFile) -> Future[DistMetadata]:
        key = dist.sha256 or dist.url
        with self._lock:
            if key not in self._meta:
                self._meta[key] = self._start(self._meta_pool, lambda network: self._load_metadata(dist, network))
            return self._meta[key]

    def _load_metadata(self, dist: DistFile, network: bool = True) -> DistMetadata:
        # Keyed by the file's hash: the same wheel has the same METADATA on every index.
        key = dist.sha256 or re.sub(r"[^A-Za-z0-9]", "_", dist.url)[-200:]
        if is_sdist(dist.filename):
            key += f".sdist{READER_VERSION}"  # what kresolve read from it, not the file's own METADATA
        entry = self.cache.get_metadata_entry(key)  # stored parsed too: a warm lock parses no METADATA
        if entry is None:
            if self.offline:
                raise IndexUnavailable(f"offline: metadata of {dist.filename} is not in the cache")
            if not network and not dist.url.startswith("file:"):
                raise _NeedsNetwork
            data = self._fetch_metadata(dist)
            meta = parse_metadata(data)
            self.cache.put_metadata(key, data, meta.to_json())
            self.progress.advance(Counter.METADATA)
            return meta
        parsed, data = entry
        cached = DistMetadata.from_json(parsed) if parsed else None
        if cached is not None:
            return cached
        meta = parse_metadata(data)  # stored by an earlier kresolve, or by another parser
        try:
            self.cache.put_metadata(key, data, meta.to_json())
        except OSError:
            pass  # a cache this process cannot write still serves the METADATA
        return meta

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
        project, version = split_sdist_filename(dist.filename)
        data = self._download(dist, MAX_SDIST_BYTES)
        if data is None:
            why = f"its source distribution is larger than {MAX_SDIST_BYTES // MiB} MiB, more than kresolve reads at lock time"
            return refused(canonicalize_name(project), version, why).to_core_metadata()
        return read_sdist(dist.filename, data, project, version).to_core_metadata()

    def _download(self, dist: DistFile, limit: int) -> bytes | None:
        """The whole file, checked against its sha256; None when it is larger than `limit`."""
        data: bytes | None
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
        httpx = load_httpx()

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
