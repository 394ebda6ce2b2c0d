"""The property manager's dashboard in a real browser, fed by a real community.

Each test drives a firmware stub (a button press, a tamper switch) and watches the alarm
arrive through hub, broker and community into the open page, without a reload, then acts on
it the way a person on duty would.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.async_api import Locator, Page, expect

from firmware_stubs import EmergencyButton
from tests.e2e.conftest import NewContext, Stack, hubs_reported_devices, open_board

CJK = re.compile(r"[\u4e00-\u9fff]")


def alarm_row(page: Page, device_id: str, kind_text: str | None = None) -> Locator:
    """The row of the alarm raised by ``device_id`` (optionally: of this displayed event)."""
    rows = page.locator("tr[data-alarm-id]").filter(
        has=page.locator("td[data-field=device]", has_text=device_id)
    )
    if kind_text is not None:
        rows = rows.filter(has=page.locator("td[data-field=kind]", has_text=kind_text))
    return rows


def button(stack: Stack, home: int) -> EmergencyButton:
    device = stack.homes[home].device("sos")
    assert isinstance(device, EmergencyButton)
    return device


async def press_and_time(page: Page, stack: Stack, home: int) -> tuple[Locator, float]:
    """Press a home's emergency button; return its row and seconds until it was visible."""
    sos = button(stack, home)
    row = alarm_row(page, sos.device_id, "Emergency call")
    await expect(row).to_have_count(0)
    started = time.perf_counter()
    sos.press()
    await expect(row).to_be_visible()
    return row, time.perf_counter() - started


async def test_login_page_refuses_a_wrong_token_and_the_token_link_opens_the_board(
    stack: Stack, new_context: NewContext
) -> None:
    page = await (await new_context()).new_page()
    await page.goto(stack.base_url + "/")
    assert page.url.endswith("/login")
    await expect(page.locator("#login-form")).to_be_visible()
    await expect(page.locator("#token")).to_be_visible()
    await expect(page.locator("#conn")).to_have_count(0)

    await page.fill("#token", "not-the-token")
    await page.click("#login-submit")
    await expect(page.locator(".error[role=alert]")).to_contain_text("Wrong token")
    await expect(page.locator("#login-form")).to_be_visible()
    assert "/login" in page.url

    await page.goto(stack.login_url)
    assert page.url == stack.base_url + "/"
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(page.locator("#count-hubs")).to_have_text("2/2")


async def test_a_pressed_emergency_button_appears_without_reload(stack: Stack, board: Page) -> None:
    home = stack.homes[0]
    await board.evaluate("window.__same_document = true")
    row, seconds = await press_and_time(board, stack, 0)
    print(f"\npress -> row visible: {seconds * 1000:.0f} ms")

    await expect(row).to_have_count(1)
    await expect(row).to_have_attribute("data-severity", "critical")
    await expect(row).to_have_attribute("data-status", "active")
    await expect(row.locator("td[data-field=severity]")).to_have_text("Critical")
    await expect(row.locator("td[data-field=kind]")).to_have_text("Emergency call")
    await expect(row.locator("td[data-field=kind]")).to_have_text("Emergency call")
    await expect(row.locator("td[data-field=home]")).to_contain_text(home.home_id)
    await expect(row.locator("td[data-field=room]")).to_have_text("bedroom")
    await expect(row.locator("td[data-field=device]")).to_contain_text("Emergency button")
    await expect(row.locator("[data-field=status]")).to_have_attribute("data-state", "active")
    await expect(board.locator("#count-critical")).to_have_text("1")
    assert await board.evaluate("window.__same_document === true"), "the page was reloaded"

    alarm_id = int(await row.get_attribute("data-alarm-id") or 0)
    alarm = await stack.api(f"/api/alarms/{alarm_id}")
    assert (alarm["kind"], alarm["severity"], alarm["home_id"]) == (
        "emergency_call",
        "critical",
        home.home_id,
    )
    assert alarm["device_id"] == home.device_id("sos")


