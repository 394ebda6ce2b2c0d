"""The community's own consent check at ingest: the second of the two places consent is enforced.

A hub already withholds what its residents did not consent to share. The community checks
again, because it must be able to show that it holds nothing it was not allowed to receive,
whatever a hub (faulty, old or compromised) sends. It holds the consents of each home it was
shown (each signed by the resident's own key, kept in its own hash-chained ledger) and, for
every device report, asks:

* is there a live consent sharing this data category with the property duty staff, and does
  the record carry no field beyond what that consent names? Then it may be stored;
* otherwise, is it one of the four emergencies the bounded override covers, carrying only the
  minimum fields (no resident-chosen device name, no readings)? Then it may be stored, and the
  override use is audited;
* otherwise it is refused: counted, audited in the community's audit log, never stored.

Mode ``open`` (the default, for communities configured before consent existed) checks nothing.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from devices.messages import Event, State
from devices.uplink import RecordKind, UplinkRecord
from privacy.audit import MAX_FIELD, AuditAction, AuditLog
from privacy.consent import ConsentPolicy, ConsentStatus, SignedConsent
from privacy.consent_ledger import ConsentLedger, audit_consent
from privacy.keys import key_id
from privacy.override import MINIMUM_FIELDS, OVERRIDE_RULES
from privacy.vocabulary import EVENT_CATEGORY, Category, Purpose, Recipient, RecipientRole

#: The community's readers of what hubs uplink.
DUTY: Final = Recipient(RecipientRole.PROPERTY_DUTY, "duty")
_RESIDENTS: Final = """
CREATE TABLE IF NOT EXISTS consent_residents (
    home TEXT NOT NULL,
    subject TEXT NOT NULL,
    public_key TEXT NOT NULL,
    PRIMARY KEY (home, subject)
)
"""


class CheckMode(StrEnum):
    ENFORCE = "enforce"
    OPEN = "open"


def category_of(record: UplinkRecord) -> Category | None:
    """The data category of a device report (as the hub classifies it)."""
    if isinstance(record.message, Event):
        return EVENT_CATEGORY.get(str(record.message.event))
    if isinstance(record.message, State):
        return Category.DEVICE_HEALTH
    return None


def carried_fields(record: UplinkRecord) -> frozenset[str]:
    """The consent vocabulary's names for what this record discloses.

    A device name equal to the device kind is the hub's stand-in for a withheld name. Fields
    in the record's ``sealed`` slot are not counted: they are encrypted for someone else (a
    consent shared them with that recipient, not with us), and the community cannot read them.
    """
    out = {"ts", "device_id", "kind", "room"}
    if record.device is not None and record.device.name != str(record.device.kind):
        out.add("name")
    if isinstance(record.message, Event):
        out |= {"event", "active", *record.message.data}
    return frozenset(out)


@dataclass(slots=True)
class _Opened:
    db: sqlite3.Connection
    audit: AuditLog
    ledger: ConsentLedger
    trusted: dict[str, Ed25519PublicKey]


class ConsentCheck:
    """Consents shown to the community, the ingest decision, and the community audit log."""

    def __init__(
        self, data_dir: Path, *, mode: CheckMode | str, home_of: Callable[[str], str | None]
    ) -> None:
        self.mode = CheckMode(mode)
        self._home_of = home_of
        self._data_dir = data_dir
        self._ledger_path = data_dir / "consent.db"
        self._opened: _Opened | None = None
        self._policies: dict[tuple[str, str], ConsentPolicy] = {}
        self.refused: Counter[str] = Counter()
        self.overrides = 0

    def _open(self) -> _Opened:
        """Open the files on first use: every use must come from the community's single
        writer thread (SQLite connections belong to the thread that opened them)."""
        if self._opened is None:
            db = sqlite3.connect(str(self._ledger_path), isolation_level=None)
            db.execute(_RESIDENTS)
            trusted = {
                key_id(key): key
                for key in (
                    Ed25519PublicKey.from_public_bytes(bytes.fromhex(row[0]))
                    for row in db.execute("SELECT public_key FROM consent_residents")
                )
            }
            self._opened = _Opened(
                db,
                AuditLog(self._data_dir / "audit.db"),
                ConsentLedger(self._ledger_path, trusted),
                trusted,
            )
        return self._opened

    @property
    def audit(self) -> AuditLog:
        return self._open().audit

    def close(self) -> None:
        if self._opened is not None:
            self._opened.ledger.close()
            self._opened.db.close()
            self._opened.audit.close()
            self._opened = None

    def register_resident(self, home: str, subject: str, public_key: Ed25519PublicKey) -> None:
        """Trust ``public_key`` to sign the consents of ``subject`` in ``home``."""
        raw = public_key.public_bytes_raw().hex()
        opened = self._open()
        opened.db.execute(
            "INSERT OR REPLACE INTO consent_residents (home, subject, public_key) VALUES (?,?,?)",
            (home, subject, raw),
        )
        opened.trusted[key_id(public_key)] = public_key
        opened.ledger.close()
        opened.ledger = ConsentLedger(self._ledger_path, opened.trusted)
        self._policies.clear()

    def resident_key(self, home: str, signer: str) -> tuple[str, Ed25519PublicKey] | None:
        """The registered resident of ``home`` whose key has id ``signer``, and that key
        (erasure requests, community.erasure); writer thread only."""
        rows = self._open().db.execute(
            "SELECT subject, public_key FROM consent_residents WHERE home = ?", (home,)
        )
        for subject, raw in rows.fetchall():
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(raw))
            if key_id(key) == signer:
                return str(subject), key
        return None

    def record(self, signed: SignedConsent) -> int:
        """Store a grant or withdrawal a home showed us; ConsentError stores nothing."""
        record = signed.record
        seq = self._open().ledger.append(signed)
        withdrawn = record.status is ConsentStatus.WITHDRAWN
        action = AuditAction.WITHDRAW if withdrawn else AuditAction.GRANT
        audit_consent(self.audit, record, action, f"home {record.home}")
        self._policies.clear()
        return seq

    def _subjects(self, home: str) -> list[str]:
        rows = (
            self._open()
            .db.execute(
                "SELECT subject FROM consent_residents WHERE home = ? ORDER BY subject", (home,)
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def policy(self, home: str, subject: str) -> ConsentPolicy:
        """The consents ``subject`` of ``home`` showed us, as a policy that decides; cached
        until a consent of theirs changes. Other desks (fire-lane plates) decide with it too."""
        policy = self._policies.get((home, subject))
        if policy is None:
            policy = self._open().ledger.policy(home, subject, audit=self.audit)
            self._policies[(home, subject)] = policy
        return policy

    def check(self, record: UplinkRecord) -> str | None:
        """None if the record may be stored, else why not (refusal already counted, audited)."""
        if self.mode is CheckMode.OPEN or record.kind is not RecordKind.REPORT:
            return None
        home = self._home_of(record.hub_id)
        category = category_of(record)
        event = str(record.message.event) if isinstance(record.message, Event) else None
        ref = record.key
        if home is None or category is None:
            return self._refuse(ref, "unknown home or unclassified data")
        carried = carried_fields(record)
        now = datetime.now(UTC)
        ts = record.message.ts if record.message is not None else record.ts
        event_at = min(datetime.fromtimestamp(ts / 1000, UTC), now)
        # The hub applied the override's time box when it disclosed the record (record.ts);
        # a record that then waited in the outbox through an outage is judged as of then.
        decided_at = min(datetime.fromtimestamp(record.ts / 1000, UTC), now)
        reasons: list[str] = []
        for subject in self._subjects(home):
            decision = self.policy(home, subject).decide(
                category, Purpose.SAFETY_MONITORING, DUTY, event, now, event_at=event_at
            )
            if not decision.allowed:
                reasons.append(decision.reason)
            elif carried <= decision.fields_allowed:
                return None
            else:
                extra = ", ".join(sorted(carried - decision.fields_allowed))
                reasons.append(f"carries fields beyond the consent: {extra}")
        if event in OVERRIDE_RULES:
            if not carried <= MINIMUM_FIELDS:
                extra = ", ".join(sorted(carried - MINIMUM_FIELDS))
                return self._refuse(ref, f"an emergency without consent carries {extra}")
            subjects = self._subjects(home) or ["unknown"]
            decision = self.policy(home, subjects[0]).decide(
                category,
                Purpose.EMERGENCY_RESPONSE,
                DUTY,
                event,
                decided_at,
                event_at=min(event_at, decided_at),
                context_id=ref,
            )
            if decision.allowed:
                self.overrides += decision.override is not None
                return None
            reasons.append(decision.reason)
        return self._refuse(ref, reasons[0] if reasons else f"no consent shares {category}")

    def _refuse(self, ref: str, reason: str) -> str:
        self.refused[ref.rpartition(":")[0]] += 1
        self.audit.append(
            actor=DUTY.id,
            role=str(DUTY.role),
            purpose=str(Purpose.SAFETY_MONITORING),
            legal_basis="none",
            action=AuditAction.REFUSE,
            record_ids=[ref],
            detail=f"refused at ingest: {reason}"[:MAX_FIELD],
        )
        return f"consent: {reason}"
