"""Work orders as data: categories and their SLAs, the state machine, and who may move it.

A work order is a repair or a complaint: a resident reports it (from the home hub or the
phone page), staff triage, assign, schedule and close it with a resolution, and the resident
confirms and rates it — or reopens it. Every rule of that life is a row in a table below, and
one small interpreter (:func:`find_transition`) answers "may this person do this to that
order now?", so changing the process is editing a table, not code.

Who an order belongs to is a *scope* per role: staff of the property see every order; a
technician only the orders assigned to them; a resident only their own home's. A transition
row names the roles allowed; the scope of the role then narrows it to the orders it covers.

Overdue is data too: an order not finished by its category's SLA is escalated in tiers —
duty staff at the due time, the property admin when it is as late again as its SLA allowed.
Each tier fires once per cycle (a reopened order starts a new cycle with a fresh due time).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from community.accounts import Role


class Category(StrEnum):
    PLUMBING = "plumbing"
    ELECTRICAL = "electrical"
    LIFT = "lift"
    SAFETY_DEVICE = "safety_device"
    REPAIR = "repair"
    CLEANING = "cleaning"
    NOISE_COMPLAINT = "noise_complaint"
    OTHER = "other"


class Status(StrEnum):
    OPEN = "open"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CONFIRMED = "confirmed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"


class OrderAction(StrEnum):
    TRIAGE = "triage"
    ASSIGN = "assign"
    SCHEDULE = "schedule"
    START = "start"
    FINISH = "finish"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    CANCEL = "cancel"


class Scope(StrEnum):
    """Which orders a role may see and act on."""

    ANY = "any"
    ASSIGNEE = "assignee"
    OWN_HOME = "own_home"


class Field(StrEnum):
    """Body fields a transition takes (checked by the API and by the resident path)."""

    NOTE = "note"
    TO = "to"
    AT = "at"
    CATEGORY = "category"
    RESOLUTION = "resolution"
    RATING = "rating"
    COMMENT = "comment"


@dataclass(frozen=True, slots=True)
class CategoryRule:
    #: Hours from report (or reopening) to done before the order is overdue.
    sla_hours: float
    en: str
    zh: str


CATEGORIES: Final[dict[Category, CategoryRule]] = {
    Category.SAFETY_DEVICE: CategoryRule(24, "Safety device", "安全设备"),
    Category.LIFT: CategoryRule(4, "Lift", "电梯"),
    Category.ELECTRICAL: CategoryRule(24, "Electrical", "电气"),
    Category.PLUMBING: CategoryRule(24, "Plumbing", "水暖"),
    Category.REPAIR: CategoryRule(72, "Repair", "维修"),
    Category.CLEANING: CategoryRule(48, "Cleaning", "保洁"),
    Category.NOISE_COMPLAINT: CategoryRule(24, "Noise complaint", "噪音投诉"),
    Category.OTHER: CategoryRule(72, "Other", "其他"),
}

#: States in which the SLA clock runs (the work is still owed).
OWED: Final = frozenset(
    {
        Status.OPEN,
        Status.TRIAGED,
        Status.ASSIGNED,
        Status.SCHEDULED,
        Status.IN_PROGRESS,
        Status.REOPENED,
    }
)
#: States that end an order for good.
CLOSED: Final = frozenset({Status.CONFIRMED, Status.CANCELLED})

#: What each role may see: every order, those assigned to them, or their home's.
ROLE_SCOPE: Final[dict[Role, Scope]] = {
    Role.PROPERTY_ADMIN: Scope.ANY,
    Role.DUTY_STAFF: Scope.ANY,
    Role.TECHNICIAN: Scope.ASSIGNEE,
    Role.RESIDENT: Scope.OWN_HOME,
}

_STAFF: Final = frozenset({Role.PROPERTY_ADMIN, Role.DUTY_STAFF})
_WORKERS: Final = _STAFF | {Role.TECHNICIAN}


@dataclass(frozen=True, slots=True)
class Transition:
    action: OrderAction
    sources: frozenset[Status]
    target: Status
    roles: frozenset[Role]
    required: frozenset[Field] = frozenset()
    optional: frozenset[Field] = frozenset({Field.NOTE})


#: The state machine. Rows for one action are tried in order; the first whose roles include
#: the person's role decides (so residents and staff may cancel from different states).
TRANSITIONS: Final[tuple[Transition, ...]] = (
    Transition(
        OrderAction.TRIAGE,
        frozenset({Status.OPEN, Status.REOPENED}),
        Status.TRIAGED,
        _STAFF,
        optional=frozenset({Field.NOTE, Field.CATEGORY}),
    ),
    Transition(
        OrderAction.ASSIGN,
        frozenset(
            {Status.OPEN, Status.TRIAGED, Status.REOPENED, Status.ASSIGNED, Status.SCHEDULED}
        ),
        Status.ASSIGNED,
        _STAFF,
        required=frozenset({Field.TO}),
    ),
    Transition(
        OrderAction.SCHEDULE,
        frozenset({Status.ASSIGNED, Status.SCHEDULED}),
        Status.SCHEDULED,
        _WORKERS,
        required=frozenset({Field.AT}),
    ),
    Transition(
        OrderAction.START,
        frozenset({Status.ASSIGNED, Status.SCHEDULED}),
        Status.IN_PROGRESS,
        _WORKERS,
    ),
    Transition(
        OrderAction.FINISH,
        frozenset({Status.IN_PROGRESS}),
        Status.DONE,
        _WORKERS,
        required=frozenset({Field.RESOLUTION}),
        optional=frozenset(),
    ),
    Transition(
        OrderAction.CONFIRM,
        frozenset({Status.DONE}),
        Status.CONFIRMED,
        frozenset({Role.RESIDENT}),
        required=frozenset({Field.RATING}),
        optional=frozenset({Field.COMMENT}),
    ),
    Transition(
        OrderAction.REOPEN,
        frozenset({Status.DONE}),
        Status.REOPENED,
        _STAFF | {Role.RESIDENT},
        required=frozenset({Field.NOTE}),
        optional=frozenset(),
    ),
    Transition(
        OrderAction.CANCEL,
        frozenset({Status.OPEN, Status.TRIAGED}),
        Status.CANCELLED,
        frozenset({Role.RESIDENT}),
    ),
    Transition(
        OrderAction.CANCEL,
        OWED - {Status.IN_PROGRESS},
        Status.CANCELLED,
        _STAFF,
        required=frozenset({Field.NOTE}),
        optional=frozenset(),
    ),
)


def find_transition(action: OrderAction, role: Role) -> Transition | None:
    """The row that governs ``role`` doing ``action``; None: the role may never do it."""
    return next((t for t in TRANSITIONS if t.action is action and role in t.roles), None)


def allowed_actions(status: Status, role: Role) -> list[str]:
    """What ``role`` could do to an order in ``status`` (scope aside), for the UI's buttons."""
    out: list[str] = []
    for action in OrderAction:
        row = find_transition(action, role)
        if row is not None and status in row.sources:
            out.append(str(action))
    return out


