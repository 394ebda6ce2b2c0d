"""Each kind's scenario, end to end over a real link: the right events, priorities and states."""

from __future__ import annotations

import pytest

from devices.catalog import CommandName, EventType, Priority
from devices.messages import Event, decode_json
from firmware_stubs import (
    EmergencyButton,
    FallDetector,
    GasDetector,
    SimulatedDevice,
    SmokeAlarm,
    WaterLeak,
)
from firmware_stubs.physics import BatteryPhysics, GasDetectorPhysics, SmokeAlarmPhysics
from tests.firmware_stubs.conftest import MakeDevice
from tests.firmware_stubs.fakehub import FakeHub


def _named(hub: FakeHub, device_id: str, name: EventType) -> list[Event]:
    return [e for e in hub.events(device_id) if e.event is name]


def _wire_priority(hub: FakeHub, device_id: str, seq: int) -> str:
    raw = hub.devices[device_id].seen_raw[seq]
    return str(decode_json(raw)["priority"])


async def _acked(hub: FakeHub, device: SimulatedDevice) -> None:
    """Every event the device emitted reached the hub and was acknowledged."""
    await hub.wait_for(lambda: device.pending_events() == 0)
    assert {e.seq for e in device.sent_events} <= device.acked_seqs


async def test_smoke_alarm_fire_silence_clear(hub: FakeHub, make_device: MakeDevice) -> None:
    smoke = await make_device(SmokeAlarm, "smoke-1")
    smoke.start_fire(rise_per_s=10.0)
    await hub.wait_for(lambda: bool(_named(hub, "smoke-1", EventType.SMOKE_ALARM)))
    raised = _named(hub, "smoke-1", EventType.SMOKE_ALARM)[0]
    assert raised.active is True
    assert raised.priority is Priority.CRITICAL
    assert _wire_priority(hub, "smoke-1", raised.seq) == "critical"
    assert raised.data["value"] >= 4.0
    levels = [s.state["smoke_state"] for s in hub.states("smoke-1") if "smoke_state" in s.state]
    assert levels[:3] == ["normal", "warning", "critical"]
    await hub.wait_for(lambda: hub.last_state("smoke-1").get("expressed_state") == "smoke_alarm")

    assert smoke.press_silence() is None
    await hub.wait_for(lambda: bool(_named(hub, "smoke-1", EventType.ALARM_SILENCED)))
    silenced = _named(hub, "smoke-1", EventType.ALARM_SILENCED)[0]
    assert silenced.priority is Priority.INFO
    await hub.wait_for(lambda: hub.last_state("smoke-1").get("muted") is True)
    # Silencing mutes the sounder only: the alarm condition is still reported, not cleared.
    assert [e.active for e in _named(hub, "smoke-1", EventType.SMOKE_ALARM)] == [True]
    assert hub.last_state("smoke-1")["smoke_state"] == "critical"

    smoke.clear_smoke(fall_per_s=200.0)
    await hub.wait_for(lambda: len(_named(hub, "smoke-1", EventType.SMOKE_ALARM)) == 2)
    cleared = _named(hub, "smoke-1", EventType.SMOKE_ALARM)[1]
    assert cleared.active is False
    assert cleared.priority is Priority.CRITICAL
    await hub.wait_for(lambda: hub.last_state("smoke-1").get("smoke_state") == "normal")
    assert hub.last_state("smoke-1")["muted"] is False
    assert hub.last_state("smoke-1")["expressed_state"] == "normal"
    assert smoke.press_silence() == "nothing is sounding"
    await _acked(hub, smoke)


async def test_smoke_alarm_interconnect_and_self_test(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    smoke = await make_device(SmokeAlarm, "smoke-2", physics=SmokeAlarmPhysics(self_test_s=0.2))
    cid = await hub.send_command(
        "smoke-2", CommandName.INTERCONNECT_START, {"source_device": "smoke-1"}
    )
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: hub.last_state("smoke-2").get("interconnect") is True)
    assert hub.last_state("smoke-2")["expressed_state"] == "interconnect_smoke"
    cid = await hub.send_command("smoke-2", CommandName.INTERCONNECT_STOP)
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: hub.last_state("smoke-2").get("interconnect") is False)
    assert hub.last_state("smoke-2")["expressed_state"] == "normal"

    cid = await hub.send_command("smoke-2", CommandName.SELF_TEST)
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: bool(_named(hub, "smoke-2", EventType.SELF_TEST)))
    test_event = _named(hub, "smoke-2", EventType.SELF_TEST)[0]
    assert test_event.data == {"passed": True}
    assert test_event.priority is Priority.INFO
    during = [s.state for s in hub.states("smoke-2") if s.state.get("test_in_progress") is True]
    assert during and during[0]["expressed_state"] == "testing"
    await hub.wait_for(lambda: hub.last_state("smoke-2").get("test_in_progress") is False)
    # Interconnect raises no event: the hub knows, it sent the command.
    assert {e.event for e in hub.events("smoke-2")} == {EventType.SELF_TEST}
    assert len(smoke.commands_received) == 3


