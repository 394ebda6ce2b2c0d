"""The resident's privacy page in Chromium, against a real hub that enforces consent (with a
real community and Mosquitto behind it): consents are signed in the browser with the
resident's own Ed25519 key; granting and withdrawing take the same steps; a withdrawal
keeps the very next trouble event at home; export downloads the consents; erasure shows
the signed receipt's id; and the page reads in Chinese."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from devices.catalog import DeviceKind, EventType
from hub import Hub
from privacy.atrest import verify_receipt
from privacy.encoding import canonical_json
from privacy.keys import key_id
from tests.consent.support import LinkDevice, site, until
from tests.support.mosquitto import Mosquitto


def token(hub: Hub) -> str:
    return Path(hub.admin_token_path).read_text().strip()


_KEY_ID = re.compile(r"^[0-9a-f]{16}$")


async def open_privacy(page: Page, hub: Hub) -> None:
    base = f"http://127.0.0.1:{hub.http_port}"
    await page.goto(f"{base}/login?token={token(hub)}")
    await expect(page).to_have_url(f"{base}/")
    await page.click("#tab-privacy")
    await expect(page.locator("#page-privacy")).to_be_visible()
    await expect(page.locator("#privacy-key")).to_have_text(_KEY_ID)


async def privacy_view(hub: Hub) -> Any:
    url = f"http://127.0.0.1:{hub.http_port}/api/privacy"
    headers = {"Authorization": f"Bearer {token(hub)}"}
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as resp:
        assert resp.status == 200
        return await resp.json()


async def change_consent(page: Page, card: Locator, action: str, after: str) -> int:
    """Do ``action`` (grant or withdraw) on ``card`` as a resident would; the clicks it took."""
    before = await card.get_attribute("data-status")
    clicks = 0
    await card.get_by_test_id(action).click()
    clicks += 1
    await expect(page.locator("#consent-dialog")).to_be_visible()
    assert await card.get_attribute("data-status") == before  # nothing happens unconfirmed
    await page.click("#consent-confirm")
    clicks += 1
    await expect(page.locator("#consent-dialog")).to_be_hidden()
    await expect(card).to_have_attribute("data-status", after)
    return clicks


@pytest.mark.timeout(90)
async def test_grant_withdraw_export_and_erase_in_the_browser(
    browser: Browser, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        hub = s.hub
        context = await browser.new_context(
            locale="en-US", viewport={"width": 1100, "height": 900}, accept_downloads=True
        )
        page = await context.new_page()
        smoke = LinkDevice(hub, "smoke-1", DeviceKind.SMOKE_ALARM, "Kitchen alarm", "kitchen")
        fall = LinkDevice(hub, "fall-1", DeviceKind.FALL_DETECTOR, "Bath sensor", "bathroom")
        await smoke.connect()
        await fall.connect()
        try:
            await open_privacy(page, hub)
            kid = await page.locator("#privacy-key").text_content()
            health = page.locator("[data-testid=privacy-category][data-category=device_health]")
            falls = page.locator("[data-testid=privacy-category][data-category=fall_events]")
            await expect(health).to_have_attribute("data-status", "withheld")
            await expect(falls.get_by_test_id("sensitive")).to_have_text("Sensitive")
            await expect(health.get_by_test_id("sensitive")).to_have_count(0)

            grant_steps = await change_consent(page, health, "grant", "granted")
            await expect(health).to_contain_text("Property duty staff")
            await expect(health).to_contain_text("safety monitoring")
            await smoke.event(EventType.BATTERY_LOW)  # shared under the consent
            await fall.event(EventType.FALL_DETECTED, data={"confidence": 0.9})  # override
            assert (await privacy_view(hub))["withheld"] == {}

            withdraw_steps = await change_consent(page, health, "withdraw", "withheld")
            assert grant_steps == withdraw_steps == 2
            await smoke.event(EventType.TAMPER)  # the very next trouble event stays home
            view = await privacy_view(hub)
            assert view["withheld"] == {"device_health": 1}
            assert [c["status"] for c in view["consents"]] == ["withdrawn"]
            await until(lambda: len(s.events_at_community()) == 2, what="battery and fall")
            assert sorted(e["event"] for e in s.events_at_community()) == [
                "battery_low",
                "fall_detected",
            ]

            await page.reload()
            await expect(page.locator("#page-privacy")).to_be_visible()
            withheld = page.locator("#privacy-withheld li[data-category=device_health]")
            await expect(withheld.get_by_test_id("withheld-count")).to_have_text("1")
            use = page.get_by_test_id("override-use")
            await expect(use).to_have_count(1)
            await expect(use).to_contain_text("Fall detected")
            await expect(use).to_contain_text("fall-1:")
            await expect(use).to_contain_text("Property duty staff")
            await expect(use).to_contain_text("room")
            await expect(use).not_to_contain_text("confidence")

            async with page.expect_download() as download_info:
                await page.click("#privacy-export")
            download = await download_info.value
            saved = tmp_path / "my-data.json"
            await download.save_as(saved)
            exported = json.loads(saved.read_text())
            assert [c["record"]["status"] for c in exported["consents"]] == [
                "granted",
                "withdrawn",
            ]
            assert {c["signer"] for c in exported["consents"]} == {kid}
            assert kid != key_id(hub.public_key)  # the resident's key, not the hub's

            await page.click("#privacy-erase")
            await expect(page.locator("#erase-dialog")).to_be_visible()
            await page.fill("#erase-word", "erase")
            await expect(page.locator("#erase-submit")).to_be_disabled()
            await page.fill("#erase-word", "ERASE")
            await page.screenshot(path=str(tmp_path / "erase-dialog-en.png"))
            await page.click("#erase-submit")
            receipt_line = page.get_by_test_id("erase-receipt")
            await expect(receipt_line).to_be_visible()
            receipt = hub.consent.erase()  # erasing again returns the same receipt
            verify_receipt(receipt, hub.public_key)
            receipt_id = hashlib.sha256(canonical_json(receipt.to_dict())).hexdigest()[:32]
            await expect(receipt_line).to_have_attribute("data-receipt-id", receipt_id)
            await expect(receipt_line).to_contain_text(receipt_id)
            await page.screenshot(path=str(tmp_path / "privacy-en.png"), full_page=True)
        finally:
            await context.close()
            await smoke.close()
            await fall.close()


@pytest.mark.timeout(90)
async def test_the_privacy_page_reads_in_chinese_and_withdraws_as_it_grants(
    browser: Browser, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
        page = await context.new_page()
        try:
            await open_privacy(page, s.hub)
            assert await page.evaluate("document.documentElement.lang") == "zh-CN"
            await expect(page.locator("#tab-privacy")).to_have_text("隐私")
            await expect(page.locator("#privacy-title")).to_have_text("哪些信息会离开您的家")
            alarms = page.locator("[data-testid=privacy-category][data-category=safety_alarms]")
            falls = page.locator("[data-testid=privacy-category][data-category=fall_events]")
            await expect(alarms.locator("h3")).to_have_text("安全报警")
            await expect(falls.get_by_test_id("sensitive")).to_have_text("敏感信息")
            await expect(page.locator("#overrides-empty")).to_have_text("目前没有。")

            grant_steps = await change_consent(page, falls, "grant", "granted")
            await expect(falls).to_contain_text("物业值班人员")
            await expect(falls).to_contain_text("安全监护")
            await page.screenshot(path=str(tmp_path / "privacy-zh.png"), full_page=True)
            withdraw_steps = await change_consent(page, falls, "withdraw", "withheld")
            assert grant_steps == withdraw_steps
            view = await privacy_view(s.hub)
            assert [c["categories"][0]["category"] for c in view["consents"]] == ["fall_events"]
            assert [c["status"] for c in view["consents"]] == ["withdrawn"]

            await page.click("#privacy-erase")
            await expect(page.locator("#erase-label")).to_have_text("输入「删除」以确认")
        finally:
            await context.close()
