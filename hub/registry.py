"""Which devices belong to this hub, and the one function that provisions them.

A device proves who it is with a bearer token the hub issued. Only the token's SHA-256 is
stored, so a copied database does not let anyone impersonate a smoke alarm. Provisioning is a
single function so secure pairing (setup codes, QR) can replace it without touching the links.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devices.catalog import DeviceKind
from devices.messages import DEVICE_ID_RE
from devices.uplink import DeviceInfo
from hub.core import now_ms
from hub.keys import new_device_token, token_hash
from hub.store import Store, StoredDevice

MIN_TOKEN_LENGTH = 16
MAX_LABEL_LENGTH = 64


def _is_utf8(text: str) -> bool:
    """Labels travel in every uplink record; one that cannot be UTF-8 would block them all."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A device as the API, the demo and the tests see it."""

    device_id: str
    kind: DeviceKind
    name: str
    room: str
    #: Supervision's verdict: heard from and not silent past its kind's interval.
    online: bool
    #: Milliseconds since the Unix epoch of the last message, or None if never heard.
    last_seen: int | None
    state: dict[str, Any]
    #: A native link is open right now.
    connected: bool = False

    @property
    def id(self) -> str:
        return self.device_id

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "kind": str(self.kind),
            "name": self.name,
            "room": self.room,
            "online": self.online,
            "last_seen": self.last_seen,
            "state": self.state,
            "connected": self.connected,
        }


class DeviceRegistry:
    """Provisioned devices, cached in memory, persisted in the ``devices`` table."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._devices: dict[str, StoredDevice] = {}
        self._by_hash: dict[str, str] = {}
        for device in store.load_devices():
            self._remember(device)

    def _remember(self, device: StoredDevice) -> None:
        old = self._devices.get(device.device_id)
        if old is not None:
            self._by_hash.pop(old.token_hash, None)
        self._devices[device.device_id] = device
        self._by_hash[device.token_hash] = device.device_id

    def provision(
        self, device_id: str, kind: DeviceKind, name: str, room: str, token: str | None = None
    ) -> str:
        """Register a device (or rotate its token) and return the token it must present."""
        if not DEVICE_ID_RE.fullmatch(device_id):
            raise ValueError("device_id must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
        kind = DeviceKind(kind)
        for label, value in (("name", name), ("room", room)):
            if not value or len(value) > MAX_LABEL_LENGTH or not _is_utf8(value):
                raise ValueError(f"{label} must be 1..{MAX_LABEL_LENGTH} characters of text")
        old = self._devices.get(device_id)
        if old is not None and old.kind != kind:
            raise ValueError(f"{device_id} is provisioned as a {old.kind}, not a {kind}")
        if token is None:
            token = new_device_token()
        elif len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"a device token needs at least {MIN_TOKEN_LENGTH} characters")
        hashed = token_hash(token)
        owner = self._by_hash.get(hashed)
        if owner is not None and owner != device_id:
            raise ValueError("that token is already used by another device")
        device = StoredDevice(device_id, kind, name, room, hashed)
        self._store.upsert_device(device, now_ms())
        self._remember(device)
        return token

    def relabel(self, device_id: str, name: str, room: str) -> StoredDevice:
        """Rename a device or move it to another room; its token stays valid."""
        device = self._devices[device_id]
        for label, value in (("name", name), ("room", room)):
            if not value or len(value) > MAX_LABEL_LENGTH or not _is_utf8(value):
                raise ValueError(f"{label} must be 1..{MAX_LABEL_LENGTH} characters of text")
        renamed = StoredDevice(device_id, device.kind, name, room, device.token_hash)
        self._store.upsert_device(renamed, now_ms())
        self._remember(renamed)
        return renamed

    def remove(self, device_id: str) -> StoredDevice | None:
        """Forget a device: its token stops working at once (the caller closes its link)."""
        device = self._devices.get(device_id)
        if device is None:
            return None
        self._store.delete_device(device_id)
        del self._devices[device_id]
        self._by_hash.pop(device.token_hash, None)
        return device

    def authenticate(self, token: str) -> StoredDevice | None:
        device_id = self._by_hash.get(token_hash(token))
        return self._devices.get(device_id) if device_id else None

    def get(self, device_id: str) -> StoredDevice | None:
        return self._devices.get(device_id)

    def all(self) -> list[StoredDevice]:
        return sorted(self._devices.values(), key=lambda d: d.device_id)

    def info(self, device_id: str) -> DeviceInfo:
        device = self._devices[device_id]
        return DeviceInfo(device.device_id, device.kind, device.name, device.room)
