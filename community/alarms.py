"""The alarm model: which events make alarms, and how an alarm moves between its states.

An alarm is a condition that people must see and handle. Which events make alarms is not
decided here: every stateful event in ``devices.catalog`` is one (``is_alarm``), and its
severity is the event's fixed priority. What happens to an alarm is two small tables, one for
what a device reports and one for what a person does, interpreted by two tiny functions.

Device side: one active alarm per (hub, device, event). A repeat while active counts up; an
``active=false`` event clears it (``cleared_by = "device"``). Records can arrive out of order
(a hub retries a record the community missed after the ones behind it got through), so an
event is judged against the *next newer* stored record for the same condition: a late raise
joins the alarm that next record belongs to, or, if that record is a clear that found no
alarm, is recorded as an alarm raised and already cleared. A late clear never closes
anything: an alarm stays open rather than vanish on stale news.

Person side: acknowledging says "someone is on it"; clearing says "handled". An alarm must be
acknowledged before a person may clear it, so no alarm disappears from the board without a
name against it. Repeating an action is harmless (idempotent) and changes nothing.

Work side: the handling of an alarm is a second, independent state (``new`` → ``assigned`` →
``in_progress`` → ``resolved``): who has it, whether they are on it, and how it ended (a
resolution note). It is a table too; starting work acknowledges, resolving also clears.

The community raises a few alarms itself (a hub that went silent, a cut nobody acknowledged);
the interop catalog names them (``raised_by_community``) and :data:`COMMUNITY_KINDS` lists them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from devices.catalog import EVENTS, PRIORITY_RANK, EventType, Priority, is_alarm

ALARM_EVENTS: Final = frozenset(event for event in EVENTS if is_alarm(event))
DEVICE: Final = "device"
#: A home hub stopped talking to the community (last will, or no heartbeat for too long).
HUB_OFFLINE: Final = str(EventType.HUB_OFFLINE)
#: Alarms raised by the community itself, not by a device event, with their fixed severity.
COMMUNITY_KINDS: Final[dict[str, Priority]] = {
    str(name): spec.priority for name, spec in EVENTS.items() if spec.raised_by_community
}
#: Every alarm kind a stored alarm can have.
ALARM_KINDS: Final = frozenset(str(e) for e in ALARM_EVENTS) | frozenset(COMMUNITY_KINDS)


class AlarmStatus(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"


class HistoryAction(StrEnum):
    """What a history row records; shown to people in the alarm's timeline."""

    RAISED = "raised"
    REPEATED = "repeated"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"
    ASSIGNED = "assigned"
    STARTED = "started"
    RESOLVED = "resolved"
    EVIDENCE = "evidence"
    ESCALATED = "escalated"
    NOTIFIED = "notified"
    NOTIFY_FAILED = "notify_failed"
    #: The community commanded a device about this alarm (an elevator hold or release).
    COMMANDED = "commanded"


class Handling(StrEnum):
    """Where the people handling an alarm are with it (independent of the device's status)."""

    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class EventEffect(StrEnum):
    """What one device event does to the alarm for its condition."""

    RAISE = "raise"
    RAISE_CLEARED = "raise_cleared"
    REPEAT = "repeat"
    JOIN = "join"
    CLEAR = "clear"
    NONE = "none"


class Newer(StrEnum):
    """The next newer stored record for the same condition, if the event arrived late."""

    NONE = "none"
    #: It belongs to an alarm (it raised, repeated or cleared one).
    IN_ALARM = "in_alarm"
    #: A clear that found no alarm to clear.
    LONE_CLEAR = "lone_clear"
    #: A raise that belongs to no alarm (only possible for records stored before this model).
    LONE_RAISE = "lone_raise"


#: (an alarm is active for the condition, the event is active) -> effect, for events that
#: are the newest for their condition.
_IN_ORDER: Final[dict[tuple[bool, bool], EventEffect]] = {
    (False, True): EventEffect.RAISE,
    (True, True): EventEffect.REPEAT,
    (True, False): EventEffect.CLEAR,
    (False, False): EventEffect.NONE,
}
#: (the event is active, what the next newer record is) -> effect, for late events.
_LATE: Final[dict[tuple[bool, Newer], EventEffect]] = {
    (True, Newer.IN_ALARM): EventEffect.JOIN,
    (True, Newer.LONE_CLEAR): EventEffect.RAISE_CLEARED,
    (True, Newer.LONE_RAISE): EventEffect.NONE,
    (False, Newer.IN_ALARM): EventEffect.NONE,
    (False, Newer.LONE_CLEAR): EventEffect.NONE,
    (False, Newer.LONE_RAISE): EventEffect.NONE,
}


def event_effect(*, alarm_active: bool, event_active: bool, newer: Newer) -> EventEffect:
    if newer is Newer.NONE:
        return _IN_ORDER[(alarm_active, event_active)]
    return _LATE[(event_active, newer)]


def makes_alarm(event: EventType) -> bool:
    return event in ALARM_EVENTS


def severity_of(event: EventType) -> Priority:
    return EVENTS[event].priority


def kind_severity(kind: str) -> Priority | None:
    """Severity of any alarm kind, device event or community-raised; None if unknown."""
    if kind in COMMUNITY_KINDS:
        return COMMUNITY_KINDS[kind]
    try:
        return EVENTS[EventType(kind)].priority
    except ValueError:
        return None


def severity_rank(severity: Priority) -> int:
    return PRIORITY_RANK[severity]


