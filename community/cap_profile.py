"""How each alarm kind reads in CAP 1.2: category, urgency, severity and certainty, as data.

CAP's values answer a city platform's questions: what sort of hazard (category), how soon to
act (urgency), how bad (severity), how sure (certainty). Our choices, one row per kind:

- Fire (smoke) is observed and severe: act now.
- A gas leak is ``Safety`` (general public safety: an explosion risk to the building), not
  ``Env`` (pollution) or ``CBRNE`` (hazardous-materials incidents at scale): act now.
- A fall or an emergency call is a person needing help: ``Health`` and ``Rescue``. A fall
  detector's verdict is ``Likely`` (they have false positives); a pressed button is
  ``Observed``.
- A water leak damages the building, not people: ``Infra``, act within the hour, moderate.
- Device and hub trouble is ``Infra``, expected, minor, likely: a safety device that may not
  work is a risk, not an event. A low battery can wait (``Future``).
- The community's own services (e-bike charging shed, elevator, fire lanes) follow the same
  reasoning; kinds without a row fall back on their severity.

Rooms are free text typed by residents ("Grandma's room"), so only a room *type* from a fixed
vocabulary ever reaches a CAP message, and only when the room text clearly names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class CapProfile:
    categories: tuple[str, ...]
    urgency: str
    severity: str
    certainty: str


def _p(categories: str, urgency: str, severity: str, certainty: str) -> CapProfile:
    return CapProfile(tuple(categories.split()), urgency, severity, certainty)


PROFILES: Final[dict[str, CapProfile]] = {
    "smoke_alarm": _p("Fire", "Immediate", "Severe", "Observed"),
    "gas_alarm": _p("Safety", "Immediate", "Severe", "Observed"),
    "fall_detected": _p("Health Rescue", "Immediate", "Severe", "Likely"),
    "emergency_call": _p("Rescue Health", "Immediate", "Severe", "Observed"),
    "water_leak": _p("Infra", "Expected", "Moderate", "Observed"),
    "device_offline": _p("Infra", "Expected", "Minor", "Likely"),
    "hardware_fault": _p("Infra", "Expected", "Minor", "Likely"),
    "end_of_service": _p("Infra", "Expected", "Minor", "Likely"),
    "tamper": _p("Infra", "Expected", "Minor", "Likely"),
    "battery_low": _p("Infra", "Future", "Minor", "Likely"),
    "hub_offline": _p("Infra", "Expected", "Minor", "Likely"),
    "charging_shed_smoke": _p("Fire", "Immediate", "Severe", "Observed"),
    "charger_overtemperature": _p("Fire", "Immediate", "Moderate", "Likely"),
    "charger_overpower": _p("Fire", "Expected", "Moderate", "Likely"),
    "charger_abnormal_load": _p("Fire", "Expected", "Moderate", "Possible"),
    "charge_too_long": _p("Safety", "Expected", "Minor", "Likely"),
    "charger_command_unacknowledged": _p("Infra Fire", "Immediate", "Moderate", "Likely"),
    "elevator_ebike": _p("Fire Safety", "Immediate", "Moderate", "Observed"),
    "fire_lane_obstructed": _p("Safety Transport", "Expected", "Moderate", "Observed"),
    "care_check_missed": _p("Health", "Expected", "Moderate", "Possible"),  # care checks
}
#: Kinds without a row, by alarm severity.
FALLBACK: Final[dict[str, CapProfile]] = {
    "critical": _p("Safety", "Immediate", "Severe", "Likely"),
    "alert": _p("Infra", "Expected", "Minor", "Likely"),
    "info": _p("Other", "Future", "Minor", "Possible"),
}


#: Alarm kinds a resident shared with the duty staff only: never in the public CAP feed.
NOT_PUBLISHED: Final = frozenset({"care_check_missed"})  # care checks


def profile_for(kind: str, severity: str) -> CapProfile:
    return PROFILES.get(kind) or FALLBACK.get(severity) or FALLBACK["info"]


#: Room type -> (English, Chinese, words that identify it), first match wins.
ROOM_TYPES: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("kitchen", "厨房", ("kitchen", "厨房")),
    ("bathroom", "卫生间", ("bath", "toilet", "wc", "washroom", "卫生间", "浴室", "洗手间")),
    ("bedroom", "卧室", ("bedroom", "卧室", "主卧", "次卧")),
    ("living room", "客厅", ("living", "lounge", "客厅")),
    ("dining room", "餐厅", ("dining", "餐厅")),
    ("hallway", "走廊", ("hall", "corridor", "entrance", "走廊", "门厅", "玄关")),
    ("balcony", "阳台", ("balcony", "阳台")),
    ("study", "书房", ("study", "书房")),
    ("laundry", "洗衣房", ("laundry", "洗衣")),
    ("storage room", "储藏室", ("storage", "储藏")),
)


def room_type(room: str | None) -> tuple[str, str] | None:
    """The room type a free-text room names, (English, Chinese), or None if it is unclear."""
    text = (room or "").casefold()
    for english, chinese, words in ROOM_TYPES:
        if any(word in text for word in words):
            return english, chinese
    return None
