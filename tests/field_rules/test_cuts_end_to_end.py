"""Rules cutting a real port stub through a real hub and Mosquitto, acknowledged or not."""

from __future__ import annotations

import random
from typing import Any

from devices.catalog import DeviceKind
from firmware_stubs import ChargingPort, make_device
from firmware_stubs.charging_physics import ChargerLoad
from firmware_stubs.shed_smoke import ShedSmokeDetector
from tests.downlink.conftest import HUB_ID, PORT_ID, Stack, wait_for


def _alarms(stack: Stack, kind: str) -> list[dict[str, Any]]:
    return [a for a in stack.community.alarms() if a["kind"] == kind]


def _cut_status(stack: Stack, reason: str) -> str | None:
    cuts = [c for c in stack.community.field.cuts() if c["reason"] == reason]
    return cuts[0]["command_status"] if cuts else None


async def test_an_overheating_battery_is_alarmed_and_its_cut_acknowledged(stack: Stack) -> None:
    stack.port.plug_in(ChargerLoad(soc=0.4))
    await wait_for(lambda: stack.port.port_state == "charging", "charging")
    stack.port.overheat(runaway_w_per_s=3000.0)
    await wait_for(lambda: _alarms(stack, "charger_overtemperature"), "the alarm", timeout=60)
    await wait_for(lambda: _cut_status(stack, "overtemperature") == "acked", "the cut's ack")
    [alarm] = _alarms(stack, "charger_overtemperature")
    assert alarm["severity"] == "critical" and alarm["device_id"] == PORT_ID
    await wait_for(
        lambda: _alarms(stack, "charger_overtemperature")[0]["command_status"] == "acked",
        "command_status on the alarm",
    )
    assert stack.port.stop_reason == "cut"
    cuts = [c for c in stack.community.field.cuts() if c["reason"] == "overtemperature"]
    assert len(cuts) == 1


async def test_a_deaf_station_raises_charger_command_unacknowledged(stack: Stack) -> None:
    stack.community.commands.retry_s = 0.5
    stack.community.commands.unacknowledged_after_s = 1.0
    stack.port.acknowledge_commands = False
    stack.port.plug_in_high_power()
    await wait_for(lambda: _alarms(stack, "charger_overpower"), "the overpower alarm")
    await wait_for(
        lambda: _alarms(stack, "charger_command_unacknowledged"), "the unacknowledged alarm"
    )
    [alarm] = _alarms(stack, "charger_command_unacknowledged")
    assert alarm["device_id"] == PORT_ID and alarm["severity"] == "critical"
    assert _cut_status(stack, "overpower") == "pending"
    assert _alarms(stack, "charger_overpower")[0]["command_status"] == "pending"


async def test_smoke_in_the_shed_cuts_every_port_and_raises_the_fire_alarm(stack: Stack) -> None:
    hub_url = f"ws://127.0.0.1:{stack.hub.http_port}/api/device/ws"
    kind = DeviceKind.CHARGING_PORT
    token = stack.hub.provision_device("shed-a-port-2", kind, "Port 2", "Shed A")
    port2 = make_device(
        DeviceKind.CHARGING_PORT,
        "shed-a-port-2",
        hub_url,
        token,
        rng=random.Random(2),
        tick_s=0.05,
        state_file=stack.tmp / "port2.json",
        station_id="shed-a",
        port=2,
    )
    stack.extra.append(port2)
    token = stack.hub.provision_device(
        "shed-a-smoke", DeviceKind.SHED_SMOKE_DETECTOR, "Shed smoke", "Shed A"
    )
    smoke = make_device(DeviceKind.SHED_SMOKE_DETECTOR, "shed-a-smoke", hub_url, token, tick_s=0.05)
    assert isinstance(port2, ChargingPort) and isinstance(smoke, ShedSmokeDetector)
    stack.extra.append(smoke)
    await port2.start()
    await smoke.start()
    await port2.wait_connected(20)
    await smoke.wait_connected(20)
    stack.port.plug_in(ChargerLoad(soc=0.4))
    port2.plug_in(ChargerLoad(soc=0.5))
    await wait_for(
        lambda: stack.community.field.ports(HUB_ID) == ["shed-a-port-1", "shed-a-port-2"],
        "both ports to report",
    )
    smoke.start_fire(rise_per_s=50.0)
    await wait_for(lambda: _alarms(stack, "charging_shed_smoke"), "the shed fire alarm", timeout=60)
    await wait_for(
        lambda: (
            sorted(
                c["device_id"]
                for c in stack.community.field.cuts()
                if c["reason"] == "shed_smoke" and c["command_status"] == "acked"
            )
            == ["shed-a-port-1", "shed-a-port-2"]
        ),
        "every port's cut acknowledged",
    )
    [fire] = _alarms(stack, "charging_shed_smoke")
    assert fire["severity"] == "critical" and fire["command_status"] == "acked"
    assert stack.port.stop_reason == "cut" and port2.stop_reason == "cut"
