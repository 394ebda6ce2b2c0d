"""Helpers for pairing tests: real hubs with mDNS on loopback, real stub devices in pairing
mode, and a way to drive or record a pairing session frame by frame."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devices.catalog import DeviceKind
from devices.pairing import PairingCode, ProtocolError
from firmware_stubs.device_secrets import DeviceSecrets
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.pairing import PairingServer, PairingWindow
from hub import Hub, HubConfig
from tests.support.mosquitto import free_port

WAIT_S = 15.0


def unique(prefix: str) -> str:
    """Ids unique per test: other tests' advertisements may still be in mDNS caches."""
    return f"{prefix}-{secrets.token_hex(4)}"


def wrong_code(right: str) -> str:
    return "13572468" if right != "13572468" else "24681357"


async def eventually(check: Callable[[], object], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Stub:
    """A device in pairing mode: its identity, secrets and pairing endpoint."""

    identity: DeviceIdentity
    secrets: DeviceSecrets
    server: PairingServer

    @property
    def device_id(self) -> str:
        return self.identity.device_id

    @property
    def code(self) -> str:
        return self.secrets.setup_code

    @property
    def fingerprint(self) -> str:
        return self.secrets.fingerprint


MakeStub = Callable[..., Awaitable[Stub]]
MakeHub = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def make_stub() -> AsyncIterator[MakeStub]:
    stubs: list[Stub] = []

    async def make(
        device_id: str | None = None,
        kind: DeviceKind = DeviceKind.SMOKE_ALARM,
        *,
        secrets_: DeviceSecrets | None = None,
        window: PairingWindow | None = None,
        advertise: bool = True,
    ) -> Stub:
        identity = DeviceIdentity.default(kind, device_id or unique("smoke"))
        device_secrets = secrets_ or DeviceSecrets.generate()
        server = PairingServer(identity, device_secrets, window=window, advertise=advertise)
        await server.start()
        stub = Stub(identity, device_secrets, server)
        stubs.append(stub)
        return stub

    yield make
    for stub in stubs:
        await stub.server.stop()


@pytest.fixture
async def make_hub(tmp_path: Path) -> AsyncIterator[MakeHub]:
    hubs: list[Hub] = []
    dead_port = free_port()

    async def make(**overrides: Any) -> Hub:
        fields: dict[str, Any] = {
            "hub_id": unique("hub"),
            "home_id": "home-1",
            "data_dir": tmp_path / f"hub-{len(hubs)}",
            "mqtt_host": "127.0.0.1",
            "mqtt_port": dead_port,
            "mqtt_password": "hub-secret",
            "discovery": True,
        }
        fields.update(overrides)
        hub = Hub(HubConfig(**{"consent": "open", **fields}))
        hubs.append(hub)
        await hub.start()
        return hub

    yield make
    for hub in hubs:
        await hub.stop()


async def discovered(hub: Hub, stub: Stub) -> None:
    await eventually(
        lambda: any(d.fingerprint == stub.fingerprint for d in hub.discovered()),
        f"the hub to discover {stub.device_id}",
    )


@dataclass
class RecordingChannel:
    """A pairing channel over a real WebSocket that keeps every frame, both ways."""

    ws: aiohttp.ClientWebSocketResponse
    sent: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    async def send(self, text: str) -> None:
        self.sent.append(text)
        await self.ws.send_str(text)

    async def receive(self) -> str:
        message = await self.ws.receive(WAIT_S)
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise ProtocolError(PairingCode.BAD_MESSAGE, "closed")
        self.received.append(message.data)
        return str(message.data)


async def raw_session(url: str, frames: list[str], *, linger: bool = True) -> list[str]:
    """Send ``frames`` one by one, each after reading the device's answer; return answers.

    With ``linger`` the device's last word is awaited too; without, the link is dropped.
    """
    answers: list[str] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for text in frames:
            await ws.send_str(text)
            message = await ws.receive(WAIT_S)
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            answers.append(message.data)
        else:
            if not linger:
                return answers
            message = await ws.receive(WAIT_S)
            if message.type is aiohttp.WSMsgType.TEXT:
                answers.append(message.data)
    return answers
