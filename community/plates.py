"""Which home a licence plate belongs to — kept only as a keyed hash, used only with consent.

A fire-lane camera reads plates; the community may tell a car's owner that it blocks the lane
before it wakes duty staff. That needs a plate → home mapping, which is personal data (PIPL
Art. 28 lists whereabouts; the consent vocabulary marks ``vehicle_plate`` sensitive). So:

* a plate is registered for a home only while the resident named in the request has a live,
  signed consent sharing the ``vehicle_plate`` category (its ``plate`` field) with the
  property duty staff for ``safety_monitoring`` (what the hub's Privacy tab grants: keeping a
  fire lane clear is safety work) — deny by default;
* the consent is checked again at every obstruction: a withdrawn or expired consent stops the
  mapping being used from the very next one (the registration stays until it is removed, but
  it tells nobody anything);
* the community never stores a plate in clear text. It stores HMAC-SHA256 of the normalised
  plate under a per-community secret key (``plate.key`` in the data directory, created 0600,
  never logged) and matches on that. Without the key a stored hash cannot be turned back into
  a plate by trying the few million plates there are.

Accepted plates are mainland Chinese ones: a province abbreviation, the issuing authority's
letter and five characters (``粤B12345``) or six for new-energy vehicles (``沪AD12345``).
Spaces, dots and dashes people type are ignored; letters are upper-cased.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlite_utils import Database

from community.clock import iso
from community.consent_check import DUTY, ConsentCheck
from community.escalation_rules import Resolved
from community.store import Store
from privacy.consent import ConsentStatus, Decision
from privacy.vocabulary import Category, Purpose

KEY_FILE: Final = "plate.key"
KEY_BYTES: Final = 32
#: What a plate → home consent must name.
PLATE_CATEGORY: Final = Category.VEHICLE_PLATE
PLATE_PURPOSE: Final = Purpose.SAFETY_MONITORING
PLATE_FIELD: Final = "plate"
#: Why an owner is not told; deliberately the same whether the plate is unknown, unreadable,
#: or its resident withdrew: the reason must not reveal whose plate it is, or that it is known.
NO_CONSENT: Final = "no consent"
#: Hex digits of a plate hash shown in reports and API answers (enough to tell cars apart).
SHOWN_HASH: Final = 12
PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER: Final = "A-HJ-NP-Z"  # no I or O on plates
_PLATE_RE: Final = re.compile(
    rf"^[{PROVINCES}][{_LETTER}][{_LETTER}0-9]{{4}}[{_LETTER}0-9挂学警港澳]$"
    rf"|^[{PROVINCES}][{_LETTER}][DF][{_LETTER}0-9][0-9]{{4}}$"
    rf"|^[{PROVINCES}][{_LETTER}][0-9]{{5}}[DF]$"
)
_TYPED: Final = re.compile(r"[\s·.\-]")
_SUBJECT_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
MAX_PLATE_INPUT: Final = 16

#: May (home, subject) map a plate to their home at this moment?
Decide = Callable[[str, str, datetime], Decision]

_SCHEMA: Final = """CREATE TABLE IF NOT EXISTS plate_homes (
    plate_hash TEXT PRIMARY KEY,
    home_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    registered_by TEXT NOT NULL
)"""


class PlateError(ValueError):
    """Input that is not a plate registration; the message says what is wrong (HTTP 400)."""


class PlateConsentError(PermissionError):
    """No live consent covers the mapping (HTTP 403); the message says which is missing."""


class PlateConflictError(ValueError):
    """The plate is registered to another home (HTTP 409)."""


def normalise_plate(text: object) -> str:
    """The plate as matched and hashed; raises :class:`PlateError` for anything else."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_PLATE_INPUT:
        raise PlateError(f"a plate is text of 1-{MAX_PLATE_INPUT} characters")
    plate = _TYPED.sub("", text).upper()
    if not 7 <= len(plate) <= 8:
        raise PlateError("a plate has 7 characters (粤B12345) or 8 for new energy (沪AD12345)")
    if not _PLATE_RE.fullmatch(plate):
        raise PlateError(
            "not a plate: a province character, a letter, then 5 letters or digits"
            " (粤B12345), or 6 for new energy (沪AD12345); no I or O"
        )
    return plate


