"""The alarm model's tables: complete, taken from the catalog, refusing only what they must."""

from __future__ import annotations

import pytest

from community.alarms import (
    ALARM_EVENTS,
    AlarmStatus,
    EventEffect,
    HistoryAction,
    Newer,
    PersonAction,
    TransitionError,
    event_effect,
    person_rule,
    severity_of,
)
from devices.catalog import EVENTS, is_alarm


def test_alarm_events_and_severities_come_from_the_catalog() -> None:
    assert {e for e in EVENTS if EVENTS[e].stateful} == ALARM_EVENTS
    assert all(is_alarm(e) for e in ALARM_EVENTS)
    assert all(severity_of(e) == EVENTS[e].priority for e in ALARM_EVENTS)


def test_device_events_in_order() -> None:
    def effect(alarm_active: bool, event_active: bool) -> EventEffect:
        return event_effect(alarm_active=alarm_active, event_active=event_active, newer=Newer.NONE)

    assert effect(False, True) is EventEffect.RAISE
    assert effect(True, True) is EventEffect.REPEAT
    assert effect(True, False) is EventEffect.CLEAR
    assert effect(False, False) is EventEffect.NONE


def test_late_events_join_their_alarm_and_never_close_anything() -> None:
    for alarm_active in (True, False):

        def effect(event_active: bool, newer: Newer, active: bool = alarm_active) -> EventEffect:
            return event_effect(alarm_active=active, event_active=event_active, newer=newer)

        assert effect(True, Newer.IN_ALARM) is EventEffect.JOIN
        assert effect(True, Newer.LONE_CLEAR) is EventEffect.RAISE_CLEARED
        assert effect(True, Newer.LONE_RAISE) is EventEffect.NONE
        for newer in (Newer.IN_ALARM, Newer.LONE_CLEAR, Newer.LONE_RAISE):
            assert effect(False, newer) is EventEffect.NONE


@pytest.mark.parametrize(
    ("action", "status", "acknowledged", "records"),
    [
        (PersonAction.ACK, AlarmStatus.ACTIVE, False, HistoryAction.ACKNOWLEDGED),
        (PersonAction.ACK, AlarmStatus.CLEARED, False, HistoryAction.ACKNOWLEDGED),
        (PersonAction.ACK, AlarmStatus.ACTIVE, True, None),
        (PersonAction.ACK, AlarmStatus.CLEARED, True, None),
        (PersonAction.CLEAR, AlarmStatus.ACTIVE, True, HistoryAction.CLEARED),
        (PersonAction.CLEAR, AlarmStatus.CLEARED, True, None),
        (PersonAction.CLEAR, AlarmStatus.CLEARED, False, None),
    ],
)
def test_person_actions(
    action: PersonAction,
    status: AlarmStatus,
    acknowledged: bool,
    records: HistoryAction | None,
) -> None:
    assert person_rule(action, status, acknowledged).records is records


def test_clearing_an_unacknowledged_active_alarm_is_refused() -> None:
    with pytest.raises(TransitionError, match="acknowledged before"):
        person_rule(PersonAction.CLEAR, AlarmStatus.ACTIVE, False)
