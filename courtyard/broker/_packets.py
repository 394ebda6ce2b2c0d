"""MQTT 3.1.1 wire codec: framing, decoding client packets, encoding replies.

Decoding is strict and total: every malformed input raises
:class:`ProtocolError` (never ``IndexError``, ``UnicodeDecodeError`` or
similar), so the connection layer can close exactly the offending client and
nothing else. Only the packets a broker receives are decoded and only the
packets a broker sends are encoded.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from ._topics import is_valid_topic_name

__all__ = [
    "PINGRESP",
    "Ack",
    "ConnackCode",
    "Connect",
    "Disconnect",
    "Packet",
    "PacketTooLargeError",
    "PacketType",
    "PingReq",
    "ProtocolError",
    "Publish",
    "Subscribe",
    "Unsubscribe",
    "UnsupportedProtocolLevelError",
    "Will",
    "decode_connect",
    "decode_packet",
    "encode_ack",
    "encode_connack",
    "encode_publish",
    "encode_remaining_length",
    "encode_suback",
    "encode_unsuback",
    "read_packet",
]

MAX_REMAINING_LENGTH = 268_435_455
SUBACK_FAILURE = 0x80


class PacketType(enum.IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


class ConnackCode(enum.IntEnum):
    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USERNAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


class ProtocolError(Exception):
    """The peer sent something MQTT 3.1.1 forbids; the connection must close."""


class PacketTooLargeError(ProtocolError):
    """A packet announced a size above the broker's configured limit."""


class UnsupportedProtocolLevelError(ProtocolError):
    """CONNECT named a protocol level we do not speak (answer CONNACK 1)."""