def load_or_create_key(path: Path) -> bytes:
    """The community's plate key, created (random, owner-only) on first use."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path} is not a plate key; restore it from backup") from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def consent_decider(check: ConsentCheck) -> Decide:
    """Decisions from the consents residents showed the community (``consent_check``)."""

    def decide(home: str, subject: str, now: datetime) -> Decision:
        policy = check.policy(home, subject)  # the per-subject policy, cached until a change
        decision = policy.decide(PLATE_CATEGORY, PLATE_PURPOSE, DUTY, None, now)
        if decision.allowed and PLATE_FIELD in decision.fields_allowed:
            return decision
        # The policy answers with the widest live grant; another may be the one naming the plate.
        for record in policy.current():
            grant = record.grant_for(PLATE_CATEGORY)
            if (
                grant is not None
                and PLATE_FIELD in grant.fields
                and record.purpose is PLATE_PURPOSE
                and DUTY in record.recipients
                and record.status is ConsentStatus.GRANTED
                and record.granted_at <= now < record.expires_at
            ):
                return Decision(
                    True,
                    record.legal_basis,
                    f"consent {record.consent_id}",
                    frozenset(grant.fields),
                    consent_id=record.consent_id,
                )
        return decision

    return decide


def _deny_all(home: str, subject: str, now: datetime) -> Decision:
    return Decision(False, None, "no consent check is configured")


def shown(plate_hash: str) -> str:
    """The truncated hash reports and answers show."""
    return plate_hash[:SHOWN_HASH]


class PlateRegistry:
    """The ``plate_homes`` table of the community store, and the key its hashes are made with.

    Writes run on the community's writer thread, like every other write.
    """

    def __init__(self, store: Store, data_dir: Path, decide: Decide | None = None) -> None:
        self._store = store
        self._key = load_or_create_key(data_dir / KEY_FILE)
        self._decide = decide or _deny_all
        with store.transaction() as db:
            db.execute(_SCHEMA)

    def __repr__(self) -> str:
        return "PlateRegistry(key=<hidden>)"

    def hash(self, plate: object) -> str | None:
        """The keyed hash of a plate as read or typed; None when it is not a plate."""
        try:
            normal = normalise_plate(plate)
        except PlateError:
            return None
        return hmac.new(self._key, normal.encode("utf-8"), hashlib.sha256).hexdigest()

    def consent(self, home: str, subject: str, now: int) -> Decision:
        """Whether the mapping may be used now; a grant without the plate field does not."""
        decision = self._decide(home, subject, datetime.fromtimestamp(now / 1000, UTC))
        if decision.allowed and PLATE_FIELD not in decision.fields_allowed:
            return Decision(False, None, "the consent does not include the plate")
        return decision

    def register(self, home: str, subject: str, plate: object, by: str, now: int) -> dict[str, Any]:
        """Map a plate to a home under ``subject``'s consent; raises the Plate*Errors."""
        plate_hash = self._hash_or_raise(plate)
        if not isinstance(subject, str) or not _SUBJECT_RE.fullmatch(subject):
            raise PlateError("subject must be the resident's consent subject id")
        with self._store.transaction() as db:
            known = _one(db, "SELECT 1 FROM hubs WHERE home_id = ? LIMIT 1", [home])
            if known is None:
                raise PlateError("home_id names no enrolled home")
            decision = self.consent(home, subject, now)
            if not decision.allowed:
                raise PlateConsentError(
                    f"no live consent of {subject} shares {PLATE_CATEGORY} ({PLATE_FIELD})"
                    f" with {DUTY.id} for {PLATE_PURPOSE}: {decision.reason}"
                )
            held = _one(db, "SELECT home_id FROM plate_homes WHERE plate_hash = ?", [plate_hash])
            if held is not None and held["home_id"] != home:
                raise PlateConflictError("the plate is registered to another home")
            entry = {
                "plate_hash": plate_hash,
                "home_id": home,
                "subject": subject,
                "registered_at": iso(now),
                "registered_by": by,
            }
            db.table("plate_homes").upsert(entry, pk="plate_hash")
        return _view(entry)

    def unregister(self, plate: object) -> bool:
        """Remove a plate's mapping; whether there was one."""
        plate_hash = self._hash_or_raise(plate)
        with self._store.transaction() as db:
            gone = db.execute("DELETE FROM plate_homes WHERE plate_hash = ?", [plate_hash])
            return bool(gone.rowcount)

    def registrations(self, home: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM plate_homes", []
        if home is not None:
            sql, params = sql + " WHERE home_id = ?", [home]
        return [_view(r) for r in self._store.read(sql + " ORDER BY registered_at", params)]

    def owner(self, db: Database, plate_hash: str | None, now: int) -> Resolved:
        """The home to tell about this plate now, or why nobody (always "no consent")."""
        if plate_hash is None:
            return Resolved(None, NO_CONSENT)
        row = _one(db, "SELECT * FROM plate_homes WHERE plate_hash = ?", [plate_hash])
        if row is None or not self.consent(row["home_id"], row["subject"], now).allowed:
            return Resolved(None, NO_CONSENT)
        return Resolved(str(row["home_id"]))

    def _hash_or_raise(self, plate: object) -> str:
        normalise_plate(plate)
        plate_hash = self.hash(plate)
        assert plate_hash is not None
        return plate_hash


def _view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A registration as shown: the truncated hash, never the plate."""
    return {
        "plate_hash": shown(str(row["plate_hash"])),
        "home_id": row["home_id"],
        "subject": row["subject"],
        "registered_at": row["registered_at"],
        "registered_by": row["registered_by"],
    }


def _one(db: Database, sql: str, params: list[object]) -> Mapping[str, Any] | None:
    return next(iter(db.query(sql, params)), None)
