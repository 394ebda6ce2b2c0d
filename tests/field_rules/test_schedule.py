"""Schedule conditions: a rule outside its schedule neither fires nor accumulates duration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community.field_rules import (
    LOOKBACK_MS,
    FieldRules,
    Schedule,
    ScheduleError,
    Window,
    parse_schedule,
)
from devices.catalog import DeviceKind
from tests.field_rules.support import Field

LANE = DeviceKind.FIRE_LANE_SENSOR
CST = 480  # China Standard Time, UTC+8
NIGHTS = parse_schedule({"windows": [{"start": "22:00", "end": "06:00"}]}, utc_offset_min=CST)


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    """UTC ms of a local (UTC+8) time in November 2026 (the 20th is a Friday)."""
    moment = datetime(2026, 11, day, hour, minute, second, tzinfo=UTC) - timedelta(minutes=CST)
    return int(moment.timestamp() * 1000)


def night_field(tmp_path: Path, schedule: Schedule = NIGHTS) -> Field:
    f = Field(tmp_path / "community.db", FieldRules().with_schedule(schedule, "lane_vehicle"))
    return f


def obstructed(f: Field) -> list[dict[str, object]]:
    return f.alarms("fire_lane_obstructed")


def test_a_night_rule_counts_the_dwell_from_the_start_of_the_night(tmp_path: Path) -> None:
    f = night_field(tmp_path)
    f.now = local(20, 21, 59, 30)
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=True)
    f.advance(30)  # 22:00:00: the 30 s before the window do not count
    f.advance(49)
    assert obstructed(f) == []
    f.advance(1)  # 22:00:50
    [alarm] = obstructed(f)
    assert alarm["status"] == "active" and alarm["raised_at"] == "2026-11-20T14:00:50.000Z"


def test_the_window_crosses_midnight_and_its_end_clears_the_alarm(tmp_path: Path) -> None:
    f = night_field(tmp_path)
    f.now = local(20, 23, 59, 40)
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=True)
    f.advance(50)  # 00:00:30 the next day, still the same night
    [alarm] = obstructed(f)
    assert alarm["status"] == "active"
    f.now = local(21, 5, 59, 59)
    f.advance(0)
    assert obstructed(f)[0]["status"] == "active"
    f.advance(1)  # 06:00: the rule no longer applies
    assert obstructed(f)[0]["status"] == "cleared"
    f.advance(8 * 3600)  # 14:00, the car is still there: nothing during the day
    assert len(obstructed(f)) == 1
    f.now = local(21, 22, 0, 49)
    f.advance(0)
    assert len(obstructed(f)) == 1
    f.advance(1)  # 22:00:50 the next night: a new alarm
    assert [a["status"] for a in obstructed(f)] == ["cleared", "active"]


def test_a_car_parked_only_in_the_day_never_raises(tmp_path: Path) -> None:
    f = night_field(tmp_path)
    f.now = local(20, 6, 0, 0)
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=True)
    for _ in range(16 * 60):
        f.advance(60)
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=False)
    f.now = local(21, 1, 0)
    f.advance(3600)
    assert obstructed(f) == []


def test_the_object_rule_without_a_schedule_still_applies_at_all_hours(tmp_path: Path) -> None:
    f = night_field(tmp_path)
    f.now = local(20, 12, 0)
    f.state("lane-1", LANE, zone_id="z1", object_present=True)
    f.advance(40)
    assert len(obstructed(f)) == 1


def test_weekdays_only(tmp_path: Path) -> None:
    weekdays = parse_schedule(
        {
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "windows": [{"start": "00:00", "end": "24:00"}],
        },
        utc_offset_min=CST,
    )
    f = night_field(tmp_path, weekdays)
    f.now = local(20, 23, 59, 30)  # Friday
    f.state("lane-1", LANE, zone_id="z1", vehicle_present=True)
    f.advance(30)  # Saturday 00:00
    assert obstructed(f) == []
    f.advance(2 * 86400 - 1)  # Sunday 23:59:59
    assert obstructed(f) == []
    f.advance(51)  # Monday 00:00:50
    [alarm] = obstructed(f)
    assert alarm["raised_at"] == "2026-11-22T16:00:50.000Z"


def test_fri_night_belongs_to_friday() -> None:
    friday_nights = parse_schedule(
        {"days": ["fri"], "windows": [{"start": "22:00", "end": "06:00"}]}, utc_offset_min=CST
    )
    assert friday_nights.active(local(20, 22, 0))
    assert friday_nights.active(local(21, 5, 59, 59))  # Saturday morning, Friday's night
    assert not friday_nights.active(local(21, 6, 0))
    assert not friday_nights.active(local(21, 23, 0))  # Saturday night
    assert not friday_nights.active(local(20, 5, 0))  # Thursday's night


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ([], "object"),
        ({"windows": []}, "1-8 windows"),
        ({"windows": [{"start": "22:00"}]}, "'start' and 'end'"),
        ({"windows": [{"start": "25:00", "end": "06:00"}]}, "HH:MM"),
        ({"windows": [{"start": "7:00", "end": "08:00"}]}, "HH:MM"),
        ({"windows": [{"start": "24:00", "end": "06:00"}]}, "before 24:00"),
        ({"windows": [{"start": "08:00", "end": "08:00"}]}, "empty"),
        ({"days": ["monday"], "windows": [{"start": "08:00", "end": "09:00"}]}, "days"),
        ({"days": [], "windows": [{"start": "08:00", "end": "09:00"}]}, "days"),
        ({"windows": [{"start": "08:00", "end": "09:00"}], "tz": 8}, "object"),
    ],
)
def test_a_bad_schedule_is_refused_with_what_is_wrong(raw: object, words: str) -> None:
    with pytest.raises(ScheduleError, match=words):
        parse_schedule(raw)


def test_bad_offsets_and_unknown_rules_are_refused() -> None:
    with pytest.raises(ScheduleError):
        Schedule(frozenset({1}), (Window(0, 60),), utc_offset_min=900)
    with pytest.raises(ScheduleError, match="no such rule"):
        FieldRules().with_schedule(NIGHTS, "lane_bicycle")


# --- properties ----------------------------------------------------------------------------

windows = st.tuples(st.integers(0, 1439), st.integers(1, 1440)).filter(lambda w: w[0] != w[1])
schedules = st.builds(
    lambda days, ws, offset: Schedule(
        frozenset(days), tuple(Window(a, b) for a, b in ws), utc_offset_min=offset
    ),
    st.sets(st.integers(1, 7), min_size=1),
    st.lists(windows, min_size=1, max_size=3),
    st.integers(-840, 840),
)
instants = st.integers(1_700_000_000_000, 1_900_000_000_000)


def reference(schedule: Schedule, at: int) -> bool:
    """The plain reading: today's windows from their start, yesterday's past midnight."""
    moment = datetime.fromtimestamp(at / 1000, UTC) + timedelta(minutes=schedule.utc_offset_min)
    minute = moment.hour * 60 + moment.minute
    today = moment.isoweekday()
    yesterday = (moment - timedelta(days=1)).isoweekday()
    for w in schedule.windows:
        if w.start_min < w.end_min:
            if today in schedule.days and w.start_min <= minute < w.end_min:
                return True
        elif (today in schedule.days and minute >= w.start_min) or (
            yesterday in schedule.days and minute < w.end_min
        ):
            return True
    return False


@given(schedules, instants)
def test_active_agrees_with_the_plain_reading(schedule: Schedule, at: int) -> None:
    assert schedule.active(at) == reference(schedule, at)


@given(schedules, instants)
def test_a_stretch_starts_at_a_window_edge_and_is_active_throughout(
    schedule: Schedule, at: int
) -> None:
    since = schedule.active_since(at)
    if since is None:
        assert not schedule.active(at)
        return
    assert since <= at and schedule.active(since)
    for i in range(25):
        assert schedule.active(since + (at - since) * i // 24)
    if at - since < LOOKBACK_MS:
        assert not schedule.active(since - 1)
    assert (since // 1000 + schedule.utc_offset_min * 60) % 60 == 0  # on a whole minute


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    schedule=schedules,
    start=instants,
    steps=st.lists(st.integers(1, 4 * 3600), min_size=1, max_size=30),
)
def test_the_engine_never_raises_outside_the_schedule(
    tmp_path_factory: pytest.TempPathFactory, schedule: Schedule, start: int, steps: list[int]
) -> None:
    f = Field(
        tmp_path_factory.mktemp("s") / "community.db",
        FieldRules().with_schedule(schedule, "lane_vehicle"),
    )
    try:
        f.now = start
        f.state("lane-1", LANE, zone_id="z1", vehicle_present=True)
        for step in steps:
            f.advance(step)
            for alarm in obstructed(f):
                raised = datetime.strptime(str(alarm["raised_at"]), "%Y-%m-%dT%H:%M:%S.%fZ")
                at = int(raised.replace(tzinfo=UTC).timestamp() * 1000)
                assert schedule.active(at)
                stretch = schedule.active_since(at)
                assert stretch is not None and at - max(stretch, start) >= 50_000
                if not schedule.active(f.now):
                    assert alarm["status"] == "cleared"
    finally:
        f.store.close()
