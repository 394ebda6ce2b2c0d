"""The pairing protocol's wire form, as the hub speaks it: frames, key schedule, boxes.

The device's half lives in ``firmware_stubs.pairing_protocol``; the two must agree byte for
byte (``tests/pairing`` checks both against the same inputs). Neither package may import the
other, so the few shared definitions are kept here and there, and the spec in
``docs/interop-spec.md`` is the reference for any other implementation.

Six JSON text frames over a WebSocket the hub opens to the device (``GET /pair``)::

    hub -> device  pake_a       {hub_id, device_id, pA}
    device -> hub  pake_b       {pB, cB, attempts_left}
    hub -> device  confirm      {cA}
    device -> hub  device_key   {box: {public_key, signature}}
    hub -> device  credentials  {box: {hub_id, hub_public_key, hub_url, token, signature}}
    device -> hub  done         {box: {ok: true}}

plus ``error`` {code, message, attempts_left?} from either side, which ends the session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from devices.catalog import DeviceKind
from devices.messages import DEVICE_ID_RE

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


# --- what the label says: setup codes, fingerprints, QR payloads ------------------------------

CODE_DIGITS: Final = 8
FINGERPRINT_HEX: Final = 16
QR_PREFIX: Final = "CY:1/"
TRIVIAL_CODES: Final = frozenset(
    {str(d) * CODE_DIGITS for d in range(10)} | {"12345678", "87654321"}
)
_CODE_RE: Final = re.compile(r"[0-9]{8}")
_FINGERPRINT_RE: Final = re.compile(r"[0-9a-f]{16}")


def is_valid_code(code: str) -> bool:
    """Eight ASCII digits and not one of the trivial codes no device is ever given."""
    return bool(_CODE_RE.fullmatch(code)) and code not in TRIVIAL_CODES


def is_fingerprint(text: str) -> bool:
    return bool(_FINGERPRINT_RE.fullmatch(text))


def fingerprint(public_key_raw: bytes) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key_raw).hexdigest()[:FINGERPRINT_HEX]


@dataclass(frozen=True, slots=True)
class QrPayload:
    device_id: str
    kind: DeviceKind
    fingerprint: str
    code: str


def parse_qr(text: str) -> QrPayload:
    """``CY:1/<device_id>/<kind>/<fingerprint>/<code>``; ValueError says what is wrong."""
    if not isinstance(text, str) or len(text) > 200 or not text.startswith(QR_PREFIX):
        raise ValueError("a Courtyard QR payload starts with CY:1/")
    parts = text[len(QR_PREFIX) :].split("/")
    if len(parts) != 4:
        raise ValueError("a Courtyard QR payload has 4 fields after CY:1/")
    device_id, kind, fp, code = parts
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise ValueError("the QR payload's device id is not valid")
    try:
        device_kind = DeviceKind(kind)
    except ValueError:
        raise ValueError("the QR payload names an unknown device kind") from None
    if not is_fingerprint(fp):
        raise ValueError("the QR payload's fingerprint must be 16 lowercase hex digits")
    if not is_valid_code(code):
        raise ValueError("the QR payload's setup code is not valid")
    return QrPayload(device_id, device_kind, fp, code)
