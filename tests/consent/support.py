"""A real hub, a real community and a real Mosquitto in one event loop, and a device that
speaks the native link protocol message by message (so a test decides exactly what is sent).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from community import CommunityConfig, CommunityServer
from devices.catalog import DeviceKind, EventType
from devices.messages import Event, Hello, State, encode
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key
from tests.support.mosquitto import Mosquitto


async def until(predicate: Callable[[], object], within_s: float = 15, what: str = "") -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class LinkDevice:
    """One device on the hub's WebSocket link; every send waits for the hub's ack."""

    def __init__(
        self, hub: Hub, device_id: str, kind: DeviceKind, name: str, room: str, *, seq: int = 0
    ) -> None:
        self.device_id, self.kind = device_id, kind
        self._token = hub.provision_device(device_id, kind, name, room)
        self._url = f"ws://127.0.0.1:{hub.http_port}/api/device/ws"
        self._seq = seq  # the last seq the hub accepted from this device
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> None:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(
            self._url, headers={"Authorization": f"Bearer {self._token}"}
        )
        await self._ws.send_str(encode(Hello(self.device_id, self.kind, "test", "1.0")))
        reply = await self._ws.receive_json(timeout=10)
        assert reply["type"] == "ack", reply

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    async def _send(self, text: str, seq: int) -> None:
        assert self._ws is not None
        await self._ws.send_str(text)
        while True:
            reply: dict[str, Any] = await self._ws.receive_json(timeout=10)
            if reply.get("ref") == str(seq):
                assert reply["type"] == "ack", reply
                return

    async def event(
        self, event: EventType, *, active: bool = True, data: dict[str, Any] | None = None
    ) -> int:
        self._seq += 1
        message = Event(
            self.device_id,
            self.kind,
            self._seq,
            int(time.time() * 1000),
            event,
            active,
            data or {},
        )
        await self._send(encode(message), self._seq)
        return self._seq

    async def state(self, state: dict[str, Any]) -> int:
        self._seq += 1
        message = State(self.device_id, self.kind, self._seq, int(time.time() * 1000), state)
        await self._send(encode(message), self._seq)
        return self._seq


@dataclass
class Site:
    hub: Hub
    community: CommunityServer
    home_id: str
    hub_dir: Path
    community_dir: Path

    def events_at_community(self) -> list[dict[str, Any]]:
        return self.community.events()

    def messages_at_community(self) -> list[dict[str, Any]]:
        """Every stored report with its message as the community holds it."""
        store = self.community._store
        rows = store.read(
            "SELECT key, device_id, device_kind, event, message FROM events "
            "WHERE record_kind = 'report' ORDER BY rowid"
        )
        return [
            {**r, "message": json.loads(store.open_message(r["key"], r["message"]) or "null")}
            for r in rows
        ]


@asynccontextmanager
async def site(
    mosquitto: Mosquitto,
    tmp_path: Path,
    *,
    hub_consent: str = "enforce",
    community_consent: str = "open",
    home_id: str = "home-1",
    resident_id: str = "",
    fresh: bool = True,
) -> AsyncIterator[Site]:
    """A community and one enrolled hub, both running; stopped afterwards.

    ``fresh=False`` starts them again on the data directories of an earlier ``site``.
    """
    if fresh:
        mosquitto.add_user("community", "community-secret", superuser=True)
    community_dir = tmp_path / "community"
    community = CommunityServer(
        CommunityConfig(
            community_id="consent-test",
            data_dir=community_dir,
            mqtt_host=mosquitto.host,
            mqtt_port=mosquitto.port,
            mqtt_username="community",
            mqtt_password="community-secret",
            consent=community_consent,
        )
    )
    await community.start()
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir(exist_ok=not fresh)
    key = load_or_create_hub_key(hub_dir / "hub_key.pem")
    password = community.enroll_hub("hub-1", home_id, key.public_key())
    mosquitto.add_user("hub-1", password)
    hub = Hub(
        HubConfig(
            hub_id="hub-1",
            home_id=home_id,
            data_dir=hub_dir,
            mqtt_host=mosquitto.host,
            mqtt_port=mosquitto.port,
            mqtt_password=password,
            ack_timeout_s=1.0,
            consent=hub_consent,
            resident_id=resident_id,
            community_public_key_hex=community.community_public_key_hex,  # notices, answers
        )
    )
    await hub.start()
    try:
        await until(lambda: hub.uplink_connected, 15, "the hub's uplink")
        yield Site(hub, community, home_id, hub_dir, community_dir)
    finally:
        await hub.stop()
        await community.stop()
