"""Home Assistant MQTT discovery, published so a resident's Home Assistant shows every
Courtyard device next to the rest of the home.

For each device: one retained config message per entity at
``<prefix>/<component>/<node_id>/<object_id>/config`` (HA's layout), pointing at a state
topic the hub publishes with :func:`ha_state` and an availability topic carrying
``online``/``offline``. Alarms are ``binary_sensor`` entities with HA's device classes
(smoke, gas, moisture, safety, tamper, battery, problem); battery percent is a ``sensor``.
The functions are pure; the hub publishes what they return.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from devices.catalog import EVENTS, KINDS, DeviceKind, EventType, event_allowed
from devices.uplink import DeviceInfo

DISCOVERY_PREFIX: Final = "homeassistant"

#: HA binary_sensor device class per stateful event (device_offline is availability instead).
DEVICE_CLASS: Final[dict[EventType, str]] = {
    EventType.SMOKE_ALARM: "smoke",
    EventType.GAS_ALARM: "gas",
    EventType.WATER_LEAK: "moisture",
    EventType.FALL_DETECTED: "safety",
    EventType.EMERGENCY_CALL: "safety",
    EventType.TAMPER: "tamper",
    EventType.BATTERY_LOW: "battery",
    EventType.HARDWARE_FAULT: "problem",
    EventType.END_OF_SERVICE: "problem",
}

_HA_ID: Final = re.compile(r"[^A-Za-z0-9_-]+")
_NAMES: Final[dict[EventType, str]] = {
    EventType.SMOKE_ALARM: "Smoke",
    EventType.GAS_ALARM: "Gas",
    EventType.WATER_LEAK: "Water leak",
    EventType.FALL_DETECTED: "Fall",
    EventType.EMERGENCY_CALL: "Emergency call",
    EventType.TAMPER: "Tamper",
    EventType.BATTERY_LOW: "Battery low",
    EventType.HARDWARE_FAULT: "Fault",
    EventType.END_OF_SERVICE: "End of service",
}


@dataclass(frozen=True, slots=True)
class HaTopics:
    """Where the hub publishes a device's state and availability for Home Assistant."""

    state: str
    availability: str


def ha_id(text: str) -> str:
    """HA node and object ids allow only ``[A-Za-z0-9_-]``."""
    return _HA_ID.sub("_", text).strip("_") or "x"


def default_topics(hub_id: str, device_id: str) -> HaTopics:
    base = f"courtyard/{ha_id(hub_id)}/{ha_id(device_id)}"
    return HaTopics(state=f"{base}/state", availability=f"{base}/availability")


def entities(kind: DeviceKind) -> list[EventType]:
    """The stateful events a kind shows as binary sensors, its own alarm first."""
    return [
        e
        for e in DEVICE_CLASS
        if event_allowed(kind, e) and EVENTS[e].stateful and not EVENTS[e].raised_by_hub
    ]


def ha_discovery(
    device: DeviceInfo,
    *,
    hub_id: str,
    topics: HaTopics | None = None,
    prefix: str = DISCOVERY_PREFIX,
    model: str = "",
    sw_version: str = "",
) -> list[tuple[str, bytes]]:
    """Retained discovery config messages (topic, JSON payload) for one device."""
    topics = topics or default_topics(hub_id, device.device_id)
    node = ha_id(f"courtyard_{hub_id}_{device.device_id}")
    info: dict[str, Any] = {
        "identifiers": [node],
        "name": device.name,
        "manufacturer": "Courtyard",
        "model": model or str(device.kind).replace("_", " "),
        "suggested_area": device.room,
    }
    if sw_version:
        info["sw_version"] = sw_version
    common: dict[str, Any] = {
        "device": info,
        "origin": {"name": "Courtyard"},
        "state_topic": topics.state,
        "availability": [
            {
                "topic": topics.availability,
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ],
        "json_attributes_topic": topics.state,
        "qos": 1,
    }
    out: list[tuple[str, bytes]] = []
    for event in entities(device.kind):
        key = str(event)
        config = {
            **common,
            "name": _NAMES[event],
            "unique_id": f"{node}_{key}",
            "object_id": f"{ha_id(device.device_id)}_{key}",
            "device_class": DEVICE_CLASS[event],
            "value_template": f"{{{{ 'ON' if value_json.{key} else 'OFF' }}}}",
            "payload_on": "ON",
            "payload_off": "OFF",
        }
        if event not in (
            EventType.SMOKE_ALARM,
            EventType.GAS_ALARM,
            EventType.WATER_LEAK,
            EventType.FALL_DETECTED,
            EventType.EMERGENCY_CALL,
        ):
            config["entity_category"] = "diagnostic"
        out.append((f"{prefix}/binary_sensor/{node}/{key}/config", _json(config)))
    if "battery_pct" in KINDS[device.kind].fields_by_name:
        config = {
            **common,
            "name": "Battery",
            "unique_id": f"{node}_battery",
            "object_id": f"{ha_id(device.device_id)}_battery",
            "device_class": "battery",
            "unit_of_measurement": "%",
            "state_class": "measurement",
            "entity_category": "diagnostic",
            "value_template": "{{ value_json.battery_pct }}",
        }
        out.append((f"{prefix}/sensor/{node}/battery/config", _json(config)))
    return out


def ha_remove(
    device: DeviceInfo, *, hub_id: str, prefix: str = DISCOVERY_PREFIX
) -> list[tuple[str, bytes]]:
    """Empty retained payloads that remove a device's entities (after unpairing)."""
    return [(topic, b"") for topic, _ in ha_discovery(device, hub_id=hub_id, prefix=prefix)]


def ha_state(kind: DeviceKind, state: Mapping[str, Any], active: Iterable[EventType]) -> bytes:
    """The JSON the hub publishes on the state topic: the device's interop state fields and
    ``true``/``false`` for every entity event (the templates read these keys)."""
    fields = KINDS[kind].fields_by_name
    active = set(active)
    doc: dict[str, Any] = {k: v for k, v in state.items() if k in fields}
    for event in entities(kind):
        doc[str(event)] = event in active
    return _json(doc)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()
