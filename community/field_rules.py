"""The community's safety rules for field devices, as data (one engine interprets them).

A rule is, in the manner of ThingsBoard's alarm rules, a *condition* on a device's latest
reported state fields (all terms must hold), a *duration* the condition must hold before the
rule fires (the debounce that keeps a flapping reading from causing a cut storm), and what
firing does: raise a community alarm, cut the port (``port_cut`` with a reason), record a
notice for the resident, and optionally *repeat* the alert while the condition still holds.
An alarm a rule raised is cleared when none of the rules raising that kind on the device hold.

Durations are measured on the community's clock from the time the community *received* the
first record in which the condition held, never from device timestamps (a device clock far
in the future must not make a condition "old"). Duration conditions therefore also fire
without new telemetry: the engine's timer checks them.

Choices made where the guidance leaves room:

- Over-temperature: ``temperature_c >= 60`` for 5 s (two or three reports): a single spike is
  ignored, a battery heading for runaway is cut within seconds.
- Over-power: ``power_w > 1500`` at once. No e-bike charger draws that; it is a short, a
  heater or a fault, and waiting only makes it worse.
- Abnormal load (the power-strip profile): ``power_w > 450`` for 60 s. A single e-bike
  charger draws 60-400 W (catalog); a sustained draw above the largest single charger is
  several chargers on one port. Sixty seconds rides out a charger's inrush.
- Stop at full: ``port_state == charging`` and ``power_w < 6`` (the charger's trickle) for
  10 minutes -> ``port_cut{reason: full}``, a notice, no alarm.
- Maximum single charge: ``port_state == charging`` for 8 h -> ``charge_too_long`` + cut.
- Fire lane: ``vehicle_present`` for the zone's vehicle dwell (default 50 s) or
  ``object_present`` for its object dwell (default 40 s) -> ``fire_lane_obstructed``,
  repeated every ``repeat_s`` (single alert when None); cleared when the lane is clear.

Smoke in the shed is not a duration rule: the ``charging_shed_smoke`` event itself is the
fire alarm (raised by the ordinary alarm model) and the engine cuts every port of that hub.
A rule may carry a *schedule* (days of the week and local time windows, the community's UTC
offset from its config): outside its schedule a rule neither fires nor accumulates duration,
and an alarm it raised clears. A window whose end is not after its start crosses midnight and
belongs to the day it starts on: "Fri 22:00-06:00" runs from Friday 22:00 to Saturday 06:00.
The duration must elapse inside one continuous stretch of schedule (adjacent windows join):
a car parked all afternoon under a night-only rule is alarmed a dwell after 22:00, not at once.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from devices.catalog import DeviceKind, EventType


class Op(StrEnum):
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    EQ = "eq"


@dataclass(frozen=True, slots=True)
class Term:
    """One test on one state field; a missing or non-numeric field never holds (for < >)."""

    field: str
    op: Op
    value: object

    def holds(self, state: Mapping[str, Any]) -> bool:
        seen = state.get(self.field)
        if self.op is Op.EQ:
            return bool(seen == self.value)
        if isinstance(seen, bool) or not isinstance(seen, int | float):
            return False
        if not isinstance(self.value, int | float) or math.isnan(seen):
            return False
        return _COMPARE[self.op](float(seen), float(self.value))


_COMPARE: Final[dict[Op, Callable[[float, float], bool]]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
}


class Dwell(StrEnum):
    """Which per-zone fire-lane threshold overrides a rule's duration."""

    VEHICLE = "vehicle"
    OBJECT = "object"


