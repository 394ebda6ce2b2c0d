"""Sealed fields: sensitive values only their named recipients can read.

A hub seals a field (a fall event's details, say) for the people the resident chose. Servers in
between store and forward it without being able to read it, and can still show who it is for
("sealed for family:li, emergency_team:duty"), because the recipient list travels in clear.

Construction (one data key, wrapped per recipient):

1. A fresh random 256-bit data key per sealed field encrypts the plaintext once with
   ChaCha20-Poly1305 under a random 96-bit nonce. The key is never reused, so neither is any
   (key, nonce) pair.
2. The data key is wrapped for each recipient with HPKE (RFC 9180, base mode, single shot,
   DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305): a fresh ephemeral key per
   recipient, with ``info`` binding the associated data, the recipient's id and key id.
3. The data ciphertext's associated data binds the associated data *and the whole recipient
   list with every wrapped key*, so changing any byte anywhere, dropping or adding a
   recipient, or moving a wrapped key to another field makes opening fail for everyone.

The associated data (:class:`AssociatedData`) is not sent: the receiver rebuilds it from the
record the field travels in (hub, device, event type, sequence, timestamp, the sender's
signing key id), so a field cut from one event and pasted into another does not open.

Sealing gives confidentiality and integrity against everyone who is not a recipient. It does
not say who sealed: any recipient knows the data key. Origin comes from the signed envelope
(``privacy.envelope``) the field travels in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from privacy.encoding import EncodingError, b64url, canonical_json, loads_strict, unb64url
from privacy.keys import key_id

SEAL_VERSION: Final = 1
#: The HPKE suite and data cipher, named on the wire so a future suite is a new name.
SUITE_NAME: Final = "HPKE-X25519-SHA256-ChaCha20Poly1305"
MAX_SEALED_BYTES: Final = 64 * 1024
MAX_RECIPIENTS: Final = 32
_SUITE: Final = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
_ENC_LEN: Final = 32  # X25519 encapsulated key
_DEK_LEN: Final = 32
_TAG_LEN: Final = 16
_NONCE_LEN: Final = 12
_WRAP_DOMAIN: Final = b"courtyard-seal-v1\x00wrap\x00"
_DATA_DOMAIN: Final = b"courtyard-seal-v1\x00data\x00"
#: Recipient ids: roles and names ("family:li", "emergency_team:duty") or a key id.
RECIPIENT_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
_KEY_ID_RE: Final = re.compile(r"[0-9a-f]{16}")
_FAILED: Final = (
    "sealed field does not open: it was altered, or the key or associated data is wrong"
)


class SealError(ValueError):
    """A sealed field that cannot be made or opened; the reason never contains key material."""


@dataclass(frozen=True, slots=True)
class AssociatedData:
    """What a sealed field belongs to; bound into every wrap and into the data ciphertext.

    ``key_id`` is the id of the sender's signing key (``privacy.envelope.key_id``) of the
    envelope that carries the field; ``version`` is the interop version of that record.
    ``field`` names the event data field sealed (``privacy.sealed_fields``), so a sealed value
    cannot be moved to another field's name; it is left out of the encoding when empty.
    """

    hub: str
    device: str
    event_type: str
    seq: int
    ts: int
    key_id: str
    version: str = "1.0"
    field: str = ""

    def to_dict(self) -> dict[str, Any]:
        for name in ("seq", "ts"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise SealError(f"associated data {name} must be a non-negative integer")
        for name in ("hub", "device", "event_type", "key_id", "version", "field"):
            if not isinstance(getattr(self, name), str):
                raise SealError(f"associated data {name} must be text")
        named = {"field": self.field} if self.field else {}
        return {
            **named,
            "version": self.version,
            "hub": self.hub,
            "device": self.device,
            "event_type": self.event_type,
            "seq": self.seq,
            "ts": self.ts,
            "key_id": self.key_id,
        }

    def encode(self) -> bytes:
        """Canonical JSON of the fields (what a device maker must reproduce byte for byte)."""
        return canonical_json(self.to_dict())


@dataclass(frozen=True, slots=True)
class Wrapped:
    """The data key, encrypted to one recipient: HPKE ``enc`` (32 bytes) then ciphertext."""

    recipient: str
    key_id: str
    key: bytes

    def to_dict(self) -> dict[str, str]:
        return {"id": self.recipient, "kid": self.key_id, "key": b64url(self.key)}


@dataclass(frozen=True, slots=True)
class SealedField:
    """A sealed value in its wire form; anyone may hold it, only recipients may open it."""

    to: tuple[Wrapped, ...]
    nonce: bytes
    ciphertext: bytes
    suite: str = SUITE_NAME

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(w.recipient for w in self.to)

    def describe(self) -> str:
        """What a holder that is not a recipient shows instead of the value."""
        return "sealed for " + ", ".join(self.recipients)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": SEAL_VERSION,
            "suite": self.suite,
            "to": [w.to_dict() for w in self.to],
            "nonce": b64url(self.nonce),
            "ct": b64url(self.ciphertext),
        }

    def to_json(self) -> bytes:
        """Canonical JSON bytes; :func:`parse_sealed` accepts exactly these bytes back."""
        return canonical_json(self.to_dict())


def _context(aad: AssociatedData | bytes) -> dict[str, Any]:
    """Structured associated data, or a caller's own bytes (the CLI's ``--aad``), kept apart."""
    context: dict[str, Any]
    if isinstance(aad, AssociatedData):
        context = {"record": aad.to_dict()}
    elif isinstance(aad, bytes | bytearray):
        context = {"raw": b64url(bytes(aad))}
    else:
        raise SealError("associated data must be AssociatedData or bytes")
    try:
        canonical_json(context)
    except EncodingError as exc:
        raise SealError(f"associated data cannot be encoded: {exc}") from None
    return context


def _wrap_info(context: Mapping[str, Any], recipient: str, kid: str) -> bytes:
    body = {"v": SEAL_VERSION, "suite": SUITE_NAME, "aad": context, "id": recipient, "kid": kid}
    return _WRAP_DOMAIN + canonical_json(body)


def _data_aad(context: Mapping[str, Any], to: tuple[Wrapped, ...]) -> bytes:
    body = {"v": SEAL_VERSION, "suite": SUITE_NAME, "aad": context, "to": [w.to_dict() for w in to]}
    return _DATA_DOMAIN + canonical_json(body)


def _check_recipient(recipient: str) -> None:
    if not isinstance(recipient, str) or not RECIPIENT_RE.fullmatch(recipient):
        raise SealError(f"recipient id {recipient!r} is not valid")


def seal_for(
    recipients: Mapping[str, X25519PublicKey], plaintext: bytes, aad: AssociatedData | bytes
) -> SealedField:
    """Seal ``plaintext`` so that exactly ``recipients`` (id -> X25519 public key) can open it."""
    if not recipients:
        raise SealError("a sealed field needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise SealError(f"at most {MAX_RECIPIENTS} recipients")
    for recipient, public in recipients.items():
        _check_recipient(recipient)
        if not isinstance(public, X25519PublicKey):
            raise SealError(f"recipient {recipient!r} needs an X25519 public key")
    context = _context(aad)
    dek = ChaCha20Poly1305.generate_key()
    wraps: list[Wrapped] = []
    for rid, public in sorted(recipients.items()):
        kid = key_id(public)
        wraps.append(
            Wrapped(rid, kid, _SUITE.encrypt(dek, public, info=_wrap_info(context, rid, kid)))
        )
    to = tuple(wraps)
    nonce = os.urandom(_NONCE_LEN)
    ciphertext = ChaCha20Poly1305(dek).encrypt(nonce, bytes(plaintext), _data_aad(context, to))
    sealed = SealedField(to=to, nonce=nonce, ciphertext=ciphertext)
    if len(sealed.to_json()) > MAX_SEALED_BYTES:
        raise SealError(f"sealed field would exceed {MAX_SEALED_BYTES} bytes")
    return sealed


def open_sealed(
    sealed: SealedField | bytes | str | Mapping[str, Any],
    recipient_id: str,
    private_key: X25519PrivateKey,
    aad: AssociatedData | bytes,
) -> bytes:
    """The plaintext, if ``recipient_id`` holding ``private_key`` may read it; else SealError."""
    field = sealed if isinstance(sealed, SealedField) else parse_sealed(sealed)
    if field.suite != SUITE_NAME:
        raise SealError(f"unsupported suite {field.suite!r}")
    wrap = next((w for w in field.to if w.recipient == recipient_id), None)
    if wrap is None:
        raise SealError(f"{recipient_id!r} is not a recipient ({field.describe()})")
    if not isinstance(private_key, X25519PrivateKey):
        raise SealError("opening needs an X25519 private key")
    if key_id(private_key.public_key()) != wrap.key_id:
        raise SealError(f"this key is not the key {recipient_id!r} was sealed to")
    context = _context(aad)
    info = _wrap_info(context, recipient_id, wrap.key_id)
    try:
        dek = _SUITE.decrypt(wrap.key, private_key, info=info)
    except (InvalidTag, ValueError):
        raise SealError(_FAILED) from None
    if len(dek) != _DEK_LEN:
        raise SealError(_FAILED)
    try:
        return ChaCha20Poly1305(dek).decrypt(
            field.nonce, field.ciphertext, _data_aad(context, field.to)
        )
    except InvalidTag:
        raise SealError(_FAILED) from None


def parse_sealed(raw: bytes | str | Mapping[str, Any]) -> SealedField:
    """Read the wire form. Bytes or text must be exactly the canonical JSON (no byte may vary)."""
    if isinstance(raw, bytes | str):
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        if len(data) > MAX_SEALED_BYTES:
            raise SealError(f"sealed field exceeds {MAX_SEALED_BYTES} bytes")
        try:
            obj = loads_strict(data)
        except EncodingError as exc:
            raise SealError(f"sealed field is not valid JSON: {exc}") from None
        field = _from_dict(obj)
        if field.to_json() != data:
            raise SealError("sealed field is not in canonical form")
        return field
    return _from_dict(raw)


def _from_dict(obj: Any) -> SealedField:
    if not isinstance(obj, Mapping):
        raise SealError("sealed field must be a JSON object")
    if set(obj) != {"v", "suite", "to", "nonce", "ct"}:
        raise SealError("sealed field must have exactly v, suite, to, nonce, ct")
    if type(obj["v"]) is not int or obj["v"] != SEAL_VERSION:
        raise SealError("unsupported sealed field version")
    if obj["suite"] != SUITE_NAME:
        raise SealError(f"unsupported suite {obj['suite']!r}")
    to_list = obj["to"]
    if not isinstance(to_list, list) or not 1 <= len(to_list) <= MAX_RECIPIENTS:
        raise SealError(f"'to' must list 1..{MAX_RECIPIENTS} recipients")
    try:
        to = tuple(_wrapped(item) for item in to_list)
        nonce, ciphertext = unb64url(obj["nonce"]), unb64url(obj["ct"])
    except EncodingError as exc:
        raise SealError(f"sealed field has a bad binary field: {exc}") from None
    ids = [w.recipient for w in to]
    if ids != sorted(set(ids)):
        raise SealError("recipients must be unique and sorted")
    if len(nonce) != _NONCE_LEN or len(ciphertext) < _TAG_LEN:
        raise SealError("sealed field nonce or ciphertext has the wrong length")
    return SealedField(to=to, nonce=nonce, ciphertext=ciphertext)


def _wrapped(item: Any) -> Wrapped:
    if not isinstance(item, Mapping) or set(item) != {"id", "kid", "key"}:
        raise SealError("each recipient must have exactly id, kid, key")
    recipient, kid = item["id"], item["kid"]
    _check_recipient(recipient)
    if not isinstance(kid, str) or not _KEY_ID_RE.fullmatch(kid):
        raise SealError("recipient key id must be 16 lowercase hex digits")
    key = unb64url(item["key"])
    if len(key) != _ENC_LEN + _DEK_LEN + _TAG_LEN:
        raise SealError("wrapped key has the wrong length")
    return Wrapped(recipient, kid, key)
