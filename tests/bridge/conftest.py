"""Fixtures for the home bridge: a home Mosquitto (its user may use every topic, as
Zigbee2MQTT, Shelly and Tasmota need), real hubs bridging it, and a vendor-side publisher."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub import Hub, HubConfig
from hub.bridge import HomeBridge
from tests.adapters.test_mqtt import HomeBroker
from tests.support.mosquitto import Mosquitto, free_port

HOME_USER = "home"
HOME_PASSWORD = "home-pw"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "device_payloads.json"

MakeHub = Callable[..., Awaitable[Hub]]


def vendor_payload(model_part: str, topic_part: str = "") -> Any:
    """The payload of the shared fixture whose device_model (and topic) mention these."""
    entries = json.loads(FIXTURES.read_text(encoding="utf-8"))
    for entry in entries:
        if model_part in entry["device_model"] and topic_part in entry["topic"]:
            return entry["payload"]
    raise LookupError(model_part)


def z2m_device(friendly_name: str, model: str, vendor: str, *props: str) -> dict[str, Any]:
    """One ``bridge/devices`` entry in Zigbee2MQTT's published shape."""
    return {
        "friendly_name": friendly_name,
        "ieee_address": "0xa4c138d0c2a1b2c3",
        "model_id": "TS0601",
        "type": "EndDevice",
        "supported": True,
        "interview_state": "SUCCESSFUL",
        "definition": {
            "model": model,
            "vendor": vendor,
            "description": "Smoke sensor",
            "exposes": [
                {"type": "binary", "name": p, "property": p, "value_on": True, "value_off": False}
                for p in props
            ],
        },
    }


class VendorSide:
    """A paho client on the home broker standing in for Zigbee2MQTT, Shelly and Tasmota
    (publishing) and for Home Assistant (listening, with retained messages)."""

    def __init__(self, broker: Mosquitto, subscribe: tuple[str, ...] = ()) -> None:
        #: Every message received, in order (appended from paho's thread).
        self.messages: list[tuple[str, bytes, bool]] = []
        ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"vendor-{uuid.uuid4().hex[:8]}"
        )
        self.client.username_pw_set(HOME_USER, HOME_PASSWORD)
        self.client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, bytes(m.payload), bool(m.retain))
        )
        self.client.on_subscribe = lambda *_a: ready.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if subscribe:
            self.client.subscribe([(t, 1) for t in subscribe])
            assert ready.wait(10), "vendor side could not subscribe"

    def publish(self, topic: str, payload: Any, *, retain: bool = False) -> None:
        if isinstance(payload, bytes):
            raw = payload
        elif isinstance(payload, str):
            raw = payload.encode()
        else:
            raw = json.dumps(payload).encode()
        self.client.publish(topic, raw, qos=1, retain=retain).wait_for_publish(10)

    def received(self) -> list[tuple[str, bytes, bool]]:
        return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def home_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = HomeBroker(workdir=tmp_path / "home-broker")
    broker.add_user(HOME_USER, HOME_PASSWORD)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def vendor(home_broker: Mosquitto) -> Iterator[VendorSide]:
    side = VendorSide(home_broker)
    yield side
    side.close()


def home_settings(broker: Mosquitto, **extra: Any) -> dict[str, Any]:
    return {
        "host": broker.host,
        "port": broker.port,
        "username": HOME_USER,
        "password": HOME_PASSWORD,
        **extra,
    }


@pytest.fixture
async def make_hub(tmp_path: Path, home_broker: Mosquitto) -> AsyncIterator[MakeHub]:
    """Start hubs bridging ``home_broker``; the uplink goes to a port with no broker unless
    overridden. Hubs are stopped after the test."""
    hubs: list[Hub] = []
    dead_port = free_port()

    async def make(*, start: bool = True, home: dict[str, Any] | None = None, **kw: Any) -> Hub:
        fields: dict[str, Any] = {
            "hub_id": "hub-1",
            "home_id": "home-1",
            "data_dir": tmp_path / "hub-data",
            "mqtt_host": "127.0.0.1",
            "mqtt_port": dead_port,
            "mqtt_password": "hub-secret",
            "heartbeat_s": 3600.0,
            "home_mqtt": home_settings(home_broker, **(home or {})),
        }
        fields.update(kw)
        hub = Hub(HubConfig(**{"consent": "open", **fields}))
        hubs.append(hub)
        if start:
            await hub.start()
        return hub

    yield make
    for hub in hubs:
        await hub.stop()


def bridge_of(hub: Hub) -> HomeBridge:
    bridge = hub.home_bridge
    assert bridge is not None
    return bridge
