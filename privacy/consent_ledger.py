"""The consent ledger: every signed consent revision, in a hash chain, in SQLite.

Consent is evidence: a resident, an operator or a regulator may ask what was agreed, when,
and when it was withdrawn. So revisions are never updated in place; a withdrawal is a new
entry. The chain (``privacy.chain``) makes a removed or edited entry visible, and each entry
is also individually signed (``privacy.consent``), so an entry that was never granted cannot
be slipped in without the hub's key.

``append`` admits only records that verify against the trusted keys and that move a consent
forward (a higher revision, nothing after a withdrawal): a forged or replayed record is
refused and nothing is stored. A ledger whose chain is broken still yields a policy, but one
with no consents: it fails closed for sharing, and the emergency override keeps working.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from privacy.audit import MAX_FIELD, AuditAction, AuditLog
from privacy.chain import GENESIS, Link, VerifyResult, link_hash, verify_links
from privacy.consent import (
    ConsentError,
    ConsentPolicy,
    ConsentRecord,
    ConsentStatus,
    Rejection,
    SignedConsent,
    verify_consent,
)
from privacy.encoding import EncodingError, loads_strict

_DOMAIN: Final = b"courtyard-consent-chain-v1\x00"
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS consent_ledger (
    seq INTEGER PRIMARY KEY,
    consent_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    home TEXT NOT NULL,
    subject TEXT NOT NULL,
    signed TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (consent_id, revision)
);
CREATE INDEX IF NOT EXISTS consent_ledger_subject ON consent_ledger (home, subject);
CREATE TRIGGER IF NOT EXISTS consent_ledger_no_update BEFORE UPDATE ON consent_ledger
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS consent_ledger_no_delete BEFORE DELETE ON consent_ledger
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
"""


class ConsentLedger:
    """Signed consent revisions of one hub (or community), chained, append-only."""

    def __init__(self, path: Path | str, trusted: Mapping[str, Ed25519PublicKey]) -> None:
        self._path = str(path)
        self._trusted = dict(trusted)
        self._db = sqlite3.connect(self._path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"ConsentLedger({self._path!r})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ConsentLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, signed: SignedConsent) -> int:
        """Store a verified revision and return its seq; ConsentError stores nothing."""
        record = verify_consent(signed, self._trusted)
        signed_json = signed.to_json().decode("utf-8")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._check_moves_forward(signed)
            row = self._db.execute(
                "SELECT seq, hash FROM consent_ledger ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev = (0, GENESIS) if row is None else (int(row[0]), str(row[1]))
            body = _body(seq + 1, signed_json, prev)
            self._db.execute(
                "INSERT INTO consent_ledger (seq, consent_id, revision, home, subject, signed,"
                " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq + 1,
                    record.consent_id,
                    record.revision,
                    record.home,
                    record.subject,
                    signed_json,
                    prev,
                    link_hash(_DOMAIN, body),
                ),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return seq + 1

    def _check_moves_forward(self, signed: SignedConsent) -> None:
        record = signed.record
        rows = self._db.execute(
            "SELECT revision, signed FROM consent_ledger WHERE consent_id = ?",
            (record.consent_id,),
        ).fetchall()
        for revision, stored in rows:
            previous = SignedConsent.from_dict(loads_strict(stored)).record
            if previous.status is ConsentStatus.WITHDRAWN:
                raise ConsentError(f"consent {record.consent_id} was withdrawn; grant a new one")
            if revision >= record.revision:
                raise ConsentError(
                    f"consent {record.consent_id} already has revision {revision}; "
                    f"refusing revision {record.revision} (replay or conflict)"
                )
            if (previous.home, previous.subject) != (record.home, record.subject):
                raise ConsentError(f"consent {record.consent_id} cannot change home or subject")

    def verify(self) -> VerifyResult:
        """Walk the chain; also catch index columns that disagree with the signed record."""
        return verify_links(_DOMAIN, (self._link(row) for row in self._rows()))

    def _rows(self) -> list[tuple[Any, ...]]:
        return self._db.execute(
            "SELECT seq, consent_id, revision, home, subject, signed, prev_hash, hash "
            "FROM consent_ledger ORDER BY seq"
        ).fetchall()

    @staticmethod
    def _link(row: tuple[Any, ...]) -> Link:
        seq, consent_id, revision, home, subject, signed_json, prev, stored_hash = row
        body = _body(seq, signed_json, prev)
        try:
            record = SignedConsent.from_dict(loads_strict(signed_json)).record
            index_ok = (record.consent_id, record.revision, record.home, record.subject) == (
                consent_id,
                revision,
                home,
                subject,
            )
        except (ConsentError, EncodingError, TypeError):
            index_ok = False
        return Link(seq, body, stored_hash if index_ok else "(index columns disagree with record)")

    def signed_records(self, home: str, subject: str) -> list[SignedConsent]:
        """Every revision stored for one subject of one home, in ledger order."""
        rows = self._db.execute(
            "SELECT signed FROM consent_ledger WHERE home = ? AND subject = ? ORDER BY seq",
            (home, subject),
        ).fetchall()
        out: list[SignedConsent] = []
        for (stored,) in rows:
            try:
                out.append(SignedConsent.from_dict(loads_strict(stored)))
            except (ConsentError, EncodingError):
                continue  # an unreadable row can only deny; verify() reports where it is
        return out

    def policy(self, home: str, subject: str, *, audit: AuditLog | None = None) -> ConsentPolicy:
        """The subject's policy; with a broken chain, a policy that shares nothing by consent."""
        result = self.verify()
        if not result.ok:
            policy = ConsentPolicy(home, subject, (), self._trusted, audit=audit)
            policy.rejected.append(
                Rejection("*", -1, f"consent ledger is broken: {result.describe()}")
            )
            return policy
        return ConsentPolicy(
            home, subject, self.signed_records(home, subject), self._trusted, audit=audit
        )


def _body(seq: int, signed_json: str, prev: str) -> dict[str, Any]:
    """The hashed body: the exact signed JSON text, chained to its predecessor."""
    return {"seq": seq, "signed": signed_json, "prev_hash": prev}


def audit_consent(audit: AuditLog, record: ConsentRecord, action: AuditAction, detail: str) -> None:
    """Audit a grant, withdrawal or refusal of one consent record, as hub and community both
    must: the resident is the actor, the record's purpose and basis are the entry's."""
    audit.append(
        actor=record.subject,
        role="resident",
        purpose=str(record.purpose),
        legal_basis=str(record.legal_basis),
        action=action,
        record_ids=[f"{record.consent_id}#{record.revision}"],
        detail=detail[:MAX_FIELD],
    )
