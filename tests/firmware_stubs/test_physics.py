"""Threshold physics: one event per crossing, hysteresis against flapping, clamped readings."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.catalog import DeviceKind, EventType
from firmware_stubs import GasDetector, SmokeAlarm, make_device
from firmware_stubs.physics import GAS, SMOKE, ConcentrationSensor


def test_smoke_thresholds_follow_the_brief() -> None:
    assert [SMOKE.level(v) for v in (0.0, 1.99, 2.0, 3.99, 4.0, 50.0)] == [
        "normal",
        "normal",
        "warning",
        "warning",
        "critical",
        "critical",
    ]
    assert (GAS.warning, GAS.alarm) == (10.0, 20.0)


def test_alarm_raises_once_and_clears_below_the_hysteresis_band() -> None:
    sensor = ConcentrationSensor(SMOKE, rate_per_s=1.0)
    crossings = [sensor.step(0.5) for _ in range(20)]  # up to 10 %/m
    assert [c for c in crossings if c is not None] == [True]
    sensor.rate_per_s = -1.0
    falling = [(sensor.step(0.25), sensor.value) for _ in range(40)]
    cleared_at = [value for crossed, value in falling if crossed is False]
    assert len(cleared_at) == 1
    assert cleared_at[0] < SMOKE.alarm - SMOKE.hysteresis
    assert sensor.value == 0.0 and sensor.rate_per_s == 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=-0.45, max_value=0.45), min_size=1, max_size=200))
def test_a_reading_hovering_at_the_threshold_does_not_flap(noise: list[float]) -> None:
    sensor = ConcentrationSensor(SMOKE, value=SMOKE.alarm)
    assert sensor.step(0.0) is True
    for wobble in noise:  # readings within the hysteresis band around the threshold
        sensor.value = SMOKE.alarm + wobble
        assert sensor.step(0.0) is None
    sensor.value = SMOKE.alarm - SMOKE.hysteresis - 0.01
    assert sensor.step(0.0) is False


def test_readings_stay_within_the_physical_range() -> None:
    sensor = ConcentrationSensor(GAS, rate_per_s=1000.0)
    sensor.step(10.0)
    assert sensor.value == GAS.maximum
    sensor.rate_per_s = -1000.0
    sensor.step(10.0)
    assert sensor.value == 0.0


def _offline(kind: DeviceKind, device_id: str) -> object:
    return make_device(kind, device_id, "ws://127.0.0.1:9/api/device/ws", "t", rng=random.Random(1))


def test_smoke_events_come_from_ticks_even_without_a_link() -> None:
    smoke = _offline(DeviceKind.SMOKE_ALARM, "smoke-offline")
    assert isinstance(smoke, SmokeAlarm)
    smoke.start_fire(rise_per_s=1.0)
    for _ in range(10):
        smoke.tick(1.0)
    assert [(e.event, e.active) for e in smoke.sent_events] == [(EventType.SMOKE_ALARM, True)]
    assert smoke.sent_events[0].data == {"value": 4.0}
    assert smoke.pending_events() == 1  # kept for the hub


def test_closing_the_valve_stops_the_gas_rising() -> None:
    gas = _offline(DeviceKind.GAS_DETECTOR, "gas-offline")
    assert isinstance(gas, GasDetector)
    gas.start_leak(rise_per_s=2.0)
    gas.tick(5.0)
    assert gas.reading == 10.0
    assert gas.close_valve() is None
    gas.tick(5.0)
    assert gas.reading == 10.0
    gas.start_leak()  # nothing flows through a closed valve
    gas.tick(5.0)
    assert gas.reading == 10.0
    assert gas.sent_events == []
