"""The emergency override is bounded: property tests over every category, purpose, recipient,
event and time show it unlocks only the four emergencies, only for responders, only the
minimum fields, only for a while, and that every use is audited. And no consent-based
decision is ever allowed without a matching, live, validly signed consent."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from devices.catalog import EventType
from privacy.audit import AuditAction, AuditLog
from privacy.consent import (
    CategoryGrant,
    CollectionMethod,
    ConsentPolicy,
    ConsentRecord,
    ConsentStatus,
    SignedConsent,
    category_grant,
    notice_hash,
)
from privacy.override import (
    MINIMUM_FIELDS,
    OVERRIDE_RULES,
    OVERRIDE_WINDOW,
    OverrideUse,
    check_override,
)
from privacy.vocabulary import (
    CATEGORY_FIELDS,
    EVENT_CATEGORY,
    RESPONDERS,
    SENSITIVE,
    Category,
    LegalBasis,
    Purpose,
    Recipient,
    RecipientRole,
)
from tests.privacy.support import (
    EMERGENCY_TEAM,
    FAST,
    HOME,
    HUB_KEY,
    OTHER_HUB_KEY,
    SUBJECT,
    THOROUGH,
    TRUSTED,
    at,
    fall_consent,
    signed,
)

EMERGENCIES = {"smoke_alarm", "gas_alarm", "fall_detected", "emergency_call"}
EVENTS = st.none() | st.sampled_from(sorted(EVENT_CATEGORY)) | st.text(max_size=12)
RECIPIENTS = st.builds(
    Recipient, st.sampled_from(list(RecipientRole)), st.sampled_from(["li", "desk", "team", "x"])
)
OFFSETS = st.floats(-180, 180, allow_nan=False)  # minutes around T0


def test_the_override_table_is_exactly_the_four_emergencies() -> None:
    assert set(OVERRIDE_RULES) == EMERGENCIES
    for rule in OVERRIDE_RULES.values():
        assert rule.category is EVENT_CATEGORY[rule.event_type]
        assert rule.fields == MINIMUM_FIELDS <= CATEGORY_FIELDS[rule.category]
        assert rule.window == OVERRIDE_WINDOW
    assert "name" not in MINIMUM_FIELDS and "confidence" not in MINIMUM_FIELDS


def test_event_names_follow_the_interop_catalog() -> None:
    assert set(EVENT_CATEGORY) == {str(e) for e in EventType}


@THOROUGH
@given(
    st.sampled_from(list(Category)),
    st.sampled_from(list(Purpose)),
    RECIPIENTS,
    EVENTS,
    OFFSETS,
    OFFSETS,
)
def test_without_consent_only_the_bounded_override_ever_allows(
    category: Category,
    purpose: Purpose,
    recipient: Recipient,
    event_type: str | None,
    now_min: float,
    event_min: float,
) -> None:
    policy = ConsentPolicy(HOME, SUBJECT, (), TRUSTED)
    decision = policy.decide(
        category, purpose, recipient, event_type, at(now_min), event_at=at(event_min)
    )
    if not decision.allowed:
        assert decision.basis is None and not decision.fields_allowed
        return
    use = decision.override
    assert use is not None and decision.basis is LegalBasis.VITAL_INTERESTS
    assert event_type in EMERGENCIES
    assert category is EVENT_CATEGORY[event_type]
    assert purpose is Purpose.EMERGENCY_RESPONSE
    assert recipient.role in RESPONDERS
    assert decision.fields_allowed == MINIMUM_FIELDS
    assert at(event_min) <= at(now_min) + timedelta(seconds=60)
    assert at(now_min) < at(event_min) + OVERRIDE_WINDOW == use.expires_at
    assert (use.category, use.recipient, use.event_type) == (category, recipient, event_type)


@FAST
@given(
    st.sampled_from(sorted(EMERGENCIES)),
    st.sampled_from([c for c in Category]),
    st.sampled_from([r for r in RecipientRole if r not in RESPONDERS]),
)
def test_the_override_never_reaches_family_or_care_or_another_category(
    event_type: str, category: Category, role: RecipientRole
) -> None:
    assert isinstance(
        check_override(
            category, Purpose.EMERGENCY_RESPONSE, Recipient(role, "x"), event_type, at(1), at(0)
        ),
        str,
    )
    responder = Recipient(RecipientRole.EMERGENCY_TEAM, "team")
    result = check_override(
        category, Purpose.EMERGENCY_RESPONSE, responder, event_type, at(1), at(0)
    )
    assert isinstance(result, OverrideUse) == (category is EVENT_CATEGORY[event_type])


def test_the_override_is_time_boxed() -> None:
    args = (Category.FALL_EVENTS, Purpose.EMERGENCY_RESPONSE, EMERGENCY_TEAM, "fall_detected")
    assert isinstance(check_override(*args, at(59.99), at(0)), OverrideUse)
    assert "ended at" in str(check_override(*args, at(60), at(0)))
    assert "future" in str(check_override(*args, at(0), at(2)))
    assert isinstance(check_override(*args, at(0), at(0.5)), OverrideUse)  # within clock skew


def test_every_override_use_is_audited_and_told_to_the_resident(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        policy = ConsentPolicy(HOME, SUBJECT, (), TRUSTED, audit=log)
        decision = policy.decide(
            Category.SAFETY_ALARMS,
            Purpose.EMERGENCY_RESPONSE,
            EMERGENCY_TEAM,
            "smoke_alarm",
            at(3),
            event_at=at(2),
            context_id="ctx-fire-1",
        )
        refused = policy.decide(
            Category.SAFETY_ALARMS, Purpose.EMERGENCY_RESPONSE, EMERGENCY_TEAM, "water_leak", at(3)
        )
        entries = log.entries()
        assert log.verify().ok
    assert decision.allowed and decision.override is not None and not refused.allowed
    assert "override covers only" in refused.reason
    assert len(entries) == 1
    entry = entries[0]
    assert entry.action == AuditAction.OVERRIDE and entry.legal_basis == "vital_interests"
    assert entry.actor == "emergency_team:team" and entry.context_id == "ctx-fire-1"
    assert entry.record_ids == (decision.override.use_id,)
    text = decision.override.describe()
    assert "smoke_alarm shared with emergency_team:team" in text and "valid until" in text


def test_a_withdrawn_family_consent_still_lets_fire_reach_responders() -> None:
    grant = fall_consent()
    policy = ConsentPolicy(HOME, SUBJECT, [signed(grant), signed(grant.withdraw(at(1)))], TRUSTED)
    assert not policy.decide(
        Category.FALL_EVENTS,
        Purpose.FAMILY_NOTIFICATION,
        grant.recipients[0],
        "fall_detected",
        at(2),
    ).allowed
    to_responders = policy.decide(
        Category.FALL_EVENTS, Purpose.EMERGENCY_RESPONSE, EMERGENCY_TEAM, "fall_detected", at(2)
    )
    assert to_responders.allowed and to_responders.basis is LegalBasis.VITAL_INTERESTS


# -- consent-based decisions need a matching, live, validly signed consent --------------------


@dataclass(frozen=True)
class Draft:
    """A consent as hypothesis draws it, plus how it is mangled before the policy sees it."""

    record: ConsentRecord
    forged: bool
    foreign_key: bool


@st.composite
def drafts(draw: st.DrawFn) -> Draft:
    category = draw(st.sampled_from(list(Category)))
    grants: tuple[CategoryGrant, ...]
    if category in SENSITIVE:
        grants = (category_grant(category, draw(_fields(category)), 30),)
        basis = LegalBasis.CONSENT
    else:
        others = draw(st.sets(st.sampled_from([c for c in Category if c not in SENSITIVE])))
        grants = tuple(category_grant(c, draw(_fields(c)), 30) for c in {category, *others})
        basis = draw(
            st.sampled_from([LegalBasis.CONSENT, LegalBasis.CONTRACT, LegalBasis.LEGAL_OBLIGATION])
        )
    start = draw(st.integers(-120, 120))
    length = draw(st.integers(1, 240))
    withdrawn = draw(st.none() | st.integers(0, 60))
    record = ConsentRecord(
        consent_id=f"c-{draw(st.integers(0, 5))}",
        revision=draw(st.integers(0, 3)),
        subject=SUBJECT,
        home=HOME,
        purpose=draw(st.sampled_from(list(Purpose))),
        legal_basis=basis,
        categories=grants,
        recipients=tuple(draw(st.sets(RECIPIENTS, min_size=1, max_size=3))),
        granted_at=at(start),
        expires_at=at(start + length),
        collection_method=CollectionMethod.HUB_UI,
        notice_version="v1",
        notice_hash=notice_hash("notice"),
        status=ConsentStatus.GRANTED if withdrawn is None else ConsentStatus.WITHDRAWN,
        withdrawn_at=None if withdrawn is None else at(start + withdrawn),
    )
    return Draft(record, forged=draw(st.booleans()), foreign_key=draw(st.booleans()))


def _fields(category: Category) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(sorted(CATEGORY_FIELDS[category])), min_size=1, unique=True)


def _present(draft: Draft) -> SignedConsent:
    sc = signed(draft.record, OTHER_HUB_KEY if draft.foreign_key else HUB_KEY)
    if draft.forged:  # an edit after signing: widen it to everyone in every role
        wider = tuple(Recipient(role, "x") for role in RecipientRole)
        return SignedConsent(replace(draft.record, recipients=wider), sc.signer, sc.signature)
    return sc


@THOROUGH
@given(
    st.lists(drafts(), max_size=5),
    st.sampled_from(list(Category)),
    st.sampled_from(list(Purpose)),
    RECIPIENTS,
    st.integers(-180, 400),
)
def test_no_consent_decision_without_a_matching_live_validly_signed_consent(
    consents: list[Draft],
    category: Category,
    purpose: Purpose,
    recipient: Recipient,
    now_min: int,
) -> None:
    policy = ConsentPolicy(HOME, SUBJECT, [_present(d) for d in consents], TRUSTED)
    decision = policy.decide(category, purpose, recipient, None, at(now_min))
    now = at(now_min)
    genuine = [d.record for d in consents if not d.forged and not d.foreign_key]
    withdrawn_ids = {r.consent_id for r in genuine if r.status is ConsentStatus.WITHDRAWN}
    latest: dict[str, ConsentRecord] = {}
    for r in genuine:
        if r.consent_id not in latest or r.revision > latest[r.consent_id].revision:
            latest[r.consent_id] = r
    live = [
        r
        for r in latest.values()
        if r.consent_id not in withdrawn_ids
        and r.purpose is purpose
        and recipient in r.recipients
        and r.grant_for(category) is not None
        and r.granted_at <= now < r.expires_at
    ]
    assert decision.allowed == bool(live)
    if decision.allowed:
        match = next(r for r in live if r.consent_id == decision.consent_id)
        grant = match.grant_for(category)
        assert grant is not None and decision.fields_allowed == set(grant.fields)
        assert decision.basis is match.legal_basis is not LegalBasis.VITAL_INTERESTS
