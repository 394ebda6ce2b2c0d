"""The Visitors tabs in a real headless Chromium: a resident issues a pass and revokes it on
the hub's page; staff see the pass and its gate entries (no name) on the dashboard and revoke
one there. Real hubs, a real community, a gate stub and Mosquitto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from firmware_stubs.visitor_gate import VisitorGate
from hub import Hub
from tests.visitors.conftest import Site, wait_for


async def open_hub(browser: Browser, hub: Hub, locale: str) -> Page:
    context = await browser.new_context(locale=locale, viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    base = f"http://127.0.0.1:{hub.http_port}"
    token = Path(hub.admin_token_path).read_text().strip()
    await page.goto(f"{base}/login?token={token}")
    await expect(page).to_have_url(f"{base}/")
    return page


@pytest.mark.timeout(120)
async def test_a_resident_issues_and_revokes_a_pass_on_the_hub(
    browser: Browser, site: Site, gate: VisitorGate
) -> None:
    hub = site.homes["hub-home-1"]
    page = await open_hub(browser, hub, "en-US")
    await page.click("#tab-visitors")
    await expect(page.locator("#visitors-empty")).to_be_visible()
    await expect(page.locator("#page-home")).to_be_hidden()
    await page.fill("#visitor-name", "Wang Fang")
    await page.fill("#visitor-plate", "沪A12345")
    await page.evaluate(
        """() => {
          const local = (ms) => {
            const d = new Date(Date.now() + ms);
            return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
          };
          document.querySelector('#visitor-from').value = local(-60000);
          document.querySelector('#visitor-to').value = local(3 * 3600 * 1000);
        }"""
    )
    await page.fill("#visitor-entries", "2")
    await page.click("#visitor-issue")
    await expect(page.get_by_test_id("visitors-result")).to_contain_text("Asked the property")
    item = page.locator("li.visitor-pass").first
    await expect(item).to_have_attribute("data-status", "issued", timeout=20000)
    await expect(item).to_contain_text("Wang Fang")
    pass_id = await item.get_attribute("data-pass-id")
    item = page.locator(f"li.visitor-pass[data-pass-id='{pass_id}']")  # newer ones come first
    code = await item.get_by_test_id("pass-code").inner_text()
    assert code.startswith("CYP1.")
    assert gate.present(code, plate="沪A12345").accepted

    # Past-dated window: the property refuses, and the page says why.
    await page.fill("#visitor-name", "Late Guest")
    await page.evaluate(
        """() => {
          document.querySelector('#visitor-from').value = '2020-01-01T10:00';
          document.querySelector('#visitor-to').value = '2020-01-01T12:00';
        }"""
    )
    await page.click("#visitor-issue")
    refused = page.locator("li.visitor-pass[data-status='refused']")
    await expect(refused).to_contain_text("the time is in the past", timeout=20000)

    await item.get_by_test_id("revoke-pass").click()
    await expect(item).to_have_attribute("data-status", "revoked", timeout=20000)
    await wait_for(lambda: len(gate.revoked) == 1, "the revocation at the gate", 30)
    assert gate.present(code).reason == "revoked"

    await page.click("#lang-toggle")
    await expect(page.locator("#tab-visitors")).to_have_text("访客")
    await expect(item.get_by_test_id("pass-status")).to_have_text("已作废")


@pytest.mark.timeout(120)
async def test_staff_see_passes_and_entries_and_revoke_on_the_dashboard(
    browser: Browser, site: Site, gate: VisitorGate
) -> None:
    hub = site.homes["hub-home-2"]
    request_id = hub.services.request(
        "visitor_pass",
        "issue",
        {
            "name": "Secret Visitor",
            "valid_from": "2020-01-01T00:00:00Z",
            "valid_to": "2020-01-01T01:00:00Z",
            "entries": 1,
        },
    )
    now = datetime.now(UTC)
    good = hub.services.request(
        "visitor_pass",
        "issue",
        {
            "name": "Secret Visitor",
            "valid_from": now.isoformat(),
            "valid_to": (now + timedelta(hours=2)).isoformat(),
            "entries": 1,
        },
    )
    await wait_for(
        lambda: all((hub.services.get(r) or {}).get("answer") for r in (request_id, good)),
        "both answers",
    )
    answer = hub.services.get(good)
    assert answer is not None and answer["answer"] == "issued"
    qr, pass_id = answer["data"]["qr"], answer["data"]["pass_id"]
    assert gate.present(qr).accepted
    assert gate.present(qr).reason == "used_up"
    await wait_for(lambda: len(site.community.visitors.entries()) == 2, "the entries")

    context = await browser.new_context(locale="en-US", viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    base = f"http://127.0.0.1:{site.community.http_port}"
    await page.goto(f"{base}/login?token={site.community.manager_token}")
    await page.goto(f"{base}/#visitors")
    row = page.locator(f"#vs-passes tr[data-pass-id='{pass_id}']")
    await expect(row.get_by_test_id("vs-status")).to_have_text("Used up", timeout=20000)
    await expect(row.get_by_test_id("vs-used")).to_have_text("1 / 1")
    await expect(page.locator("#page-visitors")).not_to_contain_text("Secret Visitor")
    entries = page.locator(f"#vs-entries tr[data-pass-id='{pass_id}']")
    await expect(entries).to_have_count(2)
    await expect(page.locator("#vs-entries tr[data-reason='used_up']")).to_contain_text(
        "no entries left"
    )
    await row.get_by_test_id("vs-revoke").click()
    await expect(row.get_by_test_id("vs-status")).to_have_text("Revoked")
    await wait_for(lambda: pass_id in gate.revoked, "the revocation at the gate", 30)
    await page.click("#lang")
    await expect(row.get_by_test_id("vs-status")).to_have_text("已作废")
