"""The Care tab in a real headless Chromium: the resident opts in (the consents are signed in
the browser), the hub asks with a big "I'm fine" button, the answer ends the check, and a meal
booking comes back answered — in English and in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from playwright.async_api import Browser, expect

from privacy.vocabulary import Category
from tests.care.conftest import FAMILY, Clock
from tests.notices.conftest import Site, wait_for


@pytest.mark.timeout(120)
async def test_opt_in_answer_the_ask_and_book_a_meal(browser: Browser, site: Site) -> None:
    hub = site.homes["hub-home-1"]
    hub.consent.recipients.register(FAMILY.id, X25519PrivateKey.generate().public_key())
    clock = Clock()
    hub.care.set_clock(clock, tick_s=0.2)
    context = await browser.new_context(locale="en-US", viewport={"width": 1100, "height": 1000})
    page = await context.new_page()
    base = f"http://127.0.0.1:{hub.http_port}"
    token = Path(hub.admin_token_path).read_text().strip()
    await page.goto(f"{base}/login?token={token}")
    await page.click("#tab-care")
    await expect(page.locator("#page-care")).to_be_visible()
    await expect(page.locator("#page-home")).to_be_hidden()
    await expect(page.locator("#care-family option")).to_have_text("li")

    await page.check("#care-enabled")
    await page.fill("#care-time", "09:00")
    await page.fill("#care-ask-grace", "10")
    await page.fill("#care-family-grace", "10")
    await page.click("#care-save")
    await expect(page.get_by_test_id("care-result")).to_contain_text("The daily check is on")
    settings = hub.care.settings()
    assert (settings.enabled, settings.check_time, settings.ask_grace_s) == (True, "09:00", 600)
    consents = [
        r for r in hub.consent.policy().current() if r.grant_for(Category.DAILY_CHECK) is not None
    ]
    assert sorted((str(r.purpose), r.recipients[0].id) for r in consents) == [
        ("care_service", "property_duty:duty"),
        ("family_notification", FAMILY.id),
    ]

    clock.at(9, 0)
    ask = page.get_by_test_id("care-ask")
    await expect(ask).to_be_visible(timeout=10_000)
    await expect(page.locator("body")).to_have_attribute("data-care-sounding", "true")
    await page.click("#care-fine")
    await expect(ask).to_be_hidden()
    await expect(page.locator("li.care-check[data-status='fine']")).to_have_count(1)
    assert hub.services.list("care") == []  # answered at home: nothing left it

    day = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    await page.select_option("#care-service", "meal")
    await page.fill("#care-date", day)
    await page.fill("#care-book-time", "11:30")
    await page.click("#care-book")
    await expect(page.get_by_test_id("care-book-result")).to_contain_text("Asked the property")
    await expect(page.locator("li.care-booking[data-answer='booked']")).to_contain_text(
        "Meal assistance"
    )

    await page.click("#lang-toggle")
    await expect(page.locator("#tab-care")).to_have_text("关怀")
    await expect(page.locator("li.care-booking")).to_contain_text("助餐")
    await wait_for(lambda: site.community.care.bookings(), "the booking at the community")
    await context.close()

    # The property office sees the booking on the dashboard's Care tab.
    board_context = await browser.new_context(locale="en-US")
    board = await board_context.new_page()
    desk = f"http://127.0.0.1:{site.community.http_port}"
    await board.goto(f"{desk}/login?token={site.community.manager_token}")
    await board.goto(f"{desk}/#care")
    row = board.locator("#care-bookings tbody tr[data-service='meal']")
    await expect(row).to_contain_text("home-1")
    await expect(row).to_contain_text("Meal assistance")
    await expect(board.locator("#care-checks-empty")).to_be_visible()
    await board_context.close()
