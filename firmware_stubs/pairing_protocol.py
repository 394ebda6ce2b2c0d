"""The device's half of the pairing protocol (v1): SPAKE2 over the setup code, key
confirmation, then long-term keys and credentials exchanged under the session key.

The hub opens a WebSocket to the device's pairing endpoint and the two exchange six JSON
text frames (``docs/interop-spec.md`` describes the wire form; ``hub.pairing_protocol`` is the
other half and must derive the same keys)::

    hub -> device  pake_a       {hub_id, device_id, pA}
    device -> hub  pake_b       {pB, cB, attempts_left}
    hub -> device  confirm      {cA}
    device -> hub  device_key   {box: {public_key, signature}}
    hub -> device  credentials  {box: {hub_id, hub_public_key, hub_url, token, signature}}
    device -> hub  done         {box: {ok: true}}

SPAKE2 (hub = side A, device = side B) uses the code as password and binds both ids
(``courtyard-hub:<hub_id>``, ``courtyard-device:<device_id>``). Each session draws fresh
randomness, so a recorded frame replayed into a new session yields a different key and
fails confirmation. A wrong code is detected by the confirmation MACs, and an attacker
learns one yes/no per session — which is why the device counts every session that reached
``pake_b`` without a valid ``confirm`` as a wrong attempt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PROTOCOL_VERSION: Final = 1
#: Largest pairing frame either side accepts.
MAX_FRAME_BYTES: Final = 4096
LABEL: Final = b"courtyard-pairing/1"
DEVICE_SIGNATURE_LABEL: Final = LABEL + b" device-key"
HUB_SIGNATURE_LABEL: Final = LABEL + b" hub-key"


class PairingCode(StrEnum):
    """Error codes of the pairing protocol's ``error`` frame."""

    WRONG_CODE = "wrong_code"
    WINDOW_CLOSED = "window_closed"
    BUSY = "busy"
    WRONG_DEVICE = "wrong_device"
    BAD_MESSAGE = "bad_message"
    FINGERPRINT_MISMATCH = "fingerprint_mismatch"
    ALREADY_PAIRED = "already_paired"
    TIMEOUT = "timeout"


class ProtocolError(Exception):
    """The peer broke the protocol or the session cannot go on; ``code`` is sent back."""

    def __init__(self, code: PairingCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def spake_ids(hub_id: str, device_id: str) -> tuple[bytes, bytes]:
    return b"courtyard-hub:" + hub_id.encode(), b"courtyard-device:" + device_id.encode()


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def transcript_hash(hub_id: str, device_id: str, p_a: bytes, p_b: bytes) -> bytes:
    return hashlib.sha256(
        LABEL + _lp(hub_id.encode()) + _lp(device_id.encode()) + _lp(p_a) + _lp(p_b)
    ).digest()


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """Four independent keys from the SPAKE2 key: two confirmation keys, two box keys."""

    transcript: bytes
    confirm_hub: bytes
    confirm_device: bytes
    box_hub: bytes
    box_device: bytes

    @classmethod
    def derive(cls, spake_key: bytes, transcript: bytes) -> SessionKeys:
        okm = HKDF(
            algorithm=hashes.SHA256(), length=128, salt=transcript, info=LABEL + b" keys"
        ).derive(spake_key)
        return cls(transcript, okm[:32], okm[32:64], okm[64:96], okm[96:128])

    def hub_confirmation(self) -> bytes:
        return hmac.new(self.confirm_hub, self.transcript, hashlib.sha256).digest()

    def device_confirmation(self) -> bytes:
        return hmac.new(self.confirm_device, self.transcript, hashlib.sha256).digest()


def seal_box(key: bytes, counter: int, frame_type: str, transcript: bytes, body: Any) -> str:
    """AEAD-encrypt a JSON body; the frame type and transcript are associated data."""
    nonce = counter.to_bytes(12, "big")
    plain = json.dumps(body, separators=(",", ":")).encode()
    return b64(ChaCha20Poly1305(key).encrypt(nonce, plain, transcript + frame_type.encode()))


def open_box(key: bytes, counter: int, frame_type: str, transcript: bytes, box: object) -> Any:
    nonce = counter.to_bytes(12, "big")
    try:
        plain = ChaCha20Poly1305(key).decrypt(
            nonce, unb64(box, "box"), transcript + frame_type.encode()
        )
        return json.loads(plain)
    except (InvalidTag, ValueError) as exc:
        raise ProtocolError(PairingCode.BAD_MESSAGE, f"{frame_type}: box does not open") from exc


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: object, name: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or len(value) > MAX_FRAME_BYTES:
        raise ProtocolError(PairingCode.BAD_MESSAGE, f"{name} must be base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(PairingCode.BAD_MESSAGE, f"{name} is not base64") from None
    if size is not None and len(raw) != size:
        raise ProtocolError(PairingCode.BAD_MESSAGE, f"{name} must be {size} bytes")
    return raw


def parse_frame(text: object, expected: str) -> dict[str, Any]:
    """One protocol frame of type ``expected``; an ``error`` frame from the peer is raised."""
    if not isinstance(text, str) or len(text) > MAX_FRAME_BYTES:
        raise ProtocolError(PairingCode.BAD_MESSAGE, "frames are JSON text of at most 4 KiB")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(PairingCode.BAD_MESSAGE, "frame is not JSON") from None
    if not isinstance(frame, dict) or frame.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(PairingCode.BAD_MESSAGE, "frame must be an object with v=1")
    kind = frame.get("type")
    if kind == "error" and expected != "error":
        code = frame.get("code")
        message = frame.get("message")
        raise PeerError(
            str(code)[:40] if isinstance(code, str) else "error",
            str(message)[:200] if isinstance(message, str) else "",
            frame.get("attempts_left") if isinstance(frame.get("attempts_left"), int) else None,
        )
    if kind != expected:
        raise ProtocolError(PairingCode.BAD_MESSAGE, f"expected {expected}, got {str(kind)[:20]}")
    return frame


class PeerError(Exception):
    """The peer sent an ``error`` frame."""

    def __init__(self, code: str, message: str, attempts_left: int | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.attempts_left = attempts_left


def frame(frame_type: str, **fields: Any) -> str:
    return json.dumps({"v": PROTOCOL_VERSION, "type": frame_type, **fields}, separators=(",", ":"))


def error_frame(code: PairingCode, message: str, attempts_left: int | None = None) -> str:
    extra: dict[str, Any] = {} if attempts_left is None else {"attempts_left": attempts_left}
    return frame("error", code=str(code), message=message[:200], **extra)
