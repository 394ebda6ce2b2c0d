"""The adapter conformance kit: a pytest plugin any adapter package runs on its fixtures.

Use it from a package's ``conftest.py``::

    pytest_plugins = ["devices.adapters.conformance"]

    @pytest.fixture
    def courtyard_adapters():
        return builtin_adapters().extend(my_package.ADAPTERS)

and from a test module::

    CASES = load_cases(Path(__file__).with_name("fixtures.json"))

    @pytest.mark.parametrize("case", CASES, ids=case_id)
    def test_fixture(adapter_kit, case):
        adapter_kit.check_case(case)

What it checks: every decoded message validates against the published JSON Schema
(``devices/schema/interop-message.schema.json``) *and* the interop parser; decoded messages
match each case's expectations; malformed payloads raise :class:`AdapterError` (and nothing
else, under hypothesis fuzzing too) without consuming a sequence number; and every command
an adapter declares an echo for round-trips: encode, decode the device's echo, see the
confirmed state. ``jsonschema`` and ``hypothesis`` are test-time dependencies, imported only
when a check needs them.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest

from devices.adapters.adapterset import AdapterSet
from devices.adapters.definition import AdapterDefinition, fill
from devices.adapters.errors import AdapterError
from devices.adapters.loader import load_adapters
from devices.adapters.session import AdapterSession, SequenceCounter
from devices.catalog import COMMANDS, CommandName
from devices.messages import Command, DeviceReport, InteropError, parse_message, to_dict
from devices.schema import published

#: 2026-11-21T19:30:01.123Z: the fixed clock of every case unless it sets ``now_ms``.
DEFAULT_NOW_MS: Final = 1_795_289_401_123


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Case:
    """One fixture: a vendor message, what it must decode to, or that it is malformed.

    ``before`` messages are decoded first in the same session (a bridge's device list, an
    earlier state), ``params`` set protocol parameters (``{"zigbee2mqtt": {"base": "z"}}``).
    ``expect`` is a list of partial wire-form messages, in order; a ``state`` object in an
    expectation must equal the decoded one exactly.
    """

    name: str
    topic: str
    payload: bytes
    expect: tuple[Mapping[str, Any], ...] | None = None
    malformed: bool = False
    before: tuple[Message, ...] = ()
    params: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    now_ms: int = DEFAULT_NOW_MS


def _payload(value: Any) -> bytes:
    """A fixture payload: a string is sent as is (plain text); anything else as JSON."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def case_from(obj: Mapping[str, Any], index: int = 0) -> Case:
    """A case from its JSON form (see :class:`Case`)."""
    expect = obj.get("expect")
    return Case(
        name=str(obj.get("name") or f"case{index}"),
        topic=str(obj["topic"]),
        payload=_payload(obj["payload"]),
        expect=tuple(expect) if expect is not None else None,
        malformed=bool(obj.get("malformed", False)),
        before=tuple(
            Message(str(m["topic"]), _payload(m["payload"])) for m in obj.get("before", ())
        ),
        params=obj.get("params", {}),
        now_ms=int(obj.get("now_ms", DEFAULT_NOW_MS)),
    )


def load_cases(path: Path) -> list[Case]:
    """Cases from a JSON file holding a list of case objects."""
    items = json.loads(path.read_text(encoding="utf-8"))
    return [case_from(obj, i) for i, obj in enumerate(items)]


def case_id(case: Case) -> str:
    return case.name


@cache
def _schema_validator() -> Any:
    jsonschema = importlib.import_module("jsonschema")
    schema = published()
    return jsonschema.validators.validator_for(schema)(schema)


def check_message(msg: DeviceReport) -> dict[str, Any]:
    """The wire form of a decoded message, after the JSON Schema and the parser accept it."""
    wire = json.loads(json.dumps(to_dict(msg)))
    errors = sorted(_schema_validator().iter_errors(wire), key=str)
    assert not errors, f"schema refuses {wire}: {errors[0].message}"
    try:
        parsed = parse_message(wire)
    except InteropError as exc:  # pragma: no cover - a failing adapter
        raise AssertionError(f"parser refuses {wire}: {exc.reason}") from None
    assert parsed == msg, f"{wire} does not survive the parser"
    return dict(wire)


