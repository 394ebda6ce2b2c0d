"""The field rules on a real SQLite store, with a clock the test moves."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community.field_rules import FieldRules, ZoneDwell
from devices.catalog import DeviceKind, EventType
from tests.field_rules.support import Field

PORT = DeviceKind.CHARGING_PORT
LANE = DeviceKind.FIRE_LANE_SENSOR


@pytest.fixture
def f(tmp_path: Path) -> Field:
    return Field(tmp_path / "community.db")


def charging(f: Field, port: str = "p1", **values: object) -> None:
    f.state(port, PORT, port_state="charging", session_id="s1", **values)


def test_overtemperature_is_debounced_then_alarms_and_asks_one_cut(f: Field) -> None:
    charging(f, temperature_c=61.0, power_w=150.0)
    assert f.alarms("charger_overtemperature") == [] and f.cuts() == []
    f.advance(3)
    assert f.cuts() == []
    f.advance(3)
    [alarm] = f.alarms("charger_overtemperature")
    assert alarm["status"] == "active" and alarm["severity"] == "critical"
    [cut] = f.cuts()
    assert (cut["device_id"], cut["reason"], cut["alarm_id"]) == (
        "p1",
        "overtemperature",
        alarm["id"],
    )
    assert f.engine.command_status(alarm["id"]) == "pending"
    # Cooling down clears the alarm; the cut stays.
    charging(f, temperature_c=40.0)
    assert f.alarms("charger_overtemperature")[0]["status"] == "cleared"


def test_flapping_temperature_around_the_limit_cuts_at_most_once(f: Field) -> None:
    for i in range(200):
        charging(f, temperature_c=60.5 if i % 2 else 59.5, power_w=150.0)
        f.advance(1 if i % 7 else 6)
    assert len([c for c in f.cuts() if c["reason"] == "overtemperature"]) <= 1


def test_overpower_cuts_at_once_and_power_strip_after_a_minute(f: Field) -> None:
    charging(f, "p1", power_w=2000.0)
    assert [c["reason"] for c in f.cuts()] == ["overpower"]
    f.state("p1", PORT, port_state="stopped", power_w=0.0)  # the cut took effect
    charging(f, "p2", power_w=600.0)
    f.advance(30)
    assert {c["device_id"] for c in f.cuts()} == {"p1"}
    charging(f, "p2", power_w=610.0)
    f.advance(31)
    assert {(c["device_id"], c["reason"]) for c in f.cuts()} == {
        ("p1", "overpower"),
        ("p2", "abnormal_load"),
    }
    assert len(f.alarms("charger_abnormal_load")) == 1


def test_full_is_a_notice_and_a_cut_without_alarm(f: Field) -> None:
    charging(f, power_w=3.0)
    f.advance(599)
    assert f.cuts() == []
    f.advance(2)
    assert [c["reason"] for c in f.cuts()] == ["full"]
    assert [n["notice"] for n in f.engine.notices()] == ["full"]
    assert f.store.read("SELECT * FROM alarms") == []


def test_a_charge_longer_than_eight_hours_alarms_and_cuts(f: Field) -> None:
    charging(f, power_w=150.0)
    f.advance(7.9 * 3600)
    assert f.cuts() == []
    f.advance(0.2 * 3600)
    assert len(f.alarms("charge_too_long")) == 1
    assert [c["reason"] for c in f.cuts()] == ["too_long"]


def test_shed_smoke_cuts_every_port_of_the_shed(f: Field) -> None:
    for port in ("p1", "p2", "p3"):
        charging(f, port, power_w=150.0)
    f.event("smoke-1", DeviceKind.SHED_SMOKE_DETECTOR, EventType.CHARGING_SHED_SMOKE, True)
    [fire] = f.alarms("charging_shed_smoke")
    assert fire["severity"] == "critical"
    cuts = f.cuts()
    assert sorted(c["device_id"] for c in cuts) == ["p1", "p2", "p3"]
    assert {c["reason"] for c in cuts} == {"shed_smoke"} and {c["alarm_id"] for c in cuts} == {
        fire["id"]
    }
    # A repeat of the smoke event asks for nothing more.
    f.event("smoke-1", DeviceKind.SHED_SMOKE_DETECTOR, EventType.CHARGING_SHED_SMOKE, True)
    assert len(f.cuts()) == 3


def test_fire_lane_is_raised_only_after_the_dwell_and_cleared_when_clear(f: Field) -> None:
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=True, object_present=False)
    f.advance(49)
    assert f.alarms("fire_lane_obstructed") == []
    f.advance(2)
    [alarm] = f.alarms("fire_lane_obstructed")
    assert alarm["status"] == "active" and alarm["count"] == 1
    f.advance(300)
    assert f.alarms("fire_lane_obstructed")[0]["count"] == 1  # a single alert by default
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=False, object_present=False)
    [alarm] = f.alarms("fire_lane_obstructed")
    assert alarm["status"] == "cleared" and alarm["cleared_by"] == "rules"


def test_a_car_that_leaves_before_the_dwell_raises_nothing(f: Field) -> None:
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=True)
    f.advance(45)
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=False)
    f.advance(100)
    assert f.alarms("fire_lane_obstructed") == []


def test_per_zone_dwell_and_repeating_alerts(tmp_path: Path) -> None:
    rules = FieldRules(zones={"z2": ZoneDwell(vehicle_s=10, object_s=20, repeat_s=60)})
    f = Field(tmp_path / "c.db", rules)
    f.state("lane-2", LANE, zone_id="z2", object_present=True)
    f.advance(19)
    assert f.alarms("fire_lane_obstructed") == []
    f.advance(2)
    f.advance(61)
    f.advance(61)
    assert f.alarms("fire_lane_obstructed")[0]["count"] == 3


@pytest.mark.parametrize("value", [5.0, 3601.0, math.nan])
def test_zone_dwell_outside_ten_to_3600_seconds_is_refused(value: float) -> None:
    with pytest.raises(ValueError):
        ZoneDwell(vehicle_s=value)


def test_rule_state_survives_a_restart(f: Field) -> None:
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=True)
    f.advance(30)
    f.reopen()
    f.advance(25)
    assert len(f.alarms("fire_lane_obstructed")) == 1


_reading = st.fixed_dictionaries(
    {},
    optional={
        "temperature_c": st.floats(-40, 150),
        "power_w": st.floats(0, 10000),
        "port_state": st.sampled_from(["idle", "charging", "full", "stopped", "fault"]),
        "session_id": st.sampled_from(["a", "b"]),
    },
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.tuples(_reading, st.floats(0, 4000)), max_size=30))
def test_random_telemetry_never_has_two_unsettled_cuts_per_port_and_reason(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[dict[str, object], float]]
) -> None:
    f = Field(tmp_path_factory.mktemp("h") / "c.db")
    try:
        for values, wait in steps:
            f.state("p1", PORT, **values)
            f.advance(wait)
            unsettled = [c for c in f.cuts() if c["command_status"] == "pending"]
            reasons = [c["reason"] for c in unsettled]
            assert len(reasons) == len(set(reasons))
    finally:
        f.store.close()


def test_an_asked_for_cut_not_yet_booked_survives_a_restart(f: Field) -> None:
    charging(f, power_w=2000.0)
    [cut] = f.engine.unbooked()
    f.reopen()
    assert f.engine.unbooked() == [cut]
    f.engine.booked(cut, "c" * 32)
    assert f.engine.unbooked() == []
    # While that cut is unsettled, another overpower episode asks for nothing more.
    f.state("p1", PORT, power_w=100.0, session_id="s2")
    f.state("p1", PORT, power_w=2000.0)
    assert len(f.cuts()) == 1
