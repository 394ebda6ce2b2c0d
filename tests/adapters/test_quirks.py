"""The vendor quirks the fixtures' notes describe, and raise/clear edges per device."""

from __future__ import annotations

import pytest

from devices.adapters import AdapterError, AdapterSession, builtin_adapters
from tests.adapters.support import Driver, events, states

ZB = "zigbee2mqtt"


def test_smoke_raises_once_and_clears_once() -> None:
    d = Driver()
    assert events(d.send(f"{ZB}/hall", {"smoke": False, "battery": 90})) == []
    assert events(d.send(f"{ZB}/hall", {"smoke": True, "battery": 90})) == [("smoke_alarm", True)]
    # Z2M republishes the cached state: the same level is not a new alarm.
    repeat = d.send(f"{ZB}/hall", {"smoke": True, "battery": 89})
    assert events(repeat) == [] and states(repeat) == [
        {"smoke_state": "critical", "battery_pct": 89}
    ]
    assert events(d.send(f"{ZB}/hall", {"smoke": False})) == [("smoke_alarm", False)]
    assert events(d.send(f"{ZB}/hall", {"smoke": False})) == []


def test_first_report_true_raises_and_null_changes_nothing() -> None:
    d = Driver()
    assert events(d.send(f"{ZB}/hall", {"smoke": True})) == [("smoke_alarm", True)]
    out = d.send(f"{ZB}/hall", {"smoke": None, "battery": None, "linkquality": 20})
    assert [m["type"] for m in out] == ["heartbeat"]
    assert events(d.send(f"{ZB}/hall", {"smoke": False})) == [("smoke_alarm", False)]


def test_test_button_is_not_an_alarm() -> None:
    d = Driver()
    d.send(f"{ZB}/hall", {"smoke": False, "test": False})
    out = d.send(f"{ZB}/hall", {"smoke": True, "test": True})
    assert events(out) == [("self_test", True)]
    assert states(out) == [{"test_in_progress": True}]
    out = d.send(f"{ZB}/hall", {"smoke": False, "test": False})
    assert events(out) == [] and states(out)[0]["test_in_progress"] is False
    # A real fire after the test is an alarm.
    assert events(d.send(f"{ZB}/hall", {"smoke": True, "test": False})) == [("smoke_alarm", True)]


def test_tamper_and_battery_low_are_trouble_edges() -> None:
    d = Driver()
    d.send(f"{ZB}/hall", {"smoke": False, "tamper": False, "battery_low": False})
    out = d.send(f"{ZB}/hall", {"smoke": False, "tamper": True, "battery_low": True})
    assert sorted(events(out)) == [("battery_low", True), ("tamper", True)]
    assert states(out)[0]["battery_alert"] == "warning"
    out = d.send(f"{ZB}/hall", {"tamper": False})
    assert events(out) == [("tamper", False)]


def test_battery_state_words() -> None:
    d = Driver()
    d.send(f"{ZB}/t", {"smoke": False, "battery_state": "high"})
    out = d.send(f"{ZB}/t", {"smoke": False, "battery_state": "low"})
    assert events(out) == [("battery_low", True)] and states(out)[0]["battery_alert"] == "warning"
    # Tuya's own spelling 'middle' is read too.
    assert events(d.send(f"{ZB}/t", {"battery_state": "middle"})) == [("battery_low", False)]
    with pytest.raises(AdapterError, match="battery_state"):
        d.send(f"{ZB}/t", {"battery_state": "empty"})


def test_booleans_spelled_as_strings() -> None:
    d = Driver()
    out = d.send(f"{ZB}/hs2sa", {"smoke": False, "silence": "ON"})
    assert states(out)[0]["muted"] is True
    out = d.send("shellies/shellysmoke-1/sensor/smoke", "1")
    assert events(out) == [("smoke_alarm", True)]
    assert events(d.send("shellies/shellysmoke-1/sensor/smoke", "false")) == [
        ("smoke_alarm", False)
    ]


