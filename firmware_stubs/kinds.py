"""The reference devices: each adds its state fields, physics and commands to the link.

The home devices live here; the community's field devices (charging port, elevator camera,
shed smoke detector, fire-lane sensor) have modules of their own and are registered below.

Every class has the same shape: a physics dataclass (thresholds and rates, from
``firmware_stubs.physics``), the actions a person or the environment performs on the device
(``start_fire``, ``press`` ...), ``_step`` for what happens as time passes, ``_snapshot`` for
the state fields the catalog declares, and a command table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from devices.catalog import CommandName, DeviceKind, EventType
from firmware_stubs.care_sensors import DoorSensor, MotionSensor  # care checks
from firmware_stubs.charging import ChargingPort
from firmware_stubs.device import CommandHandler, SimulatedDevice
from firmware_stubs.elevator import ElevatorCamera
from firmware_stubs.fall_detection import FallVerdict, detect_fall, fall_trace, walking_trace
from firmware_stubs.fire_lane import FireLaneSensor
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.parcel_locker import ParcelLocker
from firmware_stubs.physics import (
    ConcentrationSensor,
    FallDetectorPhysics,
    GasDetectorPhysics,
    SmokeAlarmPhysics,
)
from firmware_stubs.shed_smoke import ShedSmokeDetector
from firmware_stubs.visitor_gate import VisitorGate  # visitor passes


def _rate(value: float | None, default: float) -> float:
    rate = default if value is None else value
    if not rate > 0:
        raise ValueError("a rate must be a positive number per second")
    return rate


class _SounderDevice(SimulatedDevice):
    """A device with a concentration sensor and a local sounder that a person can silence."""

    #: The event raised and cleared when the reading crosses the alarm threshold.
    _alarm_event: ClassVar[EventType]
    #: The state field that carries the reading.
    _reading_field: ClassVar[str]
    _sensor: ConcentrationSensor

    def _init_sounder(self, sensor: ConcentrationSensor) -> None:
        self._sensor = sensor
        self._muted = False

    @property
    def sounding(self) -> bool:
        return self._sensor.alarm

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def reading(self) -> float:
        return round(self._sensor.value, 2)

    def press_silence(self) -> str | None:
        """The hush button: mute the sounder. The alarm itself stays reported until it clears."""
        if not self.sounding:
            return "nothing is sounding"
        if not self._muted:
            self._muted = True
            self._emit(EventType.ALARM_SILENCED)
            self._changed()
        return None

    def _step(self, dt: float) -> None:
        crossed = self._sensor.step(dt)
        if crossed is not None:
            self._emit(self._alarm_event, crossed, {"value": self.reading})
        if not self.sounding:
            self._muted = False

    def _report_deltas(self) -> dict[str, float]:
        return {**super()._report_deltas(), self._reading_field: self._sensor.physics.report_delta}

    def _command_handlers(self) -> dict[CommandName, CommandHandler]:
        return {**super()._command_handlers(), CommandName.SILENCE: lambda _a: self.press_silence()}


class SmokeAlarm(_SounderDevice):
    """Photoelectric smoke alarm (Matter Smoke CO Alarm cluster fields)."""

    kind = DeviceKind.SMOKE_ALARM
    _alarm_event = EventType.SMOKE_ALARM
    _reading_field = "obscuration_pct_per_m"

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        physics: SmokeAlarmPhysics | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(identity, hub_url, token, **kwargs)
        self.physics = physics or SmokeAlarmPhysics()
        self.self_test_s = self.physics.self_test_s
        self._init_sounder(ConcentrationSensor(self.physics.smoke))
        self._interconnect_from: str | None = None

    @property
    def sounding(self) -> bool:
        return self._sensor.alarm or self._interconnect_from is not None

    def start_fire(self, rise_per_s: float | None = None) -> None:
        """Smoke starts filling the chamber at ``rise_per_s`` %/m per second."""
        self._sensor.rate_per_s = _rate(rise_per_s, self.physics.smoke.rise_per_s)

    def clear_smoke(self, fall_per_s: float | None = None) -> None:
        """The smoke clears (window opened, fire out) at ``fall_per_s`` %/m per second."""
        self._sensor.rate_per_s = -_rate(fall_per_s, self.physics.smoke.fall_per_s)

    def interconnect_start(self, source_device: str) -> None:
        self._interconnect_from = source_device
        self._changed()

    def interconnect_stop(self) -> None:
        self._interconnect_from = None
        if not self.sounding:
            self._muted = False
        self._changed()

    def _expressed_state(self) -> str:
        bat = self.battery_physics.alert(self.battery_pct)
        conditions = (  # most important first, as Matter's ExpressedState ranks them
            ("smoke_alarm", self._sensor.alarm),
            ("interconnect_smoke", self._interconnect_from is not None),
            ("testing", self.test_in_progress),
            ("hardware_fault", self._hardware_fault),
            ("end_of_service", self._end_of_service),
            ("battery_alert", bat != "normal"),
        )
        return next((name for name, on in conditions if on), "normal")

    def _snapshot(self) -> dict[str, Any]:
        return {
            **super()._snapshot(),
            "expressed_state": self._expressed_state(),
            "smoke_state": self._sensor.level,
            "obscuration_pct_per_m": self.reading,
            "interconnect": self._interconnect_from is not None,
            "muted": self._muted,
        }

    def _command_handlers(self) -> dict[CommandName, CommandHandler]:
        def start(args: dict[str, Any]) -> None:
            self.interconnect_start(str(args.get("source_device", "unknown")))

        def stop(_args: dict[str, Any]) -> None:
            self.interconnect_stop()

        return {
            **super()._command_handlers(),
            CommandName.INTERCONNECT_START: start,
            CommandName.INTERCONNECT_STOP: stop,
        }


class GasDetector(_SounderDevice):
    """Combustible gas detector in % LEL, optionally wired to a shut-off valve."""

    kind = DeviceKind.GAS_DETECTOR
    _alarm_event = EventType.GAS_ALARM
    _reading_field = "lel_pct"

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        physics: GasDetectorPhysics | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(identity, hub_url, token, **kwargs)
        self.physics = physics or GasDetectorPhysics()
        self.self_test_s = self.physics.self_test_s
        self._init_sounder(ConcentrationSensor(self.physics.gas))
        self.valve = "open" if self.physics.valve_fitted else "none"

    def start_leak(self, rise_per_s: float | None = None) -> None:
        """Gas escapes; the concentration rises at ``rise_per_s`` % LEL per second."""
        if self.valve == "closed":
            return  # the valve is shut: nothing flows
        self._sensor.rate_per_s = _rate(rise_per_s, self.physics.gas.rise_per_s)

    def ventilate(self, fall_per_s: float | None = None) -> None:
        self._sensor.rate_per_s = -_rate(fall_per_s, self.physics.gas.fall_per_s)

    def close_valve(self) -> str | None:
        if self.valve == "none":
            return "no shut-off valve is fitted"
        self.valve = "closed"
        self._sensor.rate_per_s = min(self._sensor.rate_per_s, 0.0)  # the source is cut
        self._changed()
        return None

    def open_valve(self) -> None:
        """Manual reset by a person on site (a hub cannot reopen a gas valve)."""
        if self.valve == "closed":
            self.valve = "open"
            self._changed()

    def _snapshot(self) -> dict[str, Any]:
        return {
            **super()._snapshot(),
            "gas_state": self._sensor.level,
            "lel_pct": self.reading,
            "valve": self.valve,
            "muted": self._muted,
        }

    def _command_handlers(self) -> dict[CommandName, CommandHandler]:
        return {
            **super()._command_handlers(),
            CommandName.CLOSE_VALVE: lambda _a: self.close_valve(),
        }


class FallDetector(SimulatedDevice):
    """Wearable fall detector: accelerometer traces go through :func:`detect_fall`."""

    kind = DeviceKind.FALL_DETECTOR

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        physics: FallDetectorPhysics | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(identity, hub_url, token, **kwargs)
        self.physics = physics or FallDetectorPhysics()
        self.occupied = True
        self.fallen = False

    def feed(self, trace: Sequence[float]) -> FallVerdict:
        """Run the detector over a trace of acceleration magnitudes (g); report a confirmed fall."""
        verdict = detect_fall(trace, self.physics.detector)
        confirmed = verdict.detected and verdict.confidence >= self.physics.min_confidence
        if confirmed and not self.fallen:
            self.fallen = True
            self._emit(EventType.FALL_DETECTED, True, {"confidence": verdict.confidence})
            self._changed()
        return verdict

    def fall(self, trace: Sequence[float] | None = None) -> FallVerdict:
        """The wearer falls and lies still: a simulated trace (or ``trace``) is fed in."""
        if trace is None:
            trace = fall_trace(self.rng, config=self.physics.detector)
        return self.feed(trace)

    def walk(self, seconds: float = 4.0) -> FallVerdict:
        """The wearer walks about; this must never be reported as a fall."""
        return self.feed(walking_trace(self.rng, seconds, config=self.physics.detector))

    def get_up(self) -> None:
        if self.fallen:
            self.fallen = False
            self._emit(EventType.FALL_DETECTED, False, {})
            self._changed()

    def set_occupied(self, present: bool) -> None:
        self.occupied = present
        self._changed()

    def _snapshot(self) -> dict[str, Any]:
        return {
            **super()._snapshot(),
            "occupied": self.occupied,
            "fall_state": "fall_detected" if self.fallen else "normal",
        }


class EmergencyButton(SimulatedDevice):
    """SOS button that latches in the called state until reset."""

    kind = DeviceKind.EMERGENCY_BUTTON

    def __init__(self, identity: DeviceIdentity, hub_url: str, token: str, **kwargs: Any) -> None:
        super().__init__(identity, hub_url, token, **kwargs)
        self.pressed = False

    def press(self) -> None:
        """Every press is reported, even while latched: a second press means it is urgent."""
        self.pressed = True
        self._emit(EventType.EMERGENCY_CALL, True)
        self._changed()

    def reset(self) -> None:
        if self.pressed:
            self.pressed = False
            self._emit(EventType.EMERGENCY_CALL, False)
            self._changed()

    def _snapshot(self) -> dict[str, Any]:
        return {**super()._snapshot(), "pressed": self.pressed}


class WaterLeak(SimulatedDevice):
    """Water-leak sensor (Matter Boolean State)."""

    kind = DeviceKind.WATER_LEAK

    def __init__(self, identity: DeviceIdentity, hub_url: str, token: str, **kwargs: Any) -> None:
        super().__init__(identity, hub_url, token, **kwargs)
        self.leak = False

    def start_leak(self) -> None:
        if not self.leak:
            self.leak = True
            self._emit(EventType.WATER_LEAK, True)
            self._changed()

    def dry(self) -> None:
        if self.leak:
            self.leak = False
            self._emit(EventType.WATER_LEAK, False)
            self._changed()

    def _snapshot(self) -> dict[str, Any]:
        return {**super()._snapshot(), "leak": self.leak}


DEVICE_CLASSES: dict[DeviceKind, type[SimulatedDevice]] = {
    DeviceKind.SMOKE_ALARM: SmokeAlarm,
    DeviceKind.GAS_DETECTOR: GasDetector,
    DeviceKind.FALL_DETECTOR: FallDetector,
    DeviceKind.EMERGENCY_BUTTON: EmergencyButton,
    DeviceKind.WATER_LEAK: WaterLeak,
    DeviceKind.CHARGING_PORT: ChargingPort,
    DeviceKind.ELEVATOR_CAMERA: ElevatorCamera,
    DeviceKind.SHED_SMOKE_DETECTOR: ShedSmokeDetector,
    DeviceKind.FIRE_LANE_SENSOR: FireLaneSensor,
    DeviceKind.VISITOR_GATE: VisitorGate,  # visitor passes
    DeviceKind.PARCEL_LOCKER: ParcelLocker,
    DeviceKind.DOOR_SENSOR: DoorSensor,  # care checks
    DeviceKind.MOTION_SENSOR: MotionSensor,  # care checks
}


def make_device(
    kind: DeviceKind,
    device_id: str,
    hub_url: str,
    token: str,
    *,
    model: str | None = None,
    firmware: str | None = None,
    **kwargs: Any,
) -> SimulatedDevice:
    """The reference device of ``kind``; ``kwargs`` go to its constructor (intervals, physics)."""
    kind = DeviceKind(kind)
    default = DeviceIdentity.default(kind, device_id)
    identity = DeviceIdentity(device_id, kind, model or default.model, firmware or default.firmware)
    return DEVICE_CLASSES[kind](identity, hub_url, token, **kwargs)


__all__ = [
    "DEVICE_CLASSES",
    "ChargingPort",
    "DoorSensor",
    "ElevatorCamera",
    "EmergencyButton",
    "FallDetector",
    "FireLaneSensor",
    "GasDetector",
    "MotionSensor",
    "ParcelLocker",
    "ShedSmokeDetector",
    "SmokeAlarm",
    "WaterLeak",
    "make_device",
]
