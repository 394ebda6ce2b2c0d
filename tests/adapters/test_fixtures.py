"""Every entry of the shared vendor fixtures decodes to what its notes say it means.

Each expectation below was written from the fixture's ``notes`` (not captured from the
decoder): the interop messages a hub must get, or why the entry is not decoded. Placeholder
topics (``<friendly_name>``, ``<deviceid>``) get concrete names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from devices.adapters import AdapterSession, builtin_adapters
from devices.adapters.conformance import ConformanceKit, case_from
from tests.adapters.conftest import vendor_fixtures

ZB = "zigbee2mqtt"


@dataclass(frozen=True)
class Supported:
    """``model`` must appear in the fixture's device_model (guards against reordering)."""

    model: str
    topic: str
    expect: list[dict[str, Any]]
    before: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    now_ms: int | None = None


@dataclass(frozen=True)
class Unsupported:
    model: str
    reason: str


def bridge_devices(name: str, model: str, **definition: Any) -> dict[str, Any]:
    """A one-device ``bridge/devices`` message, as Z2M retains it."""
    entry = {
        "friendly_name": name,
        "ieee_address": name,
        "definition": {"model": model, "vendor": "any", "exposes": [], **definition},
    }
    return {"topic": f"{ZB}/bridge/devices", "payload": [entry]}


def state(**fields: Any) -> dict[str, Any]:
    return {"type": "state", "state": fields}


def event(name: str, active: bool = True, **extra: Any) -> dict[str, Any]:
    return {"type": "event", "event": name, "active": active, **extra}


HEARTBEAT = {"type": "heartbeat"}
LEAK_REPORT = {"topic": f"{ZB}/bathroom_leak", "payload": {"water_leak": False}}

