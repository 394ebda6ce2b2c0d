"""Vendor payloads published to a real Mosquitto, received by the session's subscriptions,
decoded; and Home Assistant discovery published retained and read back."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from devices.adapters import AdapterSession, SequenceCounter, builtin_adapters, ha_discovery
from devices.adapters.conformance import DEFAULT_NOW_MS, check_message
from devices.catalog import DeviceKind
from devices.uplink import DeviceInfo
from tests.adapters.conftest import vendor_fixtures
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mosquitto


class HomeBroker(Mosquitto):
    """A home's own broker: its user reads and writes every topic (Zigbee2MQTT, Shelly and
    Tasmota all publish outside ``courtyard/``), unlike the community broker's ACL."""

    def _write_config(self) -> Path:
        conf = super()._write_config()
        acl = self.workdir / "acl"
        acl.write_text(acl.read_text() + "\nuser home\ntopic readwrite #\n")
        return conf


@pytest.fixture
def home_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = HomeBroker(workdir=tmp_path / "home-broker")
    broker.add_user("home", "home-pw")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _client(broker: Mosquitto, name: str, inbox: queue.Queue[mqtt.MQTTMessage]) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
    client.username_pw_set("home", "home-pw")
    client.on_message = lambda _c, _u, msg: inbox.put(msg)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _drain(inbox: queue.Queue[mqtt.MQTTMessage], count: int) -> list[mqtt.MQTTMessage]:
    out, deadline = [], time.monotonic() + 20
    while len(out) < count and time.monotonic() < deadline:
        try:
            out.append(inbox.get(timeout=0.5))
        except queue.Empty:
            continue
    return out


def test_vendor_messages_over_a_real_broker(home_broker: Mosquitto) -> None:
    mosquitto = home_broker
    session = AdapterSession(builtin_adapters())
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    listener = _client(mosquitto, "hub", inbox)
    publisher = _client(mosquitto, "devices", queue.Queue())
    try:
        for topic_filter in session.subscriptions():
            listener.subscribe(topic_filter, qos=1)
        time.sleep(0.3)
        sent = [
            ("zigbee2mqtt/nous_e8", json.dumps(vendor_fixtures()[4]["payload"]).encode()),
            ("shellies/shellygas-c45bbe6b1a2f/sensor/gas", b"heavy"),  # plain text
            (
                "shellyplussmoke-aabb/events/rpc",
                json.dumps(vendor_fixtures()[27]["payload"]).encode(),
            ),
            ("tele/kitchen_mq2/SENSOR", b'{"ANALOG": {"MQ2_1": 2500.0}}'),
            ("tele/kitchen_mq2/LWT", b"Offline"),
        ]
        for topic, payload in sent:
            publisher.publish(topic, payload, qos=1).wait_for_publish(10)
        received = _drain(inbox, len(sent))
        assert [m.topic for m in received] == [t for t, _ in sent]
        seq = SequenceCounter()
        decoded = [
            check_message(msg)
            for m in received
            for msg in session.decode(m.topic, m.payload, now_ms=DEFAULT_NOW_MS, seq=seq)
        ]
        raised = [(m["device_id"], m["event"]) for m in decoded if m["type"] == "event"]
        assert raised == [
            ("nous_e8", "smoke_alarm"),
            ("shellygas-c45bbe6b1a2f", "gas_alarm"),
            ("kitchen_mq2", "gas_alarm"),
            ("kitchen_mq2", "device_offline"),
        ]
    finally:
        for client in (listener, publisher):
            client.loop_stop()
            client.disconnect()


def test_home_assistant_discovery_is_retained(home_broker: Mosquitto) -> None:
    mosquitto = home_broker
    device = DeviceInfo("leak-1", DeviceKind.WATER_LEAK, "Bathroom leak", "Bathroom")
    configs = ha_discovery(device, hub_id="hub-1")
    publisher = _client(mosquitto, "hub", queue.Queue())
    try:
        for topic, payload in configs:
            publisher.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    home_assistant = _client(mosquitto, "home-assistant", inbox)
    try:
        home_assistant.subscribe("homeassistant/#", qos=1)
        received = _drain(inbox, len(configs))
    finally:
        home_assistant.loop_stop()
        home_assistant.disconnect()
    assert sorted((m.topic, m.payload) for m in received) == sorted(configs)
    assert all(m.retain for m in received)
    leak = [json.loads(m.payload) for m in received if b'"moisture"' in m.payload]
    assert len(leak) == 1 and leak[0]["state_topic"] == "courtyard/hub-1/leak-1/state"