class PersonAction(StrEnum):
    ACK = "ack"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class Rule:
    """Outcome of a person's action on an alarm in a given state."""

    #: The history action to record, or None when nothing changes.
    records: HistoryAction | None
    #: Why the action is refused; empty when it is allowed.
    refusal: str = ""


_PERSON_RULES: Final[dict[tuple[PersonAction, AlarmStatus, bool], Rule]] = {
    (PersonAction.ACK, AlarmStatus.ACTIVE, False): Rule(HistoryAction.ACKNOWLEDGED),
    (PersonAction.ACK, AlarmStatus.CLEARED, False): Rule(HistoryAction.ACKNOWLEDGED),
    (PersonAction.ACK, AlarmStatus.ACTIVE, True): Rule(None),
    (PersonAction.ACK, AlarmStatus.CLEARED, True): Rule(None),
    (PersonAction.CLEAR, AlarmStatus.ACTIVE, False): Rule(
        None, "an alarm must be acknowledged before it is cleared"
    ),
    (PersonAction.CLEAR, AlarmStatus.ACTIVE, True): Rule(HistoryAction.CLEARED),
    (PersonAction.CLEAR, AlarmStatus.CLEARED, False): Rule(None),
    (PersonAction.CLEAR, AlarmStatus.CLEARED, True): Rule(None),
}


class TransitionError(ValueError):
    """A person's action that the alarm's state does not allow; the message says why."""


def person_rule(action: PersonAction, status: AlarmStatus, acknowledged: bool) -> Rule:
    """The rule for ``action``; raises :class:`TransitionError` when it is refused."""
    rule = _PERSON_RULES[(action, status, acknowledged)]
    if rule.refusal:
        raise TransitionError(rule.refusal)
    return rule


class WorkAction(StrEnum):
    ASSIGN = "assign"
    START = "start"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class WorkRule:
    """Outcome of a work action in a given handling state."""

    #: The handling the alarm moves to, or None when nothing changes.
    to: Handling | None
    refusal: str = ""


_RESOLVED_REFUSAL: Final = "the alarm is already resolved"
_WORK_RULES: Final[dict[tuple[WorkAction, Handling], WorkRule]] = {
    (WorkAction.ASSIGN, Handling.NEW): WorkRule(Handling.ASSIGNED),
    (WorkAction.ASSIGN, Handling.ASSIGNED): WorkRule(Handling.ASSIGNED),
    # Handing over work in progress: the new assignee has not started yet.
    (WorkAction.ASSIGN, Handling.IN_PROGRESS): WorkRule(Handling.ASSIGNED),
    (WorkAction.ASSIGN, Handling.RESOLVED): WorkRule(None, _RESOLVED_REFUSAL),
    # Starting unassigned work takes it: the person who starts becomes the assignee.
    (WorkAction.START, Handling.NEW): WorkRule(Handling.IN_PROGRESS),
    (WorkAction.START, Handling.ASSIGNED): WorkRule(Handling.IN_PROGRESS),
    (WorkAction.START, Handling.IN_PROGRESS): WorkRule(None),
    (WorkAction.START, Handling.RESOLVED): WorkRule(None, _RESOLVED_REFUSAL),
    (WorkAction.RESOLVE, Handling.NEW): WorkRule(
        None, "work on the alarm must be started before it is resolved"
    ),
    (WorkAction.RESOLVE, Handling.ASSIGNED): WorkRule(
        None, "work on the alarm must be started before it is resolved"
    ),
    (WorkAction.RESOLVE, Handling.IN_PROGRESS): WorkRule(Handling.RESOLVED),
    (WorkAction.RESOLVE, Handling.RESOLVED): WorkRule(None),
}
#: The history row each work action records when it changes something.
WORK_RECORDS: Final[dict[WorkAction, HistoryAction]] = {
    WorkAction.ASSIGN: HistoryAction.ASSIGNED,
    WorkAction.START: HistoryAction.STARTED,
    WorkAction.RESOLVE: HistoryAction.RESOLVED,
}


def work_rule(action: WorkAction, handling: Handling) -> WorkRule:
    """The rule for ``action``; raises :class:`TransitionError` when it is refused."""
    rule = _WORK_RULES[(action, handling)]
    if rule.refusal:
        raise TransitionError(rule.refusal)
    return rule


#: Alarm fields as the API returns them, in a stable order.
ALARM_FIELDS: Final = (
    "id",
    "home_id",
    "building",
    "unit",
    "hub_id",
    "device_id",
    "device_name",
    "device_kind",
    "room",
    "kind",
    "severity",
    "status",
    "acknowledged",
    "count",
    "raised_at",
    "last_event_at",
    "acked_at",
    "acked_by",
    "cleared_at",
    "cleared_by",
    "event_ts",
    "key",
    "updated_at",
    "handling",
    "assignee",
    "assigned_at",
    "started_at",
    "resolved_at",
    "resolved_by",
    "resolution",
    "escalation_tier",
    "exercise",
)


def alarm_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored alarm row as the API, the live feed and the Python API show it."""
    view = {name: row.get(name) for name in ALARM_FIELDS}
    view["acknowledged"] = bool(view["acknowledged"])
    view["handling"] = view["handling"] or str(Handling.NEW)
    view["escalation_tier"] = int(view["escalation_tier"] or 0)
    view["exercise"] = bool(view["exercise"])
    # Fields of the raising event sealed for others (never readable here): who they are for.
    sealed = row.get("sealed") or "[]"
    view["sealed"] = json.loads(sealed) if isinstance(sealed, str) else sealed
    return view