@dataclass(slots=True, frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(slots=True, frozen=True)
class Connect:
    protocol_level: int
    clean_session: bool
    keepalive: int
    client_id: str
    will: Will | None
    username: str | None
    password: bytes | None


@dataclass(slots=True, frozen=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int  # 0 for QoS 0, which carries no identifier


@dataclass(slots=True, frozen=True)
class Subscribe:
    packet_id: int
    requests: tuple[tuple[str, int], ...]


@dataclass(slots=True, frozen=True)
class Unsubscribe:
    packet_id: int
    topic_filters: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class Ack:
    """PUBACK, PUBREC, PUBREL or PUBCOMP: a packet type and an identifier."""

    kind: PacketType
    packet_id: int


@dataclass(slots=True, frozen=True)
class PingReq:
    pass


@dataclass(slots=True, frozen=True)
class Disconnect:
    pass


Packet = Connect | Publish | Subscribe | Unsubscribe | Ack | PingReq | Disconnect


async def read_packet(stream: asyncio.StreamReader, max_packet_size: int) -> tuple[int, bytes]:
    """Read one frame: returns (first header byte, body).

    The size check happens on the announced length, before the body is read,
    so a client cannot make the broker buffer more than ``max_packet_size``.
    Raises ``asyncio.IncompleteReadError`` when the peer goes away.
    """
    header = await stream.readexactly(1)
    remaining = 0
    multiplier = 1
    length_bytes = 0
    while True:
        encoded = (await stream.readexactly(1))[0]
        length_bytes += 1
        remaining += (encoded & 0x7F) * multiplier
        if not encoded & 0x80:
            break
        if length_bytes == 4:
            raise ProtocolError("remaining length longer than four bytes")
        multiplier *= 128
    total = 1 + length_bytes + remaining
    if total > max_packet_size:
        raise PacketTooLargeError(f"packet of {total} bytes exceeds limit of {max_packet_size}")
    body = await stream.readexactly(remaining) if remaining else b""
    return header[0], body


class _Cursor:
    """Bounds-checked reader over a packet body."""

    __slots__ = ("_data", "_offset")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._offset

    def take(self, count: int) -> bytes:
        if count > self.remaining:
            raise ProtocolError("packet body truncated")
        start = self._offset
        self._offset += count
        return self._data[start : self._offset]

    def rest(self) -> bytes:
        return self.take(self.remaining)

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not well-formed UTF-8") from exc
        if "\x00" in text:
            raise ProtocolError("string contains U+0000")
        return text

    def packet_id(self) -> int:
        value = self.u16()
        if value == 0:
            raise ProtocolError("packet identifier 0 is not allowed")
        return value


def decode_connect(first: int, body: bytes) -> Connect:
    """Decode a CONNECT body (MQTT 3.1.1 level 4, or 3.1 "MQIsdp" level 3)."""
    if first != PacketType.CONNECT << 4:
        raise ProtocolError("first packet is not a well-formed CONNECT")
    cursor = _Cursor(body)
    name = cursor.string()
    level = cursor.u8()
    if name not in ("MQTT", "MQIsdp"):
        raise ProtocolError(f"unknown protocol name {name!r}")
    if (name, level) not in (("MQTT", 4), ("MQIsdp", 3)):
        raise UnsupportedProtocolLevelError(f"protocol {name} level {level} not supported")
    flags = cursor.u8()
    if flags & 0x01:
        raise ProtocolError("reserved CONNECT flag set")
    clean_session = bool(flags & 0x02)
    will_flag = bool(flags & 0x04)
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    has_password = bool(flags & 0x40)
    has_username = bool(flags & 0x80)
    if will_qos == 3:
        raise ProtocolError("will QoS 3")
    if not will_flag and (will_qos or will_retain):
        raise ProtocolError("will QoS/retain set without will flag")
    if has_password and not has_username:
        raise ProtocolError("password flag set without username flag")
    keepalive = cursor.u16()
    client_id = cursor.string()
    will = None
    if will_flag:
        will_topic = cursor.string()
        if not is_valid_topic_name(will_topic):
            raise ProtocolError("invalid will topic")
        will = Will(will_topic, cursor.binary(), will_qos, will_retain)
    username = cursor.string() if has_username else None
    password = cursor.binary() if has_password else None
    if cursor.remaining:
        raise ProtocolError("trailing bytes after CONNECT payload")
    return Connect(level, clean_session, keepalive, client_id, will, username, password)


def _expect_flags(first: int, expected: int) -> None:
    if first & 0x0F != expected:
        raise ProtocolError(f"invalid fixed header flags for packet type {first >> 4}")


def _decode_publish(first: int, body: bytes) -> Publish:
    dup = bool(first & 0x08)
    qos = (first >> 1) & 0x03
    retain = bool(first & 0x01)
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    if qos == 0 and dup:
        raise ProtocolError("DUP set on a QoS 0 PUBLISH")
    cursor = _Cursor(body)
    topic = cursor.string()
    if not is_valid_topic_name(topic):
        raise ProtocolError("invalid PUBLISH topic name")
    packet_id = cursor.packet_id() if qos else 0
    return Publish(topic, cursor.rest(), qos, retain, dup, packet_id)


def _decode_subscribe(body: bytes) -> Subscribe:
    cursor = _Cursor(body)
    packet_id = cursor.packet_id()
    requests: list[tuple[str, int]] = []
    while cursor.remaining:
        topic_filter = cursor.string()
        options = cursor.u8()
        if options & 0xFC or options == 3:
            raise ProtocolError("invalid requested QoS in SUBSCRIBE")
        requests.append((topic_filter, options))
    if not requests:
        raise ProtocolError("SUBSCRIBE without topic filters")
    return Subscribe(packet_id, tuple(requests))


def _decode_unsubscribe(body: bytes) -> Unsubscribe:
    cursor = _Cursor(body)
    packet_id = cursor.packet_id()
    filters: list[str] = []
    while cursor.remaining:
        filters.append(cursor.string())
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without topic filters")
    return Unsubscribe(packet_id, tuple(filters))


def _decode_ack(kind: PacketType, body: bytes) -> Ack:
    if len(body) != 2:
        raise ProtocolError(f"{kind.name} must have a two-byte body")
    return Ack(kind, _Cursor(body).packet_id())


def decode_packet(first: int, body: bytes) -> Packet:
    """Decode any packet a client may send after CONNECT."""
    try:
        kind = PacketType(first >> 4)
    except ValueError as exc:
        raise ProtocolError(f"reserved packet type {first >> 4}") from exc
    if kind is PacketType.PUBLISH:
        return _decode_publish(first, body)
    if kind in (PacketType.PUBACK, PacketType.PUBREC, PacketType.PUBCOMP):
        _expect_flags(first, 0)
        return _decode_ack(kind, body)
    if kind is PacketType.PUBREL:
        _expect_flags(first, 0x02)
        return _decode_ack(kind, body)
    if kind is PacketType.SUBSCRIBE:
        _expect_flags(first, 0x02)
        return _decode_subscribe(body)
    if kind is PacketType.UNSUBSCRIBE:
        _expect_flags(first, 0x02)
        return _decode_unsubscribe(body)
    if kind in (PacketType.PINGREQ, PacketType.DISCONNECT):
        _expect_flags(first, 0)
        if body:
            raise ProtocolError(f"{kind.name} must have an empty body")
        return PingReq() if kind is PacketType.PINGREQ else Disconnect()
    if kind is PacketType.CONNECT:
        return decode_connect(first, body)
    raise ProtocolError(f"clients may not send {kind.name}")


def encode_remaining_length(length: int) -> bytes:
    if not 0 <= length <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {length} out of range")
    out = bytearray()
    while True:
        digit = length % 128
        length //= 128
        if length:
            digit |= 0x80
        out.append(digit)
        if not length:
            return bytes(out)


def encode_connack(session_present: bool, code: ConnackCode) -> bytes:
    return bytes((PacketType.CONNACK << 4, 2, 1 if session_present else 0, code))


def encode_publish(
    topic: str, payload: bytes, qos: int, retain: bool, dup: bool, packet_id: int
) -> bytes:
    encoded_topic = topic.encode("utf-8")
    variable = len(encoded_topic).to_bytes(2, "big") + encoded_topic
    if qos:
        variable += packet_id.to_bytes(2, "big")
    first = (PacketType.PUBLISH << 4) | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    return (
        bytes((first,)) + encode_remaining_length(len(variable) + len(payload)) + variable + payload
    )


_ACK_HEADERS = {
    PacketType.PUBACK: 0x40,
    PacketType.PUBREC: 0x50,
    PacketType.PUBREL: 0x62,
    PacketType.PUBCOMP: 0x70,
}


def encode_ack(kind: PacketType, packet_id: int) -> bytes:
    return bytes((_ACK_HEADERS[kind], 2)) + packet_id.to_bytes(2, "big")


def encode_suback(packet_id: int, return_codes: list[int]) -> bytes:
    body = packet_id.to_bytes(2, "big") + bytes(return_codes)
    return bytes((PacketType.SUBACK << 4,)) + encode_remaining_length(len(body)) + body


def encode_unsuback(packet_id: int) -> bytes:
    return bytes((PacketType.UNSUBACK << 4, 2)) + packet_id.to_bytes(2, "big")


PINGRESP = bytes((PacketType.PINGRESP << 4, 0))
