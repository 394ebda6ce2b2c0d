"""How an e-bike charger loads a charging port, and how hot the plug and pack get.

An e-bike charger is a CC/CV lithium-ion charger behind a mains power supply. Seen from the
port's meter that gives the curve every charging-shed operator knows:

- constant current (CC): the draw is nearly flat (a 48 V pack on a 2 A charger: about
  130-150 W from the mains), creeping up a little as the pack voltage rises;
- constant voltage (CV) from about 80 % charge: the current tapers, so the draw falls
  roughly exponentially;
- full: once the draw falls below the charger's own cut-off it stops and idles at about a
  watt.

Faults are changes to the same model, so a scenario reads like what happens in a shed: a
battery whose cells heat up on their own (thermal runaway: heat that grows while it
charges), a power strip feeding several chargers at once (the port sees the sum: steps
of 130-150 W and a total no single charger draws), a high-power load (a scooter fast
charger, a heater), and a short (the port's protection trips at once).

Temperatures follow a first-order thermal model: the probe tends towards ``ambient + heat *
K/W`` with a time constant. Every reading is clamped into the range the interop catalog
declares, because a real meter saturates rather than reporting nonsense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

#: Longest physics step; longer ticks are split so the curve stays smooth and stable.
MAX_STEP_S = 5.0
#: Meter ranges, equal to the catalog's ``charging_port`` field ranges.
POWER_RANGE = (0.0, 10000.0)
CURRENT_RANGE = (0.0, 63.0)
VOLTAGE_RANGE = (0.0, 300.0)
TEMPERATURE_RANGE = (-40.0, 150.0)


def clamp(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return min(high, max(low, value))


@dataclass(frozen=True, slots=True)
class ChargerProfile:
    """One charger and its pack: the numbers that shape the curve (defaults: 48 V 12 Ah, 2 A)."""

    pack_wh: float = 580.0
    #: Mains draw at the end of the CC phase, watts.
    cc_power_w: float = 150.0
    #: State of charge at which the charger switches from constant current to constant voltage.
    cv_from_soc: float = 0.8
    #: The charger declares the pack full when its draw falls below this, watts.
    full_below_w: float = 6.0
    #: What a charger with a full pack still draws, watts.
    standby_w: float = 0.8
    efficiency: float = 0.85
    power_factor: float = 0.95

    def __post_init__(self) -> None:
        if not (self.pack_wh > 0 and self.cc_power_w > 0):
            raise ValueError("pack_wh and cc_power_w must be positive")
        if not 0 < self.cv_from_soc < 1:
            raise ValueError("cv_from_soc must be between 0 and 1")
        if not 0 <= self.standby_w < self.full_below_w < self.cc_power_w:
            raise ValueError("need 0 <= standby_w < full_below_w < cc_power_w")
        if not (0 < self.efficiency <= 1 and 0 < self.power_factor <= 1):
            raise ValueError("efficiency and power_factor must be in (0, 1]")


#: An ordinary e-bike charger.
EBIKE = ChargerProfile()
#: Something no e-bike charger draws: a scooter fast charger or a heater on the port.
HIGH_POWER = ChargerProfile(pack_wh=1500.0, cc_power_w=1800.0, full_below_w=40.0, standby_w=5.0)


class LoadPhase(StrEnum):
    CC = "cc"
    CV = "cv"
    FULL = "full"


@dataclass(slots=True)
class ChargerLoad:
    """One charger plugged in (directly or through a power strip), with its pack's charge."""

    profile: ChargerProfile = EBIKE
    soc: float = 0.2
    #: Thermal runaway: internal heat (W) grows by this much per second of charging.
    runaway_w_per_s: float = 0.0
    #: A short circuit in the charger or cable.
    shorted: bool = False
    full: bool = False
    runaway_heat_w: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.soc <= 1:
            raise ValueError("soc must be between 0 and 1")
        if not self.runaway_w_per_s >= 0:
            raise ValueError("runaway_w_per_s must not be negative")

    @property
    def phase(self) -> LoadPhase:
        if self.full:
            return LoadPhase.FULL
        return LoadPhase.CC if self.soc < self.profile.cv_from_soc else LoadPhase.CV

    def draw_w(self) -> float:
        """Mains power the charger draws now."""
        p = self.profile
        if self.full:
            return p.standby_w
        if self.soc < p.cv_from_soc:  # CC: the pack voltage, and with it the power, creeps up
            return p.cc_power_w * (0.92 + 0.08 * self.soc / p.cv_from_soc)
        return p.cc_power_w * (1.0 - self.soc) / (1.0 - p.cv_from_soc)  # CV: current tapers

    def heat_w(self) -> float:
        """Heat released near the plug and pack: conversion losses plus any runaway."""
        return self.draw_w() * (1.0 - self.profile.efficiency) + self.runaway_heat_w

    def step(self, dt: float, powered: bool) -> None:
        if powered and not self.full:
            stored = self.draw_w() * self.profile.efficiency * dt / 3600.0
            self.soc = min(1.0, self.soc + stored / self.profile.pack_wh)
            if self.draw_w() < self.profile.full_below_w:
                self.full = True
        if powered and self.runaway_w_per_s > 0:
            self.runaway_heat_w += self.runaway_w_per_s * dt
        else:  # without current the cells' self-heating dies away
            self.runaway_heat_w *= math.exp(-dt / 120.0)


