"""End-to-end alarm latency, measured against raw baselines in the same run.

Machines are shared and noisy, so an absolute figure in milliseconds means little on its own.
This benchmark therefore measures three things side by side, through the same broker, and
reports the end-to-end figure as a ratio to the raw ones:

A. **raw broker hop** — a paho-mqtt QoS 1 publisher and a separate subscriber, one message at a
   time: what the broker alone costs.
B. **raw chain** — the same hops an alarm takes, with none of Courtyard's logic: a WebSocket
   client sends to a WebSocket server (the hub's place) that publishes at QoS 1; a subscriber
   (the community's place) pushes the payload over a second WebSocket to a client (the
   dashboard's place).
E. **end to end** — the real thing: a community server, hubs, emergency buttons from
   ``firmware_stubs`` and a dashboard WebSocket client as in ``courtyard.demo.monitor``. Each
   sample presses a button and waits for the alarm on the dashboard, then resets it and waits
   for the clear. Latency runs from the event's own timestamp (``event_ts``, taken when the
   device emits it: ``press()`` emits at once, not on the next physics tick) to the push's
   arrival, so it is what a duty officer waits for: link, hub validation and outbox commit,
   signing, broker, verification, dedupe, the community's SQLite transaction, the push.
   ``event_ts`` has millisecond resolution, so each sample reads up to 1 ms high.

The three are sampled in interleaved rounds, so drift in the machine's load hits all of them
alike and the ratios stay meaningful even when the absolute numbers wander.

Usage::

    python bench/alarm_latency.py [--samples 200] [--broker embedded|mosquitto] [--homes 1]
                                  [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

import aiohttp
import paho.mqtt.client as mqtt
from aiohttp import web
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from community import CommunityConfig, CommunityServer
from courtyard.broker import Broker
from courtyard.demo.accounts import BrokerAccounts
from devices.catalog import DeviceKind, EventType
from devices.messages import Event
from firmware_stubs import EmergencyButton, make_device
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key

HOST: Final = "127.0.0.1"
#: Samples of each measurement per interleaved round.
ROUND: Final = 10
#: Generous: only a broken pipeline should ever hit it; nothing here asserts speed.
WAIT_S: Final = 20.0
#: Payload of the raw baselines: about the size of a sealed uplink record.
RAW_PAYLOAD_BYTES: Final = 512
RAW_TOPIC: Final = "courtyard/v1/bench/raw"
COMMUNITY_USER: Final = "community"
BENCH_USER: Final = "bench"
HUB_ACL: Final = "pattern readwrite courtyard/v1/hub/%u/#"

_T = TypeVar("_T")


class BenchError(RuntimeError):
    """The benchmark could not complete (a part did not start, an alarm never arrived)."""


# --- brokers ------------------------------------------------------------------------------


class BrokerKind(StrEnum):
    EMBEDDED = "embedded"
    MOSQUITTO = "mosquitto"


@dataclass(slots=True)
class Accounts:
    """Every broker account of the run; all are known before the broker starts."""

    passwords: dict[str, str] = field(default_factory=dict)
    superusers: set[str] = field(default_factory=set)

    def add(self, username: str, password: str, *, superuser: bool = False) -> None:
        self.passwords[username] = password
        if superuser:
            self.superusers.add(username)


class BenchBroker(Protocol):
    port: int

    async def start(self, accounts: Accounts) -> None: ...

    async def stop(self) -> None: ...

    def describe(self) -> str: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """Courtyard's own asyncio broker, in this process and on this event loop, as in the demo."""

    def __init__(self) -> None:
        self.port = free_port()
        self._broker: Broker | None = None

    async def start(self, accounts: Accounts) -> None:
        auth = BrokerAccounts()
        for username, password in accounts.passwords.items():
            auth.add(username, password, superuser=username in accounts.superusers)
        self._broker = Broker(host=HOST, port=self.port, authenticator=auth, acl=auth)
        await self._broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.stop()
            self._broker = None

    def describe(self) -> str:
        return "embedded (courtyard.broker, in-process)"


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    raise BenchError(f"{name} not found: install Debian's mosquitto package")


