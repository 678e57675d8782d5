"""The minimal protobuf wire decoder: correct on valid input, a WireError on anything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kresolve.artifact.limits import MAX_PROTO_DEPTH
from kresolve.artifact.protowire import (
    Message,
    WireError,
    iter_fields,
    read_varint,
    to_int64,
)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, wire: int, payload: bytes) -> bytes:
    return varint(number << 3 | wire) + payload


def text(number: int, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return field(number, 2, varint(len(data)) + data)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_roundtrip(value):
    assert read_varint(memoryview(varint(value)), 0) == (value, len(varint(value)))


def test_negative_int64_dims():
    # TensorShapeProto stores -1 (unknown dim) as a 10-byte varint.
    raw, _ = read_varint(memoryview(varint(2**64 - 1)), 0)
    assert to_int64(raw) == -1
    assert to_int64(28) == 28


def test_message_fields_and_types():
    data = (field(1, 0, varint(7)) + text(4, "serve") + text(4, "gpu") + text(5, "2.15.1")
            + field(6, 1, (5).to_bytes(8, "little")) + field(7, 5, (9).to_bytes(4, "little")))
    msg = Message(data)
    assert msg.varint(1) == 7
    assert msg.strings(4) == ["serve", "gpu"]
    assert msg.string(5) == "2.15.1"
    assert msg.string(99) is None and msg.varint(99, default=3) == 3
    assert [f[:2] for f in iter_fields(memoryview(data))] == [(1, 0), (4, 2), (4, 2), (5, 2), (6, 1), (7, 5)]


def test_nested_messages():
    inner = text(1, "Conv1_input") + field(2, 0, varint(1))
    msg = Message(text(1, "serving_default") + field(2, 2, varint(len(inner)) + inner))
    sub = msg.message(2)
    assert sub is not None and sub.string(1) == "Conv1_input" and sub.varint(2) == 1
    assert sub.depth == 1


@pytest.mark.parametrize(
    "data",
    [
        b"\x80",  # truncated varint
        b"\x08" + b"\xff" * 11,  # varint longer than 10 bytes
        b"\x08" + b"\xff" * 9 + b"\x7f",  # varint over 64 bits
        b"\x12\x05abc",  # length past the end
        b"\x09\x00\x00",  # truncated fixed64
        b"\x0d\x00",  # truncated fixed32
        b"\x0b",  # group start (wire type 3)
        b"\x0e",  # wire type 6 does not exist
        b"\x00\x01",  # field number 0
    ],
)
def test_malformed_input_raises_wire_error(data):
    with pytest.raises(WireError):
        Message(data)


def test_wrong_wire_type_for_a_field():
    msg = Message(field(2, 0, varint(5)))
    with pytest.raises(WireError, match="expected length-delimited"):
        msg.messages(2)
    with pytest.raises(WireError, match="expected varint"):
        Message(text(1, "x")).varint(1)


def test_non_utf8_string():
    with pytest.raises(WireError, match="UTF-8"):
        Message(text(5, b"\xff\xfe")).string(5)


def test_nesting_is_limited():
    data = b""
    for _ in range(MAX_PROTO_DEPTH + 2):
        data = field(1, 2, varint(len(data)) + data)
    msg = Message(data)
    with pytest.raises(WireError, match="nested deeper"):
        for _ in range(MAX_PROTO_DEPTH + 2):
            msg = msg.message(1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_wire_error(data):
    try:
        msg = Message(data)
    except WireError:
        return
    for number in range(1, 20):
        for getter in (msg.messages, msg.strings, msg.varints):
            try:
                getter(number)
            except WireError:
                pass
