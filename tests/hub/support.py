"""Test helpers for the hub: a native device client, a community stand-in on real MQTT, and
ways to look at the hub's SQLite file from outside the hub."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion

from devices.catalog import DeviceKind
from devices.uplink import UplinkRecord, decode_record, topic_ack
from privacy.envelope import open_signed
from tests.support.mosquitto import Mosquitto

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 10.0


async def eventually(check: Callable[[], bool], timeout: float = WAIT_S, what: str = "") -> None:
    """Wait until ``check()`` is true (generous timeout; no claim about speed)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- the hub's database, read from outside ------------------------------------------------


def read_db(db_path: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A separate connection, as an operator's sqlite3 would be: sees only committed data."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def outbox_records(db_path: Path, *, heartbeats: bool = False) -> list[UplinkRecord]:
    """Records waiting in the outbox, in seq order; hub heartbeats only if asked for."""
    rows = read_db(db_path, "SELECT payload FROM outbox ORDER BY seq")
    records = [decode_record(bytes(r[0])) for r in rows]
    return [r for r in records if heartbeats or r.message is not None]


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    tables = [r[0] for r in read_db(db_path, "SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: read_db(db_path, f"SELECT * FROM {t} ORDER BY 1") for t in sorted(tables)}


# --- a native device ----------------------------------------------------------------------


@dataclass
class DeviceClient:
    """A device speaking the native link, as firmware would (minimal, for tests)."""

    ws: aiohttp.ClientWebSocketResponse
    device_id: str
    kind: DeviceKind
    seq: int = 0

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send_str(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = WAIT_S) -> dict[str, Any]:
        frame = await self.ws.receive(timeout)
        if frame.type is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {frame.type} {frame.data!r}")
        result: dict[str, Any] = json.loads(frame.data)
        return result

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def hello(self) -> dict[str, Any]:
        return {
            "v": "1.0",
            "type": "hello",
            "device_id": self.device_id,
            "kind": str(self.kind),
            "model": "test-1",
            "firmware": "1.0.0",
        }

    def event(
        self,
        event: str,
        *,
        active: bool = True,
        data: dict[str, Any] | None = None,
        seq: int | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "v": "1.0",
            "type": "event",
            "device_id": self.device_id,
            "kind": str(self.kind),
            "seq": self.next_seq() if seq is None else seq,
            "ts": now_ms(),
            "event": event,
            "active": active,
        }
        if data:
            message["data"] = data
        return message

    def state(self, state: dict[str, Any], seq: int | None = None) -> dict[str, Any]:
        return {
            "v": "1.0",
            "type": "state",
            "device_id": self.device_id,
            "kind": str(self.kind),
            "seq": self.next_seq() if seq is None else seq,
            "ts": now_ms(),
            "state": state,
        }

    def heartbeat(self, seq: int | None = None) -> dict[str, Any]:
        return {
            "v": "1.0",
            "type": "heartbeat",
            "device_id": self.device_id,
            "kind": str(self.kind),
            "seq": self.next_seq() if seq is None else seq,
            "ts": now_ms(),
        }

    async def request(self, message: dict[str, Any] | str) -> dict[str, Any]:
        await self.send(message)
        return await self.recv()

    async def close(self) -> None:
        await self.ws.close()


async def connect_device(
    session: aiohttp.ClientSession,
    port: int,
    token: str,
    device_id: str,
    kind: DeviceKind,
    *,
    seq: int = 0,
    hello: bool = True,
) -> DeviceClient:
    ws = await session.ws_connect(
        f"http://127.0.0.1:{port}/api/device/ws",
        headers={"Authorization": f"Bearer {token}"},
    )
    client = DeviceClient(ws, device_id, kind, seq)
    if hello:
        reply = await client.request(client.hello())
        assert reply == {"v": "1.0", "type": "ack", "ref": "hello", "ok": True, "error": ""}, reply
    return client


# --- the community, as far as the uplink can tell ----------------------------------------


@dataclass
class Community:
    """Subscribes like the community server: verifies, de-duplicates by key, app-acks.

    ``processed`` counts each idempotency key once however often it arrives; ``arrivals``
    keeps every delivery in order, duplicates included.
    """

    broker: Mosquitto
    hub_keys: dict[str, Ed25519PublicKey]
    auto_ack: bool = True
    user: str = "community"
    password: str = "community-secret"
    processed: dict[str, UplinkRecord] = field(default_factory=dict)
    first_seen: list[str] = field(default_factory=list)
    arrivals: list[UplinkRecord] = field(default_factory=list)
    statuses: list[tuple[str, bytes, bool]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: mqtt.Client | None = None
    _subscribed: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.broker.add_user(self.user, self.password, superuser=True)
        self._subscribed.clear()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.user}-{id(self)}")
        client.username_pw_set(self.user, self.password)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *args: self._subscribed.set()
        client.on_message = self._on_message
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        self._client = client
        if not self._subscribed.wait(WAIT_S):
            raise AssertionError("community test client did not subscribe")

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe([("courtyard/v1/hub/+/up", 1), ("courtyard/v1/hub/+/status", 1)])

    def _on_message(self, client: mqtt.Client, userdata: Any, message: Any) -> None:
        hub_id, _, leaf = message.topic.removeprefix("courtyard/v1/hub/").partition("/")
        if leaf == "status":
            with self._lock:
                self.statuses.append((hub_id, bytes(message.payload), bool(message.retain)))
            return
        try:
            opened = open_signed(message.payload, self.hub_keys.get)
            record = decode_record(opened.body)
            assert opened.sender == hub_id == record.hub_id
        except Exception as exc:
            with self._lock:
                self.rejected.append(f"{type(exc).__name__}: {exc}")
            return
        with self._lock:
            self.arrivals.append(record)
            if record.key not in self.processed:
                self.processed[record.key] = record
                self.first_seen.append(record.key)
        if self.auto_ack:
            self.ack(hub_id, [record.seq])

    def ack(self, hub_id: str, seqs: list[int]) -> None:
        assert self._client is not None
        self._client.publish(topic_ack(hub_id), json.dumps({"acked": seqs}), qos=1)

    def reports(self) -> list[UplinkRecord]:
        """Processed device reports (hub heartbeats left out), in first-arrival order."""
        with self._lock:
            return [
                self.processed[k] for k in self.first_seen if self.processed[k].message is not None
            ]

    def statuses_of(self, hub_id: str) -> list[bytes]:
        with self._lock:
            return [payload for hub, payload, _ in self.statuses if hub == hub_id]


# --- a hub in its own process ---------------------------------------------------------------


@dataclass
class HubProcess:
    """``python -m hub run`` as a child process, as the demo and a gateway run it."""

    config_path: Path
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    port: int = 0

    async def start(self) -> int:
        log = self.log_path.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hub",
                "run",
                "--config",
                str(self.config_path),
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        finally:
            log.close()
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        except TimeoutError:
            raise AssertionError("hub process did not start: " + self.log()) from None
        words = line.decode().split()
        assert words[:1] == ["hub"] and words[2:4] == ["listening", "on"], (
            line + self.log().encode()
        )
        self.port = int(words[4])
        return self.port

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    async def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return await asyncio.wait_for(self.proc.wait(), 20)

    async def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            await self.kill()


def write_hub_config(path: Path, **fields: Any) -> Path:
    path.write_text(
        json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in fields.items()})
    )
    return path
