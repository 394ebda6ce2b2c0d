"""Whatever arrives, parse_message and decode_record raise InteropError and nothing else."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.catalog import MAX_MESSAGE_BYTES
from devices.messages import ErrorCode, InteropError, encode, parse_message
from devices.uplink import decode_record, encode_record
from tests.devices.support import FAST, to_text, valid_messages, valid_records

_HEARTBEAT = '{"v":"1.0","type":"heartbeat","device_id":"d1","kind":"water_leak","seq":1,"ts":1}'
_HELLO = (
    '{"v":"1.0","type":"hello","device_id":"d1","kind":"water_leak","model":"MODEL","firmware":"1"}'
)
_RECORD = (
    '{"v":"1.0","hub_id":"h","seq":1,"ts":1,"kind":"report",'
    '"device":{"device_id":"d1","kind":"water_leak","name":"n","room":"r"},"message":MESSAGE}'
)


def _only_interop_errors(call: Callable[[], object]) -> InteropError | None:
    """Run ``call``; any exception other than InteropError fails the test."""
    try:
        call()
    except InteropError as exc:
        assert isinstance(exc.code, ErrorCode) and exc.reason
        return exc
    return None


def _both(raw: bytes) -> None:
    _only_interop_errors(lambda: parse_message(raw))
    _only_interop_errors(lambda: decode_record(raw))


@FAST
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(raw: bytes) -> None:
    _both(raw)


@FAST
@given(st.text(max_size=2048))
def test_arbitrary_text(text: str) -> None:
    _only_interop_errors(lambda: parse_message(text))
    _both(text.encode("utf-8", "surrogatepass"))


any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)


@FAST
@given(any_json)
def test_arbitrary_json_values(value: Any) -> None:
    text = to_text(value)
    _only_interop_errors(lambda: parse_message(text))
    _both(text.encode())
    if isinstance(value, dict):
        _only_interop_errors(lambda: parse_message(value))


@FAST
@given(
    valid_messages(),
    st.dictionaries(
        st.sampled_from(
            [
                "v",
                "type",
                "kind",
                "event",
                "state",
                "data",
                "args",
                "seq",
                "priority",
                "active",
                "ref",
                "code",
            ]
        ),
        any_json,
        max_size=3,
    ),
)
def test_valid_messages_with_arbitrary_fields(
    obj: dict[str, Any], overrides: dict[str, Any]
) -> None:
    obj |= overrides
    _only_interop_errors(lambda: parse_message(obj))
    _only_interop_errors(lambda: parse_message(to_text(obj)))


@FAST
@given(
    valid_records(),
    st.dictionaries(
        st.sampled_from(["v", "hub_id", "kind", "device", "message", "summary", "seq"]),
        any_json,
        max_size=3,
    ),
)
def test_valid_records_with_arbitrary_fields(
    obj: dict[str, Any], overrides: dict[str, Any]
) -> None:
    obj |= overrides
    _only_interop_errors(lambda: decode_record(to_text(obj).encode()))


@st.composite
def _corrupted(draw: st.DrawFn, source: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data.insert(i, draw(st.integers(0, 255)))
        elif data:
            del data[i]
    return bytes(data)


@FAST
@given(_corrupted(valid_messages().map(lambda o: to_text(o).encode())))
def test_corrupted_messages(raw: bytes) -> None:
    _only_interop_errors(lambda: parse_message(raw))


@FAST
@given(_corrupted(valid_records().map(lambda o: to_text(o).encode())))
def test_corrupted_records(raw: bytes) -> None:
    _only_interop_errors(lambda: decode_record(raw))


def _nest(depth: int, inner: str = "0") -> str:
    return "[" * depth + inner + "]" * depth


def _nest_obj(depth: int) -> str:
    return '{"a":' * depth + "0" + "}" * depth


_DEPTHS = sorted(
    {
        10,
        500,
        sys.getrecursionlimit() - 50,
        sys.getrecursionlimit(),
        sys.getrecursionlimit() + 50,
        5000,
        8000,
    }
)


@pytest.mark.parametrize("depth", _DEPTHS)
@pytest.mark.parametrize("shape", [_nest, _nest_obj])
def test_deeply_nested_json(depth: int, shape: Callable[[int], str]) -> None:
    nested = shape(depth)
    heartbeat = _HEARTBEAT.removesuffix("}")
    event = heartbeat + ',"event":"water_leak"'
    record = _RECORD.replace("MESSAGE}", "")
    for text in (
        nested,
        heartbeat + ',"extra":' + nested + "}",
        event + ',"priority":' + nested + "}",
        event + ',"data":{"value":' + nested + "}}",
        '{"v":"1.0","hub_id":"h","seq":1,"ts":1,"kind":' + nested + "}",
        record + heartbeat + ',"kind2":' + nested + "}}",
        record + nested + "}",
    ):
        _both(text.encode())
        _only_interop_errors(lambda: parse_message(text))  # noqa: B023


def test_message_at_the_size_limit_is_accepted_and_one_byte_more_is_not() -> None:
    base = (
        '{"v":"1.0","type":"heartbeat","device_id":"d1","kind":"water_leak","seq":1,"ts":1,"pad":"'
    )
    # "é" is two bytes of UTF-8: the limit counts bytes, not characters.
    fill = MAX_MESSAGE_BYTES - len(base.encode()) - len('"}')
    exact = base + "é" * (fill // 2) + "x" * (fill % 2) + '"}'
    assert len(exact.encode()) == MAX_MESSAGE_BYTES
    assert parse_message(exact).type == "heartbeat"
    assert parse_message(exact.encode()).type == "heartbeat"
    over = exact.replace('"pad":"', '"pad":"x', 1)
    for raw in (over, over.encode()):
        err = _only_interop_errors(lambda: parse_message(raw))  # noqa: B023
        assert err is not None and err.code is ErrorCode.TOO_LARGE


@pytest.mark.parametrize("size", [MAX_MESSAGE_BYTES + 1, 1 << 20, 8 << 20])
def test_huge_payloads_are_too_large(size: int) -> None:
    raw = b"{" + b" " * (size - 2) + b"}"
    for call in (lambda: parse_message(raw), lambda: decode_record(raw)):
        err = _only_interop_errors(call)
        assert err is not None and err.code is ErrorCode.TOO_LARGE


def test_integer_too_long_for_python_is_malformed() -> None:
    text = (
        '{"v":"1.0","type":"heartbeat","device_id":"d1","kind":"water_leak","seq":'
        + "9" * 5000
        + ',"ts":1}'
    )
    err = _only_interop_errors(lambda: parse_message(text))
    assert err is not None and err.code is ErrorCode.MALFORMED


@pytest.mark.parametrize("value", ["1" + "0" * 400, "-" + "1" * 400, "1e400", "-1e400", "2e308"])
def test_number_beyond_a_double_is_a_bad_field_not_a_crash(value: str) -> None:
    text = (
        '{"v":"1.0","type":"event","device_id":"d1","kind":"water_leak","seq":1,"ts":1,'
        '"event":"device_offline","data":{"silent_s":' + value + "}}"
    )
    err = _only_interop_errors(lambda: parse_message(text))
    assert err is not None and err.code is ErrorCode.BAD_FIELD


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_malformed(token: str) -> None:
    text = (
        '{"v":"1.0","type":"state","device_id":"d1","kind":"gas_detector","seq":1,"ts":1,"state":{"lel_pct":'
        + token
        + "}}"
    )
    err = _only_interop_errors(lambda: parse_message(text))
    assert err is not None and err.code is ErrorCode.MALFORMED


@pytest.mark.parametrize(
    "text",
    [
        '{"v":"1.0","type":"hello","device_id":"d1","kind":"water_leak","model":"\\ud800","firmware":"1"}',
        '{"v":"1.0","type":"ack","ref":"\\udfff"}',
        '{"v":"1.0","type":"ack","ref":"1","error":"x\\ud83d"}',
        '{"v":"1.0","type":"error","code":"malformed","message":"\\udc00"}',
        '{"v":"1.0","type":"command","device_id":"d1","command_id":"\\ud800","command":"self_test"}',
        '{"v":"1.0","type":"command","device_id":"d1","command_id":"c","command":"interconnect_start","args":{"source_device":"\\ud800"}}',
    ],
)
def test_unpaired_surrogates_are_refused(text: str) -> None:
    """They parse as JSON but cannot be stored or forwarded as UTF-8."""
    err = _only_interop_errors(lambda: parse_message(text))
    assert err is not None and err.code is ErrorCode.BAD_FIELD


def test_a_surrogate_pair_is_an_ordinary_character() -> None:
    text = _HELLO.replace("MODEL", "\\ud83d\\ude00")
    assert parse_message(text) == parse_message(json.loads(text))
    assert encode(parse_message(text)).encode()


def test_unpaired_surrogate_in_record_device_name_is_refused() -> None:
    good = _RECORD.replace('"name":"n"', '"name":"NAME"').replace("MESSAGE", _HEARTBEAT)
    record = decode_record(good.replace("NAME", "n").encode())
    assert encode_record(record)
    err = _only_interop_errors(lambda: decode_record(good.replace("NAME", "\\ud800").encode()))
    assert err is not None and err.code is ErrorCode.BAD_FIELD


def test_error_reasons_never_echo_a_whole_untrusted_value() -> None:
    huge = "p" * 5000
    text = (
        '{"v":"1.0","type":"event","device_id":"d1","kind":"water_leak","seq":1,"ts":1,"event":"water_leak","priority":"'
        + huge
        + '"}'
    )
    err = _only_interop_errors(lambda: parse_message(text))
    assert err is not None and len(err.reason) < 200
    err = _only_interop_errors(
        lambda: parse_message({**json.loads(text), "priority": [[[]] * 100]})
    )
    assert err is not None and "list" in err.reason
