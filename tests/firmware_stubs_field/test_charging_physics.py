"""The charging curve and thermal model on their own: shape, energy, faults and guards."""

from __future__ import annotations

import itertools

import pytest

from firmware_stubs.charging_physics import (
    EBIKE,
    HIGH_POWER,
    ChargerLoad,
    ChargerProfile,
    LoadPhase,
    PortMeter,
    PortPhysics,
)

STEP_S = 30.0


def _charge(meter: PortMeter, hours: float) -> list[tuple[LoadPhase, float, float, float]]:
    """(phase, power, soc, temperature) every step, until all loads are full or time is up."""
    trace = []
    for _ in range(int(hours * 3600 / STEP_S)):
        meter.step(STEP_S)
        load = meter.loads[0]
        trace.append((load.phase, meter.power_w(), load.soc, meter.temperature_c))
        if meter.all_full:
            break
    return trace


def test_a_normal_charge_is_constant_current_then_taper_then_full() -> None:
    meter = PortMeter(loads=[ChargerLoad(EBIKE, soc=0.2)])
    trace = _charge(meter, hours=12)
    phases = [phase for phase, *_ in trace]
    # CC, then CV, then full, each once and in that order.
    assert [p for p, _ in itertools.groupby(phases)] == [LoadPhase.CC, LoadPhase.CV, LoadPhase.FULL]
    cc = [p for phase, p, *_ in trace if phase is LoadPhase.CC]
    cv = [p for phase, p, *_ in trace if phase is LoadPhase.CV]
    assert all(a <= b for a, b in itertools.pairwise(cc)), "CC draw creeps up, never down"
    assert all(a >= b for a, b in itertools.pairwise(cv)), "CV draw only tapers"
    assert min(cc) >= 120 and max(cc) <= EBIKE.cc_power_w
    assert cv[-1] < 2 * EBIKE.full_below_w
    assert meter.power_w() == pytest.approx(EBIKE.standby_w)
    socs = [soc for _, _, soc, _ in trace]
    assert all(a <= b for a, b in itertools.pairwise(socs)) and socs[-1] > 0.95
    hours = len(trace) * STEP_S / 3600
    assert 3 < hours < 8, f"an e-bike charges in a few hours, not {hours:.1f} h"
    delivered = (socs[-1] - 0.2) * EBIKE.pack_wh / EBIKE.efficiency
    assert meter.energy_wh == pytest.approx(delivered, rel=0.05)
    # Conversion losses warm the plug a little; nowhere near a cut limit.
    assert max(t for *_, t in trace) < 45


def test_thermal_runaway_passes_60_and_cooling_follows_a_cut() -> None:
    meter = PortMeter(loads=[ChargerLoad(EBIKE, soc=0.3, runaway_w_per_s=0.5)])
    temps = [t for *_, t in _charge(meter, hours=1)]
    assert temps[-1] > 60
    assert all(a <= b for a, b in itertools.pairwise(temps)), "runaway heats monotonically"
    meter.relay_closed = False
    hot = meter.temperature_c
    meter.step(1800)
    assert meter.power_w() == 0
    assert meter.temperature_c < hot - 10


def test_a_power_strip_draws_what_no_single_charger_does() -> None:
    single = PortMeter(loads=[ChargerLoad(EBIKE, soc=0.3)])
    strip = PortMeter(loads=[ChargerLoad(EBIKE, soc=s) for s in (0.1, 0.3, 0.5)])
    single.step(60)
    strip.step(60)
    assert strip.power_w() > 2.5 * single.power_w()
    assert strip.current_a() == pytest.approx(strip.power_w() / strip.voltage_v / 0.95, rel=0.01)


def test_a_high_power_load_and_a_short() -> None:
    meter = PortMeter(loads=[ChargerLoad(HIGH_POWER)])
    meter.step(10)
    assert meter.power_w() > 1500
    meter.loads.append(ChargerLoad(EBIKE, shorted=True))
    meter.step(1)
    assert meter.tripped and meter.power_w() == 0 and meter.current_a() == 0


def test_readings_stay_in_the_meter_range() -> None:
    huge = ChargerProfile(pack_wh=1e6, cc_power_w=1e6, full_below_w=10, standby_w=1)
    meter = PortMeter(loads=[ChargerLoad(huge, runaway_w_per_s=1000.0)])
    meter.step(3600)
    assert meter.power_w() == 10000
    assert meter.current_a() == 63
    assert meter.temperature_c == 150


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChargerLoad(soc=-0.1),
        lambda: ChargerLoad(soc=1.5),
        lambda: ChargerLoad(runaway_w_per_s=-1),
        lambda: ChargerProfile(cc_power_w=-150),
        lambda: ChargerProfile(cv_from_soc=1.0),
        lambda: ChargerProfile(full_below_w=200),
        lambda: ChargerProfile(efficiency=0),
        lambda: PortPhysics(tau_s=0),
        lambda: PortPhysics(mains_noise_v=-1),
    ],
)
def test_absurd_parameters_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
