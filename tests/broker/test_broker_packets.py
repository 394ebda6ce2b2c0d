from __future__ import annotations

import asyncio
import contextlib

import pytest
from broker_testkit import connect_packet, frame, mqtt_str, publish_packet, subscribe_packet
from hypothesis import given
from hypothesis import strategies as st

from courtyard.broker._packets import (
    MAX_REMAINING_LENGTH,
    Ack,
    Connect,
    PacketTooLargeError,
    PacketType,
    ProtocolError,
    Publish,
    Subscribe,
    UnsupportedProtocolLevelError,
    decode_connect,
    decode_packet,
    encode_publish,
    encode_remaining_length,
    read_packet,
)


def stream_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def split(packet: bytes) -> tuple[int, bytes]:
    """(first byte, body) of a framed packet."""
    length, multiplier, index = 0, 1, 1
    while True:
        digit = packet[index]
        index += 1
        length += (digit & 0x7F) * multiplier
        multiplier *= 128
        if not digit & 0x80:
            break
    body = packet[index:]
    assert len(body) == length
    return packet[0], body


@given(st.integers(0, MAX_REMAINING_LENGTH))
def test_remaining_length_round_trip(length: int) -> None:
    encoded = encode_remaining_length(length)
    assert 1 <= len(encoded) <= 4
    value, multiplier = 0, 1
    for byte in encoded:
        value += (byte & 0x7F) * multiplier
        multiplier *= 128
    assert value == length


async def test_read_packet_rejects_five_length_bytes() -> None:
    with pytest.raises(ProtocolError):
        await read_packet(stream_of(b"\x30\xff\xff\xff\xff\x01"), 1 << 30)


async def test_read_packet_rejects_oversize_before_reading_body() -> None:
    # Announces ~256 MiB but sends nothing: must fail without waiting for the body.
    reader = asyncio.StreamReader()
    reader.feed_data(b"\x30\xff\xff\xff\x7f")
    with pytest.raises(PacketTooLargeError):
        await asyncio.wait_for(read_packet(reader, 1024), 1)


async def test_read_packet_limit_counts_whole_packet() -> None:
    packet = publish_packet("t", b"x" * 100)
    assert await read_packet(stream_of(packet), len(packet))
    with pytest.raises(PacketTooLargeError):
        await read_packet(stream_of(packet), len(packet) - 1)


def test_decode_connect_full() -> None:
    first, body = split(
        connect_packet(
            "hub-1", clean=False, keepalive=30, will=("hub/hub-1/status", b"offline", 1, True)
        )
    )
    connect = decode_connect(first, body)
    assert isinstance(connect, Connect)
    assert connect.client_id == "hub-1"
    assert not connect.clean_session
    assert connect.keepalive == 30
    assert connect.username == "alice"
    assert connect.password == b"alice-secret"
    assert connect.will is not None
    assert (connect.will.topic, connect.will.payload, connect.will.qos, connect.will.retain) == (
        "hub/hub-1/status",
        b"offline",
        1,
        True,
    )


def test_decode_connect_mqtt31() -> None:
    first, body = split(connect_packet("old", protocol=("MQIsdp", 3)))
    assert decode_connect(first, body).protocol_level == 3


@pytest.mark.parametrize("protocol", [("MQTT", 5), ("MQTT", 3), ("MQIsdp", 4)])
def test_decode_connect_unsupported_level(protocol: tuple[str, int]) -> None:
    first, body = split(connect_packet("x", protocol=protocol))
    with pytest.raises(UnsupportedProtocolLevelError):
        decode_connect(first, body)


def _connect_body(flags: int, payload: bytes) -> bytes:
    return mqtt_str("MQTT") + bytes((4, flags)) + b"\x00\x00" + payload