async def test_gas_detector_leak_valve_ventilate(hub: FakeHub, make_device: MakeDevice) -> None:
    gas = await make_device(GasDetector, "gas-1")
    gas.start_leak(rise_per_s=50.0)
    await hub.wait_for(lambda: bool(_named(hub, "gas-1", EventType.GAS_ALARM)))
    alarm = _named(hub, "gas-1", EventType.GAS_ALARM)[0]
    assert (alarm.active, alarm.priority) == (True, Priority.CRITICAL)
    assert alarm.data["value"] >= 20.0
    levels = [s.state["gas_state"] for s in hub.states("gas-1") if "gas_state" in s.state]
    assert levels[:3] == ["normal", "warning", "critical"]

    cid = await hub.send_command("gas-1", CommandName.CLOSE_VALVE)
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: hub.last_state("gas-1").get("valve") == "closed")
    cid = await hub.send_command("gas-1", CommandName.SILENCE)
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: bool(_named(hub, "gas-1", EventType.ALARM_SILENCED)))

    gas.ventilate(fall_per_s=500.0)
    await hub.wait_for(lambda: len(_named(hub, "gas-1", EventType.GAS_ALARM)) == 2)
    assert _named(hub, "gas-1", EventType.GAS_ALARM)[1].active is False
    await hub.wait_for(lambda: hub.last_state("gas-1").get("gas_state") == "normal")
    assert hub.last_state("gas-1")["valve"] == "closed"
    await _acked(hub, gas)