TABLE: dict[int, Supported | Unsupported] = {
    0: Supported(
        "HS1SA-E",
        f"{ZB}/hallway_smoke",
        # tamper/battery_low false on first sight: no event; IAS 'trouble' is hardware_fault.
        [
            state(
                smoke_state="normal",
                test_in_progress=False,
                battery_pct=100,
                battery_alert="normal",
                hardware_fault=False,
            )
            | {"device_id": "hallway_smoke", "kind": "smoke_alarm"}
        ],
    ),
    1: Supported(
        "legacy Z2M",
        "zigbee/smoke_detector",
        # A configured base topic; last_seen (ISO) is the event time when plausible.
        [
            state(smoke_state="critical", battery_alert="normal") | {"ts": 1561390253312},
            event("smoke_alarm", priority="critical", ts=1561390253312),
        ],
        params={ZB: {"base": "zigbee"}},
        now_ms=1561390260000,
    ),
    2: Supported(
        "legacy Z2M 2018",
        f"{ZB}/Smoke",
        # The 'device' sub-object is bridge metadata, not state; the test press gave
        # smoke:false, so no alarm.
        [state(battery_pct=100, smoke_state="normal") | {"device_id": "Smoke"}],
    ),
    3: Supported(
        "current converter",
        f"{ZB}/kitchen_smoke",
        [
            state(
                smoke_state="normal",
                obscuration_pct_per_m=0.0,
                test_in_progress=False,
                battery_pct=100,
                battery_alert="normal",
            )
        ],
    ),
    4: Supported(
        "TS0601_smoke_1",
        f"{ZB}/nous_e8",
        # Z2M already inverted the Tuya DP: smoke:true is smoke.
        [state(smoke_state="critical", battery_alert="normal"), event("smoke_alarm")],
    ),
    5: Supported(
        "TS0601_smoke_4",
        f"{ZB}/tuya_smoke4",
        [state(smoke_state="normal", battery_pct=100, battery_alert="normal")],
    ),
    6: Supported(
        "HS2SA-1",
        f"{ZB}/heiman_hs2sa",
        # silence is the string 'OFF'; a check_success already cached is not a new test.
        [
            state(
                smoke_state="normal",
                battery_pct=95,
                battery_alert="normal",
                muted=False,
                test_in_progress=False,
            )
        ],
    ),
    7: Supported("HS3CG", f"{ZB}/boiler_gas", [state(gas_state="normal")]),
    8: Supported(
        "HS1CG-E",
        f"{ZB}/0x000d6f001539fdba",
        # gas:false is what Z2M says (its bit mapping is wrong for this model): we report it.
        [state(gas_state="normal") | {"device_id": "0x000d6f001539fdba"}],
    ),
    9: Supported(
        "TS0601_gas_sensor_2",
        f"{ZB}/kitchen_gas",
        # gas_value is %LEL; self_test false / result success: no test running, no event.
        [state(gas_state="normal", lel_pct=0.0, test_in_progress=False, muted=False)],
    ),
    10: Supported(
        "SJCGQ11LM",
        f"{ZB}/bathroom_leak",
        # last_seen is epoch ms here; with a matching clock it is the message time.
        [state(leak=False, battery_pct=100) | {"ts": 1656118444933}],
        now_ms=1656118445500,
    ),
    11: Supported(
        "TS0601_sos",
        f"{ZB}/0xa4c13899607febd1",
        # action null is not a press; bridge/devices names the model, so the battery counts.
        [state(battery_pct=100)],
        before=[bridge_devices("0xa4c13899607febd1", "TS0601_sos")],
    ),
    12: Supported(
        "TS0601_sos",
        f"{ZB}/0xa4c13899607febd1",
        # 'emergency' identifies an SOS button even without bridge/devices.
        [state(battery_pct=100), event("emergency_call", priority="critical")],
    ),
    13: Supported(
        "TS0215A_sos",
        f"{ZB}/0x847127fffe0542eb",
        # battery null until the first report: no battery field at all.
        [event("emergency_call")],
    ),
    14: Supported(
        "HS1EB",
        f"{ZB}/front_door_sos",
        # Heiman's button says 'single'; only its model makes that a call for help.
        [state(battery_pct=100), event("emergency_call")],
        before=[bridge_devices("front_door_sos", "HS1EB/HS1EB-E")],
    ),
    15: Supported(
        "HS2FD-EF1-3.0",
        f"{ZB}/HS2FD-ZB",
        # fall_status (not fall_down_status); numeric enum-ish settings are ignored.
        [state(fall_state="normal", occupied=True) | {"kind": "fall_detector"}],
    ),
    16: Supported(
        "availability",
        f"{ZB}/bathroom_leak/availability",
        [HEARTBEAT | {"device_id": "bathroom_leak", "kind": "water_leak"}],
        before=[LEAK_REPORT],
    ),
    17: Supported("Zigbee2MQTT bridge", f"{ZB}/bridge/state", []),
    18: Supported("bridge/devices entry", f"{ZB}/bridge/devices", []),
    19: Supported("bridge/event device_interview", f"{ZB}/bridge/event", []),
    20: Supported(
        "SHGS-1",
        "shellies/shellygas-c45bbe6b1a2f/sensor/operation",
        [state(hardware_fault=False) | {"kind": "gas_detector"}],
    ),
    21: Supported(
        "SHGS-1", "shellies/shellygas-c45bbe6b1a2f/sensor/gas", [state(gas_state="normal")]
    ),
    22: Supported(
        "SHGS-1",
        "shellies/shellygas-c45bbe6b1a2f/sensor/self_test",
        [state(test_in_progress=False)],
    ),
    23: Supported(
        "SHGS-1",
        "shellies/shellygas-c45bbe6b1a2f/sensor/concentration",
        # ppm is checked but has no interop field (not %LEL); the message is proof of life.
        [HEARTBEAT],
    ),
    24: Supported(
        "valve add-on",
        "shellies/shellygas-c45bbe6b1a2f/valve/0/state",
        [state(valve="none", hardware_fault=False)],
    ),
    25: Supported(
        "any Shelly Gen1",
        "shellies/shellygas-c45bbe6b1a2f/online",
        [HEARTBEAT],
        before=[{"topic": "shellies/shellygas-c45bbe6b1a2f/sensor/gas", "payload": "none"}],
    ),
    26: Supported(
        "SHSM-01",
        "shellies/shellysmoke-a1b2c3/sensor/smoke",
        [state(smoke_state="critical"), event("smoke_alarm")],
    ),
    27: Supported(
        "SNSN-0031Z",
        "shellyplussmoke-aabbccddeeff00/events/rpc",
        # params.ts 4.32 is seconds since boot (no time sync): the caller's clock is used.
        [
            state(muted=False, battery_pct=100, smoke_state="normal")
            | {"device_id": "shellyplussmoke-aabbccddeeff00", "ts": 1_795_289_401_123}
        ],
    ),
    28: Supported(
        "Shelly Plus Smoke",
        "shellyplussmoke-aabbccddeeff00/status/smoke:0",
        [state(smoke_state="critical", muted=False), event("smoke_alarm")],
    ),
    29: Supported(
        "any Tasmota",
        "tele/kitchen_mq2/LWT",
        [HEARTBEAT],
        before=[{"topic": "tele/kitchen_mq2/SENSOR", "payload": {"ANALOG": {"MQ2_1": 5.0}}}],
    ),
    30: Supported("MQ-2", "tele/kitchen_mq2/SENSOR", [state(gas_state="normal")]),
    31: Unsupported(
        "SD-8SCZBS",
        "Home Assistant discovery is an output here: Courtyard reads these devices from their"
        " native topics, and this config is the reference test_homeassistant compares with.",
    ),
    32: Unsupported(
        "Shelly Gas SHGS-1",
        "Home Assistant discovery config (input side not decoded; see entry 31).",
    ),
    33: Unsupported(
        "LVCC",
        "E-bike charger operator cloud over HTTP, not MQTT; chargers are no interop device"
        " kind (the community's e-bike service owns them).",
    ),
    34: Unsupported("AnSheng", "E-bike charging socket: no interop device kind for chargers."),
    35: Unsupported("AnSheng", "E-bike charging socket birth event: no interop device kind."),
    36: Unsupported("JUY", "Binary e-bike charging-pile protocol: no interop device kind."),
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(TABLE) == list(range(len(vendor_fixtures())))
    for index, row in TABLE.items():
        assert row.model in vendor_fixtures()[index]["device_model"], index


@pytest.mark.parametrize(
    "index", [i for i, row in TABLE.items() if isinstance(row, Supported)], ids=str
)
def test_supported_fixture_decodes(adapter_kit: ConformanceKit, index: int) -> None:
    row = TABLE[index]
    assert isinstance(row, Supported)
    raw: dict[str, Any] = {
        "name": f"fixture {index}",
        "topic": row.topic,
        "payload": vendor_fixtures()[index]["payload"],
        "expect": row.expect,
        "before": row.before,
        "params": row.params,
    }
    if row.now_ms is not None:
        raw["now_ms"] = row.now_ms
    adapter_kit.check_case(case_from(raw))


@pytest.mark.parametrize(
    "index", [i for i, row in TABLE.items() if isinstance(row, Unsupported)], ids=str
)
def test_unsupported_fixture_is_not_claimed(index: int) -> None:
    """No built-in adapter pretends to understand an unsupported entry's topic."""
    words = vendor_fixtures()[index]["topic"].split()
    topic = words[2] if words[0] == "HTTP" else words[0]
    assert not AdapterSession(builtin_adapters()).handles(topic)
