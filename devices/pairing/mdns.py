"""How devices and hubs announce themselves on the LAN: DNS-SD service types and TXT records.

An unpaired device registers ``_courtyard-dev._tcp.local.`` as instance ``cy-<fingerprint>``
(unique per key, so two devices never fight over a name, and a copycat advertising another's
id shows up as a second entry instead of replacing the first); the port is its pairing
endpoint's. The hub registers ``_courtyard-hub._tcp.local.``.

Everything heard on the LAN is untrusted: :func:`parse_device_txt` refuses a record with a key
missing, an unknown kind, a value that is not UTF-8 or simply too much data, with a message
that quotes no raw bytes. A discovered fingerprint is only a hint until pairing checks it
against the key the device proves it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from devices.catalog import DeviceKind
from devices.messages import DEVICE_ID_RE
from devices.pairing.label import is_fingerprint
from devices.pairing.wire import PROTOCOL_VERSION

DEVICE_SERVICE: Final = "_courtyard-dev._tcp.local."
HUB_SERVICE: Final = "_courtyard-hub._tcp.local."
HUB_TXT_VERSION: Final = "1"
#: A device's whole TXT record must fit in this (ours is about 120 bytes).
MAX_TXT_BYTES: Final = 1024


@dataclass(frozen=True, slots=True)
class TxtKey:
    key: str
    max_chars: int
    required: bool
    meaning: str


#: The ``_courtyard-dev`` TXT keys; values are 1..max_chars printable UTF-8 characters.
DEVICE_TXT: Final[tuple[TxtKey, ...]] = (
    TxtKey("id", 64, True, "device id"),
    TxtKey("kind", 32, True, "device kind, one of the catalog's kinds"),
    TxtKey("model", 64, True, "model name"),
    TxtKey("fw", 32, True, "firmware version"),
    TxtKey("fp", 16, True, "key fingerprint, 16 lowercase hex digits"),
    TxtKey("pv", 4, False, f"pairing protocol version, `{PROTOCOL_VERSION}` when absent"),
)
#: The ``_courtyard-hub`` TXT keys (informational; nothing is believed from them).
HUB_TXT: Final[tuple[TxtKey, ...]] = (
    TxtKey("id", 64, True, "hub id"),
    TxtKey("version", 4, True, f"TXT schema version, `{HUB_TXT_VERSION}`"),
    TxtKey("port", 5, True, "the hub's HTTP port (also the SRV port)"),
)

_LIMITS: Final = {t.key: t.max_chars for t in DEVICE_TXT}
_REQUIRED: Final = tuple(t.key for t in DEVICE_TXT if t.required)


class TxtError(ValueError):
    """A device's TXT record is not one we accept; the message says why (no raw bytes)."""


@dataclass(frozen=True, slots=True)
class DeviceTxt:
    device_id: str
    kind: DeviceKind
    model: str
    firmware: str
    fingerprint: str


def device_instance(key_fingerprint: str) -> str:
    """The DNS-SD instance name a device advertises under."""
    return f"cy-{key_fingerprint}.{DEVICE_SERVICE}"


def device_txt(txt: DeviceTxt) -> dict[str, str]:
    """The TXT record a device advertises."""
    return {
        "id": txt.device_id,
        "kind": str(txt.kind),
        "model": txt.model,
        "fw": txt.firmware,
        "fp": txt.fingerprint,
        "pv": str(PROTOCOL_VERSION),
    }


def hub_txt(hub_id: str, port: int) -> dict[str, str]:
    """The TXT record a hub advertises."""
    return {"id": hub_id, "version": HUB_TXT_VERSION, "port": str(port)}


def parse_device_txt(properties: Mapping[Any, Any]) -> DeviceTxt:
    """Validate a ``_courtyard-dev`` TXT record as zeroconf hands it over (bytes -> bytes)."""
    if not isinstance(properties, Mapping):
        raise TxtError("TXT record is not a key/value list")
    size = 0
    fields: dict[str, str] = {}
    for raw_key, raw_value in properties.items():
        if not isinstance(raw_key, bytes) or not (
            raw_value is None or isinstance(raw_value, bytes)
        ):
            raise TxtError("TXT keys and values must be bytes")
        size += len(raw_key) + 1 + len(raw_value or b"")
        if size > MAX_TXT_BYTES:
            raise TxtError("TXT record is too large")
        try:
            key = raw_key.decode("utf-8").lower()
        except UnicodeDecodeError:
            raise TxtError("a TXT key is not UTF-8") from None
        if key not in _LIMITS:
            continue  # a newer firmware's extra field: ignored, not fatal
        if raw_value is None:
            raise TxtError(f"TXT {key} has no value")
        try:
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            raise TxtError(f"TXT {key} is not UTF-8") from None
        if not 0 < len(value) <= _LIMITS[key] or not value.isprintable():
            raise TxtError(f"TXT {key} must be 1..{_LIMITS[key]} printable characters")
        fields[key] = value
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise TxtError(f"TXT record lacks {', '.join(missing)}")
    if fields.get("pv", str(PROTOCOL_VERSION)) != str(PROTOCOL_VERSION):
        raise TxtError("unsupported pairing protocol version")
    if not DEVICE_ID_RE.fullmatch(fields["id"]):
        raise TxtError("TXT id is not a valid device id")
    try:
        kind = DeviceKind(fields["kind"])
    except ValueError:
        raise TxtError("TXT kind is not a known device kind") from None
    if not is_fingerprint(fields["fp"]):
        raise TxtError("TXT fp must be 16 lowercase hex digits")
    return DeviceTxt(fields["id"], kind, fields["model"], fields["fw"], fields["fp"])
