"""The weekly fire-lane report, from stored alarms and obstructions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from community.lane_report import ReportError, iso_week, week_start_ms, weekly_report
from tests.fire_lanes.support import T0, Lanes

A, B = "粤B12345", "沪AD12345"


def _week(lanes: Lanes, at: int | None = None) -> dict[str, object]:
    week = iso_week(T0 if at is None else at, 480)
    return weekly_report(lanes.store, week, now=lanes.now, utc_offset_min=480)


def test_count_blocked_minutes_and_repeat_offenders_by_truncated_hash(lanes: Lanes) -> None:
    lanes.park(A)
    lanes.advance(50)
    lanes.advance(70)
    lanes.leave()  # 2 minutes blocked
    lanes.advance(10)
    lanes.park(A)
    lanes.advance(50)
    lanes.advance(130)
    lanes.leave()  # 3 minutes
    lanes.park(B)
    lanes.advance(60)
    lanes.leave()  # 1 minute
    lanes.lane("lane-2", zone_id="z2", object_present=True)
    lanes.advance(40)
    lanes.advance(20)  # still blocked when the report is made: 1 minute so far
    report = _week(lanes)
    assert report["week"] == iso_week(T0, 480)
    zones = report["zones"]
    assert isinstance(zones, list)
    z1, z2 = zones
    hash_a = lanes.plates.hash(A)
    assert hash_a is not None
    assert z1 == {
        "zone_id": "z1",
        "obstructions": 3,
        "blocked_minutes": 6.0,
        "repeat_offenders": [{"plate_hash": hash_a[:12], "obstructions": 2}],
    }
    assert z2 == {
        "zone_id": "z2",
        "obstructions": 1,
        "blocked_minutes": 1.0,
        "repeat_offenders": [],
    }
    assert A not in str(report) and "B12345" not in str(report)


def test_an_obstruction_counts_in_the_week_it_was_raised_only(lanes: Lanes) -> None:
    lanes.park(A)
    lanes.advance(60)
    lanes.leave()
    lanes.advance(7 * 86400)
    assert _week(lanes, lanes.now)["zones"] == []
    assert len(_week(lanes)["zones"]) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize("week", ["", "2026-47", "2026-W54", "2026-W00", "26-W01", "2026-w01", "x"])
def test_a_bad_week_is_refused(lanes: Lanes, week: str) -> None:
    with pytest.raises(ReportError):
        weekly_report(lanes.store, week, now=lanes.now)


def test_week_bounds_are_local_mondays() -> None:
    # 2026-W47 starts Monday 2026-11-16 00:00 at UTC+8, which is Sunday 16:00 UTC.
    sunday_16_utc = datetime(2026, 11, 15, 16, tzinfo=UTC)
    assert week_start_ms("2026-W47", 480) == int(sunday_16_utc.timestamp() * 1000)
    assert iso_week(week_start_ms("2026-W47", 480), 480) == "2026-W47"
    assert iso_week(week_start_ms("2026-W47", 480) - 1, 480) == "2026-W46"


@given(st.integers(0, 4_000_000_000_000), st.integers(-840, 840))
def test_every_instant_lies_in_the_week_named_for_it(at: int, offset: int) -> None:
    start = week_start_ms(iso_week(at, offset), offset)
    assert start <= at < start + 7 * 86_400_000
