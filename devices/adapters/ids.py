"""Interop device ids from vendor names.

Zigbee2MQTT friendly names may hold spaces, slashes and any Unicode; the interop model wants
``DEVICE_ID_RE``. A name that already fits is used as is, so ids stay readable; any other
name is cleaned and given a short hash of the original, so two names that clean to the same
text still get different ids. The mapping is pure, so every hub derives the same id.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from devices.messages import DEVICE_ID_RE

_BAD: Final = re.compile(r"[^A-Za-z0-9_.:-]+")


def device_id(vendor_name: str) -> str:
    """A valid interop device id for ``vendor_name`` (deterministic, at most 64 characters)."""
    if DEVICE_ID_RE.fullmatch(vendor_name):
        return vendor_name
    digest = hashlib.sha256(vendor_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    cleaned = _BAD.sub("_", vendor_name).strip("_.:-")[:55]
    return f"{cleaned}-{digest}" if cleaned else f"dev-{digest}"