# --- overdue escalation ------------------------------------------------------------------


class OverdueAudience(StrEnum):
    DUTY_STAFF = "duty_staff"
    PROPERTY_ADMIN = "property_admin"


@dataclass(frozen=True, slots=True)
class OverdueTier:
    audience: OverdueAudience
    #: When the tier fires, in multiples of the category's SLA after the due time.
    after_sla: float


OVERDUE_TIERS: Final[tuple[OverdueTier, ...]] = (
    OverdueTier(OverdueAudience.DUTY_STAFF, 0.0),
    OverdueTier(OverdueAudience.PROPERTY_ADMIN, 1.0),
)


def tier_due_ms(due_ms: int, category: Category, tier: OverdueTier) -> int:
    return due_ms + int(tier.after_sla * CATEGORIES[category].sla_hours * 3_600_000)


@dataclass(frozen=True, slots=True)
class OrderRules:
    """The timing rules one community runs with: SLA hours per category and the overdue tiers.

    The defaults are :data:`CATEGORIES` and :data:`OVERDUE_TIERS`; a site (or a demo that
    compresses a day into seconds) gives its own values as data, not code.
    """

    sla_hours: tuple[tuple[Category, float], ...]
    tiers: tuple[OverdueTier, ...] = OVERDUE_TIERS

    def __post_init__(self) -> None:
        if {c for c, _ in self.sla_hours} != set(Category):
            raise ValueError("every category needs an SLA")
        if any(not 0 < hours <= 24 * 366 for _, hours in self.sla_hours):
            raise ValueError("an SLA must be more than 0 and at most a year")
        afters = [t.after_sla for t in self.tiers]
        if not afters or afters != sorted(afters) or afters[0] < 0:
            raise ValueError("overdue tiers must be given, in order, from 0 SLAs late on")

    def sla_ms(self, category: str) -> int:
        return int(dict(self.sla_hours)[Category(category)] * 3_600_000)

    def tier_due_ms(self, due_ms: int, category: str, tier: OverdueTier) -> int:
        return due_ms + int(tier.after_sla * self.sla_ms(category))

    def with_sla(self, hours: dict[Category, float]) -> OrderRules:
        """These rules with some categories' SLAs replaced."""
        return OrderRules(tuple((c, hours.get(c, h)) for c, h in self.sla_hours), tiers=self.tiers)


