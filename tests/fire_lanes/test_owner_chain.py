"""A blocked fire lane tells the vehicle's owner first, only under live consent."""

from __future__ import annotations

import json

from devices.messages import State
from devices.uplink import DeviceInfo, report
from tests.fire_lanes.support import FIELD_HUB, LANE, OWNER_HOME, Lanes

PLATE = "粤B12345"


def _tiers(lanes: Lanes, alarm_id: int) -> list[tuple[int, str]]:
    return [(s["tier"], s["state"]) for s in lanes.steps(alarm_id)]


def _notes(lanes: Lanes, alarm_id: int) -> list[str]:
    return [h["note"] or "" for h in lanes.alarm(alarm_id)["history"]]


def test_a_consenting_owner_is_told_first_then_duty_staff_then_the_manager(lanes: Lanes) -> None:
    lanes.grant()
    lanes.register(PLATE)
    lanes.park(PLATE)
    lanes.advance(49)
    assert lanes.alarms() == []
    lanes.advance(1)
    [alarm] = lanes.alarms()
    assert _tiers(lanes, alarm["id"]) == [(0, "fired"), (1, "pending")]
    [told] = lanes.deliveries(alarm["id"])
    assert (told["tier"], told["target"]) == (0, "owner-101")
    payload = json.loads(told["payload"])
    assert payload["alarm"]["home_id"] == OWNER_HOME
    assert "z1" in payload["alarm"]["where"] and "your vehicle" in payload["alarm"]["where"]
    assert "B12345" not in told["payload"] and "lane-1" not in told["payload"]
    assert any(
        "tier 0: resident of the vehicle owner (1 target)" in n for n in _notes(lanes, alarm["id"])
    )
    # Nobody moved the car: duty staff two minutes later, the manager ten after that.
    lanes.advance(119)
    assert [d["target"] for d in lanes.deliveries(alarm["id"])] == ["owner-101"]
    lanes.advance(1)
    assert [d["target"] for d in lanes.deliveries(alarm["id"])] == ["owner-101", "duty"]
    lanes.advance(600)
    assert [d["target"] for d in lanes.deliveries(alarm["id"])] == [
        "owner-101",
        "duty",
        "manager",
    ]


def test_moving_the_car_stops_the_chain(lanes: Lanes) -> None:
    lanes.grant()
    lanes.register(PLATE)
    lanes.park(PLATE)
    lanes.advance(50)
    lanes.leave()
    lanes.advance(1000)
    [alarm] = lanes.alarms()
    assert alarm["status"] == "cleared"
    assert [d["target"] for d in lanes.deliveries(alarm["id"])] == ["owner-101"]


def test_an_unregistered_plate_skips_the_owner_and_duty_staff_come_first(lanes: Lanes) -> None:
    lanes.grant()
    lanes.park("沪AD12345")
    lanes.advance(50)
    [alarm] = lanes.alarms()
    assert _tiers(lanes, alarm["id"]) == [(0, "skipped"), (1, "fired"), (2, "pending")]
    assert [d["target"] for d in lanes.deliveries(alarm["id"])] == ["duty"]
    skipped = [n for n in _notes(lanes, alarm["id"]) if "skipped" in n]
    assert skipped == ["tier 0: resident of the vehicle owner: no consent; skipped"]
    assert lanes.alarm(alarm["id"])["escalation_tier"] == 1


def test_a_registered_plate_without_consent_reads_the_same_as_an_unknown_one(
    lanes: Lanes,
) -> None:
    signed = lanes.grant()
    lanes.register(PLATE)
    lanes.withdraw(signed)
    lanes.park(PLATE)
    lanes.advance(50)
    [alarm] = lanes.alarms()
    assert [d["target"] for d in lanes.deliveries(alarm["id"])] == ["duty"]
    notes = " ".join(_notes(lanes, alarm["id"]))
    assert "no consent" in notes and OWNER_HOME not in notes and "B12345" not in notes


