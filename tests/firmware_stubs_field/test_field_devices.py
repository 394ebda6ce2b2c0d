"""The community's field devices over a real link: state, events, and obeyed commands."""

from __future__ import annotations

import pytest

from devices.catalog import EVENTS, CommandName, DeviceKind, EventType, Priority
from devices.messages import Ack, Event
from firmware_stubs import (
    ChargingPort,
    ElevatorCamera,
    FireLaneSensor,
    ShedSmokeDetector,
)
from firmware_stubs import (
    make_device as build_device,
)
from firmware_stubs.charging_physics import ChargerLoad
from tests.firmware_stubs.conftest import MakeDevice
from tests.firmware_stubs.fakehub import FakeHub


def _named(hub: FakeHub, device_id: str, name: EventType) -> list[Event]:
    return [e for e in hub.events(device_id) if e.event is name]


def _acks(hub: FakeHub, device_id: str) -> list[Ack]:
    return [m for m in hub.messages(device_id) if isinstance(m, Ack)]


async def test_a_port_charges_is_cut_and_enabled(hub: FakeHub, make_device: MakeDevice) -> None:
    port = await make_device(ChargingPort, "shed-p1", station_id="shed-a", port=1)
    await hub.wait_for(lambda: hub.last_state("shed-p1").get("port_state") == "idle")
    assert hub.last_state("shed-p1")["station_id"] == "shed-a"
    assert "session_id" not in hub.last_state("shed-p1")

    port.plug_in(ChargerLoad(soc=0.3))
    await hub.wait_for(lambda: hub.last_state("shed-p1").get("port_state") == "charging")
    await hub.wait_for(lambda: hub.last_state("shed-p1").get("power_w", 0) > 100)
    first_session = hub.last_state("shed-p1")["session_id"]

    cid = await hub.send_command("shed-p1", CommandName.PORT_CUT, {"reason": "overtemperature"})
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: hub.last_state("shed-p1").get("port_state") == "stopped")
    await hub.wait_for(lambda: hub.last_state("shed-p1").get("power_w") == 0)
    assert hub.last_state("shed-p1")["stop_reason"] == "cut"
    await hub.wait_for(lambda: bool(_named(hub, "shed-p1", EventType.CHARGE_SESSION_ENDED)))
    ended = _named(hub, "shed-p1", EventType.CHARGE_SESSION_ENDED)[0]
    assert ended.priority is Priority.INFO
    assert ended.data["reason"] == "cut"
    assert ended.data["energy_wh"] >= 0

    # A second cut is harmless and acknowledged (the community retries until it hears back).
    again = await hub.send_command("shed-p1", CommandName.PORT_CUT, {"reason": "overtemperature"})
    assert (await hub.command_ack(again)).ok
    assert len(_named(hub, "shed-p1", EventType.CHARGE_SESSION_ENDED)) == 1

    cid = await hub.send_command("shed-p1", CommandName.PORT_ENABLE)
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: hub.last_state("shed-p1").get("port_state") == "charging")
    assert hub.last_state("shed-p1")["session_id"] != first_session