def matches(actual: Any, expected: Any, *, exact_keys: Iterable[str] = ("state",)) -> bool:
    """``expected`` is contained in ``actual`` (dicts by key; ``state`` must be equal)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        return all(
            k in actual
            and (actual[k] == v if k in exact_keys else matches(actual[k], v, exact_keys=()))
            for k, v in expected.items()
        )
    return bool(actual == expected)


class ConformanceKit:
    """Runs the checks against one set of adapters."""

    def __init__(self, adapters: AdapterSet) -> None:
        self.adapters = adapters

    def session(self, params: Mapping[str, Mapping[str, str]] | None = None) -> AdapterSession:
        adapters = self.adapters
        for protocol, values in (params or {}).items():
            adapters = adapters.with_params(protocol, **values)
        return AdapterSession(adapters)

    def decode(
        self,
        session: AdapterSession,
        topic: str,
        payload: bytes | str,
        *,
        now_ms: int = DEFAULT_NOW_MS,
        seq: SequenceCounter | None = None,
    ) -> list[dict[str, Any]]:
        """Decode and check every message; returns their wire forms."""
        counter = seq or SequenceCounter()
        return [
            check_message(m) for m in session.decode(topic, payload, now_ms=now_ms, seq=counter)
        ]

    def check_case(self, case: Case) -> list[dict[str, Any]]:
        session = self.session(case.params)
        seq = SequenceCounter()
        for msg in case.before:
            self.decode(session, msg.topic, msg.payload, now_ms=case.now_ms, seq=seq)
        if case.malformed:
            self.assert_malformed(session, case.topic, case.payload, now_ms=case.now_ms)
            return []
        out = self.decode(session, case.topic, case.payload, now_ms=case.now_ms, seq=seq)
        if case.expect is not None:
            assert len(out) == len(case.expect) and all(
                matches(a, e) for a, e in zip(out, case.expect, strict=True)
            ), f"{case.name}: decoded {out}, expected {list(case.expect)}"
        return out

    def assert_malformed(
        self, session: AdapterSession, topic: str, payload: bytes | str, *, now_ms: int = 0
    ) -> AdapterError:
        """The payload raises AdapterError with a one-line reason and consumes no seq."""
        used: list[str] = []

        def seq(device_id: str) -> int:
            used.append(device_id)
            return len(used)

        with pytest.raises(AdapterError) as info:
            session.decode(topic, payload, now_ms=now_ms or DEFAULT_NOW_MS, seq=seq)
        reason = info.value.reason
        assert reason and "\n" not in reason, f"reason must be one line: {reason!r}"
        assert not used, "a refused payload must not consume sequence numbers"
        return info.value

    def check_round_trips(self, cases: Iterable[Case]) -> int:
        """Encode every command that declares an echo, for each device a case bridges, and
        decode the echo. Returns how many round trips ran."""
        ran = 0
        for case in cases:
            if case.malformed:
                continue
            session = self.session(case.params)
            seq = SequenceCounter()
            for msg in (*case.before, Message(case.topic, case.payload)):
                self.decode(session, msg.topic, msg.payload, now_ms=case.now_ms, seq=seq)
            for device in session.devices():
                definition = self.adapters.find(device.definition)
                assert isinstance(definition, AdapterDefinition)
                ran += self._round_trip(session, definition, device.device_id, case, seq)
        return ran

    def _round_trip(
        self,
        session: AdapterSession,
        definition: AdapterDefinition,
        device_id: str,
        case: Case,
        seq: SequenceCounter,
    ) -> int:
        state = session.state_of(device_id)
        assert state is not None
        protocol = session.adapters.protocols[definition.protocol]
        ran = 0
        for command in {e.command for e in definition.encoders}:
            cmd = Command(device_id, f"conformance-{command}", command, _args(command))
            try:
                outbound = session.encode(cmd)
            except AdapterError:
                continue  # this device lacks what the encoder requires
            assert outbound and all(o.topic and isinstance(o.payload, bytes) for o in outbound)
            encoder = next(
                e
                for e in definition.encoders
                if e.command is command
                and fill(e.topic, {**protocol.params, "device": state.name}) == outbound[0].topic
            )
            if encoder.echo is None:
                continue
            topic = fill(encoder.echo[0], {**protocol.params, "device": state.name})
            echo = self.decode(session, topic, _payload(encoder.echo[1]), seq=seq)
            states = [m["state"] for m in echo if m["type"] == "state"]
            assert states and all(states[-1].get(k) == v for k, v in encoder.confirms.items()), (
                f"{definition.name} {command}: echo decoded to {echo}, not {encoder.confirms}"
            )
            ran += 1
        return ran

    def fuzz(self, cases: Iterable[Case], *, examples: int = 100) -> None:
        """Arbitrary bytes and JSON on every case's topic: AdapterError or valid messages."""
        from hypothesis import given, settings
        from hypothesis import strategies as st

        topics = sorted({c.topic for c in cases})
        if not topics:
            return
        json_values = st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=12), inner, max_size=4)
            ),
            max_leaves=12,
        )
        payloads = st.one_of(
            st.binary(max_size=512),
            json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
        )

        @settings(max_examples=examples, deadline=None, database=None)
        @given(topic=st.sampled_from(topics), payload=payloads)
        def run(topic: str, payload: bytes) -> None:
            session = self.session()
            try:
                out = session.decode(topic, payload, now_ms=DEFAULT_NOW_MS, seq=SequenceCounter())
            except AdapterError as exc:
                assert exc.reason and "\n" not in exc.reason
                assert (
                    not exc.reason.startswith("internal error")
                    and "internal error" not in exc.reason
                ), exc.reason
                return
            for msg in out:
                check_message(msg)

        run()


def _args(command: CommandName) -> dict[str, Any]:
    return {a.name: "conformance" for a in COMMANDS[command].args}


# --- pytest fixtures ----------------------------------------------------------------------


@pytest.fixture
def courtyard_adapters() -> AdapterSet:
    """The adapters under test: by default built-ins and installed plugins. An adapter
    package overrides this fixture to add its own."""
    adapters, report = load_adapters()
    assert report.ok, f"adapter plugins failed to load: {report.problems}"
    return adapters


@pytest.fixture
def adapter_kit(courtyard_adapters: AdapterSet) -> ConformanceKit:
    return ConformanceKit(courtyard_adapters)


__all__ = [
    "DEFAULT_NOW_MS",
    "Case",
    "ConformanceKit",
    "adapter_kit",
    "case_from",
    "case_id",
    "check_message",
    "courtyard_adapters",
    "load_cases",
    "matches",
]
