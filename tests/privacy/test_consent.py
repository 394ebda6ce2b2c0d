"""Consent records: what makes one valid, signatures that catch forgery and edits, withdrawal
that takes effect at once and for good, expiry, and a deny-by-default policy."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from privacy.consent import (
    ConsentError,
    ConsentPolicy,
    ConsentStatus,
    SignedConsent,
    category_grant,
    verify_consent,
)
from privacy.encoding import loads_strict
from privacy.vocabulary import Category, LegalBasis, Purpose
from tests.privacy.support import (
    CARE,
    DUTY,
    FAMILY_LI,
    FAST,
    HOME,
    OTHER_HUB_KEY,
    SUBJECT,
    T0,
    TRUSTED,
    at,
    fall_consent,
    signed,
)


def _policy(*records: SignedConsent) -> ConsentPolicy:
    return ConsentPolicy(HOME, SUBJECT, records, TRUSTED)


def _fall_to_li(policy: ConsentPolicy, minutes: float) -> bool:
    decision = policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "fall_detected", at(minutes)
    )
    return decision.allowed


def test_a_valid_consent_allows_exactly_what_it_says() -> None:
    policy = _policy(signed(fall_consent()))
    decision = policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "fall_detected", at(5)
    )
    assert decision.allowed and decision.basis is LegalBasis.CONSENT
    assert decision.fields_allowed == {"event", "ts", "room"}
    assert decision.consent_id == "c-fall-li" and decision.override is None
    # Another recipient, purpose, category or event: denied by default.
    assert not policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, CARE, "fall_detected", at(5)
    ).allowed
    assert not policy.decide(
        Category.FALL_EVENTS, Purpose.CARE_SERVICE, FAMILY_LI, "fall_detected", at(5)
    ).allowed
    assert not policy.decide(
        Category.PRESENCE, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, None, at(5)
    ).allowed
    mislabelled = policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "smoke_alarm", at(5)
    )
    assert not mislabelled.allowed and "not in category" in mislabelled.reason


def test_no_consent_means_no_and_says_why() -> None:
    decision = _policy().decide(
        Category.DEVICE_HEALTH, Purpose.SAFETY_MONITORING, DUTY, "battery_low", at(1)
    )
    assert not decision.allowed and decision.basis is None and not decision.fields_allowed
    assert "no consent shares device_health with property_duty:desk" in decision.reason


def test_expiry_and_start_are_respected() -> None:
    record = fall_consent(expires_at=at(60))
    policy = _policy(signed(record))
    assert not _fall_to_li(policy, -0.001)
    assert _fall_to_li(policy, 0)
    assert _fall_to_li(policy, 59.99)
    decision = policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "fall_detected", at(60)
    )
    assert not decision.allowed and "expired at 2026-11-21T20:30:00.000Z" in decision.reason


def test_withdrawal_takes_effect_on_the_very_next_decision_and_for_good() -> None:
    grant = fall_consent()
    assert _fall_to_li(_policy(signed(grant)), 10)
    withdrawal = grant.withdraw(at(10))
    policy = _policy(signed(grant), signed(withdrawal))
    for minutes in (9, 10, 10.001, 60 * 24):  # even for messages stamped before withdrawal
        assert not _fall_to_li(policy, minutes)
    # A replayed old grant, in any order, cannot undo it; nor can a later "re-grant" revision.
    regrant = replace(withdrawal, revision=5, status=ConsentStatus.GRANTED, withdrawn_at=None)
    for order in ((withdrawal, grant), (grant, withdrawal, regrant), (regrant, withdrawal)):
        replayed = _policy(*(signed(r) for r in order))
        assert not _fall_to_li(replayed, 20)
    reason = policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "fall_detected", at(11)
    ).reason
    assert "withdrawn at 2026-11-21T19:40:00.000Z" in reason


def test_sensitive_categories_need_their_own_separate_consent() -> None:
    bundled = (
        category_grant(Category.FALL_EVENTS, ["event"], 30),
        category_grant(Category.SAFETY_ALARMS, ["event"], 30),
    )
    with pytest.raises(ConsentError, match="fall_events needs its own separate consent"):
        fall_consent(categories=bundled)
    with pytest.raises(ConsentError, match="must be marked sensitive=True"):
        fall_consent(
            categories=(replace(category_grant(Category.PRESENCE, ["ts"], 1), sensitive=False),)
        )
    with pytest.raises(ConsentError, match="needs the basis 'consent'"):
        fall_consent(legal_basis=LegalBasis.CONTRACT)
    # Non-sensitive categories may share a record, on other bases too.
    fall_consent(
        categories=(
            category_grant(Category.SAFETY_ALARMS, ["event", "room"], 90),
            category_grant(Category.DEVICE_HEALTH, ["event"], 90),
        ),
        legal_basis=LegalBasis.CONTRACT,
        purpose=Purpose.SAFETY_MONITORING,
        recipients=(DUTY,),
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"legal_basis": LegalBasis.VITAL_INTERESTS}, "override's basis"),
        ({"expires_at": T0}, "expires_at must be after"),
        ({"recipients": ()}, "at least one recipient"),
        ({"categories": ()}, "at least one data category"),
        ({"categories": (category_grant(Category.FALL_EVENTS, ["plate"], 30),)}, "subset"),
        ({"categories": (category_grant(Category.FALL_EVENTS, ["event"], 0),)}, "retention"),
        ({"status": ConsentStatus.WITHDRAWN}, "withdrawn_at is set exactly"),
        ({"withdrawn_at": at(-5), "status": ConsentStatus.WITHDRAWN}, "before granted_at"),
        ({"notice_hash": "abc"}, "notice_hash"),
        ({"subject": "has space"}, "subject is not a valid id"),
        ({"revision": -1}, "revision"),
        ({"purpose": "marketing"}, "malformed"),
    ],
)
def test_invalid_records_cannot_be_made(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConsentError, match=message):
        fall_consent(**changes)


def test_records_round_trip_through_their_canonical_json() -> None:
    record = fall_consent()
    sc = signed(record)
    again = SignedConsent.from_dict(loads_strict(sc.to_json()))
    assert again == sc and verify_consent(again, TRUSTED) == record
    doc = json.loads(sc.to_json())
    assert doc["record"]["notice"]["sha256"] == record.notice_hash
    assert doc["record"]["categories"][0]["sensitive"] is True


def _json_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _json_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _json_paths(v, (*path, i))]
    return [path]


SIGNED_DOC = json.loads(signed(fall_consent(recipients=(FAMILY_LI, CARE))).to_json())
LEAVES = [p for p in _json_paths(SIGNED_DOC["record"]) if p != ("v",)]
ALTERNATIVES: dict[str, Any] = {
    "revision": 7,
    "subject": "res-other",
    "home": "home-0202",
    "purpose": "care_service",
    "legal_basis": "contract",
    "granted_at": "2026-11-20T00:00:00.000Z",
    "expires_at": "2036-11-21T19:30:00.000Z",
    "collection_method": "api",
    "status": "withdrawn",
    "withdrawn_at": "2026-11-22T00:00:00.000Z",
    "consent_id": "c-forged",
    "version": "2027-01",
    "sha256": "f" * 64,
    "sensitive": False,
    "retention_days": 3650,
    "category": "presence",
}


@FAST
@given(st.sampled_from(LEAVES), st.data())
def test_any_edited_field_of_a_signed_record_is_rejected(
    path: tuple[Any, ...], data: st.DataObject
) -> None:
    doc = json.loads(json.dumps(SIGNED_DOC))
    parent = doc["record"]
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    candidates = [ALTERNATIVES.get(key, "x")] if not isinstance(key, int) else []
    if parent is doc["record"]["recipients"]:
        candidates = ["family:wang", "emergency_team:team"]
    if isinstance(key, int) and "fields" in path:
        candidates = ["confidence", "name"]
    value = data.draw(st.sampled_from(candidates or ["x"]))
    if parent[key] == value:
        return
    parent[key] = value
    try:
        forged = SignedConsent.from_dict(doc)
    except ConsentError:
        return  # not even a valid record: refused at the door
    with pytest.raises(ConsentError, match="invalid signature"):
        verify_consent(forged, TRUSTED)
    policy = _policy(forged)
    assert policy.rejected and not policy.current()


def test_records_from_an_untrusted_key_or_another_home_allow_nothing() -> None:
    foreign = signed(fall_consent(), OTHER_HUB_KEY)
    other_home = signed(fall_consent(home="home-0202"))
    policy = _policy(foreign, other_home)
    assert not _fall_to_li(policy, 5)
    reasons = sorted(r.reason for r in policy.rejected)
    assert any("unknown key" in r for r in reasons)
    assert any("another home" in r for r in reasons)


def test_a_resigned_edit_by_an_untrusted_hub_is_still_rejected() -> None:
    edited = replace(fall_consent(), recipients=(FAMILY_LI, CARE))
    assert (
        not _policy(signed(edited, OTHER_HUB_KEY))
        .decide(Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, CARE, "fall_detected", at(1))
        .allowed
    )


def test_records_must_be_in_canonical_form() -> None:
    doc = json.loads(signed(fall_consent()).to_json())
    doc["record"]["granted_at"] = "2026-11-21T19:30:00Z"
    with pytest.raises(ConsentError):
        SignedConsent.from_dict(doc)
    doc = json.loads(signed(fall_consent(recipients=(FAMILY_LI, CARE))).to_json())
    doc["record"]["recipients"].reverse()
    with pytest.raises(ConsentError, match="canonical"):
        SignedConsent.from_dict(doc)


def test_naive_or_unknown_inputs_are_denied_not_crashed() -> None:
    policy = _policy(signed(fall_consent()))
    assert not policy.decide("nope", Purpose.FAMILY_NOTIFICATION, FAMILY_LI, None, at(1)).allowed
    naive = at(1).replace(tzinfo=None)
    assert not policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "fall_detected", naive
    ).allowed
    assert not policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "not_an_event", at(1)
    ).allowed
    assert "consents=1" in repr(policy)


def test_longest_field_list_wins_when_two_consents_match() -> None:
    narrow = fall_consent(consent_id="c-a")
    wide = fall_consent(
        consent_id="c-b",
        categories=(
            category_grant(Category.FALL_EVENTS, ["event", "ts", "room", "confidence"], 30),
        ),
        expires_at=T0 + timedelta(days=1),
    )
    decision = _policy(signed(narrow), signed(wide)).decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "fall_detected", at(1)
    )
    assert decision.consent_id == "c-b" and "confidence" in decision.fields_allowed


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@FAST
@given(st.sampled_from([*LEAVES, ("categories",), ("recipients",), ("notice",)]), JSON_VALUES)
def test_any_json_in_any_field_only_ever_raises_consent_error(
    path: tuple[Any, ...], value: Any
) -> None:
    doc = json.loads(json.dumps(SIGNED_DOC))
    parent = doc["record"]
    for key in path[:-1]:
        parent = parent[key]
    # Writing a field's own value back is no change at all (withdrawn_at is already None).
    assume(json.dumps(parent[path[-1]]) != json.dumps(value))
    parent[path[-1]] = value
    with pytest.raises(ConsentError):
        verify_consent(SignedConsent.from_dict(doc), TRUSTED)