class MosquittoBroker:
    """A Mosquitto 2 process with a password file and the production ACL, in ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self._workdir = workdir
        self._proc: subprocess.Popen[bytes] | None = None
        self._version = ""

    def _write_config(self, accounts: Accounts) -> Path:
        self._workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        pwfile = self._workdir / "passwd"
        pwfile.write_text("")
        os.chmod(pwfile, 0o600)
        for username, password in accounts.passwords.items():
            subprocess.run(
                [_binary("mosquitto_passwd"), "-b", str(pwfile), username, password],
                check=True,
                capture_output=True,
            )
        acl = self._workdir / "acl"
        supers = [f"user {u}\ntopic readwrite courtyard/#\n" for u in sorted(accounts.superusers)]
        acl.write_text("".join(supers) + HUB_ACL + "\n")
        os.chmod(acl, 0o600)
        conf = self._workdir / "mosquitto.conf"
        conf.write_text(
            # Stay the invoking user: as root Mosquitto would drop to 'mosquitto' and lose
            # access to this private temporary folder.
            f"user {getpass.getuser()}\n"
            f"listener {self.port} {HOST}\n"
            "allow_anonymous false\n"
            f"password_file {pwfile}\n"
            f"acl_file {acl}\n"
            "persistence false\n"
            # Recommended for every Courtyard broker: small alarm packets leave at once.
            "set_tcp_nodelay true\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\n"
        )
        return conf

    def _launch(self, accounts: Accounts) -> Path:
        conf = self._write_config(accounts)
        binary = _binary("mosquitto")
        version = subprocess.run([binary, "-h"], capture_output=True, text=True, check=False)
        self._version = (version.stdout.splitlines() or ["mosquitto"])[0].strip()
        log_path = self._workdir / "mosquitto.log"
        with log_path.open("ab") as log:
            # Its own session: a Ctrl-C stops the benchmark, which then stops the broker last.
            self._proc = subprocess.Popen(
                [binary, "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
            )
        return log_path

    async def start(self, accounts: Accounts) -> None:
        log_path = await asyncio.to_thread(self._launch, accounts)
        assert self._proc is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BenchError("mosquitto exited: " + log_path.read_text(errors="replace"))
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection(HOST, self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.05)
        raise BenchError("mosquitto did not start listening")

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)

    def describe(self) -> str:
        return self._version or "mosquitto"


# --- a paho client usable from the event loop ------------------------------------------------


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


async def _within(future: asyncio.Future[_T], what: str) -> _T:
    """Wait up to :data:`WAIT_S`; a timeout is a :class:`BenchError` naming ``what``."""
    try:
        return await asyncio.wait_for(future, WAIT_S)
    except TimeoutError:
        raise BenchError(f"no {what} within {WAIT_S:.0f} s") from None


class MqttClient:
    """A paho-mqtt 2.x client on its own network thread, as the hub and the community run theirs.

    ``on_message`` is called on paho's thread with the payload: timestamps taken there are the
    moment the message left the socket, before any hand-over to the event loop.
    """

    def __init__(
        self,
        port: int,
        username: str,
        password: str,
        on_message: Callable[[bytes], None] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._port = port
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{username}-{secrets.token_hex(4)}",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self._client.username_pw_set(username, password)
        self._connected: asyncio.Future[None] = self._loop.create_future()
        self._subscribed: dict[int, asyncio.Future[None]] = {}
        self._on_message = on_message
        self._client.on_connect = self._handle_connect
        self._client.on_subscribe = self._handle_subscribe
        self._client.on_message = self._handle_message

    def _handle_connect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object
    ) -> None:
        if reason.is_failure:
            error = BenchError(f"broker refused the bench's MQTT connection: {reason}")
            self._loop.call_soon_threadsafe(_fail, self._connected, error)
        else:
            self._loop.call_soon_threadsafe(_settle, self._connected, None)

    def _handle_subscribe(
        self, _c: mqtt.Client, _u: object, mid: int, reasons: list[Any], _p: object
    ) -> None:
        # Looked up on the loop: the SUBACK may beat subscribe() registering its future.
        failed = [str(r) for r in reasons if r.is_failure]
        self._loop.call_soon_threadsafe(self._subscribe_done, mid, failed)

    def _subscribe_done(self, mid: int, failed: list[str]) -> None:
        future = self._subscribed.pop(mid, None)
        if future is None:
            return
        if failed:
            _fail(future, BenchError(f"broker refused the bench's subscription: {failed}"))
        else:
            _settle(future, None)

    def _handle_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if self._on_message is not None:
            self._on_message(bytes(msg.payload))

    async def connect(self) -> None:
        self._client.connect_async(HOST, self._port, keepalive=30)
        self._client.loop_start()
        await _within(self._connected, f"MQTT connection to port {self._port}")

    async def subscribe(self, topic: str) -> None:
        result, mid = self._client.subscribe(topic, qos=1)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise BenchError(f"could not subscribe to {topic}: {result}")
        future: asyncio.Future[None] = self._loop.create_future()
        self._subscribed[mid] = future
        await _within(future, f"SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1)

    async def close(self) -> None:
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)


# --- baseline A: the raw broker hop --------------------------------------------------------


def raw_payload(n: int) -> bytes:
    """A unique payload of :data:`RAW_PAYLOAD_BYTES` that names sample ``n``."""
    head = f'{{"n":{n},"pad":"'.encode()
    return head + b"x" * (RAW_PAYLOAD_BYTES - len(head) - 2) + b'"}'


class RawBrokerHop:
    """Baseline A: QoS 1 publish → broker → a separate subscriber's ``on_message``."""

    name: Final = "raw broker hop (MQTT QoS 1)"
    key: Final = "raw_broker_hop"

    def __init__(self, port: int, password: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._port = port
        self._password = password
        self._topic = f"{RAW_TOPIC}/hop"
        self._expected = b""
        self._arrived: asyncio.Future[int] | None = None
        self._n = 0
        self._publisher: MqttClient | None = None
        self._subscriber: MqttClient | None = None

    async def start(self) -> None:
        self._publisher = MqttClient(self._port, BENCH_USER, self._password)
        self._subscriber = MqttClient(self._port, BENCH_USER, self._password, self._on_message)
        await asyncio.gather(self._publisher.connect(), self._subscriber.connect())
        await self._subscriber.subscribe(self._topic)

    def _on_message(self, payload: bytes) -> None:  # paho's thread
        arrived_ns = time.perf_counter_ns()
        future = self._arrived
        if future is not None and payload == self._expected:
            self._loop.call_soon_threadsafe(_settle, future, arrived_ns)

    async def sample(self) -> float:
        assert self._publisher is not None
        self._n += 1
        self._expected = raw_payload(self._n)
        self._arrived = self._loop.create_future()
        sent_ns = time.perf_counter_ns()
        self._publisher.publish(self._topic, self._expected)
        arrived_ns = await _within(self._arrived, f"raw broker hop message {self._n}")
        return (arrived_ns - sent_ns) / 1e6

    async def stop(self) -> None:
        for client in (self._publisher, self._subscriber):
            if client is not None:
                await client.close()


# --- baseline B: the same hops, raw ----------------------------------------------------------


class RawChain:
    """Baseline B: WS client → WS server that publishes QoS 1 → subscriber → WS push → WS client.

    The two servers stand where the hub and the community stand, with the same transports
    and the same thread hand-overs, and none of the validation, storage or signing.
    """

    name: Final = "raw chain (WS → MQTT → WS)"
    key: Final = "raw_chain"

    def __init__(self, port: int, password: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._port = port
        self._password = password
        self._topic = f"{RAW_TOPIC}/chain"
        self._expected = ""
        self._arrived: asyncio.Future[int] | None = None
        self._n = 0
        self._runners: list[web.AppRunner] = []
        self._dashboards: set[asyncio.Queue[str]] = set()
        self._publisher: MqttClient | None = None
        self._subscriber: MqttClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._device_ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._publisher = MqttClient(self._port, BENCH_USER, self._password)
        self._subscriber = MqttClient(self._port, BENCH_USER, self._password, self._on_message)
        await asyncio.gather(self._publisher.connect(), self._subscriber.connect())
        await self._subscriber.subscribe(self._topic)
        hub_port = await self._serve("/device", self._device_link)
        community_port = await self._serve("/dashboard", self._dashboard_link)
        self._session = aiohttp.ClientSession()
        self._device_ws = await self._session.ws_connect(f"http://{HOST}:{hub_port}/device")
        dashboard = await self._session.ws_connect(f"http://{HOST}:{community_port}/dashboard")
        self._reader = asyncio.create_task(self._read(dashboard), name="bench-raw-dashboard")
        deadline = time.monotonic() + WAIT_S
        while not self._dashboards:
            if time.monotonic() > deadline:
                raise BenchError("raw chain: the dashboard socket never registered")
            await asyncio.sleep(0.01)

    async def _serve(self, path: str, handler: Callable[[web.Request], Any]) -> int:
        app = web.Application()
        app.router.add_get(path, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, 0).start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    async def _device_link(self, request: web.Request) -> web.WebSocketResponse:
        """The hub's place: every frame is published at QoS 1, nothing else."""
        assert self._publisher is not None
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self._publisher.publish(self._topic, msg.data.encode())
        return ws

    async def _dashboard_link(self, request: web.Request) -> web.WebSocketResponse:
        """The community's place: a per-connection queue and a pump, as its live feed has."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def pump() -> None:
            while not ws.closed:
                await ws.send_str(await queue.get())

        self._dashboards.add(queue)
        sender = asyncio.create_task(pump())
        try:
            async for _ in ws:
                pass
        finally:
            self._dashboards.discard(queue)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    def _on_message(self, payload: bytes) -> None:  # paho's thread
        self._loop.call_soon_threadsafe(self._push, payload.decode())

    def _push(self, text: str) -> None:
        for queue in self._dashboards:
            queue.put_nowait(text)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            arrived_ns = time.perf_counter_ns()
            future = self._arrived
            text = msg.data if msg.type is aiohttp.WSMsgType.TEXT else None
            if future is not None and text == self._expected:
                _settle(future, arrived_ns)

    async def sample(self) -> float:
        assert self._device_ws is not None
        self._n += 1
        self._expected = raw_payload(self._n).decode()
        self._arrived = self._loop.create_future()
        sent_ns = time.perf_counter_ns()
        await self._device_ws.send_str(self._expected)
        arrived_ns = await _within(self._arrived, f"raw chain message {self._n}")
        return (arrived_ns - sent_ns) / 1e6

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._device_ws is not None:
            await self._device_ws.close()
        if self._session is not None:
            await self._session.close()
        for runner in self._runners:
            await runner.cleanup()
        for client in (self._publisher, self._subscriber):
            if client is not None:
                await client.close()


# --- end to end: Courtyard itself ----------------------------------------------------------


@dataclass(slots=True)
class _Waiter:
    matches: Callable[[dict[str, Any]], bool]
    future: asyncio.Future[tuple[float, dict[str, Any]]]


class Dashboard:
    """A duty officer's screen: the community's ``/api/ws`` with the manager token.

    Each alarm push is stamped with ``time.time()`` the moment it is read, then handed to
    whoever waits for it.
    """

    def __init__(self, base_url: str, token: str) -> None:
        self._url = f"{base_url}/api/ws"
        self._token = token
        self._waiters: list[_Waiter] = []
        self._session: aiohttp.ClientSession | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self._token}"})
        ws = await self._session.ws_connect(self._url)
        first = await _within(asyncio.ensure_future(ws.receive_json()), "dashboard snapshot")
        if first.get("type") != "snapshot":
            raise BenchError(f"dashboard: expected a snapshot first, got {first.get('type')!r}")
        self._reader = asyncio.create_task(self._read(ws), name="bench-dashboard")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            received_ms = time.time() * 1000
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(msg.data)
            if message.get("type") != "alarm":
                continue
            alarm = message["alarm"]
            for waiter in list(self._waiters):
                if waiter.matches(alarm):
                    self._waiters.remove(waiter)
                    _settle(waiter.future, (received_ms, alarm))
        for waiter in self._waiters:
            _fail(waiter.future, BenchError("dashboard: the community closed the WebSocket"))

    def expect(
        self, matches: Callable[[dict[str, Any]], bool]
    ) -> asyncio.Future[tuple[float, dict[str, Any]]]:
        """A future for the first alarm push that ``matches``; register it before acting."""
        future: asyncio.Future[tuple[float, dict[str, Any]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(_Waiter(matches, future))
        return future

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._session is not None:
            await self._session.close()


@dataclass(frozen=True, slots=True)
class Home:
    hub: Hub
    button: EmergencyButton


class EndToEnd:
    """A community, ``homes`` hubs with one emergency button each, and a dashboard."""

    name: Final = "end to end (button → dashboard)"
    key: Final = "end_to_end"

    def __init__(self, port: int, data_dir: Path, homes: int, accounts: Accounts) -> None:
        community_password = secrets.token_urlsafe(24)
        accounts.add(COMMUNITY_USER, community_password, superuser=True)
        self.server = CommunityServer(
            CommunityConfig(
                community_id="bench",
                data_dir=data_dir / "community",
                mqtt_host=HOST,
                mqtt_port=port,
                mqtt_username=COMMUNITY_USER,
                mqtt_password=community_password,
            )
        )
        self._hubs: list[Hub] = []
        for n in range(homes):
            hub_id, home_id = f"bench-hub-{n:03d}", f"bench-home-{n:03d}"
            hub_dir = data_dir / "hubs" / hub_id
            hub_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = load_or_create_hub_key(hub_dir / "hub_key.pem")
            password = self.server.enroll_hub(hub_id, home_id, key.public_key())
            accounts.add(hub_id, password)
            self._hubs.append(
                Hub(
                    HubConfig(
                        hub_id=hub_id,
                        home_id=home_id,
                        data_dir=hub_dir,
                        mqtt_host=HOST,
                        mqtt_port=port,
                        mqtt_password=password,
                    )
                )
            )
        self.homes: list[Home] = []
        self._dashboard: Dashboard | None = None
        self._done = 0

    async def start(self) -> None:
        await self.server.start()
        await asyncio.gather(*(hub.start() for hub in self._hubs))
        for n, hub in enumerate(self._hubs):
            device_id = f"bench-sos-{n:03d}"
            token = hub.provision_device(device_id, DeviceKind.EMERGENCY_BUTTON, "SOS", "hall")
            url = f"ws://{HOST}:{hub.http_port}/api/device/ws"
            button = make_device(
                DeviceKind.EMERGENCY_BUTTON, device_id, url, token, rng=random.Random(n)
            )
            assert isinstance(button, EmergencyButton)
            self.homes.append(Home(hub, button))
        await asyncio.gather(*(home.button.start() for home in self.homes))
        await asyncio.gather(*(home.button.wait_connected(WAIT_S) for home in self.homes))
        await self._wait_ready()
        base = f"http://{HOST}:{self.server.http_port}"
        self._dashboard = Dashboard(base, self.server.manager_token)
        await self._dashboard.start()

    async def _wait_ready(self) -> None:
        """Every hub connected, the community subscribed, and the first reports delivered."""
        deadline = time.monotonic() + WAIT_S * 2
        while time.monotonic() < deadline:
            ingesting = bool(self.server.health()["ingesting"])
            if ingesting and all(h.uplink_connected for h in self._hubs) and self._idle():
                return
            await asyncio.sleep(0.05)
        raise BenchError("the community and hubs did not become ready")

    def _idle(self, homes: Sequence[Home] | None = None) -> bool:
        chosen = self.homes if homes is None else homes
        return all(h.hub.outbox_pending() == 0 and h.button.pending_events() == 0 for h in chosen)

    async def _settle(self, home: Home) -> None:
        """Let the acks of the last cycle finish, so the next sample starts from quiet."""
        deadline = time.monotonic() + WAIT_S
        while not self._idle([home]):
            if time.monotonic() > deadline:
                raise BenchError(f"{home.hub.hub_id}: outbox did not drain")
            await asyncio.sleep(0.002)

    async def _cycle(self, home: Home) -> float:
        """Press → alarm on the dashboard (the sample) → reset → clear on the dashboard."""
        assert self._dashboard is not None
        button = home.button
        button.press()
        pressed = _last_event(button, EventType.EMERGENCY_CALL, active=True)
        raised = self._dashboard.expect(
            lambda a: (
                a["device_id"] == button.device_id
                and a["status"] == "active"
                and a.get("event_ts") == pressed.ts
            )
        )
        received_ms, alarm = await _within(raised, f"alarm push for {button.device_id}")
        latency = received_ms - alarm["event_ts"]
        alarm_id = alarm["id"]
        cleared = self._dashboard.expect(lambda a: a["id"] == alarm_id and a["status"] == "cleared")
        button.reset()
        await _within(cleared, f"clear push for {button.device_id}")
        await self._settle(home)
        return float(latency)

    async def samples(self, count: int) -> list[float]:
        """``count`` samples, round-robin over the homes; different homes press concurrently."""
        by_home: dict[int, int] = {}
        for n in range(self._done, self._done + count):
            by_home[n % len(self.homes)] = by_home.get(n % len(self.homes), 0) + 1
        self._done += count

        async def run(home: Home, times: int) -> list[float]:
            return [await self._cycle(home) for _ in range(times)]

        results = await asyncio.gather(*(run(self.homes[i], k) for i, k in by_home.items()))
        return [latency for chunk in results for latency in chunk]

    async def stop(self) -> None:
        if self._dashboard is not None:
            await self._dashboard.stop()
        for home in self.homes:
            with contextlib.suppress(Exception):
                await home.button.stop()
        for hub in self._hubs:
            with contextlib.suppress(Exception):
                await hub.stop()
        with contextlib.suppress(Exception):
            await self.server.stop()


def _last_event(button: EmergencyButton, event: EventType, *, active: bool) -> Event:
    last = button.sent_events[-1]
    if last.event is not event or last.active is not active:
        raise BenchError(f"{button.device_id}: press did not emit {event} at once")
    return last


# --- statistics and the report --------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), ``q`` in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    min: float
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            count=len(values),
            min=round(min(values), 3),
            p50=round(percentile(values, 50), 3),
            p95=round(percentile(values, 95), 3),
            p99=round(percentile(values, 99), 3),
            max=round(max(values), 3),
            mean=round(sum(values) / len(values), 3),
        )


@dataclass(frozen=True, slots=True)
class Ratio:
    p50: float
    p99: float

    @classmethod
    def of(cls, top: Summary, bottom: Summary) -> Ratio:
        return cls(p50=round(top.p50 / bottom.p50, 2), p99=round(top.p99 / bottom.p99, 2))


@dataclass(frozen=True, slots=True)
class Report:
    broker: str
    broker_version: str
    samples: int
    homes: int
    warmup: int
    duration_s: float
    machine: dict[str, Any]
    names: dict[str, str]
    latency_ms: dict[str, Summary]
    ratios: dict[str, Ratio]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        lines = [
            f"alarm latency: {self.samples} samples each, broker {self.broker_version}, "
            f"{self.homes} home(s), {self.machine['cpu_count']} CPUs, "
            f"Python {self.machine['python']}, {self.duration_s:.1f} s",
            f"{'':<36}{'count':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}",
        ]
        for key, s in self.latency_ms.items():
            lines.append(
                f"{self.names[key]:<36}{s.count:>6}{s.p50:>10.3f}{s.p95:>10.3f}"
                f"{s.p99:>10.3f}{s.max:>10.3f}"
            )
        lines.append(f"{'ratio':<36}{'':>6}{'p50':>10}{'':>10}{'p99':>10}")
        for key, r in self.ratios.items():
            lines.append(f"{key:<36}{'':>6}{r.p50:>9.1f}x{'':>10}{r.p99:>9.1f}x")
        return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    samples: int = 200
    broker: BrokerKind = BrokerKind.EMBEDDED
    homes: int = 1
    warmup: int = 3
    json_path: Path | None = None


def _make_broker(kind: BrokerKind, workdir: Path) -> BenchBroker:
    if kind is BrokerKind.MOSQUITTO:
        return MosquittoBroker(workdir / "mosquitto")
    return EmbeddedBroker()


async def measure(options: Options, workdir: Path) -> Report:
    """Start every part, sample A, B and E in interleaved rounds, and summarise."""
    started = time.monotonic()
    accounts = Accounts()
    bench_password = secrets.token_urlsafe(24)
    accounts.add(BENCH_USER, bench_password, superuser=True)
    broker = _make_broker(options.broker, workdir)
    e2e = EndToEnd(broker.port, workdir, options.homes, accounts)
    hop = RawBrokerHop(broker.port, bench_password)
    chain = RawChain(broker.port, bench_password)
    results: dict[str, list[float]] = {hop.key: [], chain.key: [], e2e.key: []}
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(broker.stop)
        await broker.start(accounts)
        for part in (e2e, hop, chain):
            stack.push_async_callback(part.stop)
            await part.start()
        for _ in range(options.warmup):
            await hop.sample()
            await chain.sample()
        await e2e.samples(options.warmup * options.homes)
        remaining = options.samples
        while remaining > 0:
            n = min(ROUND, remaining)
            results[hop.key] += [await hop.sample() for _ in range(n)]
            results[chain.key] += [await chain.sample() for _ in range(n)]
            results[e2e.key] += await e2e.samples(n)
            remaining -= n
    summaries = {key: Summary.of(values) for key, values in results.items()}
    return Report(
        broker=str(options.broker),
        broker_version=broker.describe(),
        samples=options.samples,
        homes=options.homes,
        warmup=options.warmup,
        duration_s=round(time.monotonic() - started, 2),
        machine=machine_info(),
        names={hop.key: hop.name, chain.key: chain.name, e2e.key: e2e.name},
        latency_ms=summaries,
        ratios={
            f"{e2e.key}/{hop.key}": Ratio.of(summaries[e2e.key], summaries[hop.key]),
            f"{e2e.key}/{chain.key}": Ratio.of(summaries[e2e.key], summaries[chain.key]),
        },
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="alarm_latency",
        description="End-to-end alarm latency against raw broker baselines, in the same run.",
    )
    parser.add_argument("--samples", type=_positive, default=200, help="samples of each (200)")
    parser.add_argument(
        "--broker", type=BrokerKind, choices=list(BrokerKind), default=BrokerKind.EMBEDDED
    )
    parser.add_argument("--homes", type=_positive, default=1, help="hubs pressing concurrently (1)")
    parser.add_argument(
        "--warmup", type=_non_negative, default=3, help="unrecorded samples first (3)"
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="also write the numbers here")
    args = parser.parse_args(argv)
    return Options(args.samples, args.broker, args.homes, args.warmup, args.json_path)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="courtyard-bench-") as tmp:
        try:
            report = asyncio.run(measure(options, Path(tmp)))
        except BenchError as exc:
            print(f"alarm_latency: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("alarm_latency: interrupted", file=sys.stderr)
            return 130
    print(report.table())
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
