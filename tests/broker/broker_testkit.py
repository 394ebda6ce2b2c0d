"""Shared helpers for the broker tests: a broker fixture-as-context-manager,
a thread-safe wrapper around real paho-mqtt clients, and a minimal raw MQTT
client (its own independent encoder) for wire-level tests."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from courtyard.broker import AllowAllAcl, Broker, PasswordAuthenticator

USERS = {
    "alice": "alice-secret",
    "bob": "bob-secret",
    "community": "community-secret",
}


@asynccontextmanager
async def running_broker(**overrides: Any) -> AsyncIterator[Broker]:
    """Start a broker on an ephemeral port in the current loop; on exit,
    assert that serving never hit an unexpected exception."""
    kwargs: dict[str, Any] = {
        "authenticator": PasswordAuthenticator(USERS),
        "acl": AllowAllAcl(),
    }
    kwargs.update(overrides)
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    broker = Broker("127.0.0.1", 0, **kwargs)
    try:
        async with broker:
            yield broker
            assert broker.stats()["internal_errors"] == 0
    finally:
        loop.set_exception_handler(previous_handler)
    assert not unhandled, unhandled


async def eventually(
    predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------
# paho


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: int


class PahoClient:
    """A paho-mqtt 2.x client running its own network thread.

    Callbacks run on paho's thread, so results travel back through
    thread-safe queues/lists and are awaited via ``asyncio.to_thread`` or
    polling, never by blocking the event loop the broker runs on.
    """

    def __init__(
        self,
        port: int,
        client_id: str,
        *,
        username: str | None = "alice",
        password: str | None = None,
        clean_session: bool = True,
        manual_ack: bool = False,
        keepalive: int = 60,
        protocol: int = mqtt.MQTTv311,
    ) -> None:
        self.port = port
        self.keepalive = keepalive
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=protocol,
            manual_ack=manual_ack,
        )
        if username is not None:
            self.client.username_pw_set(
                username, password if password is not None else USERS.get(username)
            )
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(5, 10)
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._connects: queue.Queue[tuple[Any, Any]] = queue.Queue()
        self._subacks: queue.Queue[list[Any]] = queue.Queue()
        self._unsubacks: queue.Queue[int] = queue.Queue()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe

    # paho callbacks (paho's thread) ---------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connects.put((flags, reason))

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        item = Received(
            msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), bool(msg.dup), msg.mid
        )
        with self._lock:
            self._messages.append(item)

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: int, codes: list[Any], props: Any
    ) -> None:
        self._subacks.put(codes)

    def _on_unsubscribe(
        self, client: Any, userdata: Any, mid: int, codes: list[Any], props: Any
    ) -> None:
        self._unsubacks.put(mid)

    # test-facing API -------------------------------------------------------

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    async def connect(self) -> tuple[Any, Any]:
        """Connect and wait for CONNACK; returns paho's (flags, reason_code)."""
        self.client.connect_async("127.0.0.1", self.port, keepalive=self.keepalive)
        self.client.loop_start()
        return await asyncio.to_thread(self._connects.get, True, 5.0)

    async def subscribe(self, topic: str, qos: int = 1) -> list[int]:
        result, _ = self.client.subscribe(topic, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS
        codes = await asyncio.to_thread(self._subacks.get, True, 5.0)
        return [code.value for code in codes]

    async def unsubscribe(self, topic: str) -> None:
        result, _ = self.client.unsubscribe(topic)
        assert result == mqtt.MQTT_ERR_SUCCESS
        await asyncio.to_thread(self._unsubacks.get, True, 5.0)

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish and, for QoS > 0, wait until the broker acknowledged it."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            await asyncio.to_thread(info.wait_for_publish, 5.0)
            assert info.is_published()

    async def publish_many(self, topic: str, payloads: list[bytes], qos: int = 1) -> None:
        def run() -> None:
            infos = [self.client.publish(topic, payload, qos=qos) for payload in payloads]
            for info in infos:
                info.wait_for_publish(30.0)
                assert info.is_published()

        await asyncio.to_thread(run)

    async def wait_messages(self, count: int, timeout: float = 10.0) -> list[Received]:
        await eventually(lambda: len(self.messages) >= count, timeout)
        return self.messages

    def ack(self, mid: int) -> None:
        self.client.ack(mid, 1)

    async def disconnect(self) -> None:
        """Clean DISCONNECT, then stop the network thread."""
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)

    async def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT, like a crashed hub."""
        await asyncio.to_thread(self.client.loop_stop)
        sock = self.client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


# --------------------------------------------------------------------------
# raw wire-level client


def frame(first: int, body: bytes) -> bytes:
    length = len(body)
    encoded = bytearray()
    while True:
        digit = length % 128
        length //= 128
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            break
    return bytes((first,)) + bytes(encoded) + body


def mqtt_str(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def mqtt_bin(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(
    client_id: str,
    *,
    username: str | None = "alice",
    password: bytes | None = None,
    clean: bool = True,
    keepalive: int = 0,
    will: tuple[str, bytes, int, bool] | None = None,
    protocol: tuple[str, int] = ("MQTT", 4),
) -> bytes:
    if username is not None and password is None:
        password = USERS[username].encode()
    flags = 0x02 if clean else 0
    payload = mqtt_str(client_id)
    if will is not None:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += mqtt_str(topic) + mqtt_bin(message)
    if username is not None:
        flags |= 0x80
        payload += mqtt_str(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_bin(password)
    name, level = protocol
    variable = mqtt_str(name) + bytes((level, flags)) + keepalive.to_bytes(2, "big")
    return frame(0x10, variable + payload)


def publish_packet(
    topic: str,
    payload: bytes,
    qos: int = 0,
    packet_id: int = 1,
    retain: bool = False,
    dup: bool = False,
) -> bytes:
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = mqtt_str(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return frame(first, body)


def subscribe_packet(packet_id: int, requests: list[tuple[str, int]]) -> bytes:
    body = packet_id.to_bytes(2, "big")
    for topic_filter, qos in requests:
        body += mqtt_str(topic_filter) + bytes((qos,))
    return frame(0x82, body)


def ack_packet(first: int, packet_id: int) -> bytes:
    return bytes((first, 2)) + packet_id.to_bytes(2, "big")


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


@dataclass
class RawPublish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int


class RawClient:
    """Speaks MQTT byte by byte over asyncio streams (same loop as the broker)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @classmethod
    async def connected(cls, port: int, client_id: str, **kwargs: Any) -> RawClient:
        client = await cls.open(port)
        _, code = await client.connect(client_id, **kwargs)
        assert code == 0, f"CONNACK {code}"
        return client

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def connect(self, client_id: str, **kwargs: Any) -> tuple[bool, int]:
        self.send(connect_packet(client_id, **kwargs))
        first, body = await self.read_packet()
        assert first == 0x20 and len(body) == 2, (first, body)
        return bool(body[0] & 1), body[1]

    async def read_packet(self, timeout: float = 3.0) -> tuple[int, bytes]:
        async with asyncio.timeout(timeout):
            first = (await self.reader.readexactly(1))[0]
            length, multiplier = 0, 1
            while True:
                digit = (await self.reader.readexactly(1))[0]
                length += (digit & 0x7F) * multiplier
                multiplier *= 128
                if not digit & 0x80:
                    break
            body = await self.reader.readexactly(length)
            return first, body

    async def read_publish(self, timeout: float = 3.0) -> RawPublish:
        first, body = await self.read_packet(timeout)
        assert first >> 4 == 3, f"expected PUBLISH, got type {first >> 4}"
        qos = (first >> 1) & 3
        topic_length = int.from_bytes(body[:2], "big")
        topic = body[2 : 2 + topic_length].decode()
        offset = 2 + topic_length
        packet_id = 0
        if qos:
            packet_id = int.from_bytes(body[offset : offset + 2], "big")
            offset += 2
        return RawPublish(topic, body[offset:], qos, bool(first & 1), bool(first & 8), packet_id)

    async def subscribe(self, requests: list[tuple[str, int]], packet_id: int = 1) -> list[int]:
        self.send(subscribe_packet(packet_id, requests))
        first, body = await self.read_packet()
        assert first == 0x90, first
        assert int.from_bytes(body[:2], "big") == packet_id
        return list(body[2:])

    async def is_closed_by_broker(self, timeout: float = 3.0) -> bool:
        """Read (discarding) until EOF; False if the broker keeps it open."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if not await self.reader.read(65536):
                        return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True

    async def ping(self) -> None:
        self.send(PINGREQ)
        assert await self.read_packet() == (0xD0, b"")

    def close(self) -> None:
        self.writer.close()

    async def disconnect(self) -> None:
        self.send(DISCONNECT)
        await self.writer.drain()
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def assert_broker_healthy(port: int, tag: str = "health") -> None:
    """A fresh pair of clients can still subscribe, publish and receive."""
    sub = await RawClient.connected(port, f"{tag}-sub")
    pub = await RawClient.connected(port, f"{tag}-pub", username="bob")
    try:
        assert await sub.subscribe([(f"{tag}/probe", 1)]) == [1]
        pub.send(publish_packet(f"{tag}/probe", b"ok", qos=1, packet_id=7))
        assert await pub.read_packet() == (0x40, b"\x00\x07")
        message = await sub.read_publish()
        assert (message.topic, message.payload) == (f"{tag}/probe", b"ok")
    finally:
        await sub.disconnect()
        await pub.disconnect()
