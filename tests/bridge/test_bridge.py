"""Vendor devices on a real home Mosquitto, bridged into a real hub with a real SQLite file:
each decoded message takes the native devices' path (event log + outbox in one transaction,
then the bus, the rules and the uplink)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devices.catalog import CommandName, DeviceKind
from devices.messages import Event
from hub import Hub
from hub.config import ConfigError, load_config
from tests.bridge.conftest import MakeHub, VendorSide, bridge_of, vendor_payload, z2m_device
from tests.hub.support import connect_device, eventually, outbox_records, read_db
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mosquitto

SHELLY_SMOKE = "shellyplussmoke-aabbccddeeff00"
SHELLY_GAS = "shellygas-c45bbe6b1a2f"


def events(hub: Hub, device_id: str) -> list[tuple[str, int, str]]:
    """(event, active, origin) of a device's event-log rows, in order."""
    return [
        (r[0], r[1], r[2])
        for r in read_db(
            hub.config.data_dir / "hub.db",
            "SELECT event, active, origin FROM event_log WHERE device_id = ? ORDER BY id",
            (device_id,),
        )
    ]


def device_named(hub: Hub, name: str) -> Any:
    found = [d for d in hub.devices() if d.name == name]
    return found[0] if found else None


async def started(make_hub: MakeHub, **kw: Any) -> Hub:
    hub = await make_hub(**kw)
    await eventually(lambda: bridge_of(hub).connected, what="the bridge to subscribe")
    return hub


async def test_a_zigbee2mqtt_smoke_alarm_is_logged_and_queued(
    make_hub: MakeHub, vendor: VendorSide
) -> None:
    hub = await started(make_hub)
    vendor.publish(
        "zigbee2mqtt/bridge/devices",
        [z2m_device("Hall smoke", "TS0601_smoke_1", "Tuya", "smoke", "tamper", "battery_low")],
        retain=True,
    )
    payload = vendor_payload("TS0601_smoke_1")
    assert payload["smoke"] is True
    vendor.publish("zigbee2mqtt/Hall smoke", payload)

    await eventually(lambda: device_named(hub, "Hall smoke") is not None, what="registered")
    device = device_named(hub, "Hall smoke")
    await eventually(lambda: events(hub, device.device_id), what="the alarm in the event log")
    assert device.kind is DeviceKind.SMOKE_ALARM
    assert device.room == "unassigned"
    assert device.state["smoke_state"] == "critical"
    assert events(hub, device.device_id) == [("smoke_alarm", 1, "device")]

    [record] = [
        r
        for r in outbox_records(hub.config.data_dir / "hub.db")
        if r.device is not None
        and r.device.device_id == device.device_id
        and r.priority == "critical"
    ]
    assert isinstance(record.message, Event)
    assert (record.message.event, record.message.active) == ("smoke_alarm", True)
    assert (record.device.name, record.device.room) == ("Hall smoke", "unassigned")
    assert bridge_of(hub).is_bridged(device.device_id)

    # Zigbee2MQTT republishes its cached state: the same level is not a second alarm.
    vendor.publish("zigbee2mqtt/Hall smoke", {**payload, "linkquality": 90})
    vendor.publish("zigbee2mqtt/Hall smoke", {**payload, "smoke": False})
    await eventually(lambda: len(events(hub, device.device_id)) == 2, what="the clear")
    assert events(hub, device.device_id) == [
        ("smoke_alarm", 1, "device"),
        ("smoke_alarm", 0, "device"),
    ]


async def test_shelly_plus_smoke_gen2_rpc_raises_and_clears(
    make_hub: MakeHub, vendor: VendorSide
) -> None:
    hub = await started(make_hub)
    topic = f"{SHELLY_SMOKE}/events/rpc"
    vendor.publish(topic, vendor_payload("Shelly Plus Smoke (SNSN-0031Z)"))  # NotifyFullStatus
    await eventually(lambda: device_named(hub, SHELLY_SMOKE) is not None, what="registered")
    assert device_named(hub, SHELLY_SMOKE).state["battery_pct"] == 100

    def notify(alarm: bool) -> dict[str, Any]:
        return {
            "src": SHELLY_SMOKE,
            "dst": f"{SHELLY_SMOKE}/events",
            "method": "NotifyStatus",
            "params": {"ts": 1795289401.2, "smoke:0": {"id": 0, "alarm": alarm}},
        }

    vendor.publish(topic, notify(True))
    await eventually(lambda: events(hub, SHELLY_SMOKE) == [("smoke_alarm", 1, "device")])
    vendor.publish(topic, notify(False))
    await eventually(lambda: len(events(hub, SHELLY_SMOKE)) == 2, what="the clear")
    assert events(hub, SHELLY_SMOKE)[-1] == ("smoke_alarm", 0, "device")
    assert device_named(hub, SHELLY_SMOKE).state["smoke_state"] == "normal"


