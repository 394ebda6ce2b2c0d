"""The charging shed's smoke detector: a smoke alarm's chamber, a shed's alarm name.

It uses the same smoke physics as the home smoke alarm but raises ``charging_shed_smoke``, so
the community can tell a shed fire (cut every port, call the fire service) from a kitchen.
There is no hush button: nobody cooks in a charging shed.
"""

from __future__ import annotations

from typing import Any

from devices.catalog import DeviceKind, EventType
from firmware_stubs.device import SimulatedDevice
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.physics import ConcentrationSensor, SmokeAlarmPhysics


class ShedSmokeDetector(SimulatedDevice):
    """Photoelectric smoke detector in an e-bike charging shed."""

    kind = DeviceKind.SHED_SMOKE_DETECTOR

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
        self._sensor = ConcentrationSensor(self.physics.smoke)

    @property
    def alarm(self) -> bool:
        return self._sensor.alarm

    @property
    def reading(self) -> float:
        return round(self._sensor.value, 2)

    def start_fire(self, rise_per_s: float | None = None) -> None:
        rate = self.physics.smoke.rise_per_s if rise_per_s is None else rise_per_s
        if not rate > 0:
            raise ValueError("a rate must be a positive number per second")
        self._sensor.rate_per_s = rate

    def clear_smoke(self, fall_per_s: float | None = None) -> None:
        rate = self.physics.smoke.fall_per_s if fall_per_s is None else fall_per_s
        if not rate > 0:
            raise ValueError("a rate must be a positive number per second")
        self._sensor.rate_per_s = -rate

    def _step(self, dt: float) -> None:
        crossed = self._sensor.step(dt)
        if crossed is not None:
            self._emit(EventType.CHARGING_SHED_SMOKE, crossed, {"value": self.reading})

    def _snapshot(self) -> dict[str, Any]:
        return {
            **super()._snapshot(),
            "smoke_state": self._sensor.level,
            "obscuration_pct_per_m": self.reading,
        }

    def _report_deltas(self) -> dict[str, float]:
        return {
            **super()._report_deltas(),
            "obscuration_pct_per_m": self.physics.smoke.report_delta,
        }
