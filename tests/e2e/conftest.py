"""A whole community in this process, and a real headless Chromium looking at its dashboard.

The stack is the real thing end to end: the embedded MQTT broker with per-account passwords
and ACLs, one community server (SQLite file, MQTT ingest, dashboard), two home hubs with
their own SQLite files, and firmware stubs speaking the native device link over real
WebSockets. Only the people are simulated, by Playwright driving Debian's Chromium (a
downloaded Playwright browser cannot be fetched on every machine, the distribution's can).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from community import CommunityConfig, CommunityServer
from courtyard.broker import Broker
from courtyard.demo.accounts import BrokerAccounts
from courtyard.demo.layout import HOME_DEVICES, Home, homes
from firmware_stubs import SimulatedDevice, make_device
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key

#: Debian's build; ``scripts/test`` installs it.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Generous: a loaded CI machine must not turn a working dashboard into a failure.
UI_TIMEOUT_MS = 20_000
#: The devices every home under test has (a subset of the demo's home).
ROLES = ("kitchen-smoke", "bedroom-smoke", "sos")
COMMUNITY_USER = "community"

expect.set_options(timeout=UI_TIMEOUT_MS)


async def wait_for(predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class HomeUnderTest:
    home: Home
    hub: Hub
    devices: dict[str, SimulatedDevice] = field(default_factory=dict)

    @property
    def home_id(self) -> str:
        return self.home.home_id

    def device(self, role: str) -> SimulatedDevice:
        return self.devices[role]

    def device_id(self, role: str) -> str:
        return self.devices[role].device_id


@dataclass
class Stack:
    """The running parts; :meth:`stop` takes them down in reverse order."""

    data_dir: Path
    broker: Broker
    server_config: CommunityConfig
    server: CommunityServer
    homes: list[HomeUnderTest] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    @property
    def token(self) -> str:
        return self.server.manager_token

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/login?token={self.token}"

    async def api(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.base_url + path, headers=headers) as response,
        ):
            assert response.status == 200, f"GET {path}: {response.status}"
            return await response.json()

    async def wait_ready(self) -> None:
        """Community subscribed, every hub's uplink up and every device linked."""
        await wait_for(lambda: self.server.health()["ingesting"], "the community to subscribe")
        for home in self.homes:
            await wait_for(lambda h=home: h.hub.uplink_connected, f"{home.hub.hub_id} uplink")
            for device in home.devices.values():
                await device.wait_connected(20)

    async def restart_server(self) -> None:
        """Stop the community server and start a new one on the same port and data folder."""
        port = self.server.http_port
        await self.server.stop()
        self.server = CommunityServer(replace(self.server_config, http_port=port))
        await self.server.start()

    async def stop(self) -> None:
        for home in self.homes:
            for device in home.devices.values():
                with contextlib.suppress(Exception):
                    await device.stop()
        for home in self.homes:
            with contextlib.suppress(Exception):
                await home.hub.stop()
        with contextlib.suppress(Exception):
            await self.server.stop()
        with contextlib.suppress(Exception):
            await self.broker.stop()


async def start_stack(data_dir: Path, home_count: int = 2) -> Stack:
    """Compose the community the way ``courtyard demo`` does, with three devices per home."""
    accounts = BrokerAccounts()
    community_password = secrets.token_urlsafe(24)
    accounts.add(COMMUNITY_USER, community_password, superuser=True)
    broker = Broker(host="127.0.0.1", port=0, authenticator=accounts, acl=accounts)
    await broker.start()
    config = CommunityConfig(
        community_id="e2e",
        data_dir=data_dir / "community",
        mqtt_host="127.0.0.1",
        mqtt_port=broker.port,
        mqtt_username=COMMUNITY_USER,
        mqtt_password=community_password,
        http_port=0,
        hub_offline_after_s=30.0,
        consent="open",
    )
    stack = Stack(data_dir, broker, config, CommunityServer(config))
    try:
        for home in homes(home_count):
            hub_dir = data_dir / "hubs" / home.hub_id
            hub_dir.mkdir(mode=0o700, parents=True)
            key = load_or_create_hub_key(hub_dir / "hub_key.pem")
            password = stack.server.enroll_hub(
                home.hub_id, home.home_id, key.public_key(), building=home.building, unit=home.unit
            )
            accounts.add(home.hub_id, password)
            hub = Hub(
                HubConfig(
                    hub_id=home.hub_id,
                    home_id=home.home_id,
                    data_dir=hub_dir,
                    mqtt_host="127.0.0.1",
                    mqtt_port=broker.port,
                    mqtt_password=password,
                    heartbeat_s=2.0,
                    ack_timeout_s=2.0,
                    consent="open",
                )
            )
            stack.homes.append(HomeUnderTest(home, hub))
        await stack.server.start()
        await asyncio.gather(*(h.hub.start() for h in stack.homes))
        (data_dir / "devices").mkdir()
        for home in stack.homes:
            url = f"ws://127.0.0.1:{home.hub.http_port}/api/device/ws"
            for role in (r for r in HOME_DEVICES if r.role in ROLES):
                device_id = home.home.device_id(role)
                token = home.hub.provision_device(device_id, role.kind, role.name, role.room)
                home.devices[role.role] = make_device(
                    role.kind,
                    device_id,
                    url,
                    token,
                    state_file=data_dir / "devices" / f"{device_id}.json",
                    rng=random.Random(device_id),
                )
        await asyncio.gather(*(d.start() for h in stack.homes for d in h.devices.values()))
        await stack.wait_ready()
    except BaseException:
        await stack.stop()
        raise
    return stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    running = await start_stack(tmp_path / "stack")
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (scripts/test installs it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def new_context(browser: Browser) -> AsyncIterator[NewContext]:
    """Make browser contexts (one per screen or person); all are closed after the test."""
    made: list[BrowserContext] = []

    async def make(**options: Any) -> BrowserContext:
        options.setdefault("locale", "en-GB")
        options.setdefault("viewport", {"width": 1440, "height": 900})
        options.setdefault("reduced_motion", "reduce")
        context = await browser.new_context(**options)
        context.set_default_timeout(UI_TIMEOUT_MS)
        made.append(context)
        return context

    try:
        yield make
    finally:
        for context in made:
            with contextlib.suppress(Exception):
                await context.close()


async def open_board(context: BrowserContext, stack: Stack) -> Page:
    """Sign in through ``/login?token=…`` and wait until the live feed is connected."""
    page = await context.new_page()
    await page.goto(stack.login_url)
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    return page


async def hubs_reported_devices(page: Page, stack: Stack) -> None:
    """Every hub listed online with all its devices counted (after its next heartbeat)."""
    for home in stack.homes:
        hub = page.locator(f'#hubs li[data-hub-id="{home.hub.hub_id}"]')
        await expect(hub).to_have_attribute("data-status", "online")
        count = len(home.devices)
        await expect(hub.locator("small")).to_contain_text(f"{count}/{count} ")


@pytest.fixture
async def board(new_context: NewContext, stack: Stack) -> Page:
    """The dashboard, signed in, in English, live."""
    return await open_board(await new_context(), stack)
