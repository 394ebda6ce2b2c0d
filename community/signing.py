"""Signed webhooks: the receiver can tell a notification really came from this community.

Each webhook body is signed with HMAC-SHA256 under the target's own secret, over the Unix
timestamp, a dot and the exact body bytes, and sent as::

    X-Courtyard-Signature: t=1763753401,v1=5f0c…(64 hex digits)

A receiver recomputes the HMAC over ``f"{t}.".encode() + body``, compares in constant time,
and refuses a timestamp more than :data:`REPLAY_WINDOW_S` away from its own clock; within
the window it drops a repeated ``X-Courtyard-Delivery`` id (a retry of a delivery it already
has, or a replay). :func:`verify` does the first two for a receiver written in Python.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

HEADER: Final = "X-Courtyard-Signature"
DELIVERY_HEADER: Final = "X-Courtyard-Delivery"
#: Seconds a signature stays acceptable either side of the receiver's clock.
REPLAY_WINDOW_S: Final = 300
_SCHEME: Final = "v1"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},{_SCHEME}={_mac(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, now: int, window_s: int = REPLAY_WINDOW_S
) -> bool:
    """True when ``header`` signs ``body`` under ``secret`` within ``window_s`` of ``now``."""
    fields: dict[str, str] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, value)
    timestamp = fields.get("t", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > window_s:
        return False
    expected = _mac(secret, int(timestamp), body)
    return hmac.compare_digest(expected, fields.get(_SCHEME, ""))
