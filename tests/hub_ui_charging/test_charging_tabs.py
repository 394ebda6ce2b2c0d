"""A resident starts and stops charging from the hub's page and reads the notices, in English
and in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from devices.uplink import NoticeCategory
from hub import Hub
from tests.notices.conftest import PORT_ID, Site, wait_for


async def open_page(browser: Browser, hub: Hub, locale: str) -> Page:
    context = await browser.new_context(locale=locale, viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    base = f"http://127.0.0.1:{hub.http_port}"
    token = Path(hub.admin_token_path).read_text().strip()
    await page.goto(f"{base}/login?token={token}")
    await expect(page).to_have_url(f"{base}/")
    return page


@pytest.mark.timeout(120)
async def test_start_read_the_notice_and_stop_in_the_browser(browser: Browser, site: Site) -> None:
    site.community.charging.allow("home-1")
    hub = site.homes["hub-home-1"]
    page = await open_page(browser, hub, "en-US")
    await page.click("#tab-charging")
    await expect(page.locator("#charging-empty")).to_be_visible()
    await page.fill("#charging-port", PORT_ID)
    await page.click("#charging-start")
    await expect(page.get_by_test_id("charging-result")).to_contain_text("Asked to start")

    session = page.locator(f"li.session[data-port='{PORT_ID}']")
    await expect(session).to_have_attribute("data-status", "active")
    await expect(session.get_by_test_id("session-status")).to_contain_text("Charging since")
    badge = page.get_by_test_id("notices-unread")
    await expect(badge).to_have_text("1")

    await page.click("#tab-notices")
    notice = page.locator("li.notice[data-code='started']")
    await expect(notice).to_contain_text("Charging started on port 3.")
    await notice.get_by_test_id("mark-read").click()
    await expect(notice).to_have_attribute("data-read", "true")
    await expect(badge).to_be_hidden()
    [delivery] = site.deliveries("hub-home-1")
    assert delivery["notice_id"] == await notice.get_attribute("data-notice-id")

    await page.click("#tab-charging")
    await session.get_by_test_id("stop-session").click()
    await expect(session).to_have_attribute("data-status", "ended")
    await expect(session).to_contain_text("you stopped it")
    await expect(badge).to_have_text("1")
    assert not site.port.meter.relay_closed
    await page.click("#tab-notices")
    await expect(page.locator("li.notice[data-code='stopped']")).to_contain_text(
        "Charging stopped on port 3, as you asked."
    )
    # The read receipt reached the community.
    await wait_for(lambda: site.deliveries("hub-home-1")[0]["status"] == "read", "the receipt")
    await page.context.close()


@pytest.mark.timeout(120)
async def test_a_refusal_and_a_property_notice_read_in_chinese(
    browser: Browser, site: Site
) -> None:
    hub = site.homes["hub-home-2"]
    page = await open_page(browser, hub, "zh-CN")
    await expect(page.locator("#tab-charging")).to_have_text("充电")
    await page.click("#tab-charging")
    await page.fill("#charging-port", PORT_ID)
    await page.click("#charging-start")
    badge = page.get_by_test_id("notices-unread")
    await expect(badge).to_have_text("1")
    await page.click("#tab-notices")
    await expect(page.locator("li.notice[data-code='refused']")).to_contain_text(
        "充电请求被拒绝：您家尚未登记充电棚充电。"  # noqa: RUF001 - the Chinese colon
    )
    await site.community.notices.notify_homes(
        ["home-2"],
        category=NoticeCategory.PROPERTY,
        code="announcement",
        title="周二停水",
        body="周二 9:00-12:00 维修管道停水。",
    )
    announcement = page.locator("li.notice[data-code='announcement']")
    await expect(announcement).to_contain_text("周二停水")
    await expect(announcement.locator(".notice-body")).to_have_text(
        "周二 9:00-12:00 维修管道停水。"
    )
    await expect(badge).to_have_text("2")
    await page.context.close()
