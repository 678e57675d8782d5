"""Bounded reads and JSON parsing, and the one-line BadInput every reader raises."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kresolve.artifact.limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, MiB
from kresolve.errors import BadInput

_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def bad(source: object, problem: str) -> BadInput:
    """`source: problem` on one line (file names and library messages may carry newlines)."""
    return BadInput(_LINE_BREAKS.sub(" ", f"{source}: {problem}"))


def read_bounded(path: Path, limit: int, allow_empty: bool = True) -> bytes:
    """A whole small file, refused (never truncated) when it is over `limit` bytes."""
    try:
        size = path.stat().st_size
        if size == 0 and not allow_empty:
            raise bad(path, "empty file")
        if size > limit:
            raise bad(path, f"{size // MiB} MiB, over the {limit // MiB} MiB limit")
        with path.open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        raise bad(path, f"cannot read ({exc.strerror or exc})") from None


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when no container nests deeper than `limit` (checked without recursion)."""
    if limit < 1:
        return False  # the value itself is at depth 1
    if not isinstance(value, (dict, list)):
        return True
    stack = [(value, 1)]  # containers only: a config's many scalars are never pushed
    while stack:
        item, depth = stack.pop()
        if depth >= limit and item:
            return False  # its children, containers or not, sit deeper than the limit
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def parse_json(data: bytes | str, source: object, what: str, limit: int = MAX_JSON_BYTES) -> Any:
    """Parse `data` (the `what` of file `source`), refusing oversize, invalid or too-deep JSON."""
    if len(data) > limit:
        raise bad(source, f"{what} is {len(data) / MiB:.0f} MiB, over the {limit // MiB} MiB limit")
    try:
        value = json.loads(data)
    except RecursionError:
        raise bad(source, f"{what} is JSON nested too deeply to be a Keras config") from None
    except UnicodeDecodeError:
        raise bad(source, f"{what} is not UTF-8 text") from None
    except ValueError as exc:
        detail = getattr(exc, "msg", None) or "parse error"
        position = getattr(exc, "pos", None)
        where = f" at byte {position}" if position is not None else ""
        raise bad(source, f"{what} is not valid JSON ({detail}{where})") from None
    if not json_depth_ok(value):
        raise bad(source, f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def as_text(value: Any, source: object, what: str) -> str:
    """An HDF5 attribute or JSON value as text: h5py hands back str, bytes or numpy scalars."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # 0-d numpy array
        value = value.item()
    if isinstance(value, str):  # numpy.str_ included
        return str(value)
    if isinstance(value, bytes | bytearray):  # numpy.bytes_ included
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise bad(source, f"{what} is not UTF-8 text") from None
    raise bad(source, f"{what} is a {type(value).__name__}, expected text")
