"""The consent ledger keeps signed revisions in a hash chain: it admits only genuine records
that move a consent forward, and a broken chain fails closed (the override still works)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from privacy.consent import ConsentError
from privacy.consent_ledger import ConsentLedger
from privacy.vocabulary import Category, Purpose
from tests.privacy.support import (
    EMERGENCY_TEAM,
    FAMILY_LI,
    HOME,
    OTHER_HUB_KEY,
    SUBJECT,
    TRUSTED,
    at,
    fall_consent,
    signed,
)


def _shares_falls(ledger: ConsentLedger, minutes: float) -> bool:
    policy = ledger.policy(HOME, SUBJECT)
    return policy.decide(
        Category.FALL_EVENTS, Purpose.FAMILY_NOTIFICATION, FAMILY_LI, "fall_detected", at(minutes)
    ).allowed


def test_grant_then_withdraw_through_the_ledger(tmp_path: Path) -> None:
    grant = fall_consent()
    with ConsentLedger(tmp_path / "consent.db", TRUSTED) as ledger:
        assert ledger.append(signed(grant)) == 1
        assert _shares_falls(ledger, 5)
        assert ledger.append(signed(grant.withdraw(at(6)))) == 2  # one step, like granting
        assert not _shares_falls(ledger, 6.001)
        assert ledger.verify().ok and ledger.verify().entries == 2
        assert [s.record.revision for s in ledger.signed_records(HOME, SUBJECT)] == [0, 1]
    with ConsentLedger(tmp_path / "consent.db", TRUSTED) as reopened:
        assert not _shares_falls(reopened, 7)


def test_forged_replayed_or_post_withdrawal_records_are_refused_and_not_stored(
    tmp_path: Path,
) -> None:
    grant = fall_consent()
    with ConsentLedger(tmp_path / "consent.db", TRUSTED) as ledger:
        with pytest.raises(ConsentError, match="unknown key"):
            ledger.append(signed(grant, OTHER_HUB_KEY))
        ledger.append(signed(grant))
        with pytest.raises(ConsentError, match="replay"):
            ledger.append(signed(grant))
        with pytest.raises(ConsentError, match="cannot change home"):
            ledger.append(signed(fall_consent(revision=1, subject="res-other")))
        ledger.append(signed(grant.withdraw(at(1))))
        with pytest.raises(ConsentError, match="withdrawn; grant a new one"):
            ledger.append(signed(fall_consent(revision=9)))
        assert ledger.verify().entries == 2


def test_a_tampered_ledger_shares_nothing_but_emergencies_still_flow(tmp_path: Path) -> None:
    db = tmp_path / "consent.db"
    with ConsentLedger(db, TRUSTED) as ledger:
        ledger.append(signed(fall_consent()))
        ledger.append(signed(fall_consent(consent_id="c-2")))
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER consent_ledger_no_update")
    conn.execute("UPDATE consent_ledger SET subject = 'res-other' WHERE seq = 2")
    conn.commit()
    conn.close()
    with ConsentLedger(db, TRUSTED) as ledger:
        result = ledger.verify()
        assert (result.ok, result.first_bad_seq) == (False, 2)
        policy = ledger.policy(HOME, SUBJECT)
        assert "consent ledger is broken" in policy.rejected[0].reason
        assert not _shares_falls(ledger, 5)
        assert policy.decide(
            Category.FALL_EVENTS, Purpose.EMERGENCY_RESPONSE, EMERGENCY_TEAM, "fall_detected", at(5)
        ).allowed


def test_the_ledger_table_is_append_only(tmp_path: Path) -> None:
    db = tmp_path / "consent.db"
    with ConsentLedger(db, TRUSTED) as ledger:
        ledger.append(signed(fall_consent()))
    conn = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM consent_ledger")
    finally:
        conn.close()