DAY_MS: Final = 86_400_000
MINUTE_MS: Final = 60_000
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far back the start of a stretch of schedule is looked for (a longer one: always on).
LOOKBACK_MS: Final = 8 * 86_400_000
_HHMM: Final = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message names the part at fault."""


@dataclass(frozen=True, slots=True)
class Window:
    """Local minutes of the day: ``start`` inclusive, ``end`` exclusive (1440 = midnight)."""

    start_min: int
    end_min: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < 1440 or not 0 < self.end_min <= 1440:
            raise ScheduleError("a window runs from 00:00-23:59 to 00:01-24:00")
        if self.start_min == self.end_min:
            raise ScheduleError("a window must not be empty (use 00:00-24:00 for a whole day)")

    @property
    def length_ms(self) -> int:
        """Crossing midnight when the end is not after the start."""
        return ((self.end_min - self.start_min) % 1440 or 1440) * MINUTE_MS


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a rule applies: these ISO weekdays (1 = Monday), in any of these windows."""

    days: frozenset[int]
    windows: tuple[Window, ...]
    #: Local time = UTC + this offset (480 for China Standard Time).
    utc_offset_min: int = 0

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(1, 8)):
            raise ScheduleError("days must name 1-7 weekdays (1 = Monday ... 7 = Sunday)")
        if not 1 <= len(self.windows) <= 8:
            raise ScheduleError("a schedule has 1-8 time windows")
        if not -14 * 60 <= self.utc_offset_min <= 14 * 60:
            raise ScheduleError("utc_offset_min must be within -840..840")

    def _starts(self, at_ms: int) -> list[int]:
        """Starts (UTC ms) of the window instances that contain ``at_ms``."""
        local = at_ms + self.utc_offset_min * MINUTE_MS
        midnight = local - local % DAY_MS
        out: list[int] = []
        for back in (0, 1):  # a window started yesterday may still run
            day_start = midnight - back * DAY_MS
            weekday = (day_start // DAY_MS + 3) % 7 + 1  # 1970-01-01 was a Thursday
            if weekday not in self.days:
                continue
            for window in self.windows:
                start = day_start + window.start_min * MINUTE_MS
                if start <= local < start + window.length_ms:
                    out.append(start - self.utc_offset_min * MINUTE_MS)
        return out

    def active(self, at_ms: int) -> bool:
        return bool(self._starts(at_ms))

    def active_since(self, at_ms: int) -> int | None:
        """Start of the continuous stretch of schedule containing ``at_ms`` (None: outside)."""
        starts = self._starts(at_ms)
        if not starts:
            return None
        since = min(starts)
        # Each step moves to an earlier window start: at most 9 days x 8 windows of them.
        while since > at_ms - LOOKBACK_MS:
            before = self._starts(since - 1)
            if not before:
                break
            since = min(before)
        return since


def _minutes(text: object, where: str) -> int:
    if not isinstance(text, str) or not _HHMM.fullmatch(text):
        raise ScheduleError(f"{where} must be a time HH:MM (00:00-24:00)")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_schedule(raw: object, *, utc_offset_min: int = 0) -> Schedule:
    """``{"days": ["mon", ...], "windows": [{"start": "22:00", "end": "06:00"}]}``; days may
    be omitted (every day). Raises :class:`ScheduleError` naming what is wrong."""
    if not isinstance(raw, dict) or not set(raw) <= {"days", "windows"}:
        raise ScheduleError("a schedule is an object with 'days' and 'windows'")
    days = raw.get("days", list(WEEKDAYS))
    if not isinstance(days, list) or not days or not all(d in WEEKDAYS for d in days):
        raise ScheduleError(f"schedule.days must be a non-empty list of: {', '.join(WEEKDAYS)}")
    windows = raw.get("windows")
    if not isinstance(windows, list) or not 1 <= len(windows) <= 8:
        raise ScheduleError("schedule.windows must be a list of 1-8 windows")
    parsed: list[Window] = []
    for i, window in enumerate(windows):
        where = f"schedule.windows[{i}]"
        if not isinstance(window, dict) or set(window) != {"start", "end"}:
            raise ScheduleError(f"{where} must be an object with 'start' and 'end'")
        start = _minutes(window["start"], f"{where}.start")
        if start == 1440:
            raise ScheduleError(f"{where}.start must be before 24:00")
        parsed.append(Window(start, _minutes(window["end"], f"{where}.end")))
    return Schedule(frozenset(WEEKDAYS.index(d) + 1 for d in days), tuple(parsed), utc_offset_min)


@dataclass(frozen=True, slots=True)
class FieldRule:
    name: str
    kind: DeviceKind
    when: tuple[Term, ...]
    duration_s: float
    alarm: EventType | None = None
    #: The ``port_cut`` reason, when firing cuts the port.
    cut: str | None = None
    #: Firing records a notice for the resident (stop at full).
    notice: bool = False
    #: Repeat the alert every so many seconds while the condition holds (None: once).
    repeat_s: float | None = None
    #: A fire-lane rule whose duration the zone's configured dwell overrides.
    dwell: Dwell | None = None
    #: Extra data stored with the alarm's reason: the state field to quote.
    quote: str = ""
    #: When the rule applies (None: at all hours).
    schedule: Schedule | None = None

    def holds(self, state: Mapping[str, Any]) -> bool:
        return all(term.holds(state) for term in self.when)


CHARGING: Final = Term("port_state", Op.EQ, "charging")

MIN_DWELL_S: Final = 10.0
MAX_DWELL_S: Final = 3600.0


@dataclass(frozen=True, slots=True)
class ZoneDwell:
    """A fire-lane zone's thresholds, seconds (10-3600 each)."""

    vehicle_s: float = 50.0
    object_s: float = 40.0
    repeat_s: float | None = None

    def __post_init__(self) -> None:
        for value in (self.vehicle_s, self.object_s):
            if not MIN_DWELL_S <= value <= MAX_DWELL_S:
                raise ValueError(f"a fire-lane dwell must be {MIN_DWELL_S:g}-{MAX_DWELL_S:g} s")
        if self.repeat_s is not None and not MIN_DWELL_S <= self.repeat_s <= MAX_DWELL_S:
            raise ValueError("a fire-lane repeat interval must be 10-3600 s")


def default_rules(*, vehicle_s: float = 50.0, object_s: float = 40.0) -> tuple[FieldRule, ...]:
    port = DeviceKind.CHARGING_PORT
    lane = DeviceKind.FIRE_LANE_SENSOR
    return (
        FieldRule(
            "overtemperature",
            port,
            (Term("temperature_c", Op.GE, 60.0),),
            5.0,
            alarm=EventType.CHARGER_OVERTEMPERATURE,
            cut="overtemperature",
            quote="temperature_c",
        ),
        FieldRule(
            "overpower",
            port,
            (Term("power_w", Op.GT, 1500.0),),
            0.0,
            alarm=EventType.CHARGER_OVERPOWER,
            cut="overpower",
            quote="power_w",
        ),
        FieldRule(
            "abnormal_load",
            port,
            (Term("power_w", Op.GT, 450.0),),
            60.0,
            alarm=EventType.CHARGER_ABNORMAL_LOAD,
            cut="abnormal_load",
            quote="power_w",
        ),
        FieldRule(
            "full",
            port,
            (CHARGING, Term("power_w", Op.LT, 6.0)),
            600.0,
            cut="full",
            notice=True,
        ),
        FieldRule(
            "too_long",
            port,
            (CHARGING,),
            8 * 3600.0,
            alarm=EventType.CHARGE_TOO_LONG,
            cut="too_long",
        ),
        FieldRule(
            "lane_vehicle",
            lane,
            (Term("vehicle_present", Op.EQ, True),),
            vehicle_s,
            alarm=EventType.FIRE_LANE_OBSTRUCTED,
            dwell=Dwell.VEHICLE,
        ),
        FieldRule(
            "lane_object",
            lane,
            (Term("object_present", Op.EQ, True),),
            object_s,
            alarm=EventType.FIRE_LANE_OBSTRUCTED,
            dwell=Dwell.OBJECT,
        ),
    )


@dataclass(frozen=True, slots=True)
class FieldRules:
    """The rule table plus per-zone fire-lane thresholds."""

    rules: tuple[FieldRule, ...] = field(default_factory=default_rules)
    zones: Mapping[str, ZoneDwell] = field(default_factory=dict)
    #: Default fire-lane repeat interval (None: a single alert per obstruction).
    lane_repeat_s: float | None = None

    def counting_from(self, rule: FieldRule, since_ms: int, now: int) -> int | None:
        """From when a held condition counts toward the duration (None: outside schedule)."""
        if rule.schedule is None:
            return since_ms
        stretch = rule.schedule.active_since(now)
        return None if stretch is None else max(since_ms, stretch)

    def with_schedule(self, schedule: Schedule, *names: str) -> FieldRules:
        """The same table with the named rules (every rule when none is named) on ``schedule``."""
        unknown = sorted(set(names) - {rule.name for rule in self.rules})
        if unknown:
            raise ScheduleError(f"no such rule: {', '.join(unknown)}")
        rules = tuple(
            replace(rule, schedule=schedule) if not names or rule.name in names else rule
            for rule in self.rules
        )
        return replace(self, rules=rules)

    def for_kind(self, kind: str) -> tuple[FieldRule, ...]:
        return tuple(rule for rule in self.rules if rule.kind == kind)

    def rule(self, name: str) -> FieldRule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    def duration_s(self, rule: FieldRule, state: Mapping[str, Any]) -> float:
        zone = self.zones.get(str(state.get("zone_id", "")))
        if rule.dwell is None or zone is None:
            return rule.duration_s
        return zone.vehicle_s if rule.dwell is Dwell.VEHICLE else zone.object_s

    def repeat_s(self, rule: FieldRule, state: Mapping[str, Any]) -> float | None:
        if rule.dwell is None:
            return rule.repeat_s
        zone = self.zones.get(str(state.get("zone_id", "")))
        if zone is not None and zone.repeat_s is not None:
            return zone.repeat_s
        return self.lane_repeat_s
