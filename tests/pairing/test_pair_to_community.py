"""From the box to the community desk: a resident pairs a brand-new smoke alarm in the hub's
web UI (real Chromium), names it and puts it in a room, self-tests it, and when it smells
smoke the community's dashboard shows the alarm under the resident's name and room.

Everything is real: the embedded MQTT broker with per-account passwords, a community server
with its SQLite file, a hub with mDNS discovery on loopback, and an unpaired stub device that
advertises itself and runs SPAKE2 with the code the resident typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from community import CommunityConfig, CommunityServer
from courtyard.broker import Broker
from courtyard.demo.accounts import BrokerAccounts
from firmware_stubs import SimulatedDevice, SmokeAlarm
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key
from tests.hub_ui.conftest import browser
from tests.hub_ui.test_resident_ui import run_when_paired, sign_in
from tests.pairing.support import MakeStub, eventually, unique

__all__ = ["browser"]

NAME = "Landing smoke alarm"
ROOM = "hallway"


@dataclass
class Community:
    broker: Broker
    server: CommunityServer
    hub: Hub

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    async def alarms(self) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.server.manager_token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.base_url}/api/alarms", headers=headers) as response,
        ):
            assert response.status == 200
            body = await response.json()
        alarms: list[dict[str, Any]] = body["alarms"]
        return alarms


@pytest.fixture
async def community(tmp_path: Path) -> AsyncIterator[Community]:
    """Composed as ``courtyard demo`` composes it: broker, community, one enrolled hub."""
    accounts = BrokerAccounts()
    password = secrets.token_urlsafe(24)
    accounts.add("community", password, superuser=True)
    broker = Broker(host="127.0.0.1", port=0, authenticator=accounts, acl=accounts)
    await broker.start()
    server = CommunityServer(
        CommunityConfig(
            community_id="pairing",
            data_dir=tmp_path / "community",
            mqtt_host="127.0.0.1",
            mqtt_port=broker.port,
            mqtt_username="community",
            mqtt_password=password,
            http_port=0,
            consent="open",
        )
    )
    hub_id, home_id = unique("hub"), "home-101"
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir(mode=0o700)
    key = load_or_create_hub_key(hub_dir / "hub_key.pem")
    hub_password = server.enroll_hub(hub_id, home_id, key.public_key(), building="1", unit="101")
    accounts.add(hub_id, hub_password)
    hub = Hub(
        HubConfig(
            hub_id=hub_id,
            home_id=home_id,
            data_dir=hub_dir,
            mqtt_host="127.0.0.1",
            mqtt_port=broker.port,
            mqtt_password=hub_password,
            heartbeat_s=2.0,
            ack_timeout_s=2.0,
            discovery=True,
            consent="open",
        )
    )
    try:
        await server.start()
        await hub.start()
        await eventually(lambda: server.health()["ingesting"], "the community to subscribe")
        await eventually(lambda: hub.uplink_connected, "the hub's uplink")
        yield Community(broker, server, hub)
    finally:
        with contextlib.suppress(Exception):
            await hub.stop()
        with contextlib.suppress(Exception):
            await server.stop()
        await broker.stop()


async def test_a_paired_alarm_reaches_the_community_with_the_residents_name_and_room(
    browser: Browser,
    community: Community,
    make_stub: MakeStub,
    record_property: Callable[[str, object], None],
) -> None:
    hub = community.hub
    stub = await make_stub()
    started: list[SimulatedDevice] = []
    running = asyncio.create_task(run_when_paired(stub, started))
    context = await browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    try:
        page = await context.new_page()
        await sign_in(page, hub)

        # The resident pairs the device it just unboxed, with the code on its label.
        found = page.locator(f'[data-testid=discovered-card][data-device-id="{stub.device_id}"]')
        await expect(found).to_be_visible()
        began = time.perf_counter()
        await found.get_by_test_id("pair-button").click()
        await page.fill("#pair-code", stub.code)
        await page.fill("#pair-name", NAME)
        await page.select_option("#pair-room", ROOM)
        await page.click("#pair-submit")
        card = page.locator(f'[data-testid=device-card][data-device-id="{stub.device_id}"]')
        await expect(card.get_by_test_id("device-status")).to_have_text("Connected")
        took = time.perf_counter() - began
        record_property("ui_pairing_s", round(took, 3))
        print(f"\nUI pairing (pair button to device connected): {took:.2f} s")
        await expect(card.get_by_test_id("device-name")).to_have_text(NAME)
        assert not stub.server.advertising

        await card.get_by_test_id("self-test").click()
        await expect(card.get_by_test_id("command-result")).to_have_text("Self-test passed")

        # Smoke: the alarm reaches the community desk under the resident's name and room.
        (device,) = started
        assert isinstance(device, SmokeAlarm)
        desk = await context.new_page()
        await desk.goto(f"{community.base_url}/login?token={community.server.manager_token}")
        await expect(desk.locator("#conn")).to_have_attribute("data-state", "live")
        row = desk.locator("tr[data-alarm-id]").filter(
            has=desk.locator("td[data-field=device]", has_text=NAME)
        )
        await expect(row).to_have_count(0)
        device.start_fire(rise_per_s=5.0)
        await expect(row).to_be_visible()
        await expect(row.locator("td[data-field=kind]")).to_have_text("Smoke alarm")
        await expect(row.locator("td[data-field=room]")).to_have_text(ROOM)
        await expect(row.locator("td[data-field=severity]")).to_have_text("Critical")
        await expect(row.locator("td[data-field=home]")).to_contain_text("home-101")

        (alarm,) = [a for a in await community.alarms() if a["device_id"] == stub.device_id]
        assert (alarm["device_name"], alarm["room"], alarm["kind"]) == (
            NAME,
            ROOM,
            "smoke_alarm",
        )
        assert (alarm["hub_id"], alarm["status"]) == (hub.hub_id, "active")
    finally:
        await context.close()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        for each in started:
            await each.stop()
