"""Who a simulated device is: the four facts it announces in its ``hello``.

The model and firmware strings are what a real product would burn in at the factory; the
hub records them so a property manager can tell which unit needs a firmware recall.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.catalog import DeviceKind
from devices.messages import DEVICE_ID_RE, Hello

#: Firmware version of every reference stub (one code base simulates all kinds).
FIRMWARE_VERSION = "1.0.0"

#: Default model name per kind, one row per kind.
DEFAULT_MODELS: dict[DeviceKind, str] = {
    DeviceKind.SMOKE_ALARM: "CY-REF-SA1 photoelectric smoke alarm",
    DeviceKind.GAS_DETECTOR: "CY-REF-GD1 combustible gas detector",
    DeviceKind.FALL_DETECTOR: "CY-REF-FD1 fall detector",
    DeviceKind.EMERGENCY_BUTTON: "CY-REF-EB1 emergency call button",
    DeviceKind.WATER_LEAK: "CY-REF-WL1 water leak sensor",
    DeviceKind.CHARGING_PORT: "CY-REF-CP1 e-bike charging port",
    DeviceKind.ELEVATOR_CAMERA: "CY-REF-EC1 elevator e-bike camera",
    DeviceKind.SHED_SMOKE_DETECTOR: "CY-REF-SS1 charging shed smoke detector",
    DeviceKind.FIRE_LANE_SENSOR: "CY-REF-FL1 fire lane sensor",
    DeviceKind.VISITOR_GATE: "CY-REF-VG1 visitor gate pass reader",  # visitor passes
    DeviceKind.PARCEL_LOCKER: "CY-REF-PL1 parcel locker",
    DeviceKind.DOOR_SENSOR: "CY-REF-DS1 door contact sensor",
    DeviceKind.MOTION_SENSOR: "CY-REF-MS1 motion sensor",
}


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """The identity a device announces; validated so a typo fails here, not at the hub."""

    device_id: str
    kind: DeviceKind
    model: str
    firmware: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DeviceKind(self.kind))  # accept "smoke_alarm" too
        if not DEVICE_ID_RE.fullmatch(self.device_id):
            raise ValueError(
                f"device id {self.device_id[:70]!r} must be 1-64 characters of A-Z a-z 0-9 _ . : -"
                " starting with a letter or digit"
            )
        if not 0 < len(self.model) <= 64:
            raise ValueError("model must be 1-64 characters")
        if not 0 < len(self.firmware) <= 32:
            raise ValueError("firmware must be 1-32 characters")

    @classmethod
    def default(cls, kind: DeviceKind, device_id: str) -> DeviceIdentity:
        return cls(device_id, kind, DEFAULT_MODELS[kind], FIRMWARE_VERSION)

    def hello(self) -> Hello:
        return Hello(self.device_id, self.kind, self.model, self.firmware)

    def describe(self) -> str:
        """One line for logs and the command line (never includes credentials)."""
        return (
            f"device_id={self.device_id} kind={self.kind} model={self.model!r}"
            f" firmware={self.firmware}"
        )
