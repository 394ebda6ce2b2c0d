"""Random schedules of people, batteries and commands never crash a device or break its output.

The devices are driven offline (no link): every state snapshot and every event they produce
must still pass the hub's own parser, readings must stay in the catalog's ranges, and
sessions must end exactly once.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.catalog import KINDS, CommandName, DeviceKind, EventType
from devices.messages import Command, State, parse_message, to_dict
from firmware_stubs import ChargingPort, ElevatorCamera, FireLaneSensor, make_device
from firmware_stubs.charging_physics import ChargerLoad

_PORT_ACTIONS = st.one_of(
    st.tuples(st.just("tick"), st.floats(min_value=0, max_value=3600)),
    st.tuples(st.just("plug"), st.floats(min_value=0, max_value=1)),
    st.tuples(st.just("strip"), st.integers(min_value=2, max_value=8)),
    st.tuples(st.sampled_from(["unplug", "short", "high", "user_stop", "enable"]), st.none()),
    st.tuples(st.just("overheat"), st.floats(min_value=0.01, max_value=50)),
    st.tuples(
        st.just("cut"),
        st.sampled_from(["full", "overtemperature", "overpower", "shed_smoke", "manual"]),
    ),
)


def _valid_state(device: Any) -> dict[str, Any]:
    snap = device._snapshot()
    state = State(device.device_id, device.identity.kind, seq=1, ts=1, state=snap)
    parsed = parse_message(to_dict(state))
    assert isinstance(parsed, State)
    fields = KINDS[device.identity.kind].fields_by_name
    for name, value in snap.items():
        spec = fields[name]
        if spec.minimum is not None:
            assert value >= spec.minimum, name
        if spec.maximum is not None:
            assert value <= spec.maximum, name
    return snap


def _offline(kind: DeviceKind, **kwargs: Any) -> Any:
    return make_device(kind, f"dev-{kind}", "http://127.0.0.1:1", "t", **kwargs)


@settings(max_examples=60, deadline=None)
@given(st.lists(_PORT_ACTIONS, max_size=40))
def test_a_port_survives_any_schedule(actions: list[tuple[str, Any]]) -> None:
    port: ChargingPort = _offline(DeviceKind.CHARGING_PORT)
    for action, arg in actions:
        match action:
            case "tick":
                port.tick(arg)
            case "plug":
                port.plug_in(ChargerLoad(soc=arg))
            case "strip":
                port.plug_in_power_strip(arg)
            case "unplug":
                port.unplug()
            case "short":
                port.short()
            case "high":
                port.plug_in_high_power()
            case "user_stop":
                port.stop_by_user()
            case "enable":
                port._handle_command(Command(port.device_id, "c", CommandName.PORT_ENABLE, {}))
            case "overheat":
                port.overheat(arg)
            case "cut":
                port._handle_command(
                    Command(port.device_id, "c", CommandName.PORT_CUT, {"reason": arg})
                )
        snap = _valid_state(port)
        assert snap["power_w"] >= 0 and snap["current_a"] >= 0
        if snap["port_state"] in ("stopped", "fault", "idle"):
            assert snap["power_w"] == 0 or snap["port_state"] == "idle"
    for event in port.sent_events:
        parse_message(to_dict(event))
    ended = [e for e in port.sent_events if e.event is EventType.CHARGE_SESSION_ENDED]
    assert all(e.data["duration_s"] >= 0 and e.data["energy_wh"] >= 0 for e in ended)


_OTHER_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["tick", "enter", "leave", "hold", "release", "arrive", "depart", "place", "remove"]
        ),
        st.floats(min_value=0, max_value=600),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(_OTHER_ACTIONS)
def test_camera_and_lane_sensor_survive_any_schedule(actions: list[tuple[str, float]]) -> None:
    cam: ElevatorCamera = _offline(DeviceKind.ELEVATOR_CAMERA)
    lane: FireLaneSensor = _offline(DeviceKind.FIRE_LANE_SENSOR)
    for action, x in actions:
        match action:
            case "tick":
                cam.tick(x)
                lane.tick(x)
            case "enter":
                cam.ebike_enters(confidence=min(1.0, x / 600))
            case "leave":
                cam.ebike_leaves()
            case "hold":
                cam.hold_doors()
            case "release":
                cam.release_doors()
            case "arrive":
                lane.vehicle_arrives("沪A0001", dwell_s=x)
            case "depart":
                lane.vehicle_leaves()
            case "place":
                lane.object_placed(dwell_s=x)
            case "remove":
                lane.object_removed()
        _valid_state(cam)
        _valid_state(lane)
    flags = [e.active for e in cam.sent_events if e.event is EventType.ELEVATOR_EBIKE]
    # Raises and clears alternate, starting with a raise: no duplicate raise storms.
    assert flags == [i % 2 == 0 for i in range(len(flags))]
