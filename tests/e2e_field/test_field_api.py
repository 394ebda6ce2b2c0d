"""The field pages' read API and the history filters, over the real stack (no browser)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firmware_stubs.charging_physics import ChargerLoad
from tests.e2e.conftest import wait_for
from tests.e2e_field.conftest import DWELL_S, HUB_ID, LANE_ID, STATION, ZONE, FieldStack

PLATE = "沪A·12345"


def _ports(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["device_id"]: p for st in body["stations"] for p in st["ports"]}


async def _until(stack: FieldStack, path: str, check: Any, what: str) -> dict[str, Any]:
    """Poll ``path`` until ``check(body)`` holds; returns that body."""
    seen: dict[str, Any] = {}

    async def poll() -> bool:
        seen.update(await stack.api(path))
        return bool(check(seen))

    deadline = time.monotonic() + 40
    while not await poll():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {seen}")
        await asyncio.sleep(0.2)
    return seen


async def test_the_shed_lists_every_port_of_the_station_with_its_readings(
    field_stack: FieldStack,
) -> None:
    field_stack.ports[0].plug_in(ChargerLoad(soc=0.4))
    body = await _until(
        field_stack,
        "/api/field/ports",
        lambda b: (
            len(_ports(b)) == 3
            and _ports(b)[f"{STATION}-port-1"]["port_state"] == "charging"
            and (_ports(b)[f"{STATION}-port-1"]["power_w"] or 0) > 0
        ),
        "three ports, one charging",
    )
    [station] = body["stations"]
    assert station["station_id"] == STATION and station["hub_id"] == HUB_ID
    assert [p["port"] for p in station["ports"]] == [1, 2, 3]
    port = _ports(body)[f"{STATION}-port-1"]
    assert isinstance(port["temperature_c"], int | float)
    assert isinstance(port["voltage_v"], int | float) and port["voltage_v"] > 100
    assert port["session_id"] and port["last_report_at"]
    assert port["alarms"] == [] and port["cuts"] == []
    assert _ports(body)[f"{STATION}-port-2"]["port_state"] == "idle"
    assert body["cuts"] == []


async def test_an_overheat_shows_its_alarm_and_the_acknowledged_cut(
    field_stack: FieldStack,
) -> None:
    hot = field_stack.ports[1]
    hot.plug_in(ChargerLoad(soc=0.4))
    await wait_for(lambda: hot.port_state == "charging", "charging")
    hot.overheat(runaway_w_per_s=3000.0)
    body = await _until(
        field_stack,
        "/api/field/ports",
        lambda b: b["cuts"] and b["cuts"][0]["command_status"] == "acked",
        "the cut's acknowledgement",
    )
    [cut] = body["cuts"]
    assert cut["device_id"] == hot.device_id and cut["reason"] == "overtemperature"
    assert cut["asked_at"] and cut["command_id"] and cut["alarm_id"]
    port = _ports(body)[hot.device_id]
    assert port["cuts"] == [cut]
    assert [a["kind"] for a in port["alarms"]] == ["charger_overtemperature"]
    assert port["alarms"][0]["severity"] == "critical"
    assert port["alarms"][0]["id"] == cut["alarm_id"]
    assert _ports(body)[field_stack.ports[0].device_id]["alarms"] == []


async def test_a_parked_car_is_timed_alarmed_and_cleared_and_its_plate_never_shown(
    field_stack: FieldStack,
) -> None:
    body = await _until(field_stack, "/api/field/lanes", lambda b: b["zones"], "the lane")
    [zone] = body["zones"]
    assert zone["zone_id"] == ZONE and zone["occupancy"] == "clear"
    assert zone["occupied_since"] is None and zone["obstruction"] is None
    assert zone["vehicle_dwell_s"] == DWELL_S and zone["object_dwell_s"] == DWELL_S

    field_stack.lane.vehicle_arrives(plate=PLATE)
    body = await _until(
        field_stack,
        "/api/field/lanes",
        lambda b: b["zones"][0]["obstruction"] is not None,
        "the obstruction alarm",
    )
    [zone] = body["zones"]
    assert zone["occupancy"] == "vehicle" and zone["vehicle_present"] is True
    since = datetime.fromisoformat(zone["occupied_since"].replace("Z", "+00:00"))
    now = datetime.fromisoformat(body["server_time"].replace("Z", "+00:00"))
    assert since <= now - timedelta(seconds=DWELL_S)
    assert zone["obstruction"]["kind"] == "fire_lane_obstructed"
    assert zone["obstruction"]["status"] == "active"
    assert PLATE not in json.dumps(body, ensure_ascii=False)
    assert "plate" not in json.dumps(body)

    field_stack.lane.vehicle_leaves()
    body = await _until(
        field_stack,
        "/api/field/lanes",
        lambda b: b["zones"][0]["occupancy"] == "clear",
        "the lane to clear",
    )
    [zone] = body["zones"]
    assert zone["occupied_since"] is None and zone["obstruction"] is None
    [alarm] = field_stack.alarms("fire_lane_obstructed")
    assert alarm["status"] == "cleared"


async def test_the_field_views_filter_by_hub_and_place(field_stack: FieldStack) -> None:
    await _until(field_stack, "/api/field/ports", lambda b: len(_ports(b)) == 3, "ports")
    await _until(field_stack, "/api/field/lanes", lambda b: b["zones"], "the lane")
    assert len(_ports(await field_stack.api(f"/api/field/ports?hub={HUB_ID}"))) == 3
    assert len(_ports(await field_stack.api(f"/api/field/ports?station={STATION}"))) == 3
    assert (await field_stack.api("/api/field/ports?hub=elsewhere"))["stations"] == []
    assert (await field_stack.api("/api/field/ports?station=shed-z"))["stations"] == []
    assert len((await field_stack.api(f"/api/field/lanes?zone={ZONE}"))["zones"]) == 1
    assert (await field_stack.api("/api/field/lanes?zone=south"))["zones"] == []
    lanes = await field_stack.api(f"/api/field/lanes?hub={HUB_ID}&zone={ZONE}")
    assert lanes["zones"][0]["device_id"] == LANE_ID


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/api/field/ports?zone=x", "unknown filter 'zone'"),
        ("/api/field/lanes?station=x", "unknown filter 'station'"),
        ("/api/field/ports?hub=a&hub=b", "more than once"),
        ("/api/field/lanes?hub=", "must not be empty"),
        ("/api/field/ports?station=%01x", "control characters"),
        ("/api/field/lanes?zone=" + "z" * 65, "at most 64"),
    ],
)
async def test_bad_field_filters_are_refused_with_a_clear_error(
    field_stack: FieldStack, path: str, words: str
) -> None:
    status, body = await field_stack.get(path)
    assert status == 400
    assert words in body["error"]


async def test_the_field_views_need_the_manager_token(field_stack: FieldStack) -> None:
    for path in ("/api/field/ports", "/api/field/lanes"):
        status, body = await field_stack.get(path, auth=False)
        assert status == 401 and "token" in body["error"]


async def test_history_finds_alarms_by_date_range(field_stack: FieldStack) -> None:
    field_stack.lane.object_placed()
    await wait_for(lambda: field_stack.alarms("fire_lane_obstructed"), "the obstruction")
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)

    async def kinds(query: str) -> list[str]:
        body = await field_stack.api(f"/api/alarms?{query}")
        return [a["kind"] for a in body["alarms"]]

    assert "fire_lane_obstructed" in await kinds(f"since={today}")
    assert "fire_lane_obstructed" in await kinds(f"since={today}&until={tomorrow}")
    assert await kinds(f"until={today}") == []
    assert await kinds(f"since={tomorrow}") == []
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert await kinds("until=" + later.replace("+", "%2B")) != []
    assert await kinds(f"kind=fire_lane_obstructed&status=active&since={today}") == [
        "fire_lane_obstructed"
    ]
    assert field_stack.community.alarms(since=str(tomorrow)) == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("since=yesterday", "'since' must be an ISO-8601 date"),
        ("until=2026-13-01", "'until' must be an ISO-8601 date"),
        ("since=2026-11-21T08:00:00", "needs a time zone"),
        ("since=2026-11-21&until=2026-11-20", "'since' must be before 'until'"),
        ("since=2026-11-21&until=2026-11-21", "'since' must be before 'until'"),
        ("since=2026-11-21&since=2026-11-22", "more than once"),
        ("from=2026-11-21", "unknown filter"),
    ],
)
async def test_bad_date_ranges_are_refused_with_a_clear_error(
    field_stack: FieldStack, query: str, words: str
) -> None:
    status, body = await field_stack.get(f"/api/alarms?{query}")
    assert status == 400
    assert words in body["error"]
