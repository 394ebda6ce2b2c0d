"""The examples in docs/adapters.md run, and its fixture example passes the kit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from devices.adapters import AdapterSession, builtin_adapters
from devices.adapters.conformance import ConformanceKit, case_from
from tests.adapters.support import Driver, events

DOC = (Path(__file__).resolve().parents[2] / "docs" / "adapters.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.DOTALL)


def _run(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "doc_example"}
    exec(compile(code, "docs/adapters.md", "exec"), namespace)
    return namespace


def test_session_example_runs() -> None:
    _run(_blocks("python")[0])


def test_look_alike_example_works() -> None:
    adapters = builtin_adapters().extend(_run(_blocks("python")[1])["ADAPTERS"])
    d = Driver(AdapterSession(adapters))
    d.send(
        "zigbee2mqtt/bridge/devices",
        [
            {"friendly_name": "sos", "definition": {"model": "ACME-SOS1"}},
            {"friendly_name": "hs9", "definition": {"model": "ACME-HS9"}},
        ],
    )
    assert events(d.send("zigbee2mqtt/sos", {"action": "double"})) == [("emergency_call", True)]
    d.send("zigbee2mqtt/hs9", {"battery": 50})
    assert {x.name: x.definition for x in d.session.devices()} == {
        "sos": "acme_sos",
        "hs9": "acme_hs9",
    }


def test_new_vendor_example_passes_the_kit_with_the_doc_fixtures() -> None:
    adapters = builtin_adapters().extend(_run(_blocks("python")[2])["ADAPTERS"])
    kit = ConformanceKit(adapters)
    cases = [case_from(c, i) for i, c in enumerate(json.loads(_blocks("json")[0]))]
    for case in cases:
        kit.check_case(case)
    assert kit.check_round_trips(cases) >= 1
