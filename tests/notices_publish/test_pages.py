"""The dashboard's Notices tab and the hub's urgent banner, in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from hub import Hub
from tests.hub_ui.conftest import browser
from tests.notices_publish.conftest import Estate, wait_for

__all__ = ["browser"]

pytestmark = pytest.mark.timeout(120)


async def dashboard(browser: Browser, estate: Estate, locale: str = "en-US") -> Page:
    context = await browser.new_context(locale=locale, viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    await page.goto(f"{estate.url}/login?token={estate.community.manager_token}")
    await page.goto(f"{estate.url}/#notices")
    return page


async def hub_page(browser: Browser, hub: Hub) -> Page:
    context = await browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    base = f"http://127.0.0.1:{hub.http_port}"
    token = Path(hub.admin_token_path).read_text().strip()
    await page.goto(f"{base}/login?token={token}")
    await expect(page).to_have_url(f"{base}/")
    return page


async def test_the_manager_publishes_to_a_building_and_watches_the_receipts(
    browser: Browser, estate: Estate
) -> None:
    page = await dashboard(browser, estate)
    await expect(page.locator("#page-notices")).to_be_visible()
    await expect(page.locator("#nt-empty")).to_be_visible()

    await page.fill("#nt-title", "Lift maintenance in building 1")
    await page.fill("#nt-body", "Lift A is out of service on Friday.")
    await page.select_option("#nt-scope", "building")
    await page.fill("#nt-building", "1")
    await page.check("#nt-urgent")
    await page.click("#nt-publish")
    await expect(page.locator("#toast")).to_contain_text("published to 2 home(s)")

    row = page.locator("#nt-table tbody tr").first
    await expect(row).to_have_attribute("data-urgent", "true")
    await expect(row.locator('[data-field="audience"]')).to_have_text("building 1")
    await expect(row.locator('[data-field="delivered"]')).to_have_text("2/2")
    notice_id = await row.get_attribute("data-notice-id")
    assert notice_id

    # A resident reads it on the hub: the receipt shows up on the open page by itself.
    await wait_for(
        lambda: any(n["notice_id"] == notice_id for n in estate.homes["hub-1-102"].notices.list()),
        "the notice at the hub",
    )
    estate.homes["hub-1-102"].notices.mark_read(notice_id)
    await expect(row.locator('[data-field="read"]')).to_have_text("1")
    await row.click()
    receipt = page.locator('#nt-receipts tr[data-home="1-102"]')
    await expect(receipt).to_have_attribute("data-status", "read")
    await expect(page.locator('#nt-receipts tr[data-home="1-101"]')).to_have_attribute(
        "data-status", "delivered"
    )

    # A notice to nobody says why.
    await page.select_option("#nt-scope", "building")
    await page.fill("#nt-title", "Nobody")
    await page.fill("#nt-building", "42")
    await page.click("#nt-publish")
    await expect(page.locator("#toast")).to_contain_text("no enrolled home in building '42'")
    await expect(page.locator("#nt-table tbody tr")).to_have_count(1)

    # The same page in Chinese.
    await page.locator("#lang").click()
    await expect(page.locator('.tab[data-page="notices"]')).to_have_text("通知")
    await expect(receipt.locator('[data-field="status"]')).to_have_text("已读")


async def test_an_unread_urgent_notice_sounds_and_shows_a_banner_on_the_hub(
    browser: Browser, estate: Estate
) -> None:
    hub = estate.homes["hub-1-101"]
    page = await hub_page(browser, hub)
    banner = page.get_by_test_id("urgent-banner")
    await expect(banner).to_be_hidden()

    body = {
        "title": "Water cut today 13:00-15:00",
        "audience": {"scope": "homes", "homes": ["1-101"]},
        "urgent": True,
    }
    notice = (await estate.ok("POST", "/api/notices", body))["notice"]
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Water cut today 13:00-15:00")
    await expect(banner).to_have_attribute("data-notice-id", notice["id"])
    await expect(banner).to_have_attribute("data-beeps", "1")

    # Not an urgent one: no banner of its own, no second beep.
    await estate.ok(
        "POST", "/api/notices", {"title": "Newsletter", "audience": {"scope": "community"}}
    )
    await page.locator("#urgent-banner .urgent-open").click()
    await expect(page.locator("#page-notices")).to_be_visible()
    urgent = page.locator(f"li.notice[data-notice-id='{notice['id']}']")
    await expect(urgent).to_have_attribute("data-urgent", "true")
    await expect(page.locator("li.notice")).to_have_count(2)
    await expect(banner).to_have_attribute("data-beeps", "1")
    await urgent.get_by_test_id("mark-read").click()
    await expect(banner).to_be_hidden()
    await wait_for(
        lambda: (
            estate.table(
                "SELECT status FROM notice_deliveries WHERE notice_id = ?", [notice["id"]]
            )[0]["status"]
            == "read"
        ),
        "the read receipt at the community",
    )
