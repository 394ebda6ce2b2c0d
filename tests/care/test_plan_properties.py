"""The care check's policy, probed over check times, grace periods, opt-in times and signs of
life: nobody is asked before the check time or after a sign of life that day; with no sign of
life the tiers come exactly one grace period apart."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.care import CareSettings, OpenCheck, Step, Tier, check_moment, plan, to_ms
from tests.care.conftest import CHINA

DAY = datetime(2026, 11, 21, tzinfo=CHINA)
minutes = st.integers(min_value=0, max_value=24 * 60 - 1)
graces = st.integers(min_value=1, max_value=360).map(lambda m: m * 60)


def at(minute: int) -> datetime:
    return DAY + timedelta(minutes=minute)


def care(check: int, ask: int, family: int, since: int | None = None) -> CareSettings:
    return CareSettings(
        enabled=True,
        check_time=f"{check // 60:02d}:{check % 60:02d}",
        ask_grace_s=ask,
        family_grace_s=family,
        family="family:li",
        since_ms=to_ms(DAY - timedelta(days=1)) if since is None else to_ms(at(since)),
    )


@settings(max_examples=300, deadline=None)
@given(check=minutes, ask=graces, family=graces, now=minutes, activity=st.none() | minutes)
def test_asks_only_after_the_check_time_and_only_without_a_sign_of_life(
    check: int, ask: int, family: int, now: int, activity: int | None
) -> None:
    chosen = care(check, ask, family)
    seen = None if activity is None or activity > now else to_ms(at(activity))
    step = plan(chosen, None, False, seen, at(now))
    if now < check:
        assert step is Step.WAIT
    elif seen is not None:
        assert step is Step.SKIP
    else:
        assert step is Step.ASK
    assert check_moment(chosen, at(now)) == at(check)


@settings(max_examples=200, deadline=None)
@given(check=minutes, ask=graces, family=graces, since=minutes, activity=st.none() | minutes)
def test_a_day_without_signs_of_life_escalates_one_grace_apart(
    check: int, ask: int, family: int, since: int, activity: int | None
) -> None:
    """Walk the day minute by minute as the hub's timer would."""
    chosen = care(check, ask, family, since)
    open_check: OpenCheck | None = None
    checked = False
    seen = None if activity is None else to_ms(at(activity))
    happened: dict[Step, int] = {}
    minute = 0
    while minute < 3 * 24 * 60:
        now = DAY + timedelta(minutes=minute)
        if now.date() != DAY.date():
            break
        step = plan(chosen, open_check, checked, seen if (activity or 0) <= minute else None, now)
        if step is Step.SKIP:
            checked = True
        elif step is Step.ASK:
            checked = True
            open_check = OpenCheck(Tier.ASKED, to_ms(now))
        elif step is Step.FAMILY:
            assert open_check is not None
            open_check = OpenCheck(Tier.FAMILY, open_check.asked_ms, to_ms(now))
        elif step is Step.DUTY_STAFF:
            open_check = None  # the top tier: the rest is the community's
        if step is not Step.WAIT:
            assert step not in happened
            happened[step] = minute
        minute += 1
    if since > check:
        assert happened == {}  # opted in after today's check time: tomorrow
        return
    window_start = since
    if activity is not None and window_start <= activity <= check:
        assert happened == {Step.SKIP: check}
        return
    assert happened[Step.ASK] == check
    family_at = check + ask // 60
    if family_at < 24 * 60:
        assert happened[Step.FAMILY] == family_at
    staff_at = family_at + family // 60
    if staff_at < 24 * 60:
        assert happened[Step.DUTY_STAFF] == staff_at
