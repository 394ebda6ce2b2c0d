"""Home Assistant discovery on the home broker: every Courtyard device, native and bridged,
appears retained with its alarms, follows renames and removal, and its state follows alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devices.catalog import DeviceKind
from tests.bridge.conftest import MakeHub, VendorSide, bridge_of
from tests.hub.support import eventually
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mosquitto

NODE = "courtyard_hub-1_{}"


def latest(listener: VendorSide, topic: str) -> bytes | None:
    found = [payload for t, payload, _ in listener.received() if t == topic]
    return found[-1] if found else None


def config(listener: VendorSide, device_id: str, entity: str) -> dict[str, Any] | None:
    component = "sensor" if entity == "battery" else "binary_sensor"
    raw = latest(listener, f"homeassistant/{component}/{NODE.format(device_id)}/{entity}/config")
    return json.loads(raw) if raw else None


async def test_discovery_for_native_and_bridged_devices(
    make_hub: MakeHub, home_broker: Mosquitto, vendor: VendorSide
) -> None:
    hub = await make_hub(start=False, home={"publish_ha_discovery": True})
    hub.provision_device("leak-1", DeviceKind.WATER_LEAK, "Bathroom leak", "Bathroom")
    ha = VendorSide(home_broker, subscribe=("homeassistant/#", "courtyard/#"))
    try:
        await hub.start()
        await eventually(lambda: bridge_of(hub).connected)
        await eventually(lambda: config(ha, "leak-1", "water_leak") is not None, what="native")
        leak = config(ha, "leak-1", "water_leak")
        assert leak is not None
        assert leak["device_class"] == "moisture"
        assert (leak["device"]["name"], leak["device"]["suggested_area"]) == (
            "Bathroom leak",
            "Bathroom",
        )

        vendor.publish("zigbee2mqtt/hall", {"smoke": True, "battery": 90})
        await eventually(lambda: config(ha, "hall", "smoke_alarm") is not None, what="bridged")
        smoke = config(ha, "hall", "smoke_alarm")
        assert smoke is not None
        assert smoke["device_class"] == "smoke"
        assert smoke["device"]["suggested_area"] == "unassigned"
        await eventually(lambda: config(ha, "hall", "battery") is not None, what="battery")

        def state() -> dict[str, Any]:
            raw = latest(ha, smoke["state_topic"])
            return json.loads(raw) if raw else {}

        await eventually(lambda: state().get("smoke_alarm") is True, what="alarm state")
        assert state()["battery_pct"] == 90
        availability = smoke["availability"][0]["topic"]
        await eventually(lambda: latest(ha, availability) == b"online", what="availability")
        vendor.publish("zigbee2mqtt/hall", {"smoke": False, "battery": 90})
        await eventually(lambda: state().get("smoke_alarm") is False, what="all-clear state")

        # Home Assistant starting later finds everything retained.
        late = VendorSide(home_broker, subscribe=("homeassistant/#",))
        try:
            await eventually(lambda: config(late, "hall", "smoke_alarm") is not None)
            assert all(retained for _, _, retained in late.received())
        finally:
            late.close()

        hub.relabel_device("hall", "Hallway smoke", "Hallway")
        await eventually(
            lambda: (
                (config(ha, "hall", "smoke_alarm") or {}).get("device", {}).get("name")
                == "Hallway smoke"
            ),
            what="the rename",
        )
        await hub.remove_device("leak-1")
        topic = f"homeassistant/binary_sensor/{NODE.format('leak-1')}/water_leak/config"
        await eventually(lambda: latest(ha, topic) == b"", what="the removal")
    finally:
        ha.close()


async def test_no_discovery_unless_enabled(
    make_hub: MakeHub, home_broker: Mosquitto, vendor: VendorSide
) -> None:
    ha = VendorSide(home_broker, subscribe=("homeassistant/#", "courtyard/#"))
    try:
        hub = await make_hub()
        await eventually(lambda: bridge_of(hub).connected)
        vendor.publish("zigbee2mqtt/hall", {"smoke": True})
        await eventually(lambda: any(d.device_id == "hall" for d in hub.devices()))
        await eventually(lambda: bridge_of(hub).stats.handled >= 1)
        assert [t for t, _, _ in ha.received()] == []
    finally:
        ha.close()
