"""A fire-lane sensor: what stands in one zone, and the plate of a vehicle if it can read one.

The sensor reports presence as state the moment it changes; how long a car may stand before
it is an obstruction is each zone's threshold at the community, so the device never decides.
A scenario can give an arrival a dwell time, after which the vehicle or object leaves by
itself, so a demo reads like a real evening: a car stops, waits, drives off.

A plate is personal data: it is reported to the hub (which needs it for the consented
owner notice) but never written to a log here.
"""

from __future__ import annotations

from typing import Any

from devices.catalog import DeviceKind
from firmware_stubs.device import SimulatedDevice
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.physics import MAINS

UNREADABLE = "unreadable"
_PLATE_MAX = 16


class FireLaneSensor(SimulatedDevice):
    """Camera or ground sensor for one fire-lane zone."""

    kind = DeviceKind.FIRE_LANE_SENSOR

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        zone_id: str = "zone-1",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("battery", MAINS)
        super().__init__(identity, hub_url, token, **kwargs)
        if not 0 < len(zone_id) <= 64:
            raise ValueError("zone_id must be 1-64 characters")
        self.zone_id = zone_id
        self.vehicle_present = False
        self.object_present = False
        self.plate = UNREADABLE
        self._vehicle_leaves_at: float | None = None
        self._object_removed_at: float | None = None

    def vehicle_arrives(self, plate: str | None = None, dwell_s: float | None = None) -> None:
        """A vehicle stops in the zone; it leaves by itself after ``dwell_s`` if given."""
        if plate is not None and not 0 < len(plate) <= _PLATE_MAX:
            raise ValueError(f"a plate must be 1-{_PLATE_MAX} characters")
        self.vehicle_present = True
        self.plate = plate or UNREADABLE
        self._vehicle_leaves_at = self._after(dwell_s)
        self._changed()

    def vehicle_leaves(self) -> None:
        self._vehicle_leaves_at = None
        if self.vehicle_present:
            self.vehicle_present = False
            self._changed()

    def object_placed(self, dwell_s: float | None = None) -> None:
        """Boxes, bikes or rubbish are left in the zone; removed after ``dwell_s`` if given."""
        self.object_present = True
        self._object_removed_at = self._after(dwell_s)
        self._changed()

    def object_removed(self) -> None:
        self._object_removed_at = None
        if self.object_present:
            self.object_present = False
            self._changed()

    def _after(self, dwell_s: float | None) -> float | None:
        if dwell_s is None:
            return None
        if not dwell_s >= 0:
            raise ValueError("dwell_s must not be negative")
        return self._sim_time + dwell_s

    def _step(self, dt: float) -> None:
        if self._vehicle_leaves_at is not None and self._sim_time >= self._vehicle_leaves_at:
            self.vehicle_leaves()
        if self._object_removed_at is not None and self._sim_time >= self._object_removed_at:
            self.object_removed()

    def _snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {
            **super()._snapshot(),
            "zone_id": self.zone_id,
            "vehicle_present": self.vehicle_present,
            "object_present": self.object_present,
        }
        if self.vehicle_present:
            snap["plate"] = self.plate
        return snap
