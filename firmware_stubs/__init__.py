"""Reference firmware: simulated life-safety devices that speak the native device link.

Each device has an identity, simulated physics (smoke obscuration, gas % LEL, an
accelerometer, a button, a wet floor), a battery, a persisted sequence counter, and the
device side of the link to a hub. They exist so the hub can be developed and demonstrated
against devices that behave like real ones, including their faults: lost acks, dropped links,
silent devices.
"""

from firmware_stubs.device import SimulatedDevice
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.kinds import (
    DEVICE_CLASSES,
    ChargingPort,
    ElevatorCamera,
    EmergencyButton,
    FallDetector,
    FireLaneSensor,
    GasDetector,
    ParcelLocker,
    ShedSmokeDetector,
    SmokeAlarm,
    WaterLeak,
    make_device,
)
from firmware_stubs.memory import StateFileError

__all__ = [
    "DEVICE_CLASSES",
    "ChargingPort",
    "DeviceIdentity",
    "ElevatorCamera",
    "EmergencyButton",
    "FallDetector",
    "FireLaneSensor",
    "GasDetector",
    "ParcelLocker",
    "ShedSmokeDetector",
    "SimulatedDevice",
    "SmokeAlarm",
    "StateFileError",
    "WaterLeak",
    "make_device",
]
