"""The weekly fire-lane report: per zone, how often and how long the lane was blocked, by whom.

An obstruction belongs to the ISO week (in the community's local time) in which its alarm was
raised, and counts whole: from when the lane was first seen blocked (the start of the dwell)
until its alarm cleared — or until the report is made, for one still going on. A *repeat
offender* is a vehicle blocking the same zone two or more times in the week; it is named by
the first hex digits of its keyed plate hash (``community.plates``), never by its plate, so
the report can be shared without disclosing anyone's plate, and the same car still reads the
same from week to week.

The data is what the community already stores: the ``lane_obstructions`` rows the field
engine writes with each fire-lane alarm, and the alarms themselves.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from community.clock import iso
from community.plates import shown
from community.store import Store

_WEEK_RE: Final = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
MINUTE_MS: Final = 60_000
WEEK_MS: Final = 7 * 86_400_000
#: A vehicle blocking one zone this many times in a week is a repeat offender.
REPEAT_AT: Final = 2


class ReportError(ValueError):
    """A week that is not an ISO week like ``2026-W47`` (HTTP 400)."""


def week_start_ms(week: str, utc_offset_min: int = 0) -> int:
    """UTC ms of Monday 00:00 local time of an ISO week ``YYYY-Www``."""
    match = _WEEK_RE.fullmatch(week) if isinstance(week, str) else None
    if match is None:
        raise ReportError("week must be an ISO week like 2026-W47")
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise ReportError(f"{match.group(1)} has no week {match.group(2)}") from None
    local = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return int((local - timedelta(minutes=utc_offset_min)).timestamp() * 1000)


def iso_week(at_ms: int, utc_offset_min: int = 0) -> str:
    """The ISO week (local time) an instant falls in."""
    local = datetime.fromtimestamp(at_ms / 1000, UTC) + timedelta(minutes=utc_offset_min)
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def _ms(text: str | None) -> int | None:
    if not text:
        return None
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def weekly_report(store: Store, week: str, *, now: int, utc_offset_min: int = 0) -> dict[str, Any]:
    """The report of one ISO week; raises :class:`ReportError` for a bad week."""
    start = week_start_ms(week, utc_offset_min)
    end = start + WEEK_MS
    rows = store.read(
        "SELECT o.zone_id, o.plate_hash, o.since_ms, a.status, a.cleared_at"
        " FROM lane_obstructions o JOIN alarms a ON a.id = o.alarm_id"
        " WHERE o.raised_ms >= ? AND o.raised_ms < ? ORDER BY o.zone_id, o.raised_ms",
        [start, end],
    )
    count: Counter[str] = Counter()
    blocked_ms: Counter[str] = Counter()
    plates: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        zone = str(row["zone_id"])
        ended = _ms(row["cleared_at"]) if row["status"] == "cleared" else None
        count[zone] += 1
        blocked_ms[zone] += max(0, min(ended or now, now) - int(row["since_ms"]))
        if row["plate_hash"]:
            plates[zone][shown(str(row["plate_hash"]))] += 1
    zones = [
        {
            "zone_id": zone,
            "obstructions": count[zone],
            "blocked_minutes": round(blocked_ms[zone] / MINUTE_MS, 1),
            "repeat_offenders": [
                {"plate_hash": plate_hash, "obstructions": n}
                for plate_hash, n in sorted(plates[zone].items(), key=lambda i: (-i[1], i[0]))
                if n >= REPEAT_AT
            ],
        }
        for zone in sorted(count)
    ]
    return {
        "week": week,
        "from": iso(start),
        "to": iso(end),
        "utc_offset_min": utc_offset_min,
        "zones": zones,
    }