async def test_a_cut_for_full_tells_the_resident_it_is_full(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    port = await make_device(ChargingPort, "shed-p2")
    port.plug_in()
    cid = await hub.send_command("shed-p2", CommandName.PORT_CUT, {"reason": "full"})
    assert (await hub.command_ack(cid)).ok
    await hub.wait_for(lambda: bool(_named(hub, "shed-p2", EventType.CHARGE_SESSION_ENDED)))
    assert _named(hub, "shed-p2", EventType.CHARGE_SESSION_ENDED)[0].data["reason"] == "full"
    await hub.wait_for(lambda: hub.last_state("shed-p2").get("stop_reason") == "full")


async def test_a_short_trips_the_port_until_the_charger_is_removed(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    port = await make_device(ChargingPort, "shed-p3")
    port.plug_in()
    port.short()
    await hub.wait_for(lambda: hub.last_state("shed-p3").get("port_state") == "fault")
    assert hub.last_state("shed-p3")["power_w"] == 0
    await hub.wait_for(lambda: bool(_named(hub, "shed-p3", EventType.CHARGE_SESSION_ENDED)))
    assert _named(hub, "shed-p3", EventType.CHARGE_SESSION_ENDED)[0].data["reason"] == "fault"

    refused = await hub.command_ack(await hub.send_command("shed-p3", CommandName.PORT_ENABLE))
    assert not refused.ok and "shorted" in refused.error
    port.unplug()
    assert (await hub.command_ack(await hub.send_command("shed-p3", CommandName.PORT_ENABLE))).ok
    await hub.wait_for(lambda: hub.last_state("shed-p3").get("port_state") == "idle")


async def test_a_deaf_station_neither_acts_on_nor_acknowledges_a_cut(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    port = await make_device(ChargingPort, "shed-p4", acknowledge_commands=False)
    port.plug_in()
    await hub.wait_for(lambda: hub.last_state("shed-p4").get("port_state") == "charging")
    cid = await hub.send_command("shed-p4", CommandName.PORT_CUT, {"reason": "overpower"})
    await hub.wait_for(lambda: any(c.command_id == cid for c in port.commands_received))
    # A later report on the same link proves any ack would already have arrived before it.
    port.set_hardware_fault(True)
    await hub.wait_for(lambda: hub.last_state("shed-p4").get("hardware_fault") is True)
    assert cid not in hub.command_acks
    assert all(a.ref != cid for a in _acks(hub, "shed-p4"))
    assert port.port_state == "charging"


async def test_an_overheating_pack_is_reported_not_judged(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    port = await make_device(ChargingPort, "shed-p5")
    port.overheat(runaway_w_per_s=5.0)
    for _ in range(60):
        port.tick(30.0)
    await hub.wait_for(lambda: hub.last_state("shed-p5").get("temperature_c", 0) > 60)
    assert hub.last_state("shed-p5")["port_state"] == "charging"
    # The cut limit is the community's rule: the port raises no alarm by itself.
    assert all(not EVENTS[e.event].raised_by_community for e in hub.events("shed-p5"))


async def test_a_power_strip_shows_as_stepped_load(hub: FakeHub, make_device: MakeDevice) -> None:
    port = await make_device(ChargingPort, "shed-p6")
    port.plug_in_power_strip(3)
    await hub.wait_for(lambda: hub.last_state("shed-p6").get("power_w", 0) > 350)
    assert hub.last_state("shed-p6")["current_a"] > 1.5


async def test_elevator_camera_detects_and_obeys_hold_and_release(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    cam = await make_device(ElevatorCamera, "lift-1")
    assert cam.ebike_enters(confidence=0.3) is False  # below the detector's threshold
    assert cam.ebike_enters(confidence=0.9) is True
    assert cam.ebike_enters(confidence=0.95) is True  # still the same detection
    await hub.wait_for(lambda: bool(_named(hub, "lift-1", EventType.ELEVATOR_EBIKE)))
    raised = _named(hub, "lift-1", EventType.ELEVATOR_EBIKE)
    assert len(raised) == 1 and raised[0].active and raised[0].priority is Priority.ALERT
    assert raised[0].data == {"confidence": 0.9}
    await hub.wait_for(lambda: hub.last_state("lift-1").get("ebike_detected") is True)

    assert (await hub.command_ack(await hub.send_command("lift-1", CommandName.HOLD_DOORS))).ok
    await hub.wait_for(lambda: hub.last_state("lift-1").get("car_held") is True)
    cid = await hub.send_command(
        "lift-1", CommandName.PLAY_VOICE_PROMPT, {"prompt": "ebike_not_allowed"}
    )
    assert (await hub.command_ack(cid)).ok
    assert cam.prompts_played == ["ebike_not_allowed"]
    assert (await hub.command_ack(await hub.send_command("lift-1", CommandName.RELEASE_DOORS))).ok
    await hub.wait_for(lambda: hub.last_state("lift-1").get("car_held") is False)
    cam.ebike_leaves()
    await hub.wait_for(lambda: len(_named(hub, "lift-1", EventType.ELEVATOR_EBIKE)) == 2)
    assert _named(hub, "lift-1", EventType.ELEVATOR_EBIKE)[1].active is False
    # A port command is not an elevator's: refused, with a reason.
    refused = await hub.command_ack(await hub.send_command("lift-1", CommandName.PORT_ENABLE))
    assert not refused.ok


async def test_shed_smoke_raises_and_clears_the_shed_alarm(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    smoke = await make_device(ShedSmokeDetector, "shed-smoke")
    smoke.start_fire(rise_per_s=20.0)
    await hub.wait_for(lambda: bool(_named(hub, "shed-smoke", EventType.CHARGING_SHED_SMOKE)))
    raised = _named(hub, "shed-smoke", EventType.CHARGING_SHED_SMOKE)[0]
    assert raised.active and raised.priority is Priority.CRITICAL and raised.data["value"] >= 4
    await hub.wait_for(lambda: hub.last_state("shed-smoke").get("smoke_state") == "critical")
    smoke.clear_smoke(fall_per_s=200.0)
    await hub.wait_for(lambda: len(_named(hub, "shed-smoke", EventType.CHARGING_SHED_SMOKE)) == 2)
    assert _named(hub, "shed-smoke", EventType.CHARGING_SHED_SMOKE)[1].active is False
    with pytest.raises(ValueError):
        smoke.start_fire(rise_per_s=-1)


async def test_fire_lane_sensor_reports_arrival_dwell_and_departure(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    lane = await make_device(FireLaneSensor, "lane-1", zone_id="north-gate")
    await hub.wait_for(lambda: hub.last_state("lane-1").get("zone_id") == "north-gate")
    assert "plate" not in hub.last_state("lane-1")
    lane.vehicle_arrives("沪AD12345", dwell_s=0.3)
    await hub.wait_for(lambda: hub.last_state("lane-1").get("vehicle_present") is True)
    assert hub.last_state("lane-1")["plate"] == "沪AD12345"
    await hub.wait_for(lambda: hub.last_state("lane-1").get("vehicle_present") is False)
    lane.object_placed()
    await hub.wait_for(lambda: hub.last_state("lane-1").get("object_present") is True)
    lane.object_removed()
    await hub.wait_for(lambda: hub.last_state("lane-1").get("object_present") is False)
    lane.vehicle_arrives()  # a plate the camera cannot read
    await hub.wait_for(lambda: hub.last_state("lane-1").get("plate") == "unreadable")
    assert hub.events("lane-1") == []  # obstruction is the community's verdict, not the sensor's
    with pytest.raises(ValueError):
        lane.vehicle_arrives("X" * 17)


@pytest.mark.parametrize(
    "kind",
    [
        DeviceKind.CHARGING_PORT,
        DeviceKind.ELEVATOR_CAMERA,
        DeviceKind.SHED_SMOKE_DETECTOR,
        DeviceKind.FIRE_LANE_SENSOR,
    ],
)
async def test_each_field_kind_answers_self_test(hub: FakeHub, kind: DeviceKind) -> None:
    token = hub.provision(f"dev-{kind}", kind)
    device = build_device(kind, f"dev-{kind}", hub.url, token, tick_s=0.02, heartbeat_s=5)
    await device.start()
    try:
        await device.wait_connected()
        ack = await hub.command_ack(await hub.send_command(f"dev-{kind}", CommandName.SELF_TEST))
        assert ack.ok
        await hub.wait_for(lambda: bool(_named(hub, f"dev-{kind}", EventType.SELF_TEST)))
    finally:
        await device.stop()


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (ChargingPort, {"port": 0}),
        (ChargingPort, {"port": 65}),
        (ChargingPort, {"station_id": ""}),
        (ElevatorCamera, {"min_confidence": 1.5}),
        (FireLaneSensor, {"zone_id": "z" * 65}),
    ],
)
def test_bad_construction_is_refused(cls: type, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_device(cls.kind, "dev-x", "http://127.0.0.1:1", "t", **kwargs)
