"""The dashboard's Parcels tab and the parcel notice on the hub, in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.hub_ui.conftest import browser
from tests.notices_publish.conftest import Estate

__all__ = ["browser"]

pytestmark = pytest.mark.timeout(120)


async def test_parcels_tab_follows_a_parcel_and_the_hub_shows_its_code(
    browser: Browser, estate: Estate
) -> None:
    context = await browser.new_context(locale="en-US", viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    await page.goto(f"{estate.url}/login?token={estate.tokens['dora']}")
    await page.goto(f"{estate.url}/#parcels")
    await expect(page.locator("#page-parcels")).to_be_visible()
    await expect(page.locator("#pc-empty")).to_be_visible()

    code = estate.locker.deliver("1-101", "SF-42")
    row = page.locator("#pc-table tbody tr").first
    await expect(row).to_have_attribute("data-status", "waiting")
    await expect(row.locator('[data-field="home"]')).to_have_text("1-101")
    await expect(row.locator('[data-field="locker"]')).to_contain_text("Gate locker")
    await expect(row.locator('[data-field="status"]')).to_have_text("Waiting")
    await expect(page.locator("#pc-summary")).to_have_text("1 waiting · 1 in all")
    assert code not in await page.content()

    # The resident sees the code on their hub's Notices tab.
    hub = estate.homes["hub-1-101"]
    resident = await (await browser.new_context(locale="zh-CN")).new_page()
    base = f"http://127.0.0.1:{hub.http_port}"
    await resident.goto(f"{base}/login?token={Path(hub.admin_token_path).read_text().strip()}")
    await resident.click("#tab-notices")
    notice = resident.locator("li.notice[data-code='parcel_arrived']")
    await expect(notice.get_by_test_id("parcel-code")).to_contain_text(code)
    await expect(notice).to_contain_text("您有快递待取")
    await expect(notice).to_contain_text("Gate locker，1 号格口")  # noqa: RUF001

    assert estate.locker.pick_up(code) == "1"
    await expect(row).to_have_attribute("data-status", "picked_up")
    await expect(row.locator('[data-field="status"]')).to_have_text("Collected")
    await page.locator("#lang").click()
    await expect(page.locator('.tab[data-page="parcels"]')).to_have_text("快递")
    await expect(row.locator('[data-field="status"]')).to_have_text("已取")
