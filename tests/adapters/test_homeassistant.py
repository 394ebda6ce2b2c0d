"""Home Assistant discovery configs: the layout and keys HA reads, per device kind."""

from __future__ import annotations

import json

import pytest

from devices.adapters import ha_discovery, ha_remove, ha_state
from devices.catalog import DeviceKind, EventType
from devices.uplink import DeviceInfo
from tests.adapters.conftest import vendor_fixtures

SMOKE = DeviceInfo("kitchen-smoke:1", DeviceKind.SMOKE_ALARM, "Kitchen smoke", "Kitchen")


def _configs(device: DeviceInfo) -> dict[str, dict[str, object]]:
    return {t: json.loads(p) for t, p in ha_discovery(device, hub_id="hub-0042")}


def test_smoke_alarm_entities_follow_the_published_z2m_shape() -> None:
    reference = vendor_fixtures()[31]  # a real Z2M discovery config for a smoke detector
    ref_topic = reference["topic"].split("/")
    configs = _configs(SMOKE)
    topic, smoke = next((t, c) for t, c in configs.items() if c["device_class"] == "smoke")
    parts = topic.split("/")
    assert len(parts) == len(ref_topic) == 5
    assert parts[0] == "homeassistant" and parts[1] == "binary_sensor" and parts[-1] == "config"
    assert all(ch.isalnum() or ch in "_-" for ch in parts[2] + parts[3])
    # The keys HA needs, as in the reference, plus explicit availability payloads (the
    # reference relies on the old plain-text defaults).
    for key in ("availability", "device", "device_class", "name", "state_topic", "unique_id"):
        assert key in smoke and key in reference["payload"]
    assert smoke["availability"] == [
        {
            "topic": "courtyard/hub-0042/kitchen-smoke_1/availability",
            "payload_available": "online",
            "payload_not_available": "offline",
        }
    ]
    device = smoke["device"]
    assert isinstance(device, dict) and isinstance(device["identifiers"], list)
    assert (device["name"], device["suggested_area"]) == ("Kitchen smoke", "Kitchen")
    assert smoke["value_template"] == "{{ 'ON' if value_json.smoke_alarm else 'OFF' }}"
    classes = sorted(str(c["device_class"]) for c in configs.values())
    assert classes == ["battery", "battery", "problem", "problem", "smoke", "tamper"]
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)


@pytest.mark.parametrize(
    ("kind", "device_class"),
    [
        (DeviceKind.GAS_DETECTOR, "gas"),
        (DeviceKind.WATER_LEAK, "moisture"),
        (DeviceKind.FALL_DETECTOR, "safety"),
        (DeviceKind.EMERGENCY_BUTTON, "safety"),
    ],
)
def test_every_kind_has_its_main_alarm(kind: DeviceKind, device_class: str) -> None:
    configs = _configs(DeviceInfo("d1", kind, "Device", "Hall"))
    main = [c for c in configs.values() if "entity_category" not in c]
    assert [c["device_class"] for c in main] == [device_class]


def test_state_document_feeds_the_templates() -> None:
    doc = json.loads(
        ha_state(
            DeviceKind.SMOKE_ALARM,
            {"smoke_state": "critical", "battery_pct": 80, "not_a_field": 1},
            {EventType.SMOKE_ALARM},
        )
    )
    assert doc["smoke_alarm"] is True and doc["tamper"] is False
    assert doc["battery_pct"] == 80 and "not_a_field" not in doc
    for config in _configs(SMOKE).values():
        template = str(config["value_template"])
        key = template.split("value_json.")[1].split()[0]
        assert key in doc


def test_removal_clears_every_config() -> None:
    removal = ha_remove(SMOKE, hub_id="hub-0042")
    assert [t for t, _ in removal] == list(_configs(SMOKE))
    assert all(p == b"" for _, p in removal)