def test_self_test_result_emits_once_when_it_changes() -> None:
    d = Driver()
    d.send(f"{ZB}/hs2sa", {"smoke": False, "self_test": "check_success"})
    out = d.send(f"{ZB}/hs2sa", {"smoke": False, "self_test": "checking"})
    assert states(out)[0]["test_in_progress"] is True and events(out) == []
    out = d.send(f"{ZB}/hs2sa", {"smoke": False, "self_test": "check_failure"})
    assert [(m["event"], m["data"]) for m in out if m["type"] == "event"] == [
        ("self_test", {"passed": False})
    ]
    assert events(d.send(f"{ZB}/hs2sa", {"self_test": "check_failure"})) == []


def test_tuya_gas_self_test_boolean_and_result() -> None:
    d = Driver()
    d.send(f"{ZB}/gas", {"gas": False, "self_test": False, "self_test_result": "success"})
    out = d.send(f"{ZB}/gas", {"gas": False, "self_test": True, "self_test_result": "checking"})
    assert states(out)[0]["test_in_progress"] is True
    assert events(out) == [("self_test", True)]
    out = d.send(f"{ZB}/gas", {"gas": False, "self_test": False, "self_test_result": "success"})
    assert ("self_test", True) in events(out)
    assert {"passed": True} in [m["data"] for m in out if m["type"] == "event"]


def test_gas_alarm_carries_the_reading() -> None:
    d = Driver()
    out = d.send(f"{ZB}/gas", {"gas": True, "gas_value": 12.5})
    assert [m["data"] for m in out if m["type"] == "event"] == [{"value": 12.5}]
    # A sentinel outside 0..100 %LEL is no reading, not an error.
    assert states(d.send(f"{ZB}/gas", {"gas": True, "gas_value": 655.35})) == [
        {"gas_state": "critical"}
    ]


def test_sos_press_raises_and_the_reset_does_not_clear() -> None:
    d = Driver()
    topic = f"{ZB}/0xa4c13899607febd1"
    assert events(d.send(topic, {"action": "emergency", "battery": 100})) == [
        ("emergency_call", True)
    ]
    assert events(d.send(topic, {"action": "", "battery": 100})) == []
    # A radio repeat within the debounce window is the same press...
    assert events(d.send(topic, {"action": "emergency"}, after_ms=500)) == []
    # ...a later press is another call (the community counts it).
    assert events(d.send(topic, {"action": "emergency"}, after_ms=5000)) == [
        ("emergency_call", True)
    ]


def test_unknown_button_saying_single_is_not_an_alarm() -> None:
    d = Driver()
    assert d.send(f"{ZB}/hallway_switch", {"action": "single", "battery": 100}) == []


def test_exposes_make_an_unseen_sos_model_work() -> None:
    d = Driver()
    d.send(
        f"{ZB}/bridge/devices",
        [
            {
                "friendly_name": "bedside",
                "definition": {
                    "model": "NEW-SOS-9",
                    "vendor": "Nobody",
                    "description": "Emergency button for elderly care",
                    "exposes": [
                        {"type": "enum", "property": "action", "values": ["off", "long"]},
                    ],
                },
            }
        ],
    )
    assert events(d.send(f"{ZB}/bedside", {"action": "long"})) == [("emergency_call", True)]
    assert events(d.send(f"{ZB}/bedside", {"action": "off"}, after_ms=9000)) == []


def test_bridge_value_on_off_are_honoured() -> None:
    d = Driver()
    d.send(
        f"{ZB}/bridge/devices",
        [
            {
                "friendly_name": "odd",
                "definition": {
                    "model": "X",
                    "exposes": [
                        {
                            "type": "binary",
                            "property": "water_leak",
                            "value_on": "WET",
                            "value_off": "DRY",
                        }
                    ],
                },
            }
        ],
    )
    assert events(d.send(f"{ZB}/odd", {"water_leak": "WET"})) == [("water_leak", True)]
    assert events(d.send(f"{ZB}/odd", {"water_leak": "DRY"})) == [("water_leak", False)]


def test_fall_radar_words() -> None:
    d = Driver()
    t = f"{ZB}/HS2FD-ZB"
    d.send(t, {"fall_status": "normal", "occupancy": True})
    assert events(d.send(t, {"fall_status": "fall_warning"})) == []
    assert events(d.send(t, {"fall_status": "fall_alarm"})) == [("fall_detected", True)]
    assert events(d.send(t, {"fall_status": "normal"})) == [("fall_detected", False)]
    with pytest.raises(AdapterError, match="fall_status"):
        d.send(t, {"fall_status": "fell"})
    tuya = f"{ZB}/tuya_radar"
    assert events(d.send(tuya, {"fall_down_status": "maybe_fall", "presence": True})) == []
    assert events(d.send(tuya, {"fall_down_status": "fall"})) == [("fall_detected", True)]
    assert states(d.send(tuya, {"presence_state": "none"})) == [{"occupied": False}]


