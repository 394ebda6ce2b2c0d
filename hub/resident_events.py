"""Bus payloads about the resident's view of the home: what was discovered, paired, renamed
or removed. The web UI's live feed listens for these next to the device events."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DiscoveryChanged:
    """The list of unpaired devices on the LAN changed."""


@dataclass(frozen=True, slots=True)
class DeviceChanged:
    """A device was paired, renamed, scheduled for removal, or had its removal undone."""

    device_id: str


@dataclass(frozen=True, slots=True)
class DeviceRemoved:
    """A removal became final: the device's credential is revoked."""

    device_id: str
