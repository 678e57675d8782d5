"""Release dates of package versions, for the era cap (DESIGN.md "Nearest").

Where a date comes from, best first:
- PEP 700 `upload-time`, when a JSON simple index gives it (the index here does not);
- the file itself: the newest modification time among a wheel's `*.dist-info/` members, read
  from the zip central directory with HTTP range requests (the tail of the file, no download),
  or an sdist's first tar header (the first block of the gzip stream). Build time is at most
  days before the upload.
Reproducible builds write placeholder times (tensorboard's wheels all say 2020-01-01 00:00:00,
hatchling's 2020-02-02, zip's floor 1980-01-01): a time of exactly midnight, or before 1995, is
taken as "no date", never as a date. Dates are cached by file sha256 (they never change).

To keep requests few, not every version is dated: versions of one project are released in nearly
increasing order, so the newest version released on or before a cut-off is found by binary search
over the sorted version list (about log2(N) files per project). Backported patch releases (a
1.26.x after 2.0.0) break that assumption, so the boundary is approximate around them.
"""

from __future__ import annotations

import enum
import gzip
import io
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

from packaging.version import Version

from ..errors import IndexUnavailable
from .client import Index, OnDemand, _local_path
from .simple import DistFile

EARLIEST_PLAUSIBLE = date(1995, 1, 1)
UNKNOWN = "unknown"
PROBE_NEIGHBOURS = 2  # undated versions next to a probe that are tried before giving up
SDIST_HEAD = 16 * 1024  # enough gzip stream for the first tar header


class DateSource(str, enum.Enum):
    UPLOAD_TIME = "upload-time"  # PEP 700, from the index
    WHEEL = "wheel timestamp"  # newest .dist-info member time inside the wheel
    SDIST = "sdist timestamp"  # first tar/zip member time inside the sdist
    USER = "--exclude-newer"
    NONE = "no date"


@dataclass(frozen=True)
class Released:
    date: date | None
    source: DateSource
    filename: str | None = None

    def describe(self) -> str:
        if self.date is None:
            return "release date unknown (no upload-time, placeholder timestamps in the files)"
        return f"{self.date.isoformat()} ({self.source.value} of {self.filename})" if self.filename else self.date.isoformat()


@dataclass(frozen=True)
class Cutoff:
    """The era cap: candidates released after `date` come last (soft) or not at all (hard)."""

    date: date
    source: str  # in words: where the date came from
    hard: bool  # the user's --exclude-newer: uv's meaning, nothing newer is used

    def describe(self) -> str:
        kind = "hard cap, --exclude-newer" if self.hard else "soft cap: later releases only when nothing earlier installs"
        return f"{self.date.isoformat()} ({self.source}; {kind})"


def series(version: Version) -> tuple[int, int]:
    release = version.release + (0,)
    return release[0], release[1]


@dataclass(frozen=True)
class Boundary:
    """Where the cut-off falls in one project's versions, found by binary search.

    Two levels, because patch releases are backported: the newest release line (major.minor)
    whose first release is on or before the cut-off (first releases of lines come in version
    order), then, inside a line, the newest patch on or before it. Soft caps search inside the
    newest such line only (older lines count as before: their backports sort after it anyway);
    hard caps search every older line too, so that a 2.2.3 of 2021 is not let in by 2.2.0 of 2020.
    """

    known: bool  # False: the project's files carry no usable dates
    last_series: tuple[int, int] | None = None  # None with known=True: every line is newer
    patches: tuple[tuple[tuple[int, int], Version | None], ...] = ()  # per searched line

    def before(self, version: Version) -> bool | None:
        if not self.known:
            return None
        line = series(version)
        if self.last_series is None or line > self.last_series:
            return False
        last = dict(self.patches).get(line, version)
        return last is not None and version <= last


def parse_user_date(text: str) -> date:
    """YYYY-MM-DD or an RFC 3339 timestamp (as uv's --exclude-newer); ValueError otherwise."""
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if stamp.tzinfo is None:
        raise ValueError(f"{text!r} has a time but no time zone (RFC 3339 needs one, e.g. Z)")
    return stamp.astimezone(UTC).date()


def _plausible(stamp: tuple[int, int, int, int, int, int]) -> date | None:
    year, month, day, hour, minute, second = stamp
    if (hour, minute, second) == (0, 0, 0):
        return None  # SOURCE_DATE_EPOCH-style placeholder
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found if found >= EARLIEST_PLAUSIBLE else None


def wheel_date(fileobj: io.RawIOBase | io.BufferedIOBase) -> date | None:
    with zipfile.ZipFile(fileobj) as zf:
        stamps = [i.date_time for i in zf.infolist() if i.filename.split("/", 1)[0].endswith(".dist-info")]
    dates = [d for d in map(_plausible, stamps) if d is not None]
    return max(dates) if dates else None


