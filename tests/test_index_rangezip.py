"""The wheel METADATA reader: its direct central-directory path gives what zipfile gives, for
every layout it takes, and hands anything else to zipfile (same bytes, same errors)."""

import io
import zipfile

import pytest

from kresolve.index import rangezip
from kresolve.index.rangezip import RangeFile, read_dist_info_metadata

METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: numpy>=1.20\n"


def wheel(method: int = zipfile.ZIP_DEFLATED, comment: bytes = b"", members: int = 50, prefix: bytes = b"",
          force_zip64: bool = False, extra_metadata: bool = False) -> bytes:
    buf = io.BytesIO()
    buf.write(prefix)
    with zipfile.ZipFile(buf, "w", method) as zf:
        for i in range(members):
            zf.writestr(f"demo/mod{i}.py", f"x = {i}\n" * 20)
        with zf.open("demo-1.0.dist-info/METADATA", "w", force_zip64=force_zip64) as fh:
            fh.write(METADATA)
        if extra_metadata:
            zf.writestr("other-1.0.dist-info/METADATA", METADATA)
        zf.writestr("demo-1.0.dist-info/sub/METADATA", b"not the top-level one")
        zf.comment = comment
    return buf.getvalue()


def ranged(data: bytes) -> tuple[RangeFile, list[tuple[int | None, int | None]]]:
    asked: list[tuple[int | None, int | None]] = []

    def fetch(start: int | None, end: int | None) -> tuple[bytes, int | None, bool]:
        asked.append((start, end))
        if start is None:
            assert end is not None
            return data[-end:], len(data), True
        assert end is not None
        return data[start:end + 1], len(data), True

    return RangeFile(fetch), asked


@pytest.mark.parametrize("data", [
    wheel(), wheel(zipfile.ZIP_STORED), wheel(comment=b"a comment"), wheel(members=3000),
    wheel(prefix=b"#!/bin/sh\n" * 10), wheel(force_zip64=True),
], ids=["deflate", "stored", "comment", "many-members", "prefixed", "zip64-member"])
def test_the_metadata_is_what_zipfile_reads(data: bytes):
    assert read_dist_info_metadata(io.BytesIO(data)) == METADATA
    remote, _ = ranged(data)
    assert read_dist_info_metadata(remote) == METADATA


def test_a_wheel_without_comment_is_read_in_the_requests_zipfile_needs():
    data = wheel(members=3000)  # a central directory larger than the first 64 KiB tail
    fast, asked_fast = ranged(data)
    slow, asked_slow = ranged(data)
    assert read_dist_info_metadata(fast) == METADATA
    with zipfile.ZipFile(slow) as zf:
        zf.read("demo-1.0.dist-info/METADATA")
    assert len(asked_fast) <= len(asked_slow)


def test_what_it_does_not_take_goes_to_zipfile_with_its_errors():
    two = wheel(extra_metadata=True)
    assert rangezip._find_metadata(io.BytesIO(two), 1 << 20) is None
    with pytest.raises(ValueError, match="expected one .dist-info/METADATA, found 2"):
        read_dist_info_metadata(io.BytesIO(two))
    with pytest.raises(ValueError, match="implausibly large"):
        read_dist_info_metadata(io.BytesIO(wheel()), max_bytes=10)
    damaged = bytearray(wheel(zipfile.ZIP_STORED))
    at = bytes(damaged).index(b"Requires-Dist")
    damaged[at] ^= 0xFF  # the CRC no longer matches: zipfile's own error
    assert rangezip._find_metadata(io.BytesIO(bytes(damaged)), 1 << 20) is None
    with pytest.raises(zipfile.BadZipFile):
        read_dist_info_metadata(io.BytesIO(bytes(damaged)))
    with pytest.raises(zipfile.BadZipFile):
        read_dist_info_metadata(io.BytesIO(b"not a zip file at all" * 10))

