"""Consent records a machine enforces, and the policy that enforces them.

A :class:`ConsentRecord` says: this (pseudonymous) resident of this home lets these
recipients receive these categories of data (these fields of them), for this purpose, on this
legal basis, from ``granted_at`` until ``expires_at``, having been shown this notice (version
and SHA-256), kept for this long. It is signed with Ed25519 by the hub that recorded it, and
kept in a hash chain (``privacy.consent_ledger``).

The :class:`ConsentPolicy` is **deny by default**: a disclosure is allowed only by a record
that is validly signed by a trusted key, belongs to this home and subject, names the category,
purpose and recipient, has started, has not expired and was not withdrawn, or else by the
bounded emergency override (``privacy.override``). Every refusal carries a reason a person can
read.

Rules a record must satisfy to exist at all:

* a sensitive category (PIPL Art. 28) stands alone in its record, on the basis ``consent``:
  the separate consent of Art. 29, never bundled;
* ``vital_interests`` is never a record's basis: it belongs to the override alone;
* fields are a subset of what the category may ever disclose.

Withdrawal is a new revision of the same record with ``status = withdrawn``. It is terminal:
once a validly signed withdrawal exists, no revision of that consent ever allows anything
again, whatever order records arrive in. A replayed old grant cannot undo a withdrawal.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.audit import AuditAction, AuditLog
from privacy.encoding import (
    EncodingError,
    b64url,
    canonical_json,
    iso_ms,
    parse_iso_ms,
    to_ms_precision,
    unb64url,
)
from privacy.keys import key_id
from privacy.override import OverrideUse, check_override
from privacy.vocabulary import (
    CATEGORY_FIELDS,
    EVENT_CATEGORY,
    SENSITIVE,
    Category,
    LegalBasis,
    Purpose,
    Recipient,
)

CONSENT_VERSION: Final = 1
MAX_RETENTION_DAYS: Final = 3650
_DOMAIN: Final = b"courtyard-consent-v1\x00"
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
_HASH_RE: Final = re.compile(r"[0-9a-f]{64}")


class ConsentError(ValueError):
    """A consent record that is malformed, invalid, unsigned or forged."""


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class CollectionMethod(StrEnum):
    """How the resident gave the consent."""

    HUB_UI = "hub_ui"
    MOBILE_APP = "mobile_app"
    PAPER_FORM = "paper_form"
    API = "api"


def notice_hash(notice_text: str) -> str:
    """SHA-256 (hex) of the UTF-8 notice a resident was shown; binds the record to its words."""
    return hashlib.sha256(notice_text.encode("utf-8")).hexdigest()


def new_consent_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class CategoryGrant:
    """One category in a consent: which of its fields, and how long they may be kept."""

    category: Category
    sensitive: bool
    fields: tuple[str, ...]
    retention_days: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": str(self.category),
            "sensitive": self.sensitive,
            "fields": list(self.fields),
            "retention_days": self.retention_days,
        }


def category_grant(category: Category, fields: Iterable[str], retention_days: int) -> CategoryGrant:
    """A grant with the sensitive flag taken from the vocabulary (the usual way to make one)."""
    return CategoryGrant(
        category, category in SENSITIVE, tuple(sorted(set(fields))), retention_days
    )


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One revision of one consent. Constructing an invalid record raises ConsentError."""

    consent_id: str
    revision: int
    subject: str
    home: str
    purpose: Purpose
    legal_basis: LegalBasis
    categories: tuple[CategoryGrant, ...]
    recipients: tuple[Recipient, ...]
    granted_at: datetime
    expires_at: datetime
    collection_method: CollectionMethod
    notice_version: str
    notice_hash: str
    status: ConsentStatus = ConsentStatus.GRANTED
    withdrawn_at: datetime | None = None

    def __post_init__(self) -> None:
        try:
            self._normalise()
        except (ValueError, TypeError, EncodingError) as exc:
            raise ConsentError(f"consent record is malformed: {exc}") from None
        problems = self.problems()
        if problems:
            raise ConsentError("; ".join(problems))

    def _normalise(self) -> None:
        put = object.__setattr__
        put(self, "purpose", Purpose(self.purpose))
        put(self, "legal_basis", LegalBasis(self.legal_basis))
        put(self, "collection_method", CollectionMethod(self.collection_method))
        put(self, "status", ConsentStatus(self.status))
        put(self, "granted_at", to_ms_precision(self.granted_at))
        put(self, "expires_at", to_ms_precision(self.expires_at))
        if self.withdrawn_at is not None:
            put(self, "withdrawn_at", to_ms_precision(self.withdrawn_at))
        grants = tuple(
            replace(g, category=Category(g.category), fields=tuple(sorted(set(g.fields))))
            for g in self.categories
        )
        put(self, "categories", tuple(sorted(grants, key=lambda g: g.category)))
        put(self, "recipients", tuple(sorted(set(self.recipients))))

    def problems(self) -> list[str]:
        """Every rule this record breaks (empty when valid)."""
        out: list[str] = []
        for name in ("consent_id", "subject", "home"):
            if not isinstance(getattr(self, name), str) or not _ID_RE.fullmatch(
                getattr(self, name)
            ):
                out.append(f"{name} is not a valid id")
        if type(self.revision) is not int or self.revision < 0:
            out.append("revision must be a non-negative integer")
        out.extend(self._category_problems())
        if not self.recipients or not all(isinstance(r, Recipient) for r in self.recipients):
            out.append("a consent names at least one recipient")
        if self.legal_basis is LegalBasis.VITAL_INTERESTS:
            out.append("vital_interests is the emergency override's basis, never a record's")
        if self.expires_at <= self.granted_at:
            out.append("expires_at must be after granted_at")
        withdrawn = self.status is ConsentStatus.WITHDRAWN
        if withdrawn != (self.withdrawn_at is not None):
            out.append("withdrawn_at is set exactly when status is withdrawn")
        elif self.withdrawn_at is not None and self.withdrawn_at < self.granted_at:
            out.append("withdrawn_at cannot be before granted_at")
        if not isinstance(self.notice_version, str) or not 0 < len(self.notice_version) <= 64:
            out.append("notice_version must be 1..64 characters")
        if not isinstance(self.notice_hash, str) or not _HASH_RE.fullmatch(self.notice_hash):
            out.append("notice_hash must be 64 lowercase hex digits (SHA-256)")
        return out

    def _category_problems(self) -> list[str]:
        out: list[str] = []
        if not self.categories:
            return ["a consent names at least one data category"]
        if len({g.category for g in self.categories}) != len(self.categories):
            out.append("a category appears twice")
        for grant in self.categories:
            if grant.sensitive is not (grant.category in SENSITIVE):
                out.append(
                    f"{grant.category} must be marked sensitive={grant.category in SENSITIVE}"
                )
            if grant.category in SENSITIVE and len(self.categories) > 1:
                out.append(f"sensitive category {grant.category} needs its own separate consent")
            if grant.category in SENSITIVE and self.legal_basis is not LegalBasis.CONSENT:
                out.append(f"sensitive category {grant.category} needs the basis 'consent'")
            extra = set(grant.fields) - CATEGORY_FIELDS[grant.category]
            if not grant.fields or extra:
                out.append(f"{grant.category} fields must be a non-empty subset of its fields")
            if type(grant.retention_days) is not int or not (
                1 <= grant.retention_days <= MAX_RETENTION_DAYS
            ):
                out.append(f"{grant.category} retention must be 1..{MAX_RETENTION_DAYS} days")
        return out

    def grant_for(self, category: Category) -> CategoryGrant | None:
        return next((g for g in self.categories if g.category == category), None)

    def withdraw(self, at: datetime) -> ConsentRecord:
        """The next revision: withdrawn at ``at`` (sign it and append it to the ledger)."""
        return replace(
            self, revision=self.revision + 1, status=ConsentStatus.WITHDRAWN, withdrawn_at=at
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": CONSENT_VERSION,
            "consent_id": self.consent_id,
            "revision": self.revision,
            "subject": self.subject,
            "home": self.home,
            "purpose": str(self.purpose),
            "legal_basis": str(self.legal_basis),
            "categories": [g.to_dict() for g in self.categories],
            "recipients": [r.id for r in self.recipients],
            "granted_at": iso_ms(self.granted_at),
            "expires_at": iso_ms(self.expires_at),
            "collection_method": str(self.collection_method),
            "notice": {"version": self.notice_version, "sha256": self.notice_hash},
            "status": str(self.status),
            "withdrawn_at": iso_ms(self.withdrawn_at) if self.withdrawn_at else None,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ConsentRecord:
        """Strict inverse of :meth:`to_dict`: anything but its exact canonical output fails."""
        try:
            record = cls(
                consent_id=data["consent_id"],
                revision=data["revision"],
                subject=data["subject"],
                home=data["home"],
                purpose=data["purpose"],
                legal_basis=data["legal_basis"],
                categories=tuple(
                    CategoryGrant(
                        g["category"], g["sensitive"], tuple(g["fields"]), g["retention_days"]
                    )
                    for g in data["categories"]
                ),
                recipients=tuple(Recipient.parse(r) for r in data["recipients"]),
                granted_at=parse_iso_ms(data["granted_at"]),
                expires_at=parse_iso_ms(data["expires_at"]),
                collection_method=data["collection_method"],
                notice_version=data["notice"]["version"],
                notice_hash=data["notice"]["sha256"],
                status=data["status"],
                withdrawn_at=(
                    None if data["withdrawn_at"] is None else parse_iso_ms(data["withdrawn_at"])
                ),
            )
        except ConsentError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ConsentError("consent record is malformed") from None
        if record.to_dict() != data:
            raise ConsentError("consent record is not in canonical form")
        return record


@dataclass(frozen=True, slots=True)
class SignedConsent:
    """A record with the Ed25519 signature of the hub that recorded it."""

    record: ConsentRecord
    signer: str
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record.to_dict(),
            "signer": self.signer,
            "sig": b64url(self.signature),
        }

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any) -> SignedConsent:
        if not isinstance(data, dict) or set(data) != {"record", "signer", "sig"}:
            raise ConsentError("signed consent must have exactly record, signer, sig")
        if not isinstance(data["signer"], str) or not isinstance(data["sig"], str):
            raise ConsentError("signed consent signer and sig must be text")
        try:
            signature = unb64url(data["sig"])
        except EncodingError:
            raise ConsentError("consent signature is not base64url") from None
        return cls(ConsentRecord.from_dict(data["record"]), data["signer"], signature)