async def test_tasmota_gas_sensor_and_its_last_will(make_hub: MakeHub, vendor: VendorSide) -> None:
    hub = await started(make_hub)
    vendor.publish(
        "tele/kitchen_mq2/SENSOR", {"Time": "2026-01-01T12:00:00", "ANALOG": {"MQ2_1": 2500.0}}
    )
    await eventually(lambda: events(hub, "kitchen_mq2") == [("gas_alarm", 1, "device")])
    assert device_named(hub, "kitchen_mq2").kind is DeviceKind.GAS_DETECTOR
    vendor.publish("tele/kitchen_mq2/LWT", "Offline")
    await eventually(lambda: len(events(hub, "kitchen_mq2")) == 2, what="offline")
    vendor.publish("tele/kitchen_mq2/LWT", "Online")
    await eventually(lambda: len(events(hub, "kitchen_mq2")) == 3, what="back online")
    assert events(hub, "kitchen_mq2")[1:] == [
        ("device_offline", 1, "device"),
        ("device_offline", 0, "device"),
    ]


async def test_a_vendor_device_cannot_speak_for_a_native_one(
    make_hub: MakeHub, vendor: VendorSide, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await started(make_hub)
    hub.provision_device("kitchen", DeviceKind.SMOKE_ALARM, "Kitchen smoke", "Kitchen")
    caplog.set_level(logging.WARNING, logger="hub.bridge")
    vendor.publish("zigbee2mqtt/kitchen", {"smoke": True})
    vendor.publish("zigbee2mqtt/landing", {"smoke": True})  # processed after the one above
    await eventually(lambda: events(hub, "landing") != [], what="the later message")
    assert events(hub, "kitchen") == []
    assert not bridge_of(hub).is_bridged("kitchen")
    assert device_named(hub, "Kitchen smoke").room == "Kitchen"
    assert "kitchen is a native device" in caplog.text


async def test_commands_and_local_rules_reach_a_bridged_device(
    make_hub: MakeHub, home_broker: Mosquitto, vendor: VendorSide
) -> None:
    hub = await started(make_hub)
    listener = VendorSide(home_broker, subscribe=(f"shellies/{SHELLY_GAS}/#", "zigbee2mqtt/#"))
    try:
        vendor.publish(f"shellies/{SHELLY_GAS}/sensor/gas", "none")
        await eventually(lambda: device_named(hub, SHELLY_GAS) is not None, what="registered")

        ack = await hub.send_command(SHELLY_GAS, CommandName.SELF_TEST)
        assert ack.ok, ack
        await eventually(
            lambda: (
                (f"shellies/{SHELLY_GAS}/sensor/start_self_test", b"start", False)
                in listener.received()
            ),
            what="the self-test command on the home broker",
        )

        # A bridged gas alarm triggers the local gas_shutoff rule: the valve is closed.
        vendor.publish(f"shellies/{SHELLY_GAS}/sensor/gas", "heavy")
        await eventually(
            lambda: (
                (f"shellies/{SHELLY_GAS}/valve/0/command", b"close", False) in listener.received()
            ),
            what="the rule's close_valve command",
        )
        assert events(hub, SHELLY_GAS) == [("gas_alarm", 1, "device")]

        # A command the adapter cannot express is a clear refusal, not a crash.
        vendor.publish("zigbee2mqtt/attic", {"smoke": False})
        await eventually(lambda: device_named(hub, "attic") is not None, what="attic")
        ack = await hub.send_command("attic", CommandName.SELF_TEST)
        assert (ack.ok, ack.error) == (False, "unsupported")
    finally:
        listener.close()


async def test_a_bridged_smoke_alarm_sounds_the_native_ones(
    make_hub: MakeHub, vendor: VendorSide
) -> None:
    hub = await started(make_hub)
    token = hub.provision_device("bedroom", DeviceKind.SMOKE_ALARM, "Bedroom smoke", "Bedroom")
    async with aiohttp.ClientSession() as session:
        bedroom = await connect_device(
            session, hub.http_port, token, "bedroom", DeviceKind.SMOKE_ALARM
        )
        vendor.publish("zigbee2mqtt/landing", vendor_payload("TS0601_smoke_1"))
        command = await bedroom.recv()
        assert (command["type"], command["command"]) == ("command", "interconnect_start")
        assert command["args"] == {"source_device": "landing"}
        await bedroom.send({"v": "1.0", "type": "ack", "ref": command["command_id"], "ok": True})
        await bedroom.close()


async def test_the_hub_starts_with_the_home_broker_down_and_connects_later(
    make_hub: MakeHub, home_broker: Mosquitto, vendor: VendorSide
) -> None:
    vendor.close()
    home_broker.stop()
    hub = await make_hub()
    bridge = bridge_of(hub)
    assert not bridge.connected
    home_broker.start()
    await eventually(lambda: bridge.connected, timeout=40, what="the bridge to reconnect")
    late = VendorSide(home_broker)
    try:
        late.publish("zigbee2mqtt/porch", {"smoke": True})
        await eventually(lambda: events(hub, "porch") == [("smoke_alarm", 1, "device")])
    finally:
        late.close()

    # The home broker restarts under a running hub: the bridge comes back by itself.
    home_broker.stop()
    await eventually(lambda: not bridge.connected, what="the bridge to notice")
    ack = await hub.send_command("porch", CommandName.SILENCE)
    assert (ack.ok, ack.error) == (False, "not_connected")
    home_broker.start()
    await eventually(lambda: bridge.connected, timeout=40, what="the bridge to reconnect")
    again = VendorSide(home_broker)
    try:
        again.publish("zigbee2mqtt/porch", {"smoke": False})
        await eventually(lambda: len(events(hub, "porch")) == 2, what="the clear")
    finally:
        again.close()


def test_home_mqtt_in_the_configuration_file(tmp_path: Path) -> None:
    base = {
        "hub_id": "hub-9",
        "home_id": "home-9",
        "data_dir": str(tmp_path / "d"),
        "mqtt_host": "127.0.0.1",
        "mqtt_port": 1883,
        "mqtt_password": "pw",
    }
    path = tmp_path / "hub.json"
    home = {
        "host": "192.168.1.10",
        "username": "courtyard",
        "password": "s3cret-home",
        "adapter_folder": str(tmp_path / "adapters"),
        "params": {"zigbee2mqtt": {"base": "zigbee"}},
        "publish_ha_discovery": True,
    }
    path.write_text(json.dumps({**base, "home_mqtt": home}))
    config, _ = load_config(path)
    assert config.home_mqtt is not None
    assert config.home_mqtt.port == 1883
    assert config.home_mqtt.adapter_folder == tmp_path / "adapters"
    assert config.home_mqtt.params == {"zigbee2mqtt": {"base": "zigbee"}}
    assert "s3cret-home" not in repr(config)

    for bad, field in (
        ({"port": 1883}, "host"),
        ({"host": "h", "port": "1883"}, "port"),
        ({"host": "h", "publish_ha_discovery": "yes"}, "publish_ha_discovery"),
        ({"host": "h", "params": {"zigbee2mqtt": "zigbee"}}, "params"),
        ({"host": "h", "tls": True}, "unknown"),
    ):
        path.write_text(json.dumps({**base, "home_mqtt": bad}))
        with pytest.raises(ConfigError, match=f"home_mqtt: .*{field}"):
            load_config(path)


async def test_an_unknown_adapter_parameter_is_refused_at_start(make_hub: MakeHub) -> None:
    with pytest.raises(ConfigError, match="params"):
        await make_hub(start=False, home={"params": {"zigbee2mqtt": {"basetopic": "z"}}})
