"""The "Work orders / 工单" page on real headless Chromium, against a real community."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.e2e.conftest import NewContext, browser, new_context
from tests.work_orders.conftest import HOME_B, Desk

__all__ = ["browser", "new_context"]


async def test_one_click_from_an_alarm_to_an_assigned_order_live_and_in_chinese(
    desk: Desk, new_context: NewContext
) -> None:
    await asyncio.to_thread(desk.account, "tom", "technician")
    alarm_id = await asyncio.to_thread(desk.smoke_end_of_service)
    context = await new_context()
    page = await context.new_page()
    await page.goto(f"{desk.community.url}/login?token={desk.community.token}")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")

    # One click on the alarm's detail opens its order and shows it on the orders page.
    await page.locator(f'#alarms tr[data-alarm-id="{alarm_id}"] td.event').click()
    await page.locator("#detail-work-order").click()
    await expect(page.locator("#page-orders")).to_be_visible()
    detail = page.locator("#wo-detail")
    await expect(detail).to_have_attribute("data-status", "open")
    order_id = await detail.get_attribute("data-order-id")
    row = page.locator(f'#wo-table tr[data-order-id="{order_id}"]')
    await expect(row.locator('[data-field="title"]')).to_have_text(
        "Replace the smoke detector in 302 Kitchen"
    )
    await expect(row.locator('[data-field="category"]')).to_have_text("Safety device")
    await expect(detail.locator('[data-field="alarm"]')).to_contain_text(f"#{alarm_id}")

    # Assign it to the technician from the detail.
    await page.fill("#wo-to", "tom")
    await detail.locator('[data-wo-action="assign"]').click()
    await expect(row).to_have_attribute("data-status", "assigned")
    await expect(row.locator('[data-field="assignee"]')).to_have_text("tom")

    # A second click on the same alarm finds the same order.
    await page.locator('.tab[data-page="board"]').click()
    await page.locator(f'#alarms tr[data-alarm-id="{alarm_id}"] td.event').click()
    await page.locator("#detail-work-order").click()
    await expect(page.locator("#toast")).to_contain_text(f"#{order_id} is already open")
    await expect(page.locator("#wo-table tbody tr")).to_have_count(1)

    # An order opened elsewhere appears live; when it runs past its SLA it is marked overdue.
    made = await asyncio.to_thread(
        desk.ok,
        "POST",
        "/api/orders",
        {"home_id": HOME_B, "category": "lift", "description": "Lift 2 stops between floors"},
    )
    lift = page.locator(f'#wo-table tr[data-order-id="{made["order"]["id"]}"]')
    await expect(lift).to_have_attribute("data-overdue", "false")
    desk.clock.advance(5 * 3600)
    await expect(lift).to_have_attribute("data-overdue", "true")
    await expect(page.locator("#toast")).to_contain_text("overdue")
    await expect(row).to_have_attribute("data-overdue", "false")

    # The same page in Chinese.
    await page.locator("#lang").click()
    await expect(page.locator('.tab[data-page="orders"]')).to_have_text("工单")
    await expect(row.locator('[data-field="status"]')).to_have_text("已派单")
    await expect(lift.locator('[data-field="due"]')).to_contain_text("已超时")

    # The technician signs in with their own token and sees only the order assigned to them.
    tech = await (await new_context()).new_page()
    await tech.goto(f"{desk.community.url}/login?token={desk.tokens['tom']}")
    await tech.goto(f"{desk.community.url}/#orders")
    await expect(tech.locator("#wo-table tbody tr")).to_have_count(1)
    await expect(tech.locator(f'#wo-table tr[data-order-id="{order_id}"]')).to_be_visible()
