"""Simulated physics as data: thresholds and rates per kind, and the small engines that use them.

A smoke chamber and a gas sensor behave alike for our purpose: a concentration rises while
a source is active, falls once it is removed, is classed normal / warning / critical, and
raises an alarm when it crosses a threshold. The alarm clears a little *below* that
threshold (hysteresis), so a reading hovering at the line does not flap the alarm on and
off. Only the numbers differ between the kinds, so the numbers are the table below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_stubs.fall_detection import FallDetectorConfig


@dataclass(frozen=True, slots=True)
class ConcentrationPhysics:
    """Thresholds (in ``unit``) and default rates of one concentration sensor."""

    unit: str
    warning: float
    alarm: float
    #: The alarm clears once the value falls below ``alarm - hysteresis``.
    hysteresis: float
    rise_per_s: float
    fall_per_s: float
    #: Smallest change of the value alone that is worth a state report (reporting deadband).
    report_delta: float
    maximum: float = 100.0

    def level(self, value: float) -> str:
        """Matter's three-level class (SmokeState values) for a reading."""
        if value >= self.alarm:
            return "critical"
        if value >= self.warning:
            return "warning"
        return "normal"


#: Photoelectric smoke: EN 14604 / UL 217 alarms sound at a few %/m obscuration.
SMOKE = ConcentrationPhysics(
    unit="%/m",
    warning=2.0,
    alarm=4.0,
    hysteresis=0.5,
    rise_per_s=0.5,
    fall_per_s=1.0,
    report_delta=0.5,
)

#: Combustible gas, in percent of the lower explosive limit (GB 15322: alarm 3-25 % LEL).
GAS = ConcentrationPhysics(
    unit="% LEL",
    warning=10.0,
    alarm=20.0,
    hysteresis=2.0,
    rise_per_s=2.0,
    fall_per_s=4.0,
    report_delta=2.0,
)


@dataclass(slots=True)
class ConcentrationSensor:
    """A reading that moves at ``rate_per_s`` each step and tracks its alarm condition."""

    physics: ConcentrationPhysics
    value: float = 0.0
    rate_per_s: float = 0.0
    alarm: bool = False

    @property
    def level(self) -> str:
        return self.physics.level(self.value)

    def step(self, dt: float) -> bool | None:
        """Advance ``dt`` seconds; return the new alarm condition if it changed, else None."""
        self.value = min(self.physics.maximum, max(0.0, self.value + self.rate_per_s * dt))
        if self.value <= 0.0 and self.rate_per_s < 0:
            self.rate_per_s = 0.0
        if not self.alarm and self.value >= self.physics.alarm:
            self.alarm = True
            return True
        if self.alarm and self.value < self.physics.alarm - self.physics.hysteresis:
            self.alarm = False
            return False
        return None


@dataclass(frozen=True, slots=True)
class BatteryPhysics:
    """A slow drain and the levels at which the device warns (Matter BatteryAlert)."""

    drain_pct_per_s: float = 0.0005
    low_pct: int = 15
    critical_pct: int = 5

    def alert(self, pct: int) -> str:
        if pct <= self.critical_pct:
            return "critical"
        if pct <= self.low_pct:
            return "warning"
        return "normal"


BATTERY = BatteryPhysics()
#: Mains-powered equipment (charging ports, cameras): no battery drains, so no battery_low.
MAINS = BatteryPhysics(drain_pct_per_s=0.0)


@dataclass(frozen=True, slots=True)
class SmokeAlarmPhysics:
    smoke: ConcentrationPhysics = SMOKE
    #: Seconds a self-test keeps ``test_in_progress`` set.
    self_test_s: float = 3.0


@dataclass(frozen=True, slots=True)
class GasDetectorPhysics:
    gas: ConcentrationPhysics = GAS
    self_test_s: float = 3.0
    #: A detector wired to a shut-off valve reports ``valve`` open/closed; otherwise "none".
    valve_fitted: bool = True


@dataclass(frozen=True, slots=True)
class FallDetectorPhysics:
    detector: FallDetectorConfig = field(default_factory=FallDetectorConfig)
    #: Detector confidence below this is not reported as a fall.
    min_confidence: float = 0.5