async def test_acknowledge_then_clear_in_the_page_is_recorded_with_the_operator(
    stack: Stack, board: Page
) -> None:
    await board.fill("#operator", "Wang Fang")
    row, _ = await press_and_time(board, stack, 0)
    alarm_id = int(await row.get_attribute("data-alarm-id") or 0)
    status = row.locator("[data-field=status]")

    # A person must acknowledge before anyone may clear.
    await expect(row.locator("button[data-action=clear]")).to_be_disabled()
    await row.locator("button[data-action=ack]").click()
    await expect(status).to_have_attribute("data-state", "acknowledged")
    await expect(status).to_contain_text("Wang Fang")
    await expect(row.locator("button[data-action=ack]")).to_be_disabled()

    await row.locator("button[data-action=clear]").click()
    await expect(status).to_have_attribute("data-state", "cleared")
    await expect(row).to_have_attribute("data-status", "cleared")

    alarm = await stack.api(f"/api/alarms/{alarm_id}")
    assert alarm["acknowledged"] is True
    assert alarm["acked_by"] == "Wang Fang"
    assert alarm["status"] == "cleared"
    assert alarm["cleared_by"] == "Wang Fang"
    actions = [(h["action"], h["by"]) for h in alarm["history"]]
    assert actions == [
        ("raised", "device"),
        ("acknowledged", "Wang Fang"),
        ("cleared", "Wang Fang"),
    ], actions


async def test_acknowledged_alarm_cleared_by_the_device_shows_in_the_page(
    stack: Stack, board: Page
) -> None:
    await board.fill("#operator", "Li Wei")
    row, _ = await press_and_time(board, stack, 1)
    alarm_id = int(await row.get_attribute("data-alarm-id") or 0)
    status = row.locator("[data-field=status]")
    await row.locator("button[data-action=ack]").click()
    await expect(status).to_have_attribute("data-state", "acknowledged")

    button(stack, 1).reset()
    await expect(status).to_have_attribute("data-state", "cleared")
    await expect(status).to_contain_text("device")
    await expect(row.locator("button[data-action=clear]")).to_be_disabled()

    alarm = await stack.api(f"/api/alarms/{alarm_id}")
    assert (alarm["acked_by"], alarm["cleared_by"], alarm["status"]) == (
        "Li Wei",
        "device",
        "cleared",
    )
    assert [h["action"] for h in alarm["history"]] == ["raised", "acknowledged", "cleared"]


async def _painted(row: Locator) -> dict[str, str]:
    return await row.evaluate(
        """(tr) => {
            const cell = getComputedStyle(tr.querySelector("td"));
            const badge = getComputedStyle(tr.querySelector(".sev"));
            return {
                row: getComputedStyle(tr).backgroundColor,
                edge: cell.boxShadow,
                badge: badge.backgroundColor,
            };
        }"""
    )


async def test_critical_alarms_look_different_from_alerts_and_sort_first(
    stack: Stack, board: Page
) -> None:
    tamper = stack.homes[1].device("kitchen-smoke")
    tamper.set_tamper(True)
    alert = alarm_row(board, tamper.device_id, "Tamper")
    await expect(alert).to_have_attribute("data-severity", "alert")
    critical, _ = await press_and_time(board, stack, 0)
    await expect(critical).to_have_attribute("data-severity", "critical")

    crit, alrt = await _painted(critical), await _painted(alert)
    print(f"\ncritical row paint: {crit}\nalert row paint:    {alrt}")
    assert crit["row"] != alrt["row"], "a critical row needs its own background"
    assert crit["edge"] != alrt["edge"], "the severity edge must differ"
    assert crit["badge"] != alrt["badge"], "the severity badge must differ"
    await expect(board.locator("#alarms tbody tr").first).to_have_attribute(
        "data-severity", "critical"
    )
    await expect(board.locator("#count-alert")).to_have_text("1")


async def test_search_by_home_hides_the_other_homes_alarms(stack: Stack, board: Page) -> None:
    first, _ = await press_and_time(board, stack, 0)
    second, _ = await press_and_time(board, stack, 1)

    await board.fill("#search", stack.homes[0].home_id)
    await expect(second).to_be_hidden()
    await expect(first).to_be_visible()
    await expect(board.locator("#alarms tbody tr")).to_have_count(1)

    await board.fill("#search", "")
    await expect(second).to_be_visible()
    await expect(board.locator("#alarms tbody tr")).to_have_count(2)