def sdist_date(head: bytes) -> date | None:
    """The mtime of the first member of a .tar.gz, from the first bytes of the file."""
    try:
        data = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, 512)
    except zlib.error:
        return None
    if len(data) < 512:
        return None
    try:
        mtime = int(data[136:148].split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        return None
    stamp = datetime.fromtimestamp(mtime, UTC)
    return _plausible((stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second))


def _pick(files: list[DistFile]) -> list[DistFile]:
    """Files worth dating, cheapest first: pure wheels (small), other wheels, then sdists."""
    def rank(f: DistFile) -> int:
        if f.upload_time:
            return 0
        if f.filename.endswith("-none-any.whl"):
            return 1
        if f.filename.endswith(".whl"):
            return 2
        return 3 if f.filename.endswith((".tar.gz", ".zip")) else 9
    return [f for f in sorted(files, key=rank) if rank(f) < 9][:2]


class Dater:
    """Dates versions for one solve; thread-safe; searches run in their own small pool."""

    def __init__(self, index: Index, workers: int = 4):
        self.index = index
        self.stats = {"files_dated": 0}
        self._lock = threading.Lock()
        self._released: dict[str, Released] = {}
        self._boundaries: dict[tuple[str, date, bool], Future[Boundary]] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kresolve-dates")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)  # its searches use the index's client

    # -- one version --------------------------------------------------------------------------
    def released(self, files: list[DistFile]) -> Released:
        for dist in _pick(files):
            found = self._file_date(dist)
            if found.date is not None:
                return found
        return Released(None, DateSource.NONE)

    def _file_date(self, dist: DistFile) -> Released:
        if dist.upload_time:
            try:
                return Released(parse_user_date(dist.upload_time), DateSource.UPLOAD_TIME, dist.filename)
            except ValueError:
                pass
        source = DateSource.WHEEL if dist.filename.endswith(".whl") else DateSource.SDIST
        key = dist.sha256 or dist.url
        with self._lock:
            if key in self._released:
                return self._released[key]
        text = self.index.cache.get_date(dist.sha256) if dist.sha256 else None
        if text is None:
            if self.index.offline:
                return Released(None, DateSource.NONE)
            found = self._read_date(dist)
            text = found.isoformat() if found else UNKNOWN
            if dist.sha256:
                self.index.cache.put_date(dist.sha256, text)
        result = Released(None if text == UNKNOWN else date.fromisoformat(text), source, dist.filename)
        with self._lock:
            self._released[key] = result
        return result

    def _read_date(self, dist: DistFile) -> date | None:
        self.stats["files_dated"] += 1
        wheel = dist.filename.endswith((".whl", ".zip"))
        try:
            if dist.url.startswith("file:"):
                with open(_local_path(dist.url), "rb") as fh:
                    return wheel_date(fh) if wheel else sdist_date(fh.read(SDIST_HEAD))
            if wheel:
                return wheel_date(self.index.range_file(dist))
            if dist.filename.endswith(".tar.gz"):
                head = self.index.range_file(dist, tail=SDIST_HEAD)
                head.seek(0)
                return sdist_date(head.read(SDIST_HEAD))
        except (zipfile.BadZipFile, gzip.BadGzipFile, ValueError, OSError, EOFError, IndexUnavailable, io.UnsupportedOperation):
            return None  # an undatable file only loses the era ordering, never the solve
        return None

    # -- a project: binary search ---------------------------------------------------------------
    def boundary(self, name: str, cutoff: date, versions: Callable[[str], Mapping[Version, list[DistFile]]],
                 hard: bool = False) -> Boundary:
        return self._boundary_future(name, cutoff, versions, hard).result()

    def prefetch(self, names: Iterable[str], cutoff: date, versions: Callable[[str], Mapping[Version, list[DistFile]]],
                 hard: bool = False) -> None:
        if not self.index.needs_network:
            return  # searched when asked for (client.OnDemand): the solver may never ask
        for name in names:
            self._boundary_future(name, cutoff, versions, hard)

    def _boundary_future(self, name: str, cutoff: date, versions: Callable[[str], Mapping[Version, list[DistFile]]],
                         hard: bool) -> Future[Boundary]:
        with self._lock:
            key = (name, cutoff, hard)
            if key not in self._boundaries:
                self._boundaries[key] = (OnDemand(lambda: self._search(name, cutoff, versions, hard))
                                         if not self.index.needs_network
                                         else self._pool.submit(self._search, name, cutoff, versions, hard))
            return self._boundaries[key]

    def _search(self, name: str, cutoff: date, versions: Callable[[str], Mapping[Version, list[DistFile]]],
                hard: bool) -> Boundary:
        by_version = versions(name)
        # Keys only: every listed version has files, and reading a version's files makes them
        # (provider.VersionFiles) — the search dates a few of them.
        ordered = sorted(v for v in by_version if not v.is_prerelease and not v.is_devrelease)
        lines: dict[tuple[int, int], list[Version]] = {}
        for v in ordered:
            lines.setdefault(series(v), []).append(v)
        firsts = [vs[0] for vs in lines.values()]
        found = self._last_before(firsts, cutoff, by_version)
        if found is None:
            return Boundary(False)
        if found == -1:
            return Boundary(True, None)
        last_line = series(firsts[found])
        searched = [last_line] + ([line for line in lines if line < last_line] if hard else [])
        patches = []
        for line in searched:
            i = self._last_before(lines[line], cutoff, by_version)
            patches.append((line, None if i is None or i < 0 else lines[line][i]))
        return Boundary(True, last_line, tuple(patches))

    def _last_before(self, ordered: list[Version], cutoff: date,
                     by_version: Mapping[Version, list[DistFile]]) -> int | None:
        """Index of the newest of `ordered` released on or before `cutoff` (-1: none is; None: no
        dates), assuming release dates grow with the version."""

        def dated(i: int, lo: int, hi: int) -> tuple[int, date] | None:
            # An undated probe: try its neighbours inside the window before giving up.
            for j in [i] + [k for d in range(1, PROBE_NEIGHBOURS + 1) for k in (i + d, i - d)]:
                if lo <= j <= hi:
                    found = self.released(list(by_version[ordered[j]])).date
                    if found is not None:
                        return j, found
            return None

        lo, hi, best, any_dated = 0, len(ordered) - 1, -1, False
        while lo <= hi:
            probe = dated((lo + hi) // 2, lo, hi)
            if probe is None:
                break
            any_dated = True
            j, found = probe
            if found <= cutoff:
                best, lo = j, j + 1
            else:
                hi = j - 1
        return best if any_dated else None