async def test_gas_detector_without_valve_refuses_close(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    await make_device(GasDetector, "gas-2", physics=GasDetectorPhysics(valve_fitted=False))
    cid = await hub.send_command("gas-2", CommandName.CLOSE_VALVE)
    ack = await hub.command_ack(cid)
    assert ack.ok is False
    assert "valve" in ack.error
    assert hub.last_state("gas-2")["valve"] == "none"


async def test_fall_detector_fall_and_get_up(hub: FakeHub, make_device: MakeDevice) -> None:
    fall = await make_device(FallDetector, "fall-1")
    assert not fall.walk(seconds=5).detected
    verdict = fall.fall()
    assert verdict.detected
    await hub.wait_for(lambda: bool(_named(hub, "fall-1", EventType.FALL_DETECTED)))
    event = _named(hub, "fall-1", EventType.FALL_DETECTED)[0]
    assert (event.active, event.priority) == (True, Priority.CRITICAL)
    assert 0.5 <= event.data["confidence"] <= 1.0
    await hub.wait_for(lambda: hub.last_state("fall-1").get("fall_state") == "fall_detected")

    fall.get_up()
    await hub.wait_for(lambda: len(_named(hub, "fall-1", EventType.FALL_DETECTED)) == 2)
    assert _named(hub, "fall-1", EventType.FALL_DETECTED)[1].active is False
    await hub.wait_for(lambda: hub.last_state("fall-1").get("fall_state") == "normal")
    await _acked(hub, fall)


async def test_emergency_button_press_and_reset(hub: FakeHub, make_device: MakeDevice) -> None:
    button = await make_device(EmergencyButton, "sos-1")
    button.press()
    await hub.wait_for(lambda: bool(_named(hub, "sos-1", EventType.EMERGENCY_CALL)))
    call = _named(hub, "sos-1", EventType.EMERGENCY_CALL)[0]
    assert (call.active, call.priority) == (True, Priority.CRITICAL)
    await hub.wait_for(lambda: hub.last_state("sos-1").get("pressed") is True)
    button.reset()
    await hub.wait_for(lambda: len(_named(hub, "sos-1", EventType.EMERGENCY_CALL)) == 2)
    assert _named(hub, "sos-1", EventType.EMERGENCY_CALL)[1].active is False
    await hub.wait_for(lambda: hub.last_state("sos-1").get("pressed") is False)
    await _acked(hub, button)


async def test_water_leak_and_dry(hub: FakeHub, make_device: MakeDevice) -> None:
    leak = await make_device(WaterLeak, "leak-1")
    leak.start_leak()
    leak.start_leak()  # still wet: one condition, one event
    leak.dry()
    await hub.wait_for(lambda: len(_named(hub, "leak-1", EventType.WATER_LEAK)) == 2)
    events = _named(hub, "leak-1", EventType.WATER_LEAK)
    assert [(e.active, e.priority) for e in events] == [
        (True, Priority.CRITICAL),
        (False, Priority.CRITICAL),
    ]
    await _acked(hub, leak)


async def test_battery_drains_to_low_and_is_replaced(hub: FakeHub, make_device: MakeDevice) -> None:
    smoke = await make_device(
        SmokeAlarm,
        "smoke-bat",
        battery_pct=17.0,
        battery=BatteryPhysics(drain_pct_per_s=10.0),
    )
    await hub.wait_for(lambda: bool(_named(hub, "smoke-bat", EventType.BATTERY_LOW)))
    low = _named(hub, "smoke-bat", EventType.BATTERY_LOW)[0]
    assert (low.active, low.priority) == (True, Priority.INFO)
    await hub.wait_for(lambda: hub.last_state("smoke-bat").get("battery_alert") == "warning")
    assert hub.last_state("smoke-bat")["battery_pct"] <= 15
    await hub.wait_for(lambda: hub.last_state("smoke-bat").get("battery_alert") == "critical")
    smoke.battery_physics = BatteryPhysics(drain_pct_per_s=0.0)
    smoke.replace_battery()
    await hub.wait_for(lambda: len(_named(hub, "smoke-bat", EventType.BATTERY_LOW)) == 2)
    assert _named(hub, "smoke-bat", EventType.BATTERY_LOW)[1].active is False
    await hub.wait_for(lambda: hub.last_state("smoke-bat").get("battery_pct") == 100)
    assert hub.last_state("smoke-bat")["expressed_state"] == "normal"


async def test_heartbeats_and_periodic_full_state(hub: FakeHub, make_device: MakeDevice) -> None:
    leak = await make_device(WaterLeak, "leak-hb", heartbeat_s=0.05, telemetry_s=0.1)
    await hub.wait_for(lambda: len(hub.heartbeats("leak-hb")) >= 3)
    await hub.wait_for(lambda: len(hub.states("leak-hb")) >= 3)
    for state in hub.states("leak-hb"):
        assert set(state.state) == {"leak", "battery_pct"}  # full reports, nothing changed
    beats = {h.seq for h in hub.heartbeats("leak-hb")}
    await hub.wait_for(lambda: beats <= leak.acked_seqs)


async def test_trouble_events_every_kind_can_raise(hub: FakeHub, make_device: MakeDevice) -> None:
    button = await make_device(EmergencyButton, "sos-trouble")
    button.set_tamper(True)
    button.set_hardware_fault(True)
    button.set_end_of_service(True)
    button.set_tamper(False)
    await hub.wait_for(lambda: len(hub.events("sos-trouble")) == 4)
    got = [(e.event, e.active, e.priority) for e in hub.events("sos-trouble")]
    assert got == [
        (EventType.TAMPER, True, Priority.ALERT),
        (EventType.HARDWARE_FAULT, True, Priority.ALERT),
        (EventType.END_OF_SERVICE, True, Priority.ALERT),
        (EventType.TAMPER, False, Priority.ALERT),
    ]


@pytest.mark.parametrize("cls", [FallDetector, EmergencyButton, WaterLeak])
async def test_self_test_without_test_state_reports_at_once(
    hub: FakeHub, make_device: MakeDevice, cls: type[FallDetector | EmergencyButton | WaterLeak]
) -> None:
    device_id = f"st-{cls.__name__.lower()}"
    await make_device(cls, device_id)
    cid = await hub.send_command(device_id, CommandName.SELF_TEST)
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: bool(_named(hub, device_id, EventType.SELF_TEST)))
    assert _named(hub, device_id, EventType.SELF_TEST)[0].data == {"passed": True}
