"""Shared pieces of the privacy tests: fixed keys, a valid consent record, time helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, settings

from privacy.consent import (
    CollectionMethod,
    ConsentRecord,
    SignedConsent,
    category_grant,
    notice_hash,
    sign_consent,
)
from privacy.keys import key_id
from privacy.vocabulary import Category, LegalBasis, Purpose, Recipient, RecipientRole

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HUB_KEY = Ed25519PrivateKey.from_private_bytes(bytes([11]) * 32)
OTHER_HUB_KEY = Ed25519PrivateKey.from_private_bytes(bytes([12]) * 32)
TRUSTED: dict[str, Ed25519PublicKey] = {key_id(HUB_KEY.public_key()): HUB_KEY.public_key()}

FAMILY_LI = Recipient(RecipientRole.FAMILY, "li")
DUTY = Recipient(RecipientRole.PROPERTY_DUTY, "desk")
EMERGENCY_TEAM = Recipient(RecipientRole.EMERGENCY_TEAM, "team")
CARE = Recipient(RecipientRole.CARE_PROVIDER, "sunrise")
ALL_RECIPIENTS = (FAMILY_LI, DUTY, EMERGENCY_TEAM, CARE)

SEAL_KEYS = {
    r.id: X25519PrivateKey.from_private_bytes(bytes([20 + i]) * 32)
    for i, r in enumerate(ALL_RECIPIENTS)
}

T0 = datetime(2026, 11, 21, 19, 30, 0, tzinfo=UTC)
HOME = "home-0101"
SUBJECT = "res-7f3a"
NOTICE = "We share fall events with the family members you name, until you withdraw."


def at(minutes: float) -> datetime:
    """T0 plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def fall_consent(**changes: Any) -> ConsentRecord:
    """A valid separate consent: fall events to family member Li for 30 days."""
    fields: dict[str, Any] = {
        "consent_id": "c-fall-li",
        "revision": 0,
        "subject": SUBJECT,
        "home": HOME,
        "purpose": Purpose.FAMILY_NOTIFICATION,
        "legal_basis": LegalBasis.CONSENT,
        "categories": (category_grant(Category.FALL_EVENTS, ("event", "ts", "room"), 30),),
        "recipients": (FAMILY_LI,),
        "granted_at": T0,
        "expires_at": T0 + timedelta(days=30),
        "collection_method": CollectionMethod.HUB_UI,
        "notice_version": "2026-11",
        "notice_hash": notice_hash(NOTICE),
    }
    fields.update(changes)
    return ConsentRecord(**fields)


def signed(record: ConsentRecord, key: Ed25519PrivateKey = HUB_KEY) -> SignedConsent:
    return sign_consent(record, key)


def flip(data: bytes, position: int, mask: int) -> bytes:
    """``data`` with the byte at ``position`` XOR ``mask`` (mask 1..255: always a change)."""
    out = bytearray(data)
    out[position] ^= mask
    return bytes(out)
