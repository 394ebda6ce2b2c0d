"""The hub's half of one pairing session (SPAKE2 side A), over any text channel.

Kept apart from the window bookkeeping in ``hub.pairing`` so the protocol can be driven, and
recorded, frame by frame. What the hub checks, in order:

1. the device's confirmation MAC ``cB`` — only a device that knows the code can make it, so
   a wrong code ends here, before the hub reveals anything derived from the session key;
2. the device's Ed25519 key, sent under the session key with a signature over the session
   transcript: its fingerprint must equal the one advertised, or the one from the QR code
   (which is what makes a scanned QR authenticate the device, not just the code);
3. only then does ``admit`` register the device and issue its token, which travels back
   encrypted and signed with the hub's long-term key.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from spake2 import SPAKE2_A

from devices.pairing import (
    DEVICE_SIGNATURE_LABEL,
    HUB_SIGNATURE_LABEL,
    PairingCode,
    ProtocolError,
    SessionKeys,
    b64,
    error_frame,
    fingerprint,
    frame,
    open_box,
    parse_frame,
    seal_box,
    spake_ids,
    transcript_hash,
    unb64,
)


class Channel(Protocol):
    """A bidirectional text channel to the device (a WebSocket in practice)."""

    async def send(self, text: str) -> None: ...

    async def receive(self) -> str:
        """The next text frame; raises ProtocolError when the channel closes or times out."""
        ...


@dataclass(frozen=True, slots=True)
class Issued:
    """What the hub gives a device it admitted."""

    token: str
    hub_url: str


@dataclass(frozen=True, slots=True)
class SessionResult:
    public_key: bytes
    fingerprint: str


class WrongCodeError(Exception):
    """The device's confirmation did not match: the code typed is not the device's code."""

    def __init__(self, attempts_left: int | None) -> None:
        super().__init__("wrong setup code")
        self.attempts_left = attempts_left


Admit = Callable[[bytes], Awaitable[Issued]]


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


async def run_hub_session(
    channel: Channel,
    *,
    hub_id: str,
    hub_key: Ed25519PrivateKey,
    device_id: str,
    code: str,
    expected_fingerprint: str,
    admit: Admit,
) -> SessionResult:
    """Pair one device; raises WrongCodeError, ProtocolError or PeerError (device's error)."""
    id_a, id_b = spake_ids(hub_id, device_id)
    side = SPAKE2_A(code.encode("ascii"), idA=id_a, idB=id_b)
    p_a = bytes(side.start())
    await channel.send(frame("pake_a", hub_id=hub_id, device_id=device_id, pA=b64(p_a)))

    answer = parse_frame(await channel.receive(), "pake_b")
    p_b = unb64(answer.get("pB"), "pB", 33)
    attempts = answer.get("attempts_left")
    attempts_left = (
        attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else None
    )
    try:
        spake_key = bytes(side.finish(p_b))
    except Exception as exc:  # the library raises several types for a bad element
        raise ProtocolError(PairingCode.BAD_MESSAGE, "pB is not a SPAKE2 element") from exc
    keys = SessionKeys.derive(spake_key, transcript_hash(hub_id, device_id, p_a, p_b))
    if not hmac.compare_digest(unb64(answer.get("cB"), "cB", 32), keys.device_confirmation()):
        await channel.send(error_frame(PairingCode.WRONG_CODE, "wrong setup code"))
        raise WrongCodeError(attempts_left)
    await channel.send(frame("confirm", cA=b64(keys.hub_confirmation())))

    t = keys.transcript
    sealed = parse_frame(await channel.receive(), "device_key")
    body = _object(open_box(keys.box_device, 0, "device_key", t, sealed.get("box")))
    public_key = unb64(body.get("public_key"), "public_key", 32)
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            unb64(body.get("signature"), "signature", 64), DEVICE_SIGNATURE_LABEL + t
        )
    except InvalidSignature:
        raise ProtocolError(PairingCode.BAD_MESSAGE, "device signature does not verify") from None
    found = fingerprint(public_key)
    if not hmac.compare_digest(found, expected_fingerprint):
        message = "the device's key does not match its fingerprint"
        await channel.send(error_frame(PairingCode.FINGERPRINT_MISMATCH, message))
        raise ProtocolError(PairingCode.FINGERPRINT_MISMATCH, message)

    try:
        issued = await admit(public_key)
    except ProtocolError as refused:
        await channel.send(error_frame(refused.code, refused.message))
        raise
    credentials = {
        "hub_id": hub_id,
        "hub_public_key": b64(_raw(hub_key.public_key())),
        "hub_url": issued.hub_url,
        "token": issued.token,
        "signature": b64(hub_key.sign(HUB_SIGNATURE_LABEL + t)),
    }
    await channel.send(
        frame("credentials", box=seal_box(keys.box_hub, 0, "credentials", t, credentials))
    )
    done = parse_frame(await channel.receive(), "done")
    if _object(open_box(keys.box_device, 1, "done", t, done.get("box"))).get("ok") is not True:
        raise ProtocolError(PairingCode.BAD_MESSAGE, "the device did not confirm")
    return SessionResult(public_key, found)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(PairingCode.BAD_MESSAGE, "box must hold a JSON object")
    return value