def test_a_withdrawal_stops_the_mapping_from_the_very_next_obstruction(lanes: Lanes) -> None:
    signed = lanes.grant()
    lanes.register(PLATE)
    lanes.park(PLATE)
    lanes.advance(50)
    lanes.leave()
    lanes.withdraw(signed)
    lanes.advance(5)
    lanes.park(PLATE)
    lanes.advance(50)
    first, second = lanes.alarms()
    assert [d["target"] for d in lanes.deliveries(first["id"])] == ["owner-101"]
    assert [d["target"] for d in lanes.deliveries(second["id"])] == ["duty"]


def test_an_expired_consent_is_not_used(lanes: Lanes) -> None:
    lanes.grant(lasts_ms=86_400_000 + 10 * 60_000)  # granted a day ago, ends in ten minutes
    lanes.register(PLATE)
    lanes.advance(11 * 60)
    lanes.park(PLATE)
    lanes.advance(50)
    [alarm] = lanes.alarms()
    assert [d["target"] for d in lanes.deliveries(alarm["id"])] == ["duty"]


def test_an_object_or_an_unreadable_plate_goes_to_duty_staff_first(lanes: Lanes) -> None:
    lanes.grant()
    lanes.register(PLATE)
    lanes.lane("lane-1", zone_id="z1", object_present=True)
    lanes.lane("lane-2", zone_id="z2", vehicle_present=True, plate="unreadable")
    lanes.advance(50)
    by_object, by_unreadable = lanes.alarms()
    for alarm in (by_object, by_unreadable):
        assert [d["target"] for d in lanes.deliveries(alarm["id"])] == ["duty"]
    assert any("no vehicle" in n for n in _notes(lanes, by_object["id"]))
    assert any("no consent" in n for n in _notes(lanes, by_unreadable["id"]))


def test_a_new_car_without_a_readable_plate_is_not_taken_for_the_previous_one(
    lanes: Lanes,
) -> None:
    lanes.grant()
    lanes.register(PLATE)
    lanes.park(PLATE)
    lanes.leave()
    lanes.park(None)
    lanes.advance(50)
    [alarm] = lanes.alarms()
    assert [d["target"] for d in lanes.deliveries(alarm["id"])] == ["duty"]


def test_the_alarm_carries_an_evidence_reference_for_the_zone_and_time(lanes: Lanes) -> None:
    lanes.park(PLATE)
    lanes.advance(50)
    [alarm] = lanes.alarms()
    [evidence] = lanes.alarm(alarm["id"])["evidence"]
    assert evidence["uri"].startswith("urn:courtyard:fire-lane:z1:")
    assert evidence["added_by"] == "rules" and len(evidence["sha256"]) == 64


def test_no_plate_is_stored_in_clear_text(lanes: Lanes) -> None:
    lanes.grant()
    lanes.register(PLATE)
    lanes.park(PLATE)
    lanes.advance(50)
    lanes.leave()
    lanes.store.close()
    raw = b"".join(p.read_bytes() for p in lanes.data_dir.iterdir() if p.is_file())
    for form in ("粤B12345", "B12345"):
        assert form.encode("utf-8") not in raw
    assert json.dumps("粤B12345").encode() not in raw  # nor JSON-escaped
    lanes.store = type(lanes.store)(lanes.data_dir / "community.db")


def test_a_plate_that_skipped_the_pipeline_hook_is_hashed_in_the_stored_event(
    lanes: Lanes,
) -> None:
    info = DeviceInfo("lane-1", LANE, "lane-1", "North gate")
    message = State("lane-1", LANE, 1, lanes.now, {"zone_id": "z1", "plate": PLATE})
    record = report(FIELD_HUB, 1, lanes.now, info, message)
    lanes.store.persist(record, "0" * 64, lanes.now)  # straight in, without before_store
    lanes.field.observe(record, lanes.now)
    [row] = lanes.store.read("SELECT message FROM events WHERE key = ?", [record.key])
    state = json.loads(row["message"])["state"]
    assert "plate" not in state and state["plate_hash"] == lanes.plates.hash(PLATE)
    [rule_state] = lanes.store.read(
        "SELECT state FROM field_rule_state WHERE rule = 'lane_vehicle'"
    )
    assert "B12345" not in rule_state["state"]
