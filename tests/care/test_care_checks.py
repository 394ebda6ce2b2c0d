"""The daily care check on one hub, with a compressed clock: signs of life before the check
time mean nobody is asked; none mean ask, then the family (sealed), then the duty staff; "I'm
fine" ends it; without consent nothing leaves the home; every tier is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devices.catalog import DeviceKind
from hub import Hub, HubConfig
from hub.care import CareAsked, Step
from hub.events import StateChanged
from tests.care.conftest import FAMILY, Clock, open_sealed, opt_in


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    built = Hub(
        HubConfig(
            hub_id="hub-care-1",
            home_id="home-7",
            data_dir=tmp_path / "hub",
            mqtt_host="127.0.0.1",
            mqtt_port=1,
            mqtt_password="unused-here",
            consent="enforce",
        )
    )
    try:
        yield built
    finally:
        await built.stop()


def care_requests(hub: Hub) -> list[dict[str, Any]]:
    """What the hub queued for the community's care service, oldest first."""
    return list(reversed(hub.services.list("care")))


def door(hub: Hub, device_id: str = "door-1") -> None:
    """The front door opens and closes (the first report only says how it is)."""
    if hub.device(device_id) is None:
        hub.provision_device(device_id, DeviceKind.DOOR_SENSOR, "Front door", "hallway")
        hub.bus.fire(StateChanged(device_id, {"contact": True}, {"contact": True}))
    hub.bus.fire(StateChanged(device_id, {"contact": False}, {"contact": False}))


async def test_signs_of_life_before_the_check_time_mean_nobody_is_asked(hub: Hub) -> None:
    clock = Clock()
    hub.care.set_clock(clock)
    opt_in(hub)
    clock.at(8, 30)
    door(hub)
    clock.at(9, 0)
    assert hub.care.tick() is Step.SKIP
    clock.at(12, 0)
    assert hub.care.tick() is Step.WAIT
    [check] = hub.care.checks()
    assert check["status"] == "active" and check["tier"] is None
    assert care_requests(hub) == []


async def test_first_report_of_a_sensor_is_not_a_sign_of_life(hub: Hub) -> None:
    clock = Clock()
    hub.care.set_clock(clock)
    opt_in(hub)
    hub.provision_device("motion-1", DeviceKind.MOTION_SENSOR, "Hall", "hallway")
    hub.bus.fire(StateChanged("motion-1", {"occupancy": False}, {"occupancy": False}))
    clock.at(9, 0)
    assert hub.care.tick() is Step.ASK


async def test_no_sign_of_life_asks_then_tells_family_then_staff(hub: Hub) -> None:
    clock = Clock()
    hub.care.set_clock(clock)
    opted = opt_in(hub, ask_grace_s=600, family_grace_s=900)
    asked: list[str] = []
    hub.bus.subscribe(CareAsked, lambda e: asked.append(e.data.check_id))
    clock.at(8, 59, 59)
    assert hub.care.tick() is Step.WAIT
    clock.at(9, 0)
    assert hub.care.tick() is Step.ASK
    [check_id] = asked
    assert hub.care.view()["asking"]["check_id"] == check_id
    assert care_requests(hub) == []  # asking stays at home

    clock.at(9, 9, 59)
    assert hub.care.tick() is Step.WAIT
    clock.at(9, 10)
    assert hub.care.tick() is Step.FAMILY
    [family] = care_requests(hub)
    assert family["action"] == "missed"
    body = family["body"]
    assert set(body) == {"tier", "check_id", "asked_at", "sealed"}
    assert body["tier"] == "family" and body["check_id"] == check_id
    assert body["sealed"]["recipient"] == FAMILY.id
    message = open_sealed(body["sealed"], opted.family_key)
    assert message == {
        "home": "home-7",
        "check_time": "09:00",
        "tier": "family",
        "ts": message["ts"],
    }

    clock.at(9, 24, 59)
    assert hub.care.tick() is Step.WAIT
    clock.at(9, 25)
    assert hub.care.tick() is Step.DUTY_STAFF
    staff = care_requests(hub)[1]
    assert staff["body"] == {
        "tier": "duty_staff",
        "check_id": check_id,
        "asked_at": body["asked_at"],
        "check_time": "09:00",
    }
    clock.at(10, 0)
    assert hub.care.tick() is Step.WAIT  # the top tier waits for "I'm fine"

    ended = hub.care.fine()
    assert ended is not None and ended["status"] == "fine" and ended["tier"] == "duty_staff"
    ok = care_requests(hub)[2]
    assert ok["action"] == "ok" and ok["body"]["check_id"] == check_id
    assert open_sealed(ok["body"]["sealed"], opted.family_key)["tier"] == "ok"
    assert hub.care.view()["asking"] is None
    # Every disclosure is in the audit log the resident sees.
    audit = hub.care.view()["audit"]
    assert [(a["to"], a["action"]) for a in reversed(audit)] == [
        (FAMILY.id, "disclose"),
        ("property_duty:duty", "disclose"),
        (FAMILY.id, "disclose"),
    ]
    # The next day starts afresh.
    clock.advance(days=1)
    clock.at(8, 0)
    assert hub.care.tick() is Step.WAIT


