"""Test helpers for the community server: a signing "hub", MQTT peers, a server in a thread.

The hub here builds records exactly as a real hub does (``devices.uplink`` records sealed
with ``privacy.envelope``) so the community is tested against the real wire format.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from community import CommunityConfig, CommunityServer
from devices.catalog import EVENTS, DeviceKind, EventType
from devices.messages import Event, State
from devices.uplink import (
    DeviceInfo,
    RecordKind,
    UplinkRecord,
    encode_record,
    report,
    topic_ack,
    topic_up,
)
from privacy.envelope import seal
from tests.support.mosquitto import Mosquitto


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def kind_for(event: EventType) -> DeviceKind:
    kinds = EVENTS[event].kinds
    return kinds[0] if kinds else DeviceKind.SMOKE_ALARM


@dataclass
class SigningHub:
    """Builds and seals uplink records the way a hub does; counts its outbox seq itself."""

    hub_id: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    seq: int = 0
    device_seq: dict[str, int] = field(default_factory=dict)

    def _next(self, device_id: str) -> tuple[int, int]:
        self.seq += 1
        self.device_seq[device_id] = self.device_seq.get(device_id, 0) + 1
        return self.seq, self.device_seq[device_id]

    def event_record(
        self,
        device_id: str,
        event: EventType,
        *,
        active: bool = True,
        room: str = "Kitchen",
        name: str = "",
        hub_id: str | None = None,
    ) -> UplinkRecord:
        kind = kind_for(event)
        seq, dseq = self._next(device_id)
        now = int(time.time() * 1000)
        message = Event(device_id, kind, dseq, now, event, active=active)
        device = DeviceInfo(device_id, kind, name or f"{room} {kind}", room)
        return report(hub_id or self.hub_id, seq, now, device, message)

    def state_record(self, device_id: str, state: dict[str, Any]) -> UplinkRecord:
        seq, dseq = self._next(device_id)
        now = int(time.time() * 1000)
        message = State(device_id, DeviceKind.SMOKE_ALARM, dseq, now, state)
        device = DeviceInfo(device_id, DeviceKind.SMOKE_ALARM, "Hall smoke", "Hall")
        return report(self.hub_id, seq, now, device, message)

    def heartbeat_record(self, devices: int, online: int) -> UplinkRecord:
        self.seq += 1
        return UplinkRecord(
            hub_id=self.hub_id,
            seq=self.seq,
            ts=int(time.time() * 1000),
            kind=RecordKind.HUB_HEARTBEAT,
            priority=EVENTS[EventType.BATTERY_LOW].priority,
            summary={"devices": devices, "online": online},
        )

    def seal(self, record: UplinkRecord, *, sender: str | None = None) -> bytes:
        return seal(sender or self.hub_id, self.key, encode_record(record))

    def event(self, device_id: str, event: EventType, **kw: Any) -> tuple[int, bytes]:
        record = self.event_record(device_id, event, **kw)
        return record.seq, self.seal(record)


class MqttPeer:
    """A paho client on a background thread; received messages go to ``messages``."""

    def __init__(
        self,
        broker: Mosquitto,
        username: str,
        password: str,
        *,
        subscribe: tuple[str, ...] = (),
        on_message: Callable[[mqtt.MQTTMessage], None] | None = None,
    ) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._connected = threading.Event()
        self._subscribe = subscribe
        self._hook = on_message
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{username}")
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._connected.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise AssertionError(f"{username} could not connect and subscribe")

    def _on_connect(self, client: mqtt.Client, u: object, f: object, rc: Any, p: object) -> None:
        if rc.is_failure:
            return
        if self._subscribe:
            client.subscribe([(t, 1) for t in self._subscribe])
        else:
            self._connected.set()

    def _on_message(self, client: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if self._hook is not None:
            self._hook(msg)
        self.messages.put((msg.topic, bytes(msg.payload)))

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def acked(self, timeout: float = 10.0) -> list[int]:
        _topic, payload = self.messages.get(timeout=timeout)
        return list(json.loads(payload)["acked"])

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class ServerThread:
    """A real CommunityServer on its own event loop thread, driven from synchronous tests."""

    def __init__(self, config: CommunityConfig) -> None:
        self.config = config
        self.server = CommunityServer(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(15)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    @property
    def db(self) -> Path:
        return self.config.data_dir / "community.db"


@dataclass
class Community:
    """A running community server plus the broker it listens to."""

    broker: Mosquitto
    runner: ServerThread
    peers: list[MqttPeer] = field(default_factory=list)

    @property
    def server(self) -> CommunityServer:
        return self.runner.server

    @property
    def url(self) -> str:
        return self.runner.url

    @property
    def token(self) -> str:
        return self.server.manager_token

    def enroll(
        self, hub: SigningHub, home_id: str = "home-101", *, building: str = "", unit: str = ""
    ) -> MqttPeer:
        """Enroll ``hub``, give it its broker account, and connect it listening for acks."""
        password = self.server.enroll_hub(
            hub.hub_id, home_id, hub.key.public_key(), building=building, unit=unit
        )
        self.broker.add_user(hub.hub_id, password)
        return self.peer(hub.hub_id, password, subscribe=(topic_ack(hub.hub_id),))

    def peer(self, username: str, password: str, **kw: Any) -> MqttPeer:
        peer = MqttPeer(self.broker, username, password, **kw)
        self.peers.append(peer)
        return peer

    def send(self, peer: MqttPeer, hub: SigningHub, payload: bytes) -> None:
        peer.publish(topic_up(hub.hub_id), payload)

    def wait_stats(self, timeout: float = 15.0, **expected: int) -> None:
        def reached() -> bool:
            stats = self.server.stats()
            return all(stats[k] >= v for k, v in expected.items())

        wait_until(reached, timeout, f"stats {expected} (have {self.server.stats()})")

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.runner.db)
        conn.row_factory = sqlite3.Row
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()

    def count(self, table: str) -> int:
        return int(self.rows(f"SELECT count(*) AS n FROM {table}")[0]["n"])

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request, no redirects followed: status, headers, body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def http(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Like :meth:`raw` with the manager token; returns status and parsed JSON."""
        all_headers = dict(headers or {})
        bearer = self.token if token == "" else token
        if bearer is not None:
            all_headers["Authorization"] = f"Bearer {bearer}"
        status, _headers, raw = self.raw(method, path, body, all_headers)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def close(self) -> None:
        for peer in self.peers:
            peer.close()
        self.runner.stop()


def make_config(broker: Mosquitto, data_dir: Path, **kw: Any) -> CommunityConfig:
    return CommunityConfig(
        community_id="test",
        data_dir=data_dir,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_username="community",
        mqtt_password="community-secret",
        **kw,
        consent="open",
    )