@dataclass(frozen=True, slots=True)
class PortPhysics:
    """The port's surroundings: mains, thermal behaviour, meter noise and reporting deadbands."""

    mains_v: float = 220.0
    mains_noise_v: float = 1.5
    ambient_c: float = 25.0
    #: Probe temperature rise per watt of heat at equilibrium, kelvin per watt.
    k_per_w: float = 0.45
    #: Thermal time constant, seconds.
    tau_s: float = 300.0
    #: Reporting deadbands: a change smaller than this alone is not worth a state report.
    report_deltas: dict[str, float] = field(
        default_factory=lambda: {
            "power_w": 5.0,
            "current_a": 0.05,
            "voltage_v": 3.0,
            "temperature_c": 0.5,
            "energy_wh": 5.0,
        }
    )

    def __post_init__(self) -> None:
        if not (self.mains_v > 0 and self.tau_s > 0 and self.k_per_w >= 0):
            raise ValueError("mains_v and tau_s must be positive, k_per_w not negative")
        if not self.mains_noise_v >= 0:
            raise ValueError("mains_noise_v must not be negative")


@dataclass(slots=True)
class PortMeter:
    """The port's relay, breaker and meter, and the loads behind it."""

    physics: PortPhysics = field(default_factory=PortPhysics)
    loads: list[ChargerLoad] = field(default_factory=list)
    relay_closed: bool = True
    tripped: bool = False
    temperature_c: float = 25.0
    voltage_v: float = 220.0
    energy_wh: float = 0.0

    def __post_init__(self) -> None:
        self.temperature_c = self.physics.ambient_c
        self.voltage_v = self.physics.mains_v

    @property
    def powered(self) -> bool:
        return self.relay_closed and not self.tripped

    def power_w(self) -> float:
        if not self.powered:
            return 0.0
        return clamp(sum(load.draw_w() for load in self.loads), POWER_RANGE)

    def current_a(self) -> float:
        if not self.powered or self.voltage_v <= 0:
            return 0.0
        va = sum(load.draw_w() / load.profile.power_factor for load in self.loads)
        return clamp(va / self.voltage_v, CURRENT_RANGE)

    def step(self, dt: float, noise: float = 0.0) -> None:
        """Advance ``dt`` seconds; ``noise`` in [-1, 1] jitters the mains voltage."""
        remaining = dt
        while remaining > 0:
            h = min(MAX_STEP_S, remaining)
            remaining -= h
            if self.powered and any(load.shorted for load in self.loads):
                self.tripped = True  # the breaker opens before any energy flows
            powered = self.powered
            self.energy_wh += self.power_w() * h / 3600.0
            for load in self.loads:
                load.step(h, powered)
            heat = sum(load.heat_w() if powered else load.runaway_heat_w for load in self.loads)
            target = self.physics.ambient_c + heat * self.physics.k_per_w
            self.temperature_c += (target - self.temperature_c) * (
                1.0 - math.exp(-h / self.physics.tau_s)
            )
        self.temperature_c = clamp(self.temperature_c, TEMPERATURE_RANGE)
        jitter = max(-1.0, min(1.0, noise)) * self.physics.mains_noise_v
        self.voltage_v = clamp(self.physics.mains_v + jitter, VOLTAGE_RANGE)

    @property
    def all_full(self) -> bool:
        return bool(self.loads) and all(load.full for load in self.loads)