async def test_im_fine_at_the_first_tier_tells_nobody(hub: Hub) -> None:
    clock = Clock()
    hub.care.set_clock(clock)
    opt_in(hub)
    clock.at(9, 0)
    assert hub.care.tick() is Step.ASK
    clock.at(9, 5)
    assert hub.care.fine() is not None
    clock.at(11, 0)
    assert hub.care.tick() is Step.WAIT
    assert care_requests(hub) == []
    assert hub.care.checks()[0]["status"] == "fine"


async def test_a_door_opening_while_asked_ends_the_check(hub: Hub) -> None:
    clock = Clock()
    hub.care.set_clock(clock)
    opt_in(hub)
    clock.at(9, 0)
    hub.care.tick()
    clock.at(9, 11)
    assert hub.care.tick() is Step.FAMILY
    door(hub)
    assert hub.care.checks()[0]["ended_by"] == "activity"
    assert [r["action"] for r in care_requests(hub)] == ["missed", "ok"]


async def test_without_consent_nothing_leaves_the_home(hub: Hub) -> None:
    clock = Clock()
    hub.care.set_clock(clock)
    opt_in(hub, family=False, staff=False)
    clock.at(9, 0)
    assert hub.care.tick() is Step.ASK
    clock.at(9, 10)
    assert hub.care.tick() is Step.FAMILY
    clock.at(9, 25)
    assert hub.care.tick() is Step.DUTY_STAFF
    hub.care.fine()
    assert care_requests(hub) == []
    assert hub.outbox_pending() == 0
    [check] = hub.care.checks()
    assert not check["family_sent"] and not check["staff_sent"]
    audit = hub.care.view()["audit"]
    assert {a["action"] for a in audit} == {"refuse"}


async def test_a_withdrawn_consent_stops_the_next_tier(hub: Hub) -> None:
    clock = Clock()
    hub.care.set_clock(clock)
    opted = opt_in(hub)
    clock.at(9, 0)
    hub.care.tick()
    clock.at(9, 10)
    hub.care.tick()
    staff_grant = opted.grants[1]
    hub.consent.record(opted.resident.withdraw(staff_grant))
    clock.at(9, 25)
    hub.care.tick()
    assert [r["body"]["tier"] for r in care_requests(hub)] == ["family"]


async def test_opting_in_after_the_check_time_starts_tomorrow(hub: Hub) -> None:
    clock = Clock()
    clock.at(15, 0)
    hub.care.set_clock(clock)
    opt_in(hub, check_time="09:00")
    assert hub.care.tick() is Step.WAIT
    clock.advance(days=1)
    clock.at(9, 0)
    assert hub.care.tick() is Step.ASK


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"enabled": True, "check_time": "25:00", "family": FAMILY.id}, "check_time"),
        ({"enabled": True, "check_time": "09:00", "family": "family:nobody"}, "no key"),
        ({"enabled": True, "family": "property_duty:duty"}, "family"),
        ({"enabled": True, "ask_grace_s": 5, "family": FAMILY.id}, "ask_grace_s"),
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": False, "surprise": 1}, "send"),
        ([], "send"),
    ],
)
async def test_bad_settings_change_nothing(hub: Hub, body: Any, reason: str) -> None:
    clock = Clock()
    hub.care.set_clock(clock)
    opt_in(hub, check_time="07:30")
    before = hub.care.settings()
    with pytest.raises(ValueError, match=reason):
        hub.care.configure(body)
    assert hub.care.settings() == before
