"""What is printed on a device's label: its 8-digit setup code, its key fingerprint, its QR.

The setup code is the only secret a resident ever handles. It is drawn with ``secrets``
(never ``random``) and codes a person might guess first — one digit eight times,
``12345678``, ``87654321`` — are never issued, as in Matter. The code is not sent anywhere in
any form: it is the password of a PAKE (``devices.pairing.wire``), so a neighbour who records
the pairing learns nothing they can test guesses against offline.

QR payload, one line of printable ASCII::

    CY:1/<device_id>/<kind>/<fingerprint>/<setup code>

``1`` is the payload version; the fingerprint is the first 16 hex digits of the SHA-256 of
the device's raw 32-byte Ed25519 public key. '/' cannot occur in a device id, kind,
fingerprint or code, so the fields split without escaping.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Final

from devices.catalog import DeviceKind
from devices.messages import DEVICE_ID_RE

CODE_DIGITS: Final = 8
FINGERPRINT_HEX: Final = 16
QR_VERSION: Final = 1
QR_PREFIX: Final = f"CY:{QR_VERSION}/"
#: Longest QR payload a reader accepts.
MAX_QR_CHARS: Final = 200
TRIVIAL_CODES: Final = frozenset(
    {str(d) * CODE_DIGITS for d in range(10)} | {"12345678", "87654321"}
)
_CODE_RE: Final = re.compile(r"[0-9]{8}")
_FINGERPRINT_RE: Final = re.compile(r"[0-9a-f]{16}")


def is_valid_code(code: str) -> bool:
    """Eight ASCII digits and not one of the trivial codes no device is ever given."""
    return bool(_CODE_RE.fullmatch(code)) and code not in TRIVIAL_CODES


def new_setup_code() -> str:
    """A fresh random setup code (about 26.6 bits); trivial draws are thrown away."""
    while True:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        if is_valid_code(code):
            return code


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


def qr_payload(device_id: str, kind: DeviceKind, key_fingerprint: str, code: str) -> str:
    """The QR text for a device; refuses values that could not be parsed back."""
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise ValueError("device id is not valid")
    if not is_valid_code(code):
        raise ValueError("setup code is not valid")
    if not is_fingerprint(key_fingerprint):
        raise ValueError("fingerprint must be 16 lowercase hex digits")
    return f"{QR_PREFIX}{device_id}/{DeviceKind(kind)}/{key_fingerprint}/{code}"


def parse_qr(text: str) -> QrPayload:
    """``CY:1/<device_id>/<kind>/<fingerprint>/<code>``; ValueError says what is wrong."""
    if not isinstance(text, str) or len(text) > MAX_QR_CHARS or not text.startswith(QR_PREFIX):
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
