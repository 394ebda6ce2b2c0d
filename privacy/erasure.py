"""A resident's signed request to erase their data, as every copy-holder checks it.

The hub erases what it holds when its resident asks; the community holds a copy too (what the
hub uplinked), so the same request travels on to it. Only the resident's own key can sign it,
so neither a hub operator nor anyone on the wire can erase a resident's data on their behalf,
and a request names its home, so one resident's request cannot erase a neighbour.

The request names the resident only by the id of their public key (``signer``), never by
their pseudonymous resident id: the request is kept by the hub and the community alongside
operational data that must not link a home to a resident id.

JSON form (a property-service request body: flat, small)::

    {"v": 1, "type": "erasure_request", "home": "...", "signer": "<key id>",
     "asked_at": "2026-11-21T19:30:01.123Z", "nonce": "<16 random bytes, base64url>",
     "signature": "<Ed25519 over the domain and the canonical JSON of the rest>"}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.encoding import (
    EncodingError,
    b64url,
    canonical_json,
    iso_ms,
    parse_iso_ms,
    unb64url,
    utc_now,
)
from privacy.keys import key_id

_DOMAIN: Final = b"courtyard-erasure-request-v1\x00"
_FIELDS: Final = ("v", "type", "home", "signer", "asked_at", "nonce", "signature")
_MAX_TEXT: Final = 128


class ErasureRequestError(ValueError):
    """A request that is malformed or not signed by the key it names."""


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    """ "Erase my data in this home", signed by the resident's own key."""

    home: str
    signer: str
    asked_at: str
    nonce: str
    signature: bytes

    def body(self) -> dict[str, Any]:
        """The signed part."""
        return {
            "v": 1,
            "type": "erasure_request",
            "home": self.home,
            "signer": self.signer,
            "asked_at": self.asked_at,
            "nonce": self.nonce,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": b64url(self.signature)}

    @classmethod
    def from_dict(cls, data: Any) -> ErasureRequest:
        """Read the JSON form; structure only (use :func:`verify_erasure` for trust)."""
        if not isinstance(data, dict) or data.get("type") != "erasure_request":
            raise ErasureRequestError("not an erasure request")
        if set(data) != set(_FIELDS) or data.get("v") != 1:
            raise ErasureRequestError("erasure request has missing or unknown fields")
        texts = [data[f] for f in _FIELDS[2:]]
        if not all(isinstance(t, str) and 0 < len(t) <= _MAX_TEXT for t in texts):
            raise ErasureRequestError("erasure request fields must be short text")
        try:
            parse_iso_ms(data["asked_at"])
            signature = unb64url(data["signature"])
            unb64url(data["nonce"])
        except EncodingError as exc:
            raise ErasureRequestError(f"erasure request is malformed: {exc}") from None
        return cls(data["home"], data["signer"], data["asked_at"], data["nonce"], signature)


def sign_erasure(
    home: str, resident_key: Ed25519PrivateKey, *, now: datetime | None = None
) -> ErasureRequest:
    """The resident's signed request to erase their data in ``home``."""
    unsigned = ErasureRequest(
        home=home,
        signer=key_id(resident_key.public_key()),
        asked_at=iso_ms(now or utc_now()),
        nonce=b64url(os.urandom(16)),
        signature=b"",
    )
    signature = resident_key.sign(_DOMAIN + canonical_json(unsigned.body()))
    return ErasureRequest(
        unsigned.home, unsigned.signer, unsigned.asked_at, unsigned.nonce, signature
    )


def verify_erasure(request: ErasureRequest, public_key: Ed25519PublicKey) -> None:
    """Raise :class:`ErasureRequestError` unless ``public_key`` signed exactly this request."""
    if key_id(public_key) != request.signer:
        raise ErasureRequestError("request was signed by a different key")
    try:
        public_key.verify(request.signature, _DOMAIN + canonical_json(request.body()))
    except InvalidSignature:
        raise ErasureRequestError("request signature does not verify (altered or forged)") from None
