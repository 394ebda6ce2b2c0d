"""The reference door contact and motion sensors: the signs of life a daily care check counts.

Neither raises an alarm. A door opening or closing and a movement are state changes
(``contact``, ``occupancy``) that the home hub sees; the hub's care check treats any of them
as "someone is up and about" and never sends them anywhere by itself.
"""

from __future__ import annotations

from typing import Any

from devices.catalog import DeviceKind
from firmware_stubs.device import SimulatedDevice
from firmware_stubs.identity import DeviceIdentity


class DoorSensor(SimulatedDevice):
    """Door contact sensor (Matter Boolean State: ``contact`` true while the door is shut)."""

    kind = DeviceKind.DOOR_SENSOR

    def __init__(self, identity: DeviceIdentity, hub_url: str, token: str, **kwargs: Any) -> None:
        super().__init__(identity, hub_url, token, **kwargs)
        self.closed = True

    def open(self) -> None:
        if self.closed:
            self.closed = False
            self._changed()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._changed()

    def _snapshot(self) -> dict[str, Any]:
        return {**super()._snapshot(), "contact": self.closed}


class MotionSensor(SimulatedDevice):
    """Motion sensor (Matter Occupancy Sensing: ``occupancy`` while someone moves nearby)."""

    kind = DeviceKind.MOTION_SENSOR

    def __init__(self, identity: DeviceIdentity, hub_url: str, token: str, **kwargs: Any) -> None:
        super().__init__(identity, hub_url, token, **kwargs)
        self.occupancy = False

    def move(self) -> None:
        """Someone walks past: occupancy is reported."""
        if not self.occupancy:
            self.occupancy = True
            self._changed()

    def still(self) -> None:
        """The sensor's hold time ran out with nobody moving."""
        if self.occupancy:
            self.occupancy = False
            self._changed()

    def _snapshot(self) -> dict[str, Any]:
        return {**super()._snapshot(), "occupancy": self.occupancy}
