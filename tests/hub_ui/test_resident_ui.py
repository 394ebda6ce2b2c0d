"""The resident's whole pairing flow in Chromium, against a running stub device, in Chinese
and in English: sign in, see the device nearby, enter its code, name it, choose a room, watch
it come alive, run a self-test, remove it and undo, then remove it for real."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from devices.catalog import DeviceKind
from firmware_stubs import SimulatedDevice, make_device
from hub import Hub
from tests.pairing.support import MakeHub, MakeStub, Stub, eventually, wrong_code

WORDS = {
    "zh-CN": {
        "title": "我的家",
        "wrong": "配对码错误",
        "room": "厨房",
        "name": "厨房烟感",
        "connected": "已连接",
        "passed": "自检通过",
        "removed": "已移除",
        "undo": "撤销",
        "kind": "烟雾报警器",
        "battery": "电量",
    },
    "en-US": {
        "title": "My home",
        "wrong": "Wrong setup code",
        "room": "Kitchen",
        "name": "Kitchen alarm",
        "connected": "Connected",
        "passed": "Self-test passed",
        "removed": "removed",
        "undo": "Undo",
        "kind": "Smoke alarm",
        "battery": "Battery",
    },
}


def admin_token(hub: Hub) -> str:
    return (hub.config.data_dir / "admin.token").read_text().strip()


async def sign_in(page: Page, hub: Hub) -> None:
    base = f"http://127.0.0.1:{hub.http_port}"
    await page.goto(f"{base}/")
    await expect(page).to_have_url(f"{base}/login")
    await page.fill("#token", admin_token(hub))
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{base}/")


async def run_when_paired(stub: Stub, started: list[SimulatedDevice]) -> None:
    """What the stub firmware does: once paired, connect with the credential it got."""
    creds = await stub.server.wait_paired()
    device = make_device(
        DeviceKind.SMOKE_ALARM, stub.device_id, creds.hub_url, creds.token, heartbeat_s=5
    )
    started.append(device)
    await device.start()


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_pair_use_and_remove_a_device_in_the_browser(
    browser: Browser, make_hub: MakeHub, make_stub: MakeStub, tmp_path: Path, locale: str
) -> None:
    words = WORDS[locale]
    hub = await make_hub()
    stub = await make_stub()
    started: list[SimulatedDevice] = []
    firmware = asyncio.create_task(run_when_paired(stub, started))
    context = await browser.new_context(locale=locale, viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    try:
        await sign_in(page, hub)
        await expect(page.locator("h1")).to_have_text(words["title"])
        assert await page.evaluate("document.documentElement.lang") == (
            "zh-CN" if locale == "zh-CN" else "en"
        )

        found = page.locator(f'[data-testid=discovered-card][data-device-id="{stub.device_id}"]')
        await expect(found).to_be_visible()
        await expect(found).to_contain_text(words["kind"])
        await expect(found).to_contain_text(stub.fingerprint)
        await found.get_by_test_id("pair-button").click()
        await expect(page.locator("#pair-dialog")).to_be_visible()

        await page.fill("#pair-code", wrong_code(stub.code))
        await page.click("#pair-submit")
        await expect(page.locator("#pair-error")).to_contain_text(words["wrong"])
        assert hub.devices() == []

        await page.fill("#pair-code", f"{stub.code[:4]} {stub.code[4:]}")
        await page.fill("#pair-name", words["name"])
        await page.select_option("#pair-room", "kitchen")
        await page.screenshot(path=str(tmp_path / f"pair-dialog-{locale}.png"))
        await page.click("#pair-submit")
        await expect(page.locator("#pair-dialog")).to_be_hidden()

        card = page.locator(f'[data-testid=device-card][data-device-id="{stub.device_id}"]')
        await expect(card.get_by_test_id("device-name")).to_have_text(words["name"])
        await expect(card.get_by_test_id("device-room")).to_have_text(words["room"])
        await expect(card.get_by_test_id("device-status")).to_have_text(words["connected"])
        await expect(card.get_by_test_id("device-state")).to_contain_text(words["battery"])
        await expect(found).to_have_count(0)
        record = hub.device(stub.device_id)
        assert record is not None and (record.name, record.room) == (words["name"], "kitchen")

        await card.get_by_test_id("self-test").click()
        await expect(card.get_by_test_id("command-result")).to_have_text(words["passed"])
        await expect(
            card.locator('[data-testid=device-events] li[data-event="self_test"]')
        ).to_have_count(1)
        await page.screenshot(path=str(tmp_path / f"home-{locale}.png"), full_page=True)

        await card.get_by_test_id("remove").click()
        await expect(card).to_have_count(0)
        await expect(page.locator("#snackbar-text")).to_contain_text(words["removed"])
        await page.click("#snackbar-undo")
        await expect(card).to_be_visible()
        # The hub cancelled the removal itself: nothing will revoke the device later.
        await eventually(lambda: hub.pending_removal(stub.device_id) is None, "the undo")
        assert hub.device(stub.device_id) is not None and started[0].connected

        await card.get_by_test_id("remove").click()
        await expect(card).to_have_count(0)
        await eventually(lambda: hub.device(stub.device_id) is None, "the removal to be final")
        await eventually(lambda: not started[0].connected, "the device link to close")
        await page.reload()
        await expect(page.locator("#devices-empty")).to_be_visible()
        await expect(card).to_have_count(0)
    finally:
        await context.close()
        firmware.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await firmware
        for device in started:
            await device.stop()


async def test_sign_in_sets_a_strict_http_only_cookie_and_refuses_wrong_tokens(
    browser: Browser, make_hub: MakeHub
) -> None:
    hub = await make_hub(discovery=False)
    base = f"http://127.0.0.1:{hub.http_port}"
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    try:
        await page.goto(f"{base}/login")
        await page.fill("#token", "not-the-token")
        await page.click("#login-submit")
        await expect(page.locator("#login-error")).to_contain_text("Wrong token")
        assert await context.cookies() == []
        await page.goto(f"{base}/login?token={admin_token(hub)}")
        await expect(page).to_have_url(f"{base}/")
        (cookie,) = await context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert await page.evaluate("document.cookie") == ""
        await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        await page.click("#lang-toggle")
        await expect(page.locator("h1")).to_have_text("我的家")
        await page.reload()
        await expect(page.locator("h1")).to_have_text("我的家")  # the choice is remembered
        await page.click("#logout")
        await expect(page).to_have_url(re.compile(r"/login$"))
    finally:
        await context.close()
