"""A real community, the charging shed's hub with a port stub, and two homes' hubs, over a
real Mosquitto: the residents' side of charging and the notice channel, end to end."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from community import CommunityConfig, CommunityServer
from community.field_rules import FieldRules, default_rules
from devices.catalog import DeviceKind
from firmware_stubs import ChargingPort, make_device
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key
from tests.downlink.conftest import wait_for
from tests.support.mosquitto import Mosquitto

SHED_HUB = "hub-shed"
PORT_ID = "shed-a-port-3"
HOMES = {"hub-home-1": "home-1", "hub-home-2": "home-2"}

__all__ = ["HOMES", "PORT_ID", "SHED_HUB", "Site", "site", "wait_for"]


def quick_rules() -> FieldRules:
    """The default rules with short debounces, so a test sees them fire in seconds."""
    quick = {"full": 1.0, "overtemperature": 0.5}
    return FieldRules(
        rules=tuple(
            dataclasses.replace(rule, duration_s=quick.get(rule.name, rule.duration_s))
            for rule in default_rules()
        )
    )


@dataclass
class Site:
    tmp: Path
    broker: Mosquitto
    community_config: CommunityConfig
    community: CommunityServer
    shed: Hub
    port: ChargingPort
    homes: dict[str, Hub]
    configs: dict[str, HubConfig]
    extra: list[Any] = field(default_factory=list)

    async def stop_home(self, hub_id: str) -> None:
        hub = self.homes[hub_id]
        self.configs[hub_id] = dataclasses.replace(self.configs[hub_id], http_port=hub.http_port)
        await hub.stop()

    async def start_home(self, hub_id: str) -> Hub:
        hub = Hub(self.configs[hub_id])
        self.homes[hub_id] = hub
        await hub.start()
        await wait_for(lambda: hub.uplink_connected, f"{hub_id}'s uplink")
        return hub

    def deliveries(self, hub_id: str) -> list[dict[str, Any]]:
        return [d for d in self.community.notices.deliveries() if d["hub_id"] == hub_id]


def _hub_config(
    hub_id: str, home_id: str, data_dir: Path, broker: Mosquitto, password: str, key_hex: str
) -> HubConfig:
    return HubConfig(
        hub_id=hub_id,
        home_id=home_id,
        data_dir=data_dir,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=password,
        heartbeat_s=2.0,
        ack_timeout_s=2.0,
        community_public_key_hex=key_hex,
        consent="open",
    )


def _enrolled_dir(tmp: Path, hub_id: str) -> tuple[Path, Any]:
    data_dir = tmp / hub_id
    data_dir.mkdir(mode=0o700)
    return data_dir, load_or_create_hub_key(data_dir / "hub_key.pem").public_key()


@pytest.fixture
async def site(mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[Site]:
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
    community = CommunityServer(community_config, field_rules=quick_rules())
    community.notices.retry_s = 1.0
    key_hex = community.community_public_key_hex
    configs: dict[str, HubConfig] = {}
    shed_dir, shed_key = _enrolled_dir(tmp_path, SHED_HUB)
    password = community.enroll_hub(SHED_HUB, "shed", shed_key, common_area=True)
    mosquitto.add_user(SHED_HUB, password)
    shed_config = _hub_config(SHED_HUB, "shed", shed_dir, mosquitto, password, key_hex)
    for hub_id, home_id in HOMES.items():
        data_dir, key = _enrolled_dir(tmp_path, hub_id)
        password = community.enroll_hub(hub_id, home_id, key)
        mosquitto.add_user(hub_id, password)
        configs[hub_id] = _hub_config(hub_id, home_id, data_dir, mosquitto, password, key_hex)
    await community.start()
    shed = Hub(shed_config)
    await shed.start()
    homes = {hub_id: Hub(config) for hub_id, config in configs.items()}
    for hub in homes.values():
        await hub.start()
    token = shed.provision_device(PORT_ID, DeviceKind.CHARGING_PORT, "Port 3", "Shed A")
    port = make_device(
        DeviceKind.CHARGING_PORT,
        PORT_ID,
        f"ws://127.0.0.1:{shed.http_port}/api/device/ws",
        token,
        rng=random.Random(3),
        tick_s=0.05,
        state_file=tmp_path / "port.json",
        station_id="shed-a",
        port=3,
    )
    assert isinstance(port, ChargingPort)
    await port.start()
    built = Site(tmp_path, mosquitto, community_config, community, shed, port, homes, configs)
    try:
        await port.wait_connected(20)
        await wait_for(lambda: community.health()["ingesting"], "the community to subscribe")
        for hub in (shed, *homes.values()):
            await wait_for(lambda hub=hub: hub.uplink_connected, f"{hub.hub_id}'s uplink")
        await wait_for(lambda: community.field.ports(SHED_HUB) == [PORT_ID], "the port's report")
        yield built
    finally:
        for item in (built.port, *built.extra):
            with contextlib.suppress(Exception):
                await item.stop()
        for hub in (built.shed, *built.homes.values()):
            with contextlib.suppress(Exception):
                await hub.stop()
        with contextlib.suppress(Exception):
            await built.community.stop()