async def test_chinese_locale_shows_chinese_and_the_toggle_switches_to_english(
    stack: Stack, new_context: NewContext, tmp_path: Path
) -> None:
    page = await open_board(await new_context(locale="zh-CN"), stack)
    await expect(page.locator("h1")).to_have_text("社区报警中心")
    assert CJK.search(await page.title())
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    await expect(page.locator("#alarms th").first).to_have_text("级别")
    await expect(page.locator("#conn")).to_have_text("实时")

    stack.homes[0].device("kitchen-smoke").set_tamper(True)
    called, _ = await press_and_time_zh(page, stack)
    await expect(called.locator("td[data-field=severity]")).to_have_text("紧急")
    row = page.locator(f'tr[data-alarm-id="{await called.get_attribute("data-alarm-id")}"]')
    await expect(page.locator("#count-hubs")).to_have_text("2/2")
    await hubs_reported_devices(page, stack)
    await expect(page.locator("#alarms tbody tr")).to_have_count(2)
    shot = tmp_path / "dashboard-zh.png"
    await page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot (zh-CN): {shot}")

    await page.click("#lang")
    await expect(page.locator("h1")).to_have_text("Community alarm centre")
    await expect(page.locator("#lang")).to_have_text("中文")
    assert await page.evaluate("document.documentElement.lang") == "en"
    assert not CJK.search(await page.title())
    await expect(row.locator("td[data-field=severity]")).to_have_text("Critical")
    await expect(row.locator("td[data-field=kind]")).to_have_text("Emergency call")


async def press_and_time_zh(page: Page, stack: Stack) -> tuple[Locator, float]:
    sos = button(stack, 1)
    row = alarm_row(page, sos.device_id, "紧急呼叫")
    started = time.perf_counter()
    sos.press()
    await expect(row).to_be_visible()
    return row, time.perf_counter() - started


async def test_two_screens_both_receive_the_alarm_live(
    stack: Stack, new_context: NewContext
) -> None:
    desk = await open_board(await new_context(), stack)
    wall = await open_board(await new_context(viewport={"width": 1920, "height": 1080}), stack)
    sos = button(stack, 0)
    started = time.perf_counter()
    sos.press()
    for page in (desk, wall):
        await expect(alarm_row(page, sos.device_id, "Emergency call")).to_be_visible()
    print(
        f"\npress -> row visible on both screens: {(time.perf_counter() - started) * 1000:.0f} ms"
    )

    # What one person does, the other screen sees.
    await alarm_row(desk, sos.device_id).locator("button[data-action=ack]").click()
    await expect(alarm_row(wall, sos.device_id).locator("[data-field=status]")).to_have_attribute(
        "data-state", "acknowledged"
    )


async def test_the_page_reconnects_after_a_server_restart_and_catches_up(
    stack: Stack, board: Page
) -> None:
    sos = button(stack, 1)
    await stack.server.stop()
    await expect(board.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    sos.press()  # lands in the hub's outbox while the community is down
    await stack.restart_server()
    await expect(board.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(alarm_row(board, sos.device_id, "Emergency call")).to_be_visible()


async def test_screenshot_of_a_busy_board(stack: Stack, board: Page, tmp_path: Path) -> None:
    stack.homes[1].device("bedroom-smoke").set_tamper(True)
    await press_and_time(board, stack, 0)
    row, _ = await press_and_time(board, stack, 1)
    await row.locator("button[data-action=ack]").click()
    await expect(row.locator("[data-field=status]")).to_have_attribute("data-state", "acknowledged")
    await alarm_row(board, stack.homes[0].device_id("sos")).click()
    await expect(board.locator("#detail-history li")).to_have_count(1)
    await expect(board.locator("#alarms tbody tr")).to_have_count(3)
    await hubs_reported_devices(board, stack)
    await expect(board.locator("#toast")).to_be_hidden()
    shot = tmp_path / "dashboard-en.png"
    await board.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")