def _signed_bytes(record: ConsentRecord) -> bytes:
    return _DOMAIN + canonical_json(record.to_dict())


def sign_consent(record: ConsentRecord, key: Ed25519PrivateKey) -> SignedConsent:
    """Sign a (valid, by construction) record."""
    return SignedConsent(record, key_id(key.public_key()), key.sign(_signed_bytes(record)))


def verify_consent(signed: SignedConsent, trusted: Mapping[str, Ed25519PublicKey]) -> ConsentRecord:
    """The record, if a trusted key (looked up by key id) signed exactly it; else ConsentError."""
    public = trusted.get(signed.signer)
    if public is None:
        raise ConsentError(f"consent {signed.record.consent_id} is signed by an unknown key")
    try:
        public.verify(signed.signature, _signed_bytes(signed.record))
    except InvalidSignature:
        raise ConsentError(
            f"consent {signed.record.consent_id} has an invalid signature (forged or edited)"
        ) from None
    return signed.record


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record the policy refused to rely on, and why (for logs and the resident's view)."""

    consent_id: str
    revision: int
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a disclosure may happen, on what basis, why, and which fields it may carry."""

    allowed: bool
    basis: LegalBasis | None
    reason: str
    fields_allowed: frozenset[str] = frozenset()
    consent_id: str | None = None
    override: OverrideUse | None = None


def _deny(reason: str) -> Decision:
    return Decision(False, None, reason)


class ConsentPolicy:
    """All consents of one data subject in one home, and the decisions they permit.

    Records that are signed by an untrusted key, edited, forged, or about another home or
    subject are set aside in :attr:`rejected` and never allow anything. If ``audit`` is given,
    every emergency override use is appended to it before the decision returns.
    """

    def __init__(
        self,
        home: str,
        subject: str,
        records: Iterable[SignedConsent],
        trusted: Mapping[str, Ed25519PublicKey],
        *,
        audit: AuditLog | None = None,
    ) -> None:
        self.home, self.subject, self.audit = home, subject, audit
        self.rejected: list[Rejection] = []
        self._current: dict[str, ConsentRecord] = {}
        withdrawn: dict[str, ConsentRecord] = {}
        for signed in records:
            record = self._accept(signed, trusted)
            if record is None:
                continue
            if record.status is ConsentStatus.WITHDRAWN:
                withdrawn.setdefault(record.consent_id, record)
            current = self._current.get(record.consent_id)
            if current is None or record.revision > current.revision:
                self._current[record.consent_id] = record
        self._current.update(withdrawn)  # withdrawal is terminal, whatever its revision

    def __repr__(self) -> str:
        return (
            f"ConsentPolicy(home={self.home!r}, subject={self.subject!r}, "
            f"consents={len(self._current)}, rejected={len(self.rejected)})"
        )

    def _accept(
        self, signed: SignedConsent, trusted: Mapping[str, Ed25519PublicKey]
    ) -> ConsentRecord | None:
        record = signed.record
        try:
            verify_consent(signed, trusted)
        except ConsentError as exc:
            self.rejected.append(Rejection(record.consent_id, record.revision, str(exc)))
            return None
        if record.home != self.home or record.subject != self.subject:
            reason = "belongs to another home or subject"
            self.rejected.append(Rejection(record.consent_id, record.revision, reason))
            return None
        return record

    def current(self) -> list[ConsentRecord]:
        """The live revision of each consent (for the resident's "what is shared" view)."""
        return sorted(self._current.values(), key=lambda r: r.consent_id)

    def decide(
        self,
        category: Category | str,
        purpose: Purpose | str,
        recipient: Recipient,
        event_type: str | None,
        now: datetime,
        *,
        event_at: datetime | None = None,
        context_id: str = "",
    ) -> Decision:
        """May data of ``category`` go to ``recipient`` for ``purpose`` at ``now``?"""
        try:
            category, purpose = Category(category), Purpose(purpose)
        except ValueError:
            return _deny(f"unknown category {category!r} or purpose {purpose!r}")
        if not isinstance(recipient, Recipient):
            return _deny("recipient must be a Recipient")
        if now.tzinfo is None or (event_at is not None and event_at.tzinfo is None):
            return _deny("times must be timezone-aware")
        if event_type is not None and EVENT_CATEGORY.get(event_type) != category:
            return _deny(f"event {event_type!r} is not in category {category}")
        best: tuple[ConsentRecord, CategoryGrant] | None = None
        reasons: list[str] = []
        for record in self.current():
            grant = record.grant_for(category)
            why = _mismatch(record, grant, purpose, recipient, now)
            if why:
                reasons.append(why)
            elif (
                why is None
                and grant is not None
                and (best is None or len(grant.fields) > len(best[1].fields))
            ):
                best = (record, grant)
        if best is not None:
            record, grant = best
            return Decision(
                True,
                record.legal_basis,
                f"consent {record.consent_id} until {iso_ms(record.expires_at)}",
                frozenset(grant.fields),
                consent_id=record.consent_id,
            )
        use = check_override(category, purpose, recipient, event_type, now, event_at or now)
        if isinstance(use, OverrideUse):
            self._record_override(use, context_id)
            return Decision(
                True,
                LegalBasis.VITAL_INTERESTS,
                f"emergency override for {use.event_type} until {iso_ms(use.expires_at)}",
                use.fields,
                override=use,
            )
        base = (
            reasons[0]
            if reasons
            else (f"no consent shares {category} with {recipient.id} for {purpose}")
        )
        if event_type in EVENT_CATEGORY and category is EVENT_CATEGORY[event_type]:
            return _deny(f"{base}; {use}")
        return _deny(base)

    def _record_override(self, use: OverrideUse, context_id: str) -> None:
        if self.audit is None:
            return
        self.audit.append(
            actor=use.recipient.id,
            role=str(use.recipient.role),
            purpose=str(use.purpose),
            legal_basis=str(LegalBasis.VITAL_INTERESTS),
            action=AuditAction.OVERRIDE,
            record_ids=[use.use_id],
            context_id=context_id,
            detail=f"{self.home}/{self.subject}: {use.describe()}",
            at=use.decided_at,
        )


def _mismatch(
    record: ConsentRecord,
    grant: CategoryGrant | None,
    purpose: Purpose,
    recipient: Recipient,
    now: datetime,
) -> str | None:
    """Why ``record`` does not allow this, or None if it does. "" means "not about this"."""
    if grant is None or record.purpose is not purpose or recipient not in record.recipients:
        return ""
    if record.status is ConsentStatus.WITHDRAWN:
        assert record.withdrawn_at is not None
        return f"consent {record.consent_id} was withdrawn at {iso_ms(record.withdrawn_at)}"
    if now < record.granted_at:
        return f"consent {record.consent_id} starts at {iso_ms(record.granted_at)}"
    if now >= record.expires_at:
        return f"consent {record.consent_id} expired at {iso_ms(record.expires_at)}"
    return None
