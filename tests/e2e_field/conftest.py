"""A community with a charging shed, a fire lane and an elevator, for the field pages.

Real parts end to end: Mosquitto, one community server (SQLite file, MQTT ingest, command
downlink, dashboard), one hub, and firmware stubs over the native device link — three ports
of one charging station, a fire-lane sensor and an elevator camera. The field rules are the
defaults with short durations, so an overheating pack is cut and a parked car becomes an
obstruction within seconds. Chromium and its contexts come from the dashboard tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from community import CommunityConfig, CommunityServer
from community.field_rules import FieldRules, default_rules
from devices.catalog import DeviceKind
from firmware_stubs import (
    ChargingPort,
    ElevatorCamera,
    FireLaneSensor,
    SimulatedDevice,
    make_device,
)
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key
from tests.e2e.conftest import (
    NewContext,
    browser,
    new_context,
    wait_for,
)
from tests.support.mosquitto import Mosquitto

__all__ = ["FieldStack", "browser", "field_board", "field_stack", "new_context"]

HUB_ID = "hub-field"
HOME_ID = "estate-1"
STATION = "shed-a"
ZONE = "lane-north"
LANE_ID = "lane-north-cam"
LIFT_ID = "lift-2-cam"
#: Seconds a vehicle or object may stand in the lane before it is an obstruction.
DWELL_S = 2.0


def short_rules() -> FieldRules:
    """The default rule table, with durations a test can wait for."""
    rules = tuple(
        dataclasses.replace(rule, duration_s=1.0) if rule.name == "overtemperature" else rule
        for rule in default_rules(vehicle_s=DWELL_S, object_s=DWELL_S)
    )
    return FieldRules(rules=rules)


@dataclass
class FieldStack:
    community: CommunityServer
    hub: Hub
    ports: list[ChargingPort]
    lane: FireLaneSensor
    lift: ElevatorCamera

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.community.http_port}"

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/login?token={self.community.manager_token}"

    async def get(self, path: str, *, auth: bool = True) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.community.manager_token}"} if auth else {}
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.base_url + path, headers=headers) as response,
        ):
            return response.status, await response.json()

    async def api(self, path: str) -> Any:
        status, body = await self.get(path)
        assert status == 200, f"GET {path}: {status} {body}"
        return body

    def alarms(self, kind: str) -> list[dict[str, Any]]:
        return [a for a in self.community.alarms() if a["kind"] == kind]


def _device(
    hub: Hub, kind: DeviceKind, device_id: str, name: str, room: str, tmp: Path, **kwargs: Any
) -> SimulatedDevice:
    token = hub.provision_device(device_id, kind, name, room)
    return make_device(
        kind,
        device_id,
        f"ws://127.0.0.1:{hub.http_port}/api/device/ws",
        token,
        rng=random.Random(device_id),
        tick_s=0.05,
        state_file=tmp / f"{device_id}.json",
        **kwargs,
    )


@pytest.fixture
async def field_stack(mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[FieldStack]:
    community_password = secrets.token_urlsafe(16)
    mosquitto.add_user("community", community_password, superuser=True)
    config = CommunityConfig(
        community_id="field-e2e",
        data_dir=tmp_path / "community",
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_username="community",
        mqtt_password=community_password,
        http_port=0,
        consent="open",
    )
    community = CommunityServer(config, field_rules=short_rules())
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir(mode=0o700)
    key = load_or_create_hub_key(hub_dir / "hub_key.pem")
    password = community.enroll_hub(HUB_ID, HOME_ID, key.public_key(), building="7")
    mosquitto.add_user(HUB_ID, password)
    hub = Hub(
        HubConfig(
            hub_id=HUB_ID,
            home_id=HOME_ID,
            data_dir=hub_dir,
            mqtt_host=mosquitto.host,
            mqtt_port=mosquitto.port,
            mqtt_password=password,
            heartbeat_s=2.0,
            ack_timeout_s=2.0,
            community_public_key_hex=community.community_public_key_hex,
            consent="open",
        )
    )
    devices: list[SimulatedDevice] = []
    await community.start()
    try:
        await hub.start()
        devices = [
            _device(
                hub,
                DeviceKind.CHARGING_PORT,
                f"{STATION}-port-{n}",
                f"Port {n}",
                "Shed A",
                tmp_path,
                station_id=STATION,
                port=n,
            )
            for n in (1, 2, 3)
        ]
        devices.append(
            _device(
                hub,
                DeviceKind.FIRE_LANE_SENSOR,
                LANE_ID,
                "North lane",
                "Gate 1",
                tmp_path,
                zone_id=ZONE,
            )
        )
        devices.append(
            _device(hub, DeviceKind.ELEVATOR_CAMERA, LIFT_ID, "Lift 2", "Block 7", tmp_path)
        )
        for device in devices:
            await device.start()
        for device in devices:
            await device.wait_connected(20)
        await wait_for(lambda: community.health()["ingesting"], "the community to subscribe")
        await wait_for(lambda: hub.uplink_connected, "the hub's uplink")
        ports = [d for d in devices if isinstance(d, ChargingPort)]
        [lane] = [d for d in devices if isinstance(d, FireLaneSensor)]
        [lift] = [d for d in devices if isinstance(d, ElevatorCamera)]
        yield FieldStack(community, hub, ports, lane, lift)
    finally:
        for device in devices:
            with contextlib.suppress(Exception):
                await device.stop()
        with contextlib.suppress(Exception):
            await hub.stop()
        with contextlib.suppress(Exception):
            await community.stop()


@pytest.fixture
async def field_board(new_context: NewContext, field_stack: FieldStack) -> Page:
    """The dashboard, signed in, in English, live."""
    page = await (await new_context()).new_page()
    await page.goto(field_stack.login_url)
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    return page
