"""A real community, a real hub and a real charging port, over a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from community import CommunityConfig, CommunityServer
from devices.catalog import DeviceKind
from firmware_stubs import ChargingPort, make_device
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key
from tests.support.mosquitto import Mosquitto

HUB_ID = "hub-dl"
PORT_ID = "shed-a-port-1"


async def wait_for(predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Stack:
    tmp: Path
    broker: Mosquitto
    community_config: CommunityConfig
    community: CommunityServer
    hub_config: HubConfig
    hub: Hub
    port: ChargingPort
    extra: list[Any] = field(default_factory=list)

    def status(self, command_id: str) -> dict[str, Any]:
        row = self.community.command_status(command_id)
        assert row is not None
        return row

    async def settled(self, command_id: str) -> dict[str, Any]:
        await wait_for(
            lambda: self.status(command_id)["status"] != "pending", f"result of {command_id}"
        )
        return self.status(command_id)

    async def stop_hub(self) -> None:
        self.hub_config = dataclasses.replace(self.hub_config, http_port=self.hub.http_port)
        await self.hub.stop()

    async def start_hub(self, **changes: Any) -> None:
        """A new hub process on the same data folder and port (``changes``: config fields)."""
        self.hub_config = dataclasses.replace(self.hub_config, **changes)
        self.hub = Hub(self.hub_config)
        await self.hub.start()
        await wait_for(lambda: self.hub.uplink_connected, "the restarted hub's uplink")

    async def restart_hub(self, **changes: Any) -> None:
        await self.stop_hub()
        await self.start_hub(**changes)

    async def restart_community(self) -> None:
        await self.community.stop()
        self.community = CommunityServer(self.community_config)
        await self.community.start()
        await wait_for(lambda: self.community.health()["ingesting"], "the community to subscribe")

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish as a broker superuser that is not the community (an insider on the wire)."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder")
        client.username_pw_set("intruder", "intruder-pw")
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        try:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
        finally:
            client.disconnect()
            client.loop_stop()


@pytest.fixture
async def stack(mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[Stack]:
    community_password = secrets.token_urlsafe(16)
    mosquitto.add_user("community", community_password, superuser=True)
    mosquitto.add_user("intruder", "intruder-pw", superuser=True)
    community_config = CommunityConfig(
        community_id="estate-1",
        data_dir=tmp_path / "community",
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_username="community",
        mqtt_password=community_password,
        consent="open",
    )
    community = CommunityServer(community_config)
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir(mode=0o700)
    key = load_or_create_hub_key(hub_dir / "hub_key.pem")
    password = community.enroll_hub(HUB_ID, "home-1", key.public_key())
    mosquitto.add_user(HUB_ID, password)
    hub_config = HubConfig(
        hub_id=HUB_ID,
        home_id="home-1",
        data_dir=hub_dir,
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_password=password,
        heartbeat_s=2.0,
        ack_timeout_s=2.0,
        community_public_key_hex=community.community_public_key_hex,
        consent="open",
    )
    hub = Hub(hub_config)
    await community.start()
    await hub.start()
    token = hub.provision_device(PORT_ID, DeviceKind.CHARGING_PORT, "Port 1", "Shed A")
    port = make_device(
        DeviceKind.CHARGING_PORT,
        PORT_ID,
        f"ws://127.0.0.1:{hub.http_port}/api/device/ws",
        token,
        rng=random.Random(1),
        tick_s=0.05,
        state_file=tmp_path / "port.json",
        station_id="shed-a",
        port=1,
    )
    assert isinstance(port, ChargingPort)
    await port.start()
    built = Stack(tmp_path, mosquitto, community_config, community, hub_config, hub, port)
    try:
        await port.wait_connected(20)
        await wait_for(lambda: community.health()["ingesting"], "the community to subscribe")
        await wait_for(lambda: hub.uplink_connected, "the hub's uplink")
        yield built
    finally:
        for item in (built.port, *built.extra):
            with contextlib.suppress(Exception):
                await item.stop()
        with contextlib.suppress(Exception):
            await built.hub.stop()
        with contextlib.suppress(Exception):
            await built.community.stop()