def test_availability_json_and_legacy_text() -> None:
    d = Driver()
    d.send(f"{ZB}/bathroom_leak", {"water_leak": False})
    assert events(d.send(f"{ZB}/bathroom_leak/availability", {"state": "offline"})) == [
        ("device_offline", True)
    ]
    assert events(d.send(f"{ZB}/bathroom_leak/availability", "offline")) == []
    out = d.send(f"{ZB}/bathroom_leak/availability", "online")
    assert events(out) == [("device_offline", False)] and out[-1]["type"] == "heartbeat"
    assert d.send(f"{ZB}/bathroom_leak/availability", "") == []  # renamed: retained cleared
    with pytest.raises(AdapterError, match="availability"):
        d.send(f"{ZB}/bathroom_leak/availability", {"state": "sleeping"})


def test_plain_text_on_a_json_topic_is_an_error() -> None:
    d = Driver()
    with pytest.raises(AdapterError, match="not JSON"):
        d.send(f"{ZB}/hall", "online")


def test_shelly_gas_words() -> None:
    d = Driver()
    gas = "shellies/shellygas-c45bbe6b1a2f/sensor/gas"
    d.send(gas, "none")
    out = d.send(gas, "test")
    assert events(out) == [] and states(out) == [{"test_in_progress": True}]
    out = d.send(gas, "mild")
    assert events(out) == [("gas_alarm", True)]
    assert states(out) == [{"test_in_progress": False, "gas_state": "warning"}]
    out = d.send(gas, "heavy")
    assert events(out) == [] and states(out) == [{"gas_state": "critical"}]
    assert events(d.send(gas, "unknown")) == []
    assert events(d.send(gas, "none")) == [("gas_alarm", False)]
    with pytest.raises(AdapterError, match="gas"):
        d.send(gas, "explosion")


def test_shelly_gas_fault_from_two_sources() -> None:
    d = Driver()
    base = "shellies/shellygas-c45bbe6b1a2f"
    d.send(f"{base}/sensor/operation", "normal")
    assert events(d.send(f"{base}/sensor/operation", "fault")) == [("hardware_fault", True)]
    out = d.send(f"{base}/valve/0/state", "failure")
    assert events(out) == [] and states(out) == [{"hardware_fault": True}]
    # The sensor recovers but the valve has still failed: the fault stays.
    out = d.send(f"{base}/sensor/operation", "normal")
    assert events(out) == [] and states(out) == [{"hardware_fault": True}]
    out = d.send(f"{base}/valve/0/state", "closed")
    assert events(out) == [("hardware_fault", False)]
    assert states(out) == [{"valve": "closed", "hardware_fault": False}]


def test_shelly_concentration_sentinel_and_garbage() -> None:
    d = Driver()
    topic = "shellies/shellygas-c45bbe6b1a2f/sensor/concentration"
    assert [m["type"] for m in d.send(topic, "-1")] == ["heartbeat"]
    with pytest.raises(AdapterError, match="concentration"):
        d.send(topic, "lots")


def test_shelly_online_plain_text() -> None:
    d = Driver()
    d.send("shellies/shellyflood-abc/sensor/flood", "false")
    assert events(d.send("shellies/shellyflood-abc/online", "false")) == [("device_offline", True)]
    with pytest.raises(AdapterError):
        d.send("shellies/shellyflood-abc/online", "Online")


