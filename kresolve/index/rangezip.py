"""Read one member of a remote wheel with HTTP range requests instead of downloading it.

zipfile only needs the end-of-central-directory, the central directory and the member's own
bytes; a seekable file object that fetches just those ranges turns a 500 MB wheel into 2-3
small requests.

Why hand code: the zip parsing itself is the standard library's `zipfile`; only the seekable
range-fetching file is written here, because no maintained library offers one over an httpx
client with kresolve's retries, cache and "server ignored Range" fallback (pip's own
`LazyZipOverHTTP` is internal to pip and bound to requests).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

# (start, end_inclusive) -> (bytes, total_length | None, ranged?)
Fetch = Callable[[int | None, int | None], tuple[bytes, int | None, bool]]

BLOCK = 64 * 1024


class RangeFile(io.RawIOBase):
    def __init__(self, fetch: Fetch, tail: int = BLOCK):
        # Start with the tail: it holds the central directory of most wheels and tells the size.
        data, total, ranged = fetch(None, tail)
        self._fetch = fetch
        self.whole = not ranged  # the server ignored Range and sent the whole file
        self.size = len(data) if self.whole else (total or len(data))
        self._chunks: list[tuple[int, bytes]] = [(self.size - len(data), data)]
        self._pos = 0
        self.requests = 1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _cached(self, start: int, end: int) -> bytes | None:
        for off, data in self._chunks:
            if off <= start and end <= off + len(data):
                return data[start - off : end - off]
        return None

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.size - self._pos
        start, end = self._pos, min(self._pos + n, self.size)
        if start >= end:
            return b""
        data = self._cached(start, end)
        if data is None:
            # Fetch at least a block: zipfile reads a header, then the data right after it.
            want_end = min(self.size, max(end, start + BLOCK)) - 1
            chunk, _, _ = self._fetch(start, want_end)
            self.requests += 1
            self._chunks.append((start, chunk))
            data = chunk[: end - start]
        self._pos = start + len(data)
        return data

    def readinto(self, buffer: Any) -> int:  # a writable buffer (bytearray, memoryview)
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_dist_info_metadata(fileobj: io.RawIOBase | io.BufferedIOBase, max_bytes: int = 16 * 1024 * 1024) -> bytes:
    """The `*.dist-info/METADATA` member of a wheel (the top-level .dist-info directory)."""
    with zipfile.ZipFile(fileobj) as zf:
        names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(names) != 1:
            raise ValueError(f"expected one .dist-info/METADATA, found {len(names)}")
        info = zf.getinfo(names[0])
        if info.file_size > max_bytes:
            raise ValueError(f"METADATA of {info.file_size} bytes is implausibly large")
        return zf.read(info)