@pytest.mark.parametrize(
    ("first", "body"),
    [
        (0x10, _connect_body(0x03, mqtt_str("x"))),  # reserved flag
        (0x10, _connect_body(0x1E, mqtt_str("x") + mqtt_str("t") + mqtt_str("m"))),  # will QoS 3
        (0x10, _connect_body(0x08, mqtt_str("x"))),  # will QoS without will flag
        (0x10, _connect_body(0x42, mqtt_str("x") + mqtt_str("p"))),  # password w/o username
        (0x10, _connect_body(0x02, mqtt_str("x") + b"junk")),  # trailing bytes
        (0x10, _connect_body(0x02, b"\x00\x05ab")),  # truncated string
        (0x10, _connect_body(0x02, b"\x00\x02\xc3\x28")),  # invalid UTF-8
        (0x10, _connect_body(0x02, b"\x00\x02a\x00")),  # U+0000
        (0x10, _connect_body(0x06, mqtt_str("x") + mqtt_str("a/#") + mqtt_str("m"))),  # will topic
        (0x11, _connect_body(0x02, mqtt_str("x"))),  # header flags
        (0x10, mqtt_str("HTTP") + bytes((4, 2, 0, 0)) + mqtt_str("x")),  # protocol name
    ],
)
def test_decode_connect_malformed(first: int, body: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_connect(first, body)


@pytest.mark.parametrize(
    "packet",
    [
        publish_packet("a/+", b"x"),  # wildcard in topic name
        publish_packet("", b"x"),  # empty topic
        frame(0x36, mqtt_str("t") + b"\x00\x01"),  # QoS 3
        frame(0x38, mqtt_str("t")),  # DUP on QoS 0
        frame(0x32, mqtt_str("t") + b"\x00\x00"),  # packet id 0
        frame(0x80, subscribe_packet(1, [("a", 0)])[2:]),  # SUBSCRIBE flags
        frame(0x82, b"\x00\x01"),  # SUBSCRIBE without filters
        frame(0x82, b"\x00\x01" + mqtt_str("a") + b"\x03"),  # requested QoS 3
        frame(0x82, b"\x00\x01" + mqtt_str("a") + b"\x41"),  # reserved bits
        frame(0xA2, b"\x00\x01"),  # UNSUBSCRIBE without filters
        frame(0x40, b"\x00"),  # short PUBACK
        frame(0x60, b"\x00\x01"),  # PUBREL flags
        frame(0xC0, b"\x00"),  # PINGREQ with body
        frame(0x20, b"\x00\x00"),  # CONNACK from a client
        frame(0x00, b""),  # reserved type 0
        frame(0xF0, b""),  # reserved type 15
    ],
)
def test_decode_packet_malformed(packet: bytes) -> None:
    first, body = split(packet)
    with pytest.raises(ProtocolError):
        decode_packet(first, body)


def test_decode_subscribe_and_acks() -> None:
    packet = decode_packet(*split(subscribe_packet(9, [("a/#", 1), ("b", 2)])))
    assert packet == Subscribe(9, (("a/#", 1), ("b", 2)))
    assert decode_packet(0x40, b"\x01\x02") == Ack(PacketType.PUBACK, 0x102)
    assert decode_packet(0x62, b"\x00\x05") == Ack(PacketType.PUBREL, 5)


@given(
    topic=st.text(
        alphabet=st.characters(blacklist_characters="+#\x00", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=50,
    ),
    payload=st.binary(max_size=300),
    qos=st.integers(0, 1),
    retain=st.booleans(),
    packet_id=st.integers(1, 65535),
)
def test_publish_round_trip(
    topic: str, payload: bytes, qos: int, retain: bool, packet_id: int
) -> None:
    dup = bool(qos) and retain  # any combination that is legal
    wire = encode_publish(topic, payload, qos, retain, dup, packet_id if qos else 0)
    decoded = decode_packet(*split(wire))
    assert decoded == Publish(topic, payload, qos, retain, dup, packet_id if qos else 0)


@given(st.integers(0, 255), st.binary(max_size=64))
def test_decoder_only_ever_raises_protocol_error(first: int, body: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_packet(first, body)