def test_shelly_gen2_notify_event_test_and_partial_status() -> None:
    d = Driver()
    t = "shellyplussmoke-aabbccddeeff00/events/rpc"
    d.send(
        t, {"method": "NotifyStatus", "params": {"ts": 1.0, "smoke:0": {"id": 0, "alarm": False}}}
    )
    test = {
        "method": "NotifyEvent",
        "params": {"events": [{"component": "smoke:0", "event": "alarm_test"}]},
    }
    assert events(d.send(t, test)) == [("self_test", True)]
    alarm = {
        "method": "NotifyEvent",
        "params": {"events": [{"component": "smoke:0", "event": "alarm"}]},
    }
    assert events(d.send(t, alarm)) == [("smoke_alarm", True)]
    # The status notification of the same alarm is the same source: no second raise.
    status = {"method": "NotifyStatus", "params": {"smoke:0": {"alarm": True}}}
    assert events(d.send(t, status)) == []
    off = {"method": "NotifyStatus", "params": {"smoke:0": {"alarm": False}}}
    assert events(d.send(t, off)) == [("smoke_alarm", False)]
    assert d.send(t, {"id": 7, "result": {}}) == []  # an RPC reply


def test_tasmota_threshold_has_hysteresis() -> None:
    d = Driver()
    t = "tele/kitchen_mq2/SENSOR"
    d.send(t, {"Time": "2024-01-01T12:00:00", "ANALOG": {"MQ2_1": 12.34}})
    assert events(d.send(t, {"ANALOG": {"MQ2_1": 1500}})) == [("gas_alarm", True)]
    assert [m["type"] for m in d.send(t, {"ANALOG": {"MQ2_1": 700}})] == ["heartbeat"]
    assert events(d.send(t, {"ANALOG": {"MQ2_1": 300}})) == [("gas_alarm", False)]
    # ESP8266 numbering (MQ2_0) is the same sensor type.
    assert events(d.send("tele/other/SENSOR", {"ANALOG": {"MQ2_0": 2000}})) == [("gas_alarm", True)]
    assert events(d.send("tele/kitchen_mq2/LWT", "Offline")) == [("device_offline", True)]


def test_legacy_device_object_gives_the_model() -> None:
    session = AdapterSession(builtin_adapters())
    d = Driver(session)
    d.send(
        f"{ZB}/Smoke",
        {
            "battery": 100,
            "device": {"ieeeAddr": "0x00158d0001d64498", "modelId": "lumi.sensor_smoke"},
        },
    )
    (device,) = session.devices()
    assert (device.definition, device.model) == ("xiaomi_smoke", "lumi.sensor_smoke")


def test_friendly_names_become_valid_device_ids() -> None:
    d = Driver()
    out = d.send(f"{ZB}/living room/smoke ⚠", {"smoke": False})
    other = d.send(f"{ZB}/living_room/smoke_", {"smoke": False})
    assert out[0]["device_id"] != other[0]["device_id"]
    assert out[0]["device_id"].startswith("living_room_smoke")


def test_a_refused_message_changes_nothing() -> None:
    d = Driver()
    d.send(f"{ZB}/hall", {"smoke": False})
    with pytest.raises(AdapterError):
        d.send(f"{ZB}/hall", {"smoke": True, "battery": "full"})
    # The alarm was not half-raised by the refused message: it raises now.
    assert events(d.send(f"{ZB}/hall", {"smoke": True})) == [("smoke_alarm", True)]
    assert d.seq("hall") == 4  # 1: the first state; 2, 3: state and event; none refused


def test_a_large_bridge_device_list_is_read() -> None:
    """bridge/devices holds every device with its exposes: far above one message's limit."""
    expose = {"type": "binary", "property": "smoke", "access": 1, "description": "x" * 200}
    entries = [
        {"friendly_name": f"smoke_{i}", "definition": {"model": "M", "exposes": [expose] * 3}}
        for i in range(60)
    ]
    d = Driver()
    assert d.send("zigbee2mqtt/bridge/devices", entries) == []
    assert d.session.describe("zigbee2mqtt", "smoke_59") is not None


def test_exposes_classify_a_device_before_it_reports_the_telling_property() -> None:
    d = Driver()
    d.send(
        "zigbee2mqtt/bridge/devices",
        [
            {
                "friendly_name": "cellar",
                "definition": {
                    "model": "NEVER-SEEN-1",
                    "exposes": [{"type": "binary", "property": "gas", "access": 1}],
                },
            }
        ],
    )
    out = d.send("zigbee2mqtt/cellar", {"battery": 90, "linkquality": 40})
    assert [(m["kind"], m["state"]) for m in out] == [("gas_detector", {"battery_pct": 90})]
