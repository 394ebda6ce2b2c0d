"""Repairs end to end over a real Mosquitto: a resident's hub asks, the community answers and
tells the home each step staff take; another home cannot touch the order; and the hub's
Repairs tab in a real headless Chromium, in English and Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from hub import Hub
from tests.hub_ui.conftest import browser
from tests.notices.conftest import Site, site, wait_for

__all__ = ["browser", "site"]

HUB, OTHER = "hub-home-1", "hub-home-2"


async def staff(site: Site, method: str, path: str, body: Any = None, token: str = "") -> Any:
    base = f"http://127.0.0.1:{site.community.http_port}"
    headers = {"Authorization": f"Bearer {token or site.community.manager_token}"}
    async with (
        aiohttp.ClientSession(base, headers=headers) as http,
        http.request(method, path, json=body) as resp,
    ):
        answer = await resp.json()
        assert resp.status < 300, (path, resp.status, answer)
        return answer


async def work_through(site: Site, order_id: int) -> None:
    """The manager assigns the order; the technician starts and finishes it."""
    made = await staff(site, "POST", "/api/accounts", {"name": "wang", "role": "technician"})
    await staff(site, "POST", f"/api/orders/{order_id}/assign", {"to": "wang"})
    tech = made["token"]
    await staff(site, "POST", f"/api/orders/{order_id}/start", {}, tech)
    await staff(site, "POST", f"/api/orders/{order_id}/finish", {"resolution": "Fixed."}, tech)


def state_of(hub: Hub, order_id: int) -> str | None:
    order = hub.repairs.order(order_id)
    return None if order is None else str(order["state"])


async def test_a_resident_reports_follows_and_rates_and_another_home_cannot_touch_it(
    site: Site,
) -> None:
    hub, other = site.homes[HUB], site.homes[OTHER]
    hub.repairs.request("open", {"category": "plumbing", "description": "Tap drips"})
    await wait_for(lambda: hub.repairs.orders(), "the order at the hub")
    [order] = hub.repairs.orders()
    order_id = int(order["order_id"])
    assert order["state"] == "open" and order["category"] == "plumbing"

    # Another home aims at it: refused as unknown, and nothing changes.
    before = site.community._store.read("SELECT * FROM work_orders")
    asked = other.services.request("work_order", "cancel", {"order_id": order_id})
    await wait_for(lambda: (other.services.get(asked) or {}).get("answer"), "the refusal")
    refused = other.services.get(asked)
    assert refused is not None and refused["answer"] == "refused"
    assert refused["params"]["reason"] == "not_found"
    assert site.community._store.read("SELECT * FROM work_orders") == before
    assert other.repairs.orders() == []

    seen: list[str] = []
    hub.repairs.listen(lambda view: seen.append(str(view["state"])))
    await work_through(site, order_id)
    await wait_for(lambda: state_of(hub, order_id) == "done", "the hub to hear it is done")
    assert seen == ["assigned", "in_progress", "done"]
    assert hub.repairs.order(order_id)["assignee"] == "wang"  # type: ignore[index]

    hub.repairs.request("confirm", {"order_id": order_id, "rating": 5, "comment": "Thanks"})
    await wait_for(lambda: state_of(hub, order_id) == "confirmed", "the confirmation")
    [row] = site.community._store.read("SELECT status, rating FROM work_orders")
    assert (row["status"], row["rating"]) == ("confirmed", 5)
    hub.repairs.request("rate", {"order_id": order_id, "rating": 4})
    await wait_for(lambda: hub.repairs.order(order_id)["rating"] == 4, "the new rating")  # type: ignore[index]


async def open_page(browser: Browser, hub: Hub, locale: str) -> Page:
    context = await browser.new_context(locale=locale, viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    base = f"http://127.0.0.1:{hub.http_port}"
    token = Path(hub.admin_token_path).read_text().strip()
    await page.goto(f"{base}/login?token={token}")
    await expect(page).to_have_url(f"{base}/")
    return page


@pytest.mark.timeout(120)
async def test_the_repairs_tab_reports_follows_and_rates(browser: Browser, site: Site) -> None:
    hub = site.homes[HUB]
    page = await open_page(browser, hub, "en-US")
    await page.click("#tab-repairs")
    await expect(page.locator("#page-repairs")).to_be_visible()
    await expect(page.locator("#page-home")).to_be_hidden()
    await expect(page.locator("#repairs-empty")).to_be_visible()
    await page.click("#repair-send")  # nothing chosen: said at once, nothing sent
    await expect(page.get_by_test_id("repairs-result")).to_have_attribute("data-outcome", "failed")
    assert hub.services.list("work_order") == []

    await page.select_option("#repair-category", "electrical")
    await page.fill("#repair-description", "The hallway light flickers.")
    await page.fill("#repair-room", "hallway")
    await page.click("#repair-send")
    await expect(page.get_by_test_id("repairs-result")).to_have_attribute("data-outcome", "sent")
    card = page.locator("li.repair")
    await expect(card).to_have_attribute("data-state", "open")
    await expect(card.get_by_test_id("repair-state")).to_have_text("Reported")
    order_id = int(await card.get_attribute("data-order-id") or 0)

    await work_through(site, order_id)  # staff's steps show up live
    await expect(card).to_have_attribute("data-state", "done", timeout=20_000)
    await expect(card.get_by_test_id("repair-state")).to_have_text("Done — please confirm")
    await card.get_by_test_id("repair-stars").select_option("4")
    await card.get_by_test_id("repair-comment").fill("Bright again")
    await card.get_by_test_id("repair-confirm").click()
    await expect(card).to_have_attribute("data-state", "confirmed", timeout=20_000)
    await expect(card.get_by_test_id("repair-rating")).to_have_text("Rated 4/5")
    [row] = site.community._store.read("SELECT status, rating, comment, room FROM work_orders")
    assert row == {"status": "confirmed", "rating": 4, "comment": "Bright again", "room": "hallway"}

    await page.click("#lang-toggle")  # to Chinese
    await expect(page.locator("#tab-repairs")).to_have_text("报修")
    await expect(card.get_by_test_id("repair-state")).to_have_text("已确认")
    await page.click("#tab-home")
    await expect(page.locator("#page-repairs")).to_be_hidden()
    await expect(page.locator("#page-home")).to_be_visible()
    await page.context.close()


@pytest.mark.timeout(120)
async def test_the_phone_page_reports_and_shows_the_order(browser: Browser, site: Site) -> None:
    hub = site.homes[OTHER]
    context = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 800})
    page = await context.new_page()
    base = f"http://127.0.0.1:{hub.http_port}"
    await page.goto(f"{base}/m")
    await expect(page).to_have_url(f"{base}/login")  # the same sign-in
    token = Path(hub.admin_token_path).read_text().strip()
    await page.goto(f"{base}/login?token={token}")
    await page.goto(f"{base}/m")
    await expect(page.locator("#m-title")).to_have_text("我的家")
    await expect(page.locator("#m-no-alarms")).to_be_visible()
    await expect(page.get_by_test_id("m-notices")).to_have_text("0 条未读通知")
    await page.select_option("#m-category", "noise_complaint")
    await page.fill("#m-description", "楼上半夜装修")
    await page.click("#m-send")
    order = page.get_by_test_id("m-order")
    await expect(order).to_have_attribute("data-state", "open", timeout=20_000)
    await expect(order).to_contain_text("已报修")
    [row] = site.community._store.read("SELECT home_id, category, source FROM work_orders")
    assert row == {"home_id": "home-2", "category": "noise_complaint", "source": "resident"}
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # fits a phone: no sideways scrolling
    await context.close()
