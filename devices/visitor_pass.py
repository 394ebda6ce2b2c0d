"""The visitor pass a gate reads from a QR code: ``CYP1.<claims>.<signature>``.

A resident's hub asks the community for a pass; the community signs a small set of *claims*
with its pass-signing Ed25519 key and the visitor shows the result as a QR code. A gate holds
only the public key, so it verifies a pass with no call home: the signature, then the claims
against its own clock, its own entry counts and its revocation list.

The claims carry only what a gate needs: the pass id, the community, the validity window
(Unix milliseconds), the number of entries, and, when the resident gave a plate, a short
per-pass tag of it (``plate_tag``: SHA-256 over the pass id and the normalised plate, so the
same plate gives unrelated tags on two passes). A visitor's name is never in a pass.

Wire form: the literal ``CYP1``, the claims as canonical JSON (sorted keys, no spaces, ASCII)
in unpadded base64url, and the 64-byte Ed25519 signature over those JSON bytes in unpadded
base64url, joined by dots. A pass whose JSON is not in canonical form is refused even with a
good signature, so one pass has exactly one spelling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX: Final = "CYP1"
#: Longest pass text a reader looks at (a real pass is about 250 characters).
MAX_PASS_CHARS: Final = 1024
#: Entries a pass may grant.
MAX_ENTRIES: Final = 20
PASS_ID_RE: Final = re.compile(r"vp[0-9a-f]{16}")
_COMMUNITY_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TAG_RE: Final = re.compile(r"[0-9a-f]{16}")
_PLATE_RE: Final = re.compile(r"[0-9A-Z\u4e00-\u9fff]{2,12}")
_B64_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_KEYS: Final = frozenset({"v", "id", "c", "from", "to", "n", "p"})
_MAX_MS: Final = 253_402_300_799_000  # 9999-12-31T23:59:59Z


class PassRefusal(StrEnum):
    """Why a gate refuses a pass (the ``reason`` of a ``visitor_entry`` event)."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    WRONG_COMMUNITY = "wrong_community"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    USED_UP = "used_up"
    REVOKED = "revoked"
    WRONG_PLATE = "wrong_plate"


class PassError(ValueError):
    """A pass that cannot be believed; ``reason`` says which check failed."""

    def __init__(self, reason: PassRefusal, detail: str = "") -> None:
        super().__init__(detail or str(reason))
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PassClaims:
    """What a signed pass says."""

    pass_id: str
    community: str
    valid_from_ms: int
    valid_to_ms: int
    entries: int
    plate_tag: str = ""

    def __post_init__(self) -> None:
        if not PASS_ID_RE.fullmatch(self.pass_id):
            raise ValueError("pass_id must be 'vp' and 16 hex digits")
        if not _COMMUNITY_RE.fullmatch(self.community):
            raise ValueError("not a community id")
        for value in (self.valid_from_ms, self.valid_to_ms, self.entries):
            if type(value) is not int:
                raise ValueError("times and entries are integers")
        if not 0 <= self.valid_from_ms < self.valid_to_ms <= _MAX_MS:
            raise ValueError("the window must end after it starts")
        if not 1 <= self.entries <= MAX_ENTRIES:
            raise ValueError(f"entries must be 1..{MAX_ENTRIES}")
        if self.plate_tag and not _TAG_RE.fullmatch(self.plate_tag):
            raise ValueError("plate_tag must be 16 hex digits")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "v": 1,
            "id": self.pass_id,
            "c": self.community,
            "from": self.valid_from_ms,
            "to": self.valid_to_ms,
            "n": self.entries,
        }
        if self.plate_tag:
            out["p"] = self.plate_tag
        return out

    def window_refusal(self, now_ms: int) -> PassRefusal | None:
        """Why the pass is not valid at ``now_ms`` (None: it is). The end is exclusive."""
        if now_ms < self.valid_from_ms:
            return PassRefusal.NOT_YET_VALID
        if now_ms >= self.valid_to_ms:
            return PassRefusal.EXPIRED
        return None


def canonical(claims: PassClaims) -> bytes:
    """The exact bytes that are signed."""
    return json.dumps(
        claims.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def normalise_plate(text: str) -> str:
    """A plate as compared: upper case, no spaces, dots or dashes; ValueError if not a plate."""
    plate = re.sub(r"[\s.\-·]", "", str(text)).upper()
    if not _PLATE_RE.fullmatch(plate):
        raise ValueError("a plate is 2-12 letters, digits or Chinese characters")
    return plate


def plate_tag(pass_id: str, plate: str) -> str:
    """The per-pass tag of a plate (16 hex digits); ValueError if ``plate`` is not one."""
    digest = hashlib.sha256(f"cy-plate|{pass_id}|{normalise_plate(plate)}".encode())
    return digest.hexdigest()[:16]


def sign_pass(claims: PassClaims, key: Ed25519PrivateKey) -> str:
    """The pass text to put in a QR code."""
    payload = canonical(claims)
    return ".".join((PREFIX, _b64(payload), _b64(key.sign(payload))))


def read_pass(text: object, public_key: Ed25519PublicKey) -> PassClaims:
    """The claims of a genuine pass; :class:`PassError` (malformed or bad_signature) if not.

    Checks only that the community signed it; the window, entries and revocation are the
    reader's to judge (:meth:`PassClaims.window_refusal`).
    """
    if not isinstance(text, str) or len(text) > MAX_PASS_CHARS:
        raise PassError(PassRefusal.MALFORMED, "not a pass")
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise PassError(PassRefusal.MALFORMED, "not a CYP1 pass")
    payload, signature = _unb64(parts[1]), _unb64(parts[2])
    if len(signature) != 64:
        raise PassError(PassRefusal.MALFORMED, "the signature has the wrong length")
    try:
        public_key.verify(signature, payload)
    except InvalidSignature:
        raise PassError(PassRefusal.BAD_SIGNATURE, "the signature does not verify") from None
    claims = _claims(payload)
    if canonical(claims) != payload:
        raise PassError(PassRefusal.MALFORMED, "the claims are not in canonical form")
    return claims


def _claims(payload: bytes) -> PassClaims:
    try:
        raw = json.loads(payload.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PassError(PassRefusal.MALFORMED, "the claims are not JSON") from None
    if not isinstance(raw, dict) or not set(raw) <= _KEYS or raw.get("v") != 1:
        raise PassError(PassRefusal.MALFORMED, "unknown claims")
    try:
        return PassClaims(
            pass_id=raw["id"],
            community=raw["c"],
            valid_from_ms=raw["from"],
            valid_to_ms=raw["to"],
            entries=raw["n"],
            plate_tag=raw.get("p", ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PassError(PassRefusal.MALFORMED, f"bad claims: {exc}") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64_RE.fullmatch(text) or len(text) % 4 == 1:
        raise PassError(PassRefusal.MALFORMED, "not base64url")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PassError(PassRefusal.MALFORMED, "not base64url") from None
    if _b64(decoded) != text:  # one spelling only (no stray bits in the last character)
        raise PassError(PassRefusal.MALFORMED, "not canonical base64url")
    return decoded


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short public id of a pass key (what a gate reports it trusts)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
