"""Read one member of a remote wheel with HTTP range requests instead of downloading it.

zipfile only needs the end-of-central-directory, the central directory and the member's own
bytes; a seekable file object that fetches just those ranges turns a 500 MB wheel into 2-3
small requests.

Why hand code: the zip parsing itself is the standard library's `zipfile`; only the seekable
range-fetching file is written here, because no maintained library offers one over an httpx
client with kresolve's retries, cache and "server ignored Range" fallback (pip's own
`LazyZipOverHTTP` is internal to pip and bound to requests).

`read_dist_info_metadata` first looks for the one member itself (`_find_metadata`): zipfile
builds a ZipInfo for every member of the central directory (a tensorflow or torch wheel has
10,000-20,000: 0.2-0.3 s of CPU per wheel, most of a cold lock's METADATA work), where only the
METADATA entry's offset and sizes are needed. Anything it does not expect (Zip64, encryption,
a method other than stored/deflate, a CRC mismatch) goes the zipfile way, which reads it or
raises as before.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
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


_EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory record
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")  # central directory file header
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # local file header
_SUFFIX = b".dist-info/METADATA"


def _find_metadata(fileobj: io.RawIOBase | io.BufferedIOBase, max_bytes: int) -> bytes | None:
    """The METADATA member read straight from the central directory, or None where this
    simple reader is not sure (zipfile then decides)."""
    size = fileobj.seek(0, io.SEEK_END)
    # The record alone first (an archive without a comment, as wheels are), then the longest
    # comment's reach: what zipfile reads too, so a RangeFile asks for no other bytes.
    for tail_len in (min(size, _EOCD.size), min(size, 65535 + _EOCD.size)):
        fileobj.seek(size - tail_len)
        tail = fileobj.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at >= 0:
            break
    if at < 0 or at + _EOCD.size > len(tail):
        return None
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    if disk or cd_disk or 0xFFFF in (entries,) or 0xFFFFFFFF in (cd_size, cd_offset):
        return None  # multi-disk or Zip64
    if cd_offset + cd_size > size - tail_len + at:
        return None  # data prepended to the archive: zipfile's offsets correction
    fileobj.seek(cd_offset)
    cd = fileobj.read(cd_size)
    if len(cd) != cd_size:
        return None
    found: list[tuple[int, int, int, int, int, int]] = []
    pos = 0
    for _ in range(entries):
        if pos + _CENTRAL.size > cd_size:
            return None
        (sig, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len, comment_len, _, _, _,
         offset) = _CENTRAL.unpack_from(cd, pos)
        if sig != b"PK\x01\x02":
            return None
        name_start = pos + _CENTRAL.size
        name = cd[name_start:name_start + name_len]
        if name.endswith(_SUFFIX) and name.count(b"/") == 1:
            found.append((flags, method, crc, csize, usize, offset))
        pos = name_start + name_len + extra_len + comment_len
    if len(found) != 1:
        return None
    flags, method, crc, csize, usize, offset = found[0]
    if flags & 0x1 or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or 0xFFFFFFFF in (csize, usize, offset):
        return None
    if usize > max_bytes:
        return None  # zipfile's path raises the error for it
    fileobj.seek(offset)
    header = fileobj.read(_LOCAL.size)
    if len(header) != _LOCAL.size or header[:4] != b"PK\x03\x04":
        return None
    name_len, extra_len = _LOCAL.unpack_from(header)[9:]
    fileobj.seek(offset + _LOCAL.size + name_len + extra_len)
    raw = fileobj.read(csize)
    if len(raw) != csize:
        return None
    try:
        data = raw if method == zipfile.ZIP_STORED else zlib.decompressobj(-15).decompress(raw, usize + 1)
    except zlib.error:
        return None
    if len(data) != usize or zlib.crc32(data) != crc:
        return None
    return data


def read_dist_info_metadata(fileobj: io.RawIOBase | io.BufferedIOBase, max_bytes: int = 16 * 1024 * 1024) -> bytes:
    """The `*.dist-info/METADATA` member of a wheel (the top-level .dist-info directory)."""
    try:
        data = _find_metadata(fileobj, max_bytes)
    except (OSError, ValueError, struct.error):
        data = None
    if data is not None:
        return data
    fileobj.seek(0)
    with zipfile.ZipFile(fileobj) as zf:
        names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(names) != 1:
            raise ValueError(f"expected one .dist-info/METADATA, found {len(names)}")
        info = zf.getinfo(names[0])
        if info.file_size > max_bytes:
            raise ValueError(f"METADATA of {info.file_size} bytes is implausibly large")
        return zf.read(info)
