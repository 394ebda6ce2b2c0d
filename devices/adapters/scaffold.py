"""``courtyard adapter new NAME``: a complete adapter package that passes its conformance
tests before its author changes a line, so the first edit starts from green."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

_NAME: Final = re.compile(r"[a-z][a-z0-9-]{0,39}")

_PYPROJECT: Final = """\
[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "courtyard-adapter-{name}"
version = "0.1.0"
description = "Courtyard adapter: {name}"
requires-python = ">=3.11"
dependencies = ["courtyard"]

[project.optional-dependencies]
test = ["pytest", "hypothesis", "jsonschema"]

# The hub finds the adapter through this entry point once the package is installed.
[project.entry-points."courtyard.adapters"]
{ident} = "{package}:ADAPTERS"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
pythonpath = ["src"]
testpaths = ["tests"]
"""

_README: Final = """\
# courtyard-adapter-{name}

A Courtyard adapter: vendor MQTT messages on `{name_prefix}/<device>/state` (JSON) and
`{name_prefix}/<device>/status` (`online`/`offline`) become interop states and events.

    pip install -e '.[test]'
    pytest                     # the conformance kit runs tests/fixtures.json
    courtyard adapter decode --topic {name_prefix}/kitchen/state --payload '{{"smoke": true}}'

Edit `src/{package}/__init__.py` (the definition) and `tests/fixtures.json` (real payloads
of your device, each with what it must decode to). See Courtyard's `docs/adapters.md`.
"""

_MODULE: Final = '''\
"""Courtyard adapter for {name} devices.

Topics: ``{name_prefix}/<device>/state`` carries a JSON object such as
``{{"smoke": false, "test": false, "tamper": false, "battery": 97}}``;
``{name_prefix}/<device>/status`` carries ``online`` or ``offline``; commands go to
``{name_prefix}/<device>/cmd``.
"""

from devices.adapters import (
    AdapterDefinition,
    CommandEncoder,
    Matcher,
    Protocol,
    Route,
    availability,
    battery_pct,
    boolean_alarm,
    ignore,
    json_object,
    tamper,
    test_flag,
)
from devices.catalog import CommandName, DeviceKind, EventType

PROTOCOL = Protocol(
    name="{ident}",
    description="{name} devices over MQTT",
    params={{"prefix": "{name_prefix}"}},
    subscriptions=("{{prefix}}/+/state", "{{prefix}}/+/status"),
    routes=(
        Route("{{prefix}}/{{device}}/state", json_object(), "device state (JSON)"),
        Route("{{prefix}}/{{device}}/status", availability(("online",), ("offline",)), "LWT"),
        Route("{{prefix}}/{{device}}/cmd", ignore("a command"), "commands (ours)"),
    ),
)

SMOKE_ALARM = AdapterDefinition(
    name="{ident}_smoke",
    vendor="{name}",
    protocol="{ident}",
    kind=DeviceKind.SMOKE_ALARM,
    description="{name} smoke alarm",
    matcher=Matcher(properties=("smoke",)),
    decoders=(
        boolean_alarm(
            "smoke", event=EventType.SMOKE_ALARM, field="smoke_state", on="critical", off="normal"
        ),
        test_flag("test"),
        tamper("tamper"),
        battery_pct("battery"),
    ),
    encoders=(
        CommandEncoder(
            CommandName.SELF_TEST,
            topic="{{prefix}}/{{device}}/cmd",
            payload={{"cmd": "self_test"}},
            echo=("{{prefix}}/{{device}}/state", {{"test": True}}),
            confirms={{"test_in_progress": True}},
        ),
    ),
)

ADAPTERS = (PROTOCOL, SMOKE_ALARM)
'''

_FIXTURES: Final = """\
[
  {{
    "name": "normal state",
    "topic": "{name_prefix}/kitchen/state",
    "payload": {{"smoke": false, "test": false, "tamper": false, "battery": 97}},
    "expect": [
      {{"type": "state", "device_id": "kitchen", "kind": "smoke_alarm",
        "state": {{"smoke_state": "normal", "test_in_progress": false, "battery_pct": 97}}}}
    ]
  }},
  {{
    "name": "smoke raises the alarm once",
    "before": [{{"topic": "{name_prefix}/kitchen/state", "payload": {{"smoke": false}}}}],
    "topic": "{name_prefix}/kitchen/state",
    "payload": {{"smoke": true}},
    "expect": [
      {{"type": "state", "state": {{"smoke_state": "critical"}}}},
      {{"type": "event", "event": "smoke_alarm", "active": true, "priority": "critical"}}
    ]
  }},
  {{
    "name": "a test is not an alarm",
    "topic": "{name_prefix}/kitchen/state",
    "payload": {{"smoke": true, "test": true}},
    "expect": [
      {{"type": "state", "state": {{"test_in_progress": true}}}},
      {{"type": "event", "event": "self_test"}}
    ]
  }},
  {{
    "name": "offline after a report",
    "before": [{{"topic": "{name_prefix}/kitchen/state", "payload": {{"smoke": false}}}}],
    "topic": "{name_prefix}/kitchen/status",
    "payload": "offline",
    "expect": [{{"type": "event", "event": "device_offline", "active": true}}]
  }},
  {{"name": "not JSON", "topic": "{name_prefix}/kitchen/state", "payload": "smoke!",
    "malformed": true}},
  {{"name": "wrong type", "topic": "{name_prefix}/kitchen/state", "payload": {{"smoke": "maybe"}},
    "malformed": true}}
]
"""

_CONFTEST: Final = '''\
import pytest

from devices.adapters import AdapterSet, builtin_adapters

import {package}

pytest_plugins = ["devices.adapters.conformance"]


@pytest.fixture
def courtyard_adapters() -> AdapterSet:
    """The built-ins plus this package: its topics must not collide with theirs."""
    return builtin_adapters().extend({package}.ADAPTERS)
'''

_TEST: Final = """\
from pathlib import Path

import pytest

from devices.adapters.conformance import ConformanceKit, case_id, load_cases

CASES = load_cases(Path(__file__).with_name("fixtures.json"))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fixture(adapter_kit: ConformanceKit, case) -> None:
    adapter_kit.check_case(case)


def test_commands_round_trip(adapter_kit: ConformanceKit) -> None:
    assert adapter_kit.check_round_trips(CASES) >= 1


def test_fuzz(adapter_kit: ConformanceKit) -> None:
    adapter_kit.fuzz(CASES, examples=100)
"""


def scaffold(name: str, parent: Path) -> Path:
    """Write the package ``courtyard-adapter-<name>`` under ``parent``; returns its folder.

    Raises ValueError for a bad name or an existing folder (nothing is overwritten).
    """
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"adapter name {name!r} must be lower-case letters, digits and '-', starting"
            " with a letter (at most 40 characters)"
        )
    ident = name.replace("-", "_")
    package = f"courtyard_adapter_{ident}"
    root = parent / f"courtyard-adapter-{name}"
    if root.exists():
        raise ValueError(f"{root} already exists")
    values = {"name": name, "ident": ident, "package": package, "name_prefix": name}
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"src/{package}/__init__.py": _MODULE,
        "tests/fixtures.json": _FIXTURES,
        "tests/conftest.py": _CONFTEST,
        "tests/test_conformance.py": _TEST,
    }
    for rel, template in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return root
