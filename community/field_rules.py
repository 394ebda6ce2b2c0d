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
There are no *schedule* conditions yet (a rule applies at all hours).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
