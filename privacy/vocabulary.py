"""The words consent is written in: purposes, legal bases, data categories and recipients.

Declared as data so the policy stays a small interpreter of these tables, and so a resident UI,
the hub, the community and the documentation all name things the same way.

Which categories are *sensitive* follows PIPL Art. 28 (health, whereabouts, and the like):
each needs its own, separate consent (Art. 29), never bundled with anything else. Event names
mirror the interop model's (``devices.catalog.EventType``); ``privacy`` imports nothing of the
project, so a test keeps the two lists in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Purpose(StrEnum):
    """Why data is shared."""

    EMERGENCY_RESPONSE = "emergency_response"
    SAFETY_MONITORING = "safety_monitoring"
    FAMILY_NOTIFICATION = "family_notification"
    CARE_SERVICE = "care_service"
    PROPERTY_SERVICE = "property_service"


class LegalBasis(StrEnum):
    """The lawful ground for a disclosure. ``vital_interests`` is only ever the override's."""

    CONSENT = "consent"
    VITAL_INTERESTS = "vital_interests"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"


class Category(StrEnum):
    """Kinds of personal data a home produces."""

    SAFETY_ALARMS = "safety_alarms"
    DEVICE_HEALTH = "device_health"
    FALL_EVENTS = "fall_events"
    EMERGENCY_CALLS = "emergency_calls"
    PRESENCE = "presence"
    HEALTH = "health"
    VEHICLE_PLATE = "vehicle_plate"
    #: "No sign of life by the check time" (care checks): home, check time, tier only.
    DAILY_CHECK = "daily_check"


#: Sensitive personal information (PIPL Art. 28): each needs a separate consent of its own.
SENSITIVE: Final[frozenset[Category]] = frozenset(
    {
        Category.FALL_EVENTS,
        Category.EMERGENCY_CALLS,
        Category.PRESENCE,
        Category.HEALTH,
        Category.VEHICLE_PLATE,
        Category.DAILY_CHECK,  # care checks: it tells who may be unwell at home
    }
)

#: Fields each category may ever disclose; a consent names a subset of these.
CATEGORY_FIELDS: Final[dict[Category, frozenset[str]]] = {
    Category.SAFETY_ALARMS: frozenset(
        {"event", "active", "ts", "device_id", "kind", "room", "name", "value"}
    ),
    Category.DEVICE_HEALTH: frozenset(
        {"event", "active", "ts", "device_id", "kind", "room", "name", "silent_s", "passed"}
    ),
    Category.FALL_EVENTS: frozenset(
        {"event", "active", "ts", "device_id", "kind", "room", "name", "confidence"}
    ),
    Category.EMERGENCY_CALLS: frozenset(
        {"event", "active", "ts", "device_id", "kind", "room", "name"}
    ),
    Category.PRESENCE: frozenset({"occupied", "ts", "device_id", "room"}),
    Category.HEALTH: frozenset({"observation", "value", "ts", "device_id"}),
    Category.VEHICLE_PLATE: frozenset({"plate", "ts", "location"}),
    Category.DAILY_CHECK: frozenset({"home", "check_time", "tier", "ts"}),  # care checks
}

#: Which category each interop event belongs to (mirrors ``devices.catalog.EventType``).
EVENT_CATEGORY: Final[dict[str, Category]] = {
    "smoke_alarm": Category.SAFETY_ALARMS,
    "gas_alarm": Category.SAFETY_ALARMS,
    "water_leak": Category.SAFETY_ALARMS,
    "alarm_silenced": Category.SAFETY_ALARMS,
    "fall_detected": Category.FALL_EVENTS,
    "emergency_call": Category.EMERGENCY_CALLS,
    "device_offline": Category.DEVICE_HEALTH,
    "battery_low": Category.DEVICE_HEALTH,
    "hardware_fault": Category.DEVICE_HEALTH,
    "end_of_service": Category.DEVICE_HEALTH,
    "tamper": Category.DEVICE_HEALTH,
    "self_test": Category.DEVICE_HEALTH,
    # Community field devices (charging shed, elevator, fire lanes): safety alarms like a home's.
    "charger_overtemperature": Category.SAFETY_ALARMS,
    "charger_overpower": Category.SAFETY_ALARMS,
    "charger_abnormal_load": Category.SAFETY_ALARMS,
    "charge_too_long": Category.SAFETY_ALARMS,
    "charging_shed_smoke": Category.SAFETY_ALARMS,
    "charger_command_unacknowledged": Category.SAFETY_ALARMS,
    "elevator_ebike": Category.SAFETY_ALARMS,
    "fire_lane_obstructed": Category.SAFETY_ALARMS,
    "hub_offline": Category.DEVICE_HEALTH,
    "charge_session_ended": Category.DEVICE_HEALTH,
    "visitor_entry": Category.PRESENCE,  # visitor passes: only ever from a common-area gate
    # Parcel lockers: only ever behind a common-area gateway; a pickup says someone was there.
    "parcel_delivered": Category.PRESENCE,
    "parcel_picked_up": Category.PRESENCE,
    "care_check_missed": Category.DAILY_CHECK,  # care checks
}


class RecipientRole(StrEnum):
    """Who may receive data."""

    PROPERTY_DUTY = "property_duty"
    EMERGENCY_TEAM = "emergency_team"
    FAMILY = "family"
    CARE_PROVIDER = "care_provider"


#: Roles that respond to emergencies: the only ones the emergency override can reach.
RESPONDERS: Final[frozenset[RecipientRole]] = frozenset(
    {RecipientRole.PROPERTY_DUTY, RecipientRole.EMERGENCY_TEAM}
)

_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


@dataclass(frozen=True, slots=True, order=True)
class Recipient:
    """A named recipient in a role: ``family:li``, ``emergency_team:duty``.

    ``id`` is also the recipient id fields are sealed to (``privacy.sealing``).
    """

    role: RecipientRole
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", RecipientRole(self.role))
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            raise ValueError(f"recipient name {self.name!r} is not valid")

    @property
    def id(self) -> str:
        return f"{self.role}:{self.name}"

    @classmethod
    def parse(cls, text: str) -> Recipient:
        """``"family:li"`` -> Recipient(FAMILY, "li"); ValueError on anything else."""
        role, sep, name = text.partition(":") if isinstance(text, str) else ("", "", "")
        if not sep:
            raise ValueError(f"recipient {text!r} must look like role:name")
        return cls(RecipientRole(role), name)
