"""Interop commands in vendor words, and their round trips through the device's echo."""

from __future__ import annotations

import json

import pytest

from devices.adapters import AdapterError
from devices.adapters.conformance import ConformanceKit, case_from
from devices.catalog import CommandName
from devices.messages import Command
from tests.adapters.support import Driver


def test_z2m_silence_uses_the_exposed_value_on() -> None:
    d = Driver()
    d.send(
        "zigbee2mqtt/bridge/devices",
        [
            {
                "friendly_name": "hs2sa",
                "definition": {
                    "model": "HS2SA-1",
                    "exposes": [
                        {"type": "binary", "property": "smoke", "access": 1},
                        {
                            "type": "binary",
                            "property": "silence",
                            "access": 3,
                            "value_on": "ON",
                            "value_off": "OFF",
                        },
                    ],
                },
            }
        ],
    )
    d.send("zigbee2mqtt/hs2sa", {"smoke": True, "silence": "OFF"})
    (out,) = d.session.encode(Command("hs2sa", "c1", CommandName.SILENCE))
    assert out.topic == "zigbee2mqtt/hs2sa/set" and json.loads(out.payload) == {"silence": "ON"}
    # The device takes self_test only if it exposes a writable test property.
    with pytest.raises(AdapterError, match="cannot self_test"):
        d.session.encode(Command("hs2sa", "c2", CommandName.SELF_TEST))


def test_shelly_gas_close_valve_and_self_test() -> None:
    d = Driver()
    d.send("shellies/shellygas-c45bbe6b1a2f/sensor/gas", "none")
    (valve,) = d.session.encode(Command("shellygas-c45bbe6b1a2f", "c1", CommandName.CLOSE_VALVE))
    assert (valve.topic, valve.payload) == (
        "shellies/shellygas-c45bbe6b1a2f/valve/0/command",
        b"close",
    )
    (test,) = d.session.encode(Command("shellygas-c45bbe6b1a2f", "c2", CommandName.SELF_TEST))
    assert test.topic == "shellies/shellygas-c45bbe6b1a2f/sensor/start_self_test"


def test_shelly_plus_smoke_mute_is_an_rpc() -> None:
    d = Driver()
    d.send("shellyplussmoke-aabb/status/smoke:0", {"id": 0, "alarm": True, "mute": False})
    (out,) = d.session.encode(Command("shellyplussmoke-aabb", "c1", CommandName.SILENCE))
    body = json.loads(out.payload)
    assert out.topic == "shellyplussmoke-aabb/rpc"
    assert (body["method"], body["params"], body["src"]) == ("Smoke.Mute", {"id": 0}, "courtyard")
    assert isinstance(body["id"], int)


def test_commands_are_refused_clearly() -> None:
    d = Driver()
    d.send("zigbee2mqtt/leak", {"water_leak": False})
    with pytest.raises(AdapterError, match="does not take silence"):
        d.session.encode(Command("leak", "c1", CommandName.SILENCE))
    with pytest.raises(AdapterError, match="no bridged device"):
        d.session.encode(Command("nobody", "c1", CommandName.SELF_TEST))


def test_round_trips_of_the_built_ins(adapter_kit: ConformanceKit) -> None:
    cases = [
        case_from(
            {
                "topic": "zigbee2mqtt/gas",
                "payload": {"gas": False, "self_test": False, "silence": False},
            }
        ),
        case_from(
            {
                "topic": "zigbee2mqtt/lumi",
                "payload": {"smoke": False},
                "before": [
                    {
                        "topic": "zigbee2mqtt/bridge/devices",
                        "payload": [
                            {
                                "friendly_name": "lumi",
                                "definition": {
                                    "model": "JTYJ-GD-01LM/BW",
                                    "exposes": [
                                        {
                                            "type": "enum",
                                            "property": "selftest",
                                            "access": 2,
                                            "values": [""],
                                        }
                                    ],
                                },
                            }
                        ],
                    }
                ],
            }
        ),
        case_from({"topic": "shellies/shellygas-1/sensor/gas", "payload": "none"}),
        case_from({"topic": "shellyplussmoke-1/status/smoke:0", "payload": {"alarm": False}}),
    ]
    # gas: silence + self_test; lumi: self_test; shelly gas: self_test + close_valve; plus: mute
    assert adapter_kit.check_round_trips(cases) == 6
