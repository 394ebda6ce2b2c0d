"""Whatever arrives on a vendor topic, adapters raise AdapterError or emit valid messages.

The strategies aim at the decoders, not only the JSON parser: payloads use the very property
names the built-in definitions read, with values of every JSON type.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.adapters import AdapterError, AdapterSession, SequenceCounter, builtin_adapters
from devices.adapters.conformance import DEFAULT_NOW_MS, check_message
from devices.adapters.definition import AdapterDefinition

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ADAPTERS = builtin_adapters()
DEVICE_TOPICS = [
    "zigbee2mqtt/dev",
    "zigbee2mqtt/dev/availability",
    "zigbee2mqtt/dev/action",
    "zigbee2mqtt/bridge/devices",
    "zigbee2mqtt/bridge/event",
    "shellies/shellygas-1/sensor/gas",
    "shellies/shellygas-1/sensor/operation",
    "shellies/shellygas-1/sensor/self_test",
    "shellies/shellygas-1/sensor/concentration",
    "shellies/shellygas-1/valve/0/state",
    "shellies/shellysmoke-1/sensor/smoke",
    "shellies/shellysmoke-1/sensor/battery",
    "shellies/shellygas-1/online",
    "shellyplussmoke-1/events/rpc",
    "shellyplussmoke-1/status/smoke:0",
    "shellyplussmoke-1/online",
    "tele/mq/SENSOR",
    "tele/mq/LWT",
    "tele/mq/STATE",
]


def _concrete(name: str) -> str:
    return name.replace("*", "0")


#: Every property name a built-in decoder reads (globs made concrete), nested where the
#: protocol flattens JSON ('a/b' keys come from nested objects).
PROPERTIES = sorted(
    {
        _concrete(prop)
        for item in ADAPTERS
        if isinstance(item, AdapterDefinition)
        for piece in item.decoders
        for prop in piece.reads
    }
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, 1e308, -1e308, 5e-324]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "true", "ON", "0", "1", "none", "mild", "test", "fault", "emergency"]),
    st.sampled_from(["1e400", "-1e308", "NaN", "inf", "2019-06-24T15:30:53.312Z", "9" * 40]),
    st.text(max_size=10),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split("/")
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    return out


property_objects = st.dictionaries(st.sampled_from(PROPERTIES), values, max_size=6).map(_nest)
payloads = st.one_of(
    st.binary(max_size=300),
    values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    property_objects.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    property_objects.map(
        lambda v: json.dumps({"method": "NotifyStatus", "params": v}, allow_nan=True).encode()
    ),
    st.sampled_from([b"", b"true", b"Online", b"offline", b'{"state":"online"}', b"-1", b"[]"]),
)


def _decode_all(messages: list[tuple[str, bytes]]) -> None:
    session = AdapterSession(builtin_adapters())
    seq = SequenceCounter()
    for topic, payload in messages:
        try:
            out = session.decode(topic, payload, now_ms=DEFAULT_NOW_MS, seq=seq)
        except AdapterError as exc:
            assert exc.reason and "\n" not in exc.reason
            # Built-ins must say what is wrong themselves, not fall into the plugin guard.
            assert "internal error" not in exc.reason, exc.reason
            continue
        for msg in out:
            check_message(msg)


@FUZZ
@given(st.sampled_from(DEVICE_TOPICS), payloads)
def test_one_message(topic: str, payload: bytes) -> None:
    _decode_all([(topic, payload)])


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(DEVICE_TOPICS), payloads), min_size=2, max_size=8))
def test_sequences_keep_valid_state(messages: list[tuple[str, bytes]]) -> None:
    _decode_all(messages)


@FUZZ
@given(st.text(max_size=60), st.binary(max_size=64))
def test_arbitrary_topics(topic: str, payload: bytes) -> None:
    _decode_all([(topic, payload)])


@FUZZ
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["friendly_name", "definition", "model_id"]), values),
        max_size=3,
    )
)
def test_bridge_devices_shapes(entries: list[dict[str, Any]]) -> None:
    _decode_all([("zigbee2mqtt/bridge/devices", json.dumps(entries, allow_nan=True).encode())])
