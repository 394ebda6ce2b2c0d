"""A missed care check end to end over a real Mosquitto: the hub's timer (compressed clock)
asks, then the family's sealed message lands in their mailbox at the community, then the duty
staff get a ``care_check_missed`` alarm with only the home and the time; "I'm fine" clears it.
Bookings come back answered. The community's API lists the check and the booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from community.care import KIND
from devices.catalog import DeviceKind
from firmware_stubs import make_device
from firmware_stubs.care_sensors import DoorSensor
from hub import Hub
from tests.care.conftest import FAMILY, Clock, open_sealed, opt_in
from tests.notices.conftest import Site, wait_for

HUB = "hub-home-1"


def _answered(hub: Hub, request_id: str) -> bool:
    answered = hub.services.get(request_id)
    return bool(answered and answered["answer"])


def care_alarms(site: Site) -> list[dict[str, object]]:
    return [a for a in site.community.alarms() if a["kind"] == KIND]


@pytest.mark.timeout(90)
async def test_a_missed_check_reaches_family_then_staff_and_im_fine_clears_it(
    site: Site,
) -> None:
    hub = site.homes[HUB]
    clock = Clock()
    hub.care.set_clock(clock, tick_s=0.1)
    opted = opt_in(hub, ask_grace_s=600, family_grace_s=600)
    clock.at(9, 0)
    await wait_for(lambda: hub.care.view()["asking"] is not None, "the hub to ask")
    assert site.community.care.checks() == []  # asking stays at home

    clock.at(9, 10)
    await wait_for(lambda: site.community.care.checks(), "the family tier at the community")
    [check] = site.community.care.checks()
    assert check["home"] == "home-1" and check["escalated_to"] == ["family"]
    assert check["family_recipient"] == FAMILY.id and check["check_time"] is None
    [filed] = site.community._store.read("SELECT recipient, home_id, entry FROM mailbox")
    assert filed["recipient"] == FAMILY.id and filed["home_id"] == "home-1"
    message = open_sealed(filed["entry"], opted.family_key)
    assert {k: message[k] for k in ("home", "check_time", "tier")} == {
        "home": "home-1",
        "check_time": "09:00",
        "tier": "family",
    }
    assert care_alarms(site) == []

    clock.at(9, 20)
    await wait_for(lambda: care_alarms(site), "the duty staff alarm")
    [alarm] = care_alarms(site)
    assert alarm["status"] == "active" and alarm["severity"] == "alert"
    assert alarm["home_id"] == "home-1" and alarm["device_name"] == "Care check 09:00"
    assert alarm["room"] == ""
    [check] = site.community.care.checks()
    assert check["escalated_to"] == ["family", "duty_staff"]
    assert check["staff_alarm_id"] == alarm["id"] and check["asked_at"]

    async with aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{site.community.http_port}"
        headers = {"Authorization": f"Bearer {site.community.manager_token}"}
        async with http.get(f"{base}/api/care", headers=headers) as response:
            assert response.status == 200
            listed = (await response.json())["checks"]
        async with http.get(f"{base}/api/care?home=home-2", headers=headers) as response:
            assert (await response.json())["checks"] == []
        async with http.get(f"{base}/api/care") as response:
            assert response.status == 401
        for bad in ("%00", "", "x" * 65):
            async with http.get(f"{base}/api/care?home={bad}", headers=headers) as response:
                assert response.status == 400, bad
                assert "error" in await response.json()
    assert listed == [check]

    hub.care.fine()
    await wait_for(lambda: care_alarms(site)[0]["status"] == "cleared", "the alarm to clear")
    assert care_alarms(site)[0]["cleared_by"] == "resident"
    await wait_for(lambda: site.community.care.checks()[0]["status"] == "ok", "the check to end")
    entries = site.community._store.read("SELECT entry FROM mailbox ORDER BY id")
    assert open_sealed(entries[-1]["entry"], opted.family_key)["tier"] == "ok"
    # The other home heard nothing of it.
    assert site.homes["hub-home-2"].services.list("care") == []


@pytest.mark.timeout(90)
async def test_a_booking_is_recorded_and_answered(site: Site) -> None:
    hub = site.homes[HUB]
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    booked = hub.services.request(
        "care", "book", {"service": "meal", "date": day, "time": "11:30", "note": "no salt"}
    )
    refused = hub.services.request(
        "care", "book", {"service": "meal", "date": "2999-01-01", "time": "11:30", "note": ""}
    )
    await wait_for(lambda: _answered(hub, booked) and _answered(hub, refused), "the answers")
    assert hub.services.get(booked)["answer"] == "booked"  # type: ignore[index]
    assert hub.services.get(refused)["params"]["reason"] == "date_out_of_range"  # type: ignore[index]
    [row] = site.community.care.bookings()
    assert (row["home_id"], row["service"], row["date"], row["time"], row["note"]) == (
        "home-1",
        "meal",
        day,
        "11:30",
        "no salt",
    )


@pytest.mark.timeout(90)
async def test_a_door_sensor_stub_over_the_native_link_is_a_sign_of_life(site: Site) -> None:
    hub = site.homes[HUB]
    clock = Clock()
    hub.care.set_clock(clock, tick_s=0.1)
    opt_in(hub)
    token = hub.provision_device("door-1", DeviceKind.DOOR_SENSOR, "Front door", "hallway")
    door = make_device(
        DeviceKind.DOOR_SENSOR,
        "door-1",
        f"ws://127.0.0.1:{hub.http_port}/api/device/ws",
        token,
        tick_s=0.05,
        state_file=site.tmp / "door.json",
    )
    assert isinstance(door, DoorSensor)
    site.extra.append(door)
    await door.start()
    await door.wait_connected(20)
    await wait_for(lambda: hub.device("door-1") and hub.device("door-1").state, "the report")  # type: ignore[union-attr]
    assert hub.care.view()["last_activity_ms"] is None  # how it is, not a change
    clock.at(8, 30)
    door.open()
    await wait_for(lambda: hub.care.view()["last_activity_ms"] is not None, "a sign of life")
    clock.at(9, 0)
    await wait_for(lambda: hub.care.checks(), "today's check")
    assert hub.care.checks()[0]["status"] == "active"
    assert hub.services.list("care") == []
