"""A minimal, bounds-checked protobuf wire-format reader.

Enough to read SavedModel and Keras metadata protos field by field without the protobuf library
or TensorFlow: the caller knows the field numbers (from TensorFlow's .proto files) and asks for
them. Nothing is copied (values are memoryview slices), every length is checked against the
buffer, and nesting is limited so a crafted file cannot recurse without end.

Why hand code and not the protobuf library: decoding a SavedModel with `protobuf` needs
TensorFlow's generated message classes (tensorflow itself, or a copy of its .proto files kept
in step with every TF release), builds the whole message tree in memory (a frozen graph can be
GiBs) and pulls a compiled dependency into `inspect`, which must stay import-light and never
touch TF. The wire format is small and frozen, so ~150 bounded lines are the safer reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kresolve.artifact.limits import MAX_PROTO_DEPTH

VARINT = 0
I64 = 1
LEN = 2
I32 = 5

_WIRE_NAMES = {VARINT: "varint", I64: "fixed64", LEN: "length-delimited", I32: "fixed32"}


class WireError(ValueError):
    """The bytes are not the protobuf message the caller expected."""


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """Decode one varint at `pos`; return (value, next position). At most 10 bytes (uint64)."""
    result = 0
    shift = 0
    end = len(buf)
    for _ in range(10):
        if pos >= end:
            raise WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if result >= 1 << 64:
                raise WireError("varint overflows 64 bits")
            return result, pos
        shift += 7
    raise WireError("varint longer than 10 bytes")


def to_int64(value: int) -> int:
    """Reinterpret a uint64 varint as the int64 it encodes (-1 arrives as 2**64 - 1)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def iter_fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield (field number, wire type, value) for each field of one message, in file order.

    Varints and fixed-width values come back as ints, length-delimited ones as memoryview slices.
    """
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        value: int | memoryview
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == LEN:
            length, pos = read_varint(buf, pos)
            if length > end - pos:
                raise WireError(f"field {number} claims {length} bytes, {end - pos} left")
            value = buf[pos : pos + length]
            pos += length
        elif wire == I64:
            if end - pos < 8:
                raise WireError("truncated fixed64")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == I32:
            if end - pos < 4:
                raise WireError("truncated fixed32")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            # 3/4 are proto2 groups (unused by TensorFlow's proto3 files); 6/7 do not exist.
            raise WireError(f"field {number} has unsupported wire type {wire}")
        yield number, wire, value


class Message:
    """One decoded message level: fields indexed by number, sub-messages decoded on demand."""

    __slots__ = ("_fields", "depth")

    def __init__(self, data: bytes | memoryview, depth: int = 0) -> None:
        if depth > MAX_PROTO_DEPTH:
            raise WireError(f"messages nested deeper than {MAX_PROTO_DEPTH}")
        self.depth = depth
        fields: dict[int, list[tuple[int, int | memoryview]]] = {}
        for number, wire, value in iter_fields(memoryview(data)):
            fields.setdefault(number, []).append((wire, value))
        self._fields = fields

    def has(self, number: int) -> bool:
        return number in self._fields

    def _values(self, number: int, wire: int) -> list[Any]:
        values = []
        for got, value in self._fields.get(number, ()):
            if got != wire:
                raise WireError(
                    f"field {number} is {_WIRE_NAMES.get(got, got)}, expected {_WIRE_NAMES[wire]}"
                )
            values.append(value)
        return values

    def raw(self, number: int) -> list[memoryview]:
        return self._values(number, LEN)

    def messages(self, number: int) -> list[Message]:
        return [Message(value, self.depth + 1) for value in self._values(number, LEN)]

    def message(self, number: int) -> Message | None:
        """The last occurrence wins, as in protobuf; None when absent."""
        values = self._values(number, LEN)
        return Message(values[-1], self.depth + 1) if values else None

    def strings(self, number: int) -> list[str]:
        out = []
        for value in self._values(number, LEN):
            try:
                out.append(bytes(value).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise WireError(f"field {number} is not UTF-8 text") from exc
        return out

    def string(self, number: int) -> str | None:
        values = self.strings(number)
        return values[-1] if values else None

    def varints(self, number: int) -> list[int]:
        return self._values(number, VARINT)

    def varint(self, number: int, default: int = 0) -> int:
        values = self._values(number, VARINT)
        return values[-1] if values else default
