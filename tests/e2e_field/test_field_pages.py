"""The field pages of the dashboard in real headless Chromium, fed by a real community.

Each test drives firmware stubs (a pack overheating on a charging port, a car parking in the
fire lane, an e-bike wheeled into a lift) and watches the open page follow without a reload,
in English and in Chinese.
"""

from __future__ import annotations

import json
import re

from playwright.async_api import Page, Route, expect

from firmware_stubs.charging_physics import ChargerLoad
from tests.e2e.conftest import wait_for
from tests.e2e_field.conftest import LANE_ID, LIFT_ID, STATION, ZONE, FieldStack

PLATE = "沪A·12345"


async def switch_language(page: Page, to: str) -> None:
    await page.click("#lang")
    await expect(page.locator("html")).to_have_attribute("lang", to)


async def test_the_shed_shows_ports_live_and_the_cut_after_an_overheat(
    field_board: Page, field_stack: FieldStack
) -> None:
    page = field_board
    await page.click(".tab[data-page=shed]")
    station = page.locator(f'.station[data-station-id="{STATION}"]')
    await expect(station.locator("article.port")).to_have_count(3)
    hot = field_stack.ports[0]
    card = station.locator(f'article.port[data-device-id="{hot.device_id}"]')
    await expect(card.locator("header b")).to_have_text("Port 1")
    await expect(card).to_have_attribute("data-port-state", "idle")

    hot.plug_in(ChargerLoad(soc=0.4))
    await expect(card).to_have_attribute("data-port-state", "charging")
    await expect(card.locator("[data-field=power_w]")).to_contain_text(" W")
    await expect(card.locator("[data-field=power_w]")).not_to_have_text("0 W")
    await expect(card.locator("[data-field=temperature_c]")).to_contain_text("°C")
    await expect(page.locator("#cuts tbody tr")).to_have_count(0)

    hot.overheat(runaway_w_per_s=3000.0)
    cut = page.locator(f'#cuts tbody tr[data-device-id="{hot.device_id}"]')
    await expect(cut).to_have_attribute("data-command-status", "acked")
    await expect(cut.locator("[data-field=reason]")).to_have_text("Over-temperature")
    await expect(cut.locator("[data-field=command_status]")).to_have_text("Done (confirmed)")
    await expect(card).to_have_attribute("data-severity", "critical")
    badge = card.locator("[data-open-alarm][data-kind=charger_overtemperature]")
    await expect(badge).to_have_text("Charger over-temperature")
    await expect(card.locator("[data-field=last_cut]")).to_contain_text("Over-temperature")
    other = station.locator(f'article.port[data-device-id="{field_stack.ports[1].device_id}"]')
    await expect(other).not_to_have_attribute("data-severity", "critical")

    await badge.click()
    await expect(page.locator("#detail")).to_be_visible()
    await expect(page.locator("#detail-fields")).to_contain_text(hot.device_id)

    await switch_language(page, "zh-CN")
    await expect(page.locator(".tab[data-page=shed]")).to_have_text("充电棚")
    await expect(cut.locator("[data-field=reason]")).to_have_text("温度过高")
    await expect(cut.locator("[data-field=command_status]")).to_have_text("已执行（已确认）")  # noqa: RUF001
    await expect(card.locator("header b")).to_have_text("1号端口")
    await expect(badge).to_have_text("充电过温")