DEFAULT_RULES: Final = OrderRules(tuple((c, r.sla_hours) for c, r in CATEGORIES.items()))


# --- from an alarm with one click --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlarmOrder:
    """The order an alarm kind opens: its category and a title template.

    The template may use ``{device}`` (a noun for the device kind), ``{name}`` (the device's
    own name), ``{home}``, ``{room}`` and ``{place}`` (home and room together).
    """

    category: Category
    title: str


#: Device kinds as words in a title (a kind not listed reads as "device").
DEVICE_NOUNS: Final[dict[str, str]] = {
    "smoke_alarm": "smoke detector",
    "gas_detector": "gas detector",
    "fall_detector": "fall detector",
    "emergency_button": "emergency button",
    "water_leak": "leak sensor",
    "charging_port": "charging port",
    "elevator_camera": "lift camera",
    "shed_smoke_detector": "shed smoke detector",
    "fire_lane_sensor": "fire lane sensor",
}

ALARM_ORDERS: Final[dict[str, AlarmOrder]] = {
    "end_of_service": AlarmOrder(Category.SAFETY_DEVICE, "Replace the {device} in {place}"),
    "hardware_fault": AlarmOrder(Category.REPAIR, "Repair the {device} in {place}"),
    "battery_low": AlarmOrder(
        Category.SAFETY_DEVICE, "Replace the battery of the {device} in {place}"
    ),
    "tamper": AlarmOrder(Category.SAFETY_DEVICE, "Check the tampered {device} in {place}"),
    "device_offline": AlarmOrder(
        Category.SAFETY_DEVICE, "Bring the {device} in {place} back online"
    ),
    "hub_offline": AlarmOrder(Category.ELECTRICAL, "Bring the home hub of {place} back online"),
    "water_leak": AlarmOrder(Category.PLUMBING, "Repair the water leak in {place}"),
    "charger_overtemperature": AlarmOrder(Category.ELECTRICAL, "Inspect {name} ({place})"),
    "charger_overpower": AlarmOrder(Category.ELECTRICAL, "Inspect {name} ({place})"),
    "charger_abnormal_load": AlarmOrder(Category.ELECTRICAL, "Inspect {name} ({place})"),
    "charger_command_unacknowledged": AlarmOrder(Category.ELECTRICAL, "Repair {name} ({place})"),
    "elevator_ebike": AlarmOrder(Category.LIFT, "Check lift {name} ({place})"),
    "fire_lane_obstructed": AlarmOrder(Category.OTHER, "Clear the fire lane at {place}"),
}
#: Any other alarm kind: a follow-up order.
FALLBACK_ORDER: Final = AlarmOrder(Category.OTHER, "Follow up the {kind} alarm in {place}")


def order_for_alarm(alarm: dict[str, object]) -> tuple[Category, str]:
    """Category and title of the order an alarm opens (see :data:`ALARM_ORDERS`)."""
    kind = str(alarm.get("kind") or "")
    spec = ALARM_ORDERS.get(kind, FALLBACK_ORDER)
    home = str(alarm.get("home_id") or "")
    room = str(alarm.get("room") or "")
    words = {
        "device": DEVICE_NOUNS.get(str(alarm.get("device_kind") or ""), "device"),
        "name": str(alarm.get("device_name") or alarm.get("device_id") or "device"),
        "home": home,
        "room": room,
        "place": " ".join(p for p in (home, room) if p) or "the community",
        "kind": kind.replace("_", " "),
    }
    return spec.category, spec.title.format(**words)
