"""Local rules run with the uplink down: smoke in one room sounds every other alarm."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from devices.catalog import DeviceKind
from hub.core import BusEvent
from hub.events import CommandResult, DeviceEventFired, RuleTriggered
from tests.hub.conftest import MakeHub
from tests.hub.support import DeviceClient, connect_device, eventually

SMOKE = DeviceKind.SMOKE_ALARM


async def answer_next_command(device: DeviceClient) -> dict[str, Any]:
    command = await device.recv()
    assert command["type"] == "command", command
    await device.send({"v": "1.0", "type": "ack", "ref": command["command_id"], "ok": True})
    return command


async def test_interconnect_sounds_every_other_smoke_alarm_without_an_uplink(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub(heartbeat_s=3600)  # its broker port has no broker
    seen: list[BusEvent[Any]] = []
    for kind in (DeviceEventFired, RuleTriggered, CommandResult):
        hub.bus.subscribe(kind, seen.append)
    alarms = {}
    for device_id, room in (("smoke-k", "kitchen"), ("smoke-h", "hall"), ("smoke-b", "bedroom")):
        token = hub.provision_device(device_id, SMOKE, f"{room} alarm", room)
        alarms[device_id] = await connect_device(session, hub.http_port, token, device_id, SMOKE)
    leak_token = hub.provision_device("leak-1", DeviceKind.WATER_LEAK, "Sink", "kitchen")
    leak = await connect_device(session, hub.http_port, leak_token, "leak-1", DeviceKind.WATER_LEAK)
    assert not hub.uplink_connected

    kitchen = alarms["smoke-k"]
    smoke = kitchen.event("smoke_alarm", data={"value": 25.0})
    assert (await kitchen.request(smoke))["type"] == "ack"
    started = await asyncio.gather(
        answer_next_command(alarms["smoke-h"]), answer_next_command(alarms["smoke-b"])
    )
    for command in started:
        assert command["command"] == "interconnect_start"
        assert command["args"] == {"source_device": "smoke-k"}
    await eventually(lambda: sum(isinstance(e.data, CommandResult) for e in seen) == 2)

    # Provenance: every action's context points back at the kitchen's smoke event.
    (trigger,) = [e for e in seen if isinstance(e.data, DeviceEventFired)]
    actions = [e for e in seen if isinstance(e.data, RuleTriggered)]
    assert sorted(a.data.target_device for a in actions) == ["smoke-b", "smoke-h"]
    assert {a.context.parent_id for a in actions} == {trigger.context.id}
    results = [e for e in seen if isinstance(e.data, CommandResult)]
    assert all(r.data.ack.ok for r in results)
    assert {r.context.id for r in results} == {a.context.id for a in actions}

    clear = kitchen.event("smoke_alarm", active=False)
    assert (await kitchen.request(clear))["type"] == "ack"
    stopped = await asyncio.gather(
        answer_next_command(alarms["smoke-h"]), answer_next_command(alarms["smoke-b"])
    )
    assert [c["command"] for c in stopped] == ["interconnect_stop", "interconnect_stop"]

    # Neither the source nor a device of another kind got any command.
    for bystander in (kitchen, leak):
        assert (await bystander.request(bystander.heartbeat()))["type"] == "ack"


async def test_an_alarm_from_a_lone_smoke_alarm_sends_no_commands(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub(heartbeat_s=3600)
    actions: list[BusEvent[RuleTriggered]] = []
    hub.bus.subscribe(RuleTriggered, actions.append)
    token = hub.provision_device("smoke-k", SMOKE, "Kitchen", "kitchen")
    hub.provision_device("smoke-h", SMOKE, "Hall (offline)", "hall")
    kitchen = await connect_device(session, hub.http_port, token, "smoke-k", SMOKE)
    assert (await kitchen.request(kitchen.event("smoke_alarm")))["type"] == "ack"
    assert (await kitchen.request(kitchen.heartbeat()))["type"] == "ack"
    assert actions == []


async def test_a_gas_alarm_closes_the_detectors_own_valve(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub(heartbeat_s=3600)
    token = hub.provision_device("gas-1", DeviceKind.GAS_DETECTOR, "Stove", "kitchen")
    gas = await connect_device(session, hub.http_port, token, "gas-1", DeviceKind.GAS_DETECTOR)
    await gas.send(gas.event("gas_alarm", data={"value": 22.0}))
    assert (await gas.recv())["type"] == "ack"
    command = await answer_next_command(gas)
    assert (command["command"], command["device_id"]) == ("close_valve", "gas-1")
