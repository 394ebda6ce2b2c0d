"""Event data fields sealed for one recipient each: what the uplink record's ``sealed`` slot holds.

A resident may share a sensitive detail (a fall's confidence) with family or a care provider
but not with the community. The hub then takes the field out of the clear message and seals
it, once per recipient, with :mod:`privacy.sealing` (a fresh data key and nonce each time, so
no (key, nonce) pair ever repeats). The community relays and stores these entries as opaque
bytes; only the recipient's X25519 private key opens one.

Each entry is bound to where it travels: the associated data names the record's version, hub,
device, event type, the device's message sequence and timestamp, the hub's signing key id and
the field's name, and the wrap binds the recipient's id and key id. So a flipped byte, or an
entry moved to another device, event, sequence, field or recipient, does not open.

Values are sealed as their JSON text (numbers, text, booleans, lists, objects).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from privacy.sealing import (
    SUITE_NAME,
    AssociatedData,
    SealedField,
    SealError,
    Wrapped,
    open_sealed,
    parse_sealed,
    seal_for,
)

#: The largest value (as JSON) one sealed field may carry.
MAX_VALUE_BYTES: Final = 4000


class SealedEntryLike(Protocol):
    """What :func:`open_field` reads; ``devices.uplink.SealedEntry`` has exactly these."""

    @property
    def field(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    @property
    def suite(self) -> str: ...
    @property
    def wrapped(self) -> bytes: ...
    @property
    def nonce(self) -> bytes: ...
    @property
    def ciphertext(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class SealedValue:
    """One field sealed for one recipient (the same names as ``devices.uplink.SealedEntry``)."""

    field: str
    recipient: str
    key_id: str
    suite: str
    wrapped: bytes
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class FieldContext:
    """The event a sealed field belongs to, as both the hub and the recipient can name it.

    ``seq`` and ``ts`` are the device message's (not the hub outbox's, which is assigned only
    after sealing); ``key_id`` is the id of the hub's envelope signing key.
    """

    hub: str
    device: str
    event_type: str
    seq: int
    ts: int
    key_id: str
    version: str = "1.0"

    def aad(self, field: str) -> AssociatedData:
        return AssociatedData(
            hub=self.hub,
            device=self.device,
            event_type=self.event_type,
            seq=self.seq,
            ts=self.ts,
            key_id=self.key_id,
            version=self.version,
            field=field,
        )


def _value_json(value: Any) -> bytes:
    if isinstance(value, float) and not math.isfinite(value):
        raise SealError("a sealed value must be finite")
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise SealError("a sealed value must be JSON data") from None
    data = text.encode()
    if len(data) > MAX_VALUE_BYTES:
        raise SealError(f"a sealed value must be at most {MAX_VALUE_BYTES} bytes of JSON")
    return data


def seal_field(
    field: str, value: Any, recipient: str, public_key: X25519PublicKey, context: FieldContext
) -> SealedValue:
    """Seal ``value`` of ``field`` so that only ``recipient`` holding ``public_key`` reads it."""
    if not isinstance(field, str) or not field:
        raise SealError("a sealed field needs a name")
    sealed = seal_for({recipient: public_key}, _value_json(value), context.aad(field))
    wrap = sealed.to[0]
    return SealedValue(
        field=field,
        recipient=wrap.recipient,
        key_id=wrap.key_id,
        suite=sealed.suite,
        wrapped=wrap.key,
        nonce=sealed.nonce,
        ciphertext=sealed.ciphertext,
    )


def open_field(entry: SealedEntryLike, private_key: X25519PrivateKey, context: FieldContext) -> Any:
    """The value, if ``private_key`` is the key ``entry`` was sealed to; else SealError."""
    if entry.suite != SUITE_NAME:
        raise SealError(f"unsupported suite {entry.suite!r}")
    # Through the strict parser: recipient id, key id and every length are checked first.
    sealed = parse_sealed(
        SealedField(
            to=(Wrapped(entry.recipient, entry.key_id, entry.wrapped),),
            nonce=entry.nonce,
            ciphertext=entry.ciphertext,
            suite=entry.suite,
        ).to_dict()
    )
    plaintext = open_sealed(sealed, entry.recipient, private_key, context.aad(entry.field))
    try:
        return json.loads(plaintext)
    except ValueError:
        raise SealError("a sealed value is not JSON") from None


def summarise(entries: Iterable[SealedEntryLike]) -> list[dict[str, Any]]:
    """What a holder that cannot read the entries shows: each field and who it is for.

    ``[{"field": "confidence", "recipients": ["family:li"]}]``, fields and recipients sorted.
    """
    by_field: dict[str, set[str]] = {}
    for entry in entries:
        by_field.setdefault(entry.field, set()).add(entry.recipient)
    return [{"field": f, "recipients": sorted(r)} for f, r in sorted(by_field.items())]