async def test_a_lane_is_timed_while_occupied_then_cleared_and_found_in_history(
    field_board: Page, field_stack: FieldStack
) -> None:
    page = field_board
    await page.click(".tab[data-page=lanes]")
    lane = page.locator(f'#lanes tbody tr[data-zone-id="{ZONE}"]')
    await expect(lane).to_have_attribute("data-occupancy", "clear")
    await expect(lane.locator("[data-field=occupancy]")).to_have_text("Clear")
    await expect(lane.locator("[data-field=threshold]")).to_contain_text("vehicle 2s")

    field_stack.lane.vehicle_arrives(plate=PLATE)
    await expect(lane).to_have_attribute("data-occupancy", "vehicle")
    await expect(lane.locator("[data-field=occupancy]")).to_have_text("Vehicle")
    timer = lane.locator("[data-field=occupied] [data-since]")
    await expect(timer).to_have_text(re.compile(r"^\d+s$"))
    badge = lane.locator("[data-field=alarm] [data-kind=fire_lane_obstructed]")
    await expect(badge).to_have_text("Fire lane obstructed")
    first = await timer.text_content()
    await expect(timer).not_to_have_text(first or "")  # it counts on by itself
    assert PLATE not in await page.content()

    await switch_language(page, "zh-CN")
    await expect(lane.locator("[data-field=occupancy]")).to_have_text("有车辆")
    await expect(page.locator("#lanes thead")).to_contain_text("占用时长")
    await switch_language(page, "en")

    field_stack.lane.vehicle_leaves()
    await expect(lane).to_have_attribute("data-occupancy", "clear")
    await expect(lane.locator("[data-field=alarm]")).to_have_text("—")
    await expect(timer).to_have_count(0)
    await wait_for(
        lambda: field_stack.alarms("fire_lane_obstructed")[0]["status"] == "cleared",
        "the obstruction to clear",
    )

    await page.click(".tab[data-page=history]")
    await page.select_option("#h-status", "cleared")
    await page.fill("#h-q", LANE_ID)
    row = page.locator("#history-table tbody tr[data-status=cleared]")
    await expect(row).to_have_count(1)
    await expect(row.locator("[data-field=kind]")).to_have_text("Fire lane obstructed")
    await expect(page.locator("#h-range")).to_have_text("1–1 of 1")  # noqa: RUF001
    await page.select_option("#h-kind", "charger_overpower")
    await expect(page.locator("#history-table tbody tr")).to_have_count(0)
    await expect(page.locator("#history-empty")).to_be_visible()
    await page.select_option("#h-kind", "fire_lane_obstructed")
    await expect(row).to_have_count(1)
    await row.click()
    await expect(page.locator("#detail")).to_be_visible()
    await expect(page.locator("#detail-fields")).to_contain_text(LANE_ID)
    await expect(page.locator("#detail-history li").first).to_be_visible()
    assert PLATE not in await page.content()

    await switch_language(page, "zh-CN")
    await expect(row.locator("[data-field=kind]")).to_have_text("消防通道占用")
    await expect(page.locator("#h-range")).to_have_text("第 1–1 条，共 1 条")  # noqa: RUF001


async def test_staff_release_a_held_car_and_sealed_fields_name_their_reader(
    field_board: Page, field_stack: FieldStack
) -> None:
    page = field_board
    sealed = [{"field": "confidence", "recipients": ["family:alice"]}]

    async def add_sealed(route: Route) -> None:
        """The real alarm as the server sends it, plus the ``sealed`` list (not yet served)."""
        response = await route.fetch()
        body = await response.json()
        await route.fulfill(response=response, body=json.dumps({**body, "sealed": sealed}))

    assert field_stack.lift.ebike_enters()
    row = page.locator("#alarms tbody tr[data-alarm-id]").filter(has_text=LIFT_ID)
    await expect(row).to_have_count(1)
    await row.locator("td[data-field=kind]").click()
    release = page.locator("#detail-release")
    await expect(release).to_be_visible()
    await expect(release).to_have_text("Release car")
    await expect(page.locator("#detail-sealed li")).to_have_count(0)

    await switch_language(page, "zh-CN")
    await expect(release).to_have_text("放行")
    await switch_language(page, "en")

    await wait_for(
        lambda: (
            (field_stack.alarms("elevator_ebike")[0].get("hold") or {}).get("command_status")
            == "acked"
        ),
        "the car to be held",
    )
    await release.click()
    await expect(page.locator("#detail-release-row")).to_have_attribute("data-released", "true")
    await expect(release).to_be_disabled()
    await expect(page.locator("#detail-release-state")).to_contain_text("Released by")
    await wait_for(lambda: not field_stack.lift.car_held, "the car's doors to be released")

    await page.route("**/api/alarms/*", add_sealed)
    await page.locator("#detail-close").click()
    await row.locator("td[data-field=kind]").click()
    item = page.locator("#detail-sealed li")
    await expect(item).to_have_text("confidence: sealed for family:alice")
    await switch_language(page, "zh-CN")
    await expect(item).to_have_text("confidence：已加密，仅 family:alice 可读")  # noqa: RUF001

    other = field_stack.ports[0]
    other.plug_in_high_power()
    overpower = page.locator("#alarms tbody tr[data-alarm-id]").filter(has_text=other.device_id)
    await expect(overpower.first).to_be_visible()
    await overpower.first.locator("td[data-field=kind]").click()
    await expect(page.locator("#detail-fields")).to_contain_text(other.device_id)
    await expect(page.locator("#detail-release-row")).to_be_hidden()
