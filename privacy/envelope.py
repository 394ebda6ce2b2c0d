"""Signed envelopes: how a hub's records cross the broker to the community.

A record is signed with the sending hub's Ed25519 key over a domain-separated encoding of the
exact bytes carried (``courtyard-envelope-v1``, sender, key id, body), so nothing has to be
re-serialised to verify it. The community looks the sender's public key up in its own registry
of enrolled hubs: an envelope from an unknown hub, with a wrong key id, or with any flipped
byte is rejected before its body is even parsed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ENVELOPE_VERSION: Final = 1
MAX_ENVELOPE_BYTES: Final = 64 * 1024
_DOMAIN: Final = b"courtyard-envelope-v1\x00"
#: Sender ids follow the interop model's id rule; checked before any lookup so a registry
#: never sees a name it could not store (unpaired surrogates, separators, over-long ids).
_SENDER_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class EnvelopeError(ValueError):
    """An envelope that must not be trusted; the reason is safe to log (no secrets in it)."""


@dataclass(frozen=True, slots=True)
class Opened:
    sender: str
    key_id: str
    body: bytes


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """Short, stable name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def _signed_bytes(sender: str, kid: str, body: bytes) -> bytes:
    return _DOMAIN + sender.encode() + b"\x00" + kid.encode() + b"\x00" + body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(sender: str, signing_key: Ed25519PrivateKey, body: bytes) -> bytes:
    """Wrap ``body`` in a signed envelope from ``sender``."""
    kid = key_id(signing_key.public_key())
    signature = signing_key.sign(_signed_bytes(sender, kid, body))
    envelope = {
        "v": ENVELOPE_VERSION,
        "alg": "Ed25519",
        "from": sender,
        "kid": kid,
        "body": _b64(body),
        "sig": _b64(signature),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def open_signed(raw: bytes, lookup: Callable[[str], Ed25519PublicKey | None]) -> Opened:
    """Verify an envelope against the sender's enrolled key; raise :class:`EnvelopeError`."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(f"envelope of {len(raw)} bytes exceeds {MAX_ENVELOPE_BYTES}")
    try:
        env = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise EnvelopeError("envelope is not JSON") from None
    if (
        not isinstance(env, dict)
        or type(env.get("v")) is not int
        or env.get("v") != ENVELOPE_VERSION
    ):
        raise EnvelopeError("unsupported envelope version")
    if env.get("alg") != "Ed25519":
        raise EnvelopeError("unsupported envelope version or algorithm")
    sender, kid, body, sig = (env.get(k) for k in ("from", "kid", "body", "sig"))
    if not all(isinstance(x, str) for x in (sender, kid, body, sig)):
        raise EnvelopeError("envelope fields must be strings")
    assert isinstance(sender, str) and isinstance(kid, str)
    assert isinstance(body, str) and isinstance(sig, str)
    if not _SENDER_RE.fullmatch(sender):
        raise EnvelopeError("sender id is not a valid hub id")
    public = lookup(sender)
    if public is None:
        raise EnvelopeError(f"unknown sender {sender!r}")
    if key_id(public) != kid:
        raise EnvelopeError(f"key id does not match the key enrolled for {sender!r}")
    try:
        body_bytes, sig_bytes = _unb64(body), _unb64(sig)
    except (binascii.Error, ValueError):
        raise EnvelopeError("envelope body or signature is not base64url") from None
    try:
        public.verify(sig_bytes, _signed_bytes(sender, kid, body_bytes))
    except InvalidSignature:
        raise EnvelopeError(f"bad signature from {sender!r}") from None
    return Opened(sender=sender, key_id=kid, body=body_bytes)
