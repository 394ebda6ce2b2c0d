"""The pairing protocol's wire form (v1): frames, key schedule, boxes, errors and window rules.

Hub and device speak it from opposite ends, so it is defined once, here, and
``docs/interop-spec.md`` renders its tables from these constants. Six JSON text frames over a
WebSocket the hub opens to the device (``GET /pair``)::

    hub -> device  pake_a       {hub_id, device_id, pA}
    device -> hub  pake_b       {pB, cB, attempts_left}
    hub -> device  confirm      {cA}
    device -> hub  device_key   {box: {public_key, signature}}
    hub -> device  credentials  {box: {hub_id, hub_public_key, hub_url, token, signature}}
    device -> hub  done         {box: {ok: true}}

plus ``error`` {code, message, attempts_left?} from either side, which ends the session.
SPAKE2 (hub = side A, device = side B) uses the setup code as password and binds both ids, so
a recorded session replayed into a new one yields a different key and fails confirmation.
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
#: HKDF ``info`` of the key schedule.
KEYS_INFO: Final = LABEL + b" keys"
HUB_ID_PREFIX: Final = b"courtyard-hub:"
DEVICE_ID_PREFIX: Final = b"courtyard-device:"
#: A SPAKE2 message: one side byte (``A`` or ``B``) and a 32-byte Ed25519 group element.
PAKE_MESSAGE_BYTES: Final = 33
#: HMAC-SHA-256 confirmation tags.
CONFIRMATION_BYTES: Final = 32

#: The device's pairing endpoint, a WebSocket the hub opens.
PAIR_PATH: Final = "/pair"
#: A pairing window lasts at most this long from when it opened.
MAX_WINDOW_S: Final = 600.0
#: Wrong attempts after which the window closes for good.
MAX_FAILURES: Final = 20
#: Longest wait for the peer's next frame within a session.
STEP_TIMEOUT_S: Final = 10.0


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


PAIRING_ERROR_MEANINGS: Final[dict[PairingCode, str]] = {
    PairingCode.WRONG_CODE: "The confirmation tags do not match: the code typed is not the"
    " device's. Counts as one wrong attempt.",
    PairingCode.WINDOW_CLOSED: "The device is not accepting pairing: its window expired, it"
    " was already paired in this window, or it saw too many wrong attempts.",
    PairingCode.BUSY: "Another pairing session with this device is running.",
    PairingCode.WRONG_DEVICE: "`pake_a` names a device id other than this device's.",
    PairingCode.BAD_MESSAGE: "A frame is malformed, of the wrong type, too large, or a box or"
    " signature does not verify.",
    PairingCode.FINGERPRINT_MISMATCH: "The key the device proved does not have the fingerprint"
    " that was advertised or scanned from its QR code.",
    PairingCode.ALREADY_PAIRED: "The hub already has this device id with a different key.",
    PairingCode.TIMEOUT: f"The peer sent no next frame within {STEP_TIMEOUT_S:.0f} s.",
}


class FrameType(StrEnum):
    PAKE_A = "pake_a"
    PAKE_B = "pake_b"
    CONFIRM = "confirm"
    DEVICE_KEY = "device_key"
    CREDENTIALS = "credentials"
    DONE = "done"
    ERROR = "error"


class Role(StrEnum):
    HUB = "hub"
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class FrameField:
    name: str
    meaning: str


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """One frame of the session, in the order it is sent; ``box_*`` for encrypted bodies."""

    type: FrameType
    sender: Role
    fields: tuple[FrameField, ...]
    #: Whose box key seals ``box`` and with which nonce counter; None when not boxed.
    box_key: Role | None = None
    box_counter: int = 0


def _f(name: str, meaning: str) -> FrameField:
    return FrameField(name, meaning)


#: The frames of one successful session, in order (``error`` may replace any of them).
FRAMES: Final[tuple[FrameSpec, ...]] = (
    FrameSpec(
        FrameType.PAKE_A,
        Role.HUB,
        (
            _f("hub_id", "the hub's id (a device id pattern)"),
            _f("device_id", "the id of the device the hub means to pair"),
            _f("pA", f"SPAKE2 side-A message, {PAKE_MESSAGE_BYTES} bytes, base64"),
        ),
    ),
    FrameSpec(
        FrameType.PAKE_B,
        Role.DEVICE,
        (
            _f("pB", f"SPAKE2 side-B message, {PAKE_MESSAGE_BYTES} bytes, base64"),
            _f("cB", "device confirmation: HMAC-SHA-256(confirm_device, transcript), base64"),
            _f("attempts_left", "wrong attempts the device still allows, counting this one"),
        ),
    ),
    FrameSpec(
        FrameType.CONFIRM,
        Role.HUB,
        (_f("cA", "hub confirmation: HMAC-SHA-256(confirm_hub, transcript), base64"),),
    ),
    FrameSpec(
        FrameType.DEVICE_KEY,
        Role.DEVICE,
        (
            _f("public_key", "the device's raw 32-byte Ed25519 public key, base64"),
            _f("signature", "Ed25519 over device-signature label + transcript, base64"),
        ),
        Role.DEVICE,
        0,
    ),
    FrameSpec(
        FrameType.CREDENTIALS,
        Role.HUB,
        (
            _f("hub_id", "the hub's id, equal to the one in pake_a"),
            _f("hub_public_key", "the hub's raw 32-byte Ed25519 public key, base64"),
            _f("hub_url", "the native link URL (ws:// or wss://, at most 512 characters)"),
            _f("token", "the device's link token (16 to 512 characters)"),
            _f("signature", "Ed25519 by the hub over hub-signature label + transcript, base64"),
        ),
        Role.HUB,
        0,
    ),
    FrameSpec(FrameType.DONE, Role.DEVICE, (_f("ok", "true"),), Role.DEVICE, 1),
)


class ProtocolError(Exception):
    """The peer broke the protocol or the session cannot go on; ``code`` is sent back."""

    def __init__(self, code: PairingCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PeerError(Exception):
    """The peer sent an ``error`` frame."""

    def __init__(self, code: str, message: str, attempts_left: int | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.attempts_left = attempts_left


def spake_ids(hub_id: str, device_id: str) -> tuple[bytes, bytes]:
    """SPAKE2 identities (idA, idB) binding the session to this hub and this device."""
    return HUB_ID_PREFIX + hub_id.encode(), DEVICE_ID_PREFIX + device_id.encode()


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def transcript_hash(hub_id: str, device_id: str, p_a: bytes, p_b: bytes) -> bytes:
    """SHA-256 over the label and the length-prefixed ids and SPAKE2 messages."""
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
        okm = HKDF(algorithm=hashes.SHA256(), length=128, salt=transcript, info=KEYS_INFO).derive(
            spake_key
        )
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


def frame(frame_type: str, **fields: Any) -> str:
    return json.dumps({"v": PROTOCOL_VERSION, "type": frame_type, **fields}, separators=(",", ":"))


def error_frame(code: PairingCode, message: str, attempts_left: int | None = None) -> str:
    extra: dict[str, Any] = {} if attempts_left is None else {"attempts_left": attempts_left}
    return frame("error", code=str(code), message=message[:200], **extra)
