"""Working an alarm on the dashboard in real headless Chromium: assign, start, resolve."""

from __future__ import annotations

from playwright.async_api import Page, expect

from firmware_stubs import EmergencyButton
from tests.e2e.conftest import NewContext, Stack, open_board
from tests.e2e.test_dashboard import alarm_row


async def test_assign_start_and_resolve_from_the_board(stack: Stack, board: Page) -> None:
    await board.fill("#operator", "Chen Jing")
    sos = stack.homes[0].device("sos")
    assert isinstance(sos, EmergencyButton)
    sos.press()
    row = alarm_row(board, sos.device_id, "Emergency call")
    await expect(row).to_be_visible()
    handling = row.locator("td[data-field=handling]")
    await expect(handling).to_have_attribute("data-handling", "new")
    await expect(row.locator("button[data-action=resolve]")).to_be_disabled()

    await row.locator("button[data-action=assign]").click()
    await expect(handling).to_have_attribute("data-handling", "assigned")
    await expect(handling).to_contain_text("Chen Jing")
    await row.locator("button[data-action=start]").click()
    await expect(handling).to_have_attribute("data-handling", "in_progress")
    await expect(handling).to_contain_text("In progress")
    await expect(row.locator("[data-field=status]")).to_have_attribute("data-state", "acknowledged")

    # Resolving asks for a note first.
    await row.locator("button[data-action=resolve]").click()
    await expect(board.locator("#toast")).to_contain_text("note")
    await expect(board.locator("#detail")).to_be_visible()
    await board.fill("#detail-note", "Resident was fine; button pressed by a child")
    await board.locator("#detail-resolve").click()
    await expect(handling).to_have_attribute("data-handling", "resolved")
    await expect(row.locator("[data-field=status]")).to_have_attribute("data-state", "cleared")
    await expect(board.locator("#detail-history li")).to_have_count(6)
    await expect(board.locator("#detail-fields")).to_contain_text("button pressed by a child")

    alarm_id = int(await row.get_attribute("data-alarm-id") or 0)
    alarm = await stack.api(f"/api/alarms/{alarm_id}")
    assert (alarm["handling"], alarm["assignee"], alarm["resolved_by"]) == (
        "resolved",
        "Chen Jing",
        "Chen Jing",
    )
    assert [h["action"] for h in alarm["history"]] == [
        "raised",
        "assigned",
        "acknowledged",
        "started",
        "resolved",
        "cleared",
    ]


async def test_the_handling_column_speaks_chinese(stack: Stack, new_context: NewContext) -> None:
    page = await open_board(await new_context(locale="zh-CN"), stack)
    sos = stack.homes[1].device("sos")
    assert isinstance(sos, EmergencyButton)
    sos.press()
    row = alarm_row(page, sos.device_id, "紧急呼叫")
    await expect(row).to_be_visible()
    await expect(page.locator("#alarms th", has_text="处置")).to_have_count(1)
    await row.locator("button[data-action=start]").click()
    await expect(row.locator("td[data-field=handling]")).to_contain_text("处置中")
    await expect(row.locator("button[data-action=resolve]")).to_have_text("办结")
