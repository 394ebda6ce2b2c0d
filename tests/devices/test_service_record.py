"""The property-service record and the notice's ``data``: round trips, limits and bad input."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.messages import InteropError
from devices.schema import UPLINK_SCHEMA_FILE, published
from devices.service import MAX_BODY_BYTES, MAX_DEPTH, ServiceRequest
from devices.uplink import (
    DownlinkNotice,
    NoticeCategory,
    RecordKind,
    decode_notice,
    decode_record,
    encode_notice,
    encode_record,
    is_telemetry,
    service_request,
)

plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**52), 2**52) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), plain, max_size=5)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=150, deadline=None)
@given(body=bodies)
def test_a_service_request_round_trips_or_is_refused_for_its_depth(body: dict[str, Any]) -> None:
    record = service_request(
        "hub-1", 7, 1_700_000_000_000, ServiceRequest("work_order", "open", "r-1", body)
    )
    raw = encode_record(record)
    if (
        _depth(body) > MAX_DEPTH
        or len(json.dumps(body, separators=(",", ":")).encode()) > MAX_BODY_BYTES
    ):
        with pytest.raises(InteropError):
            decode_record(raw)
        return
    back = decode_record(raw)
    assert back == record
    assert back.kind is RecordKind.SERVICE_REQUEST and not is_telemetry(back)
    jsonschema.validate(json.loads(raw), published(UPLINK_SCHEMA_FILE))


@pytest.mark.parametrize(
    "service",
    [
        None,
        "x",
        {"service": "Work", "action": "open", "request_id": "r"},
        {"service": "work_order", "action": "", "request_id": "r"},
        {"service": "work_order", "action": "open", "request_id": "bad id"},
        {"service": "work_order", "action": "open", "request_id": "r", "body": []},
        {"service": "work_order", "action": "open", "request_id": "r", "body": {"a b": 1}},
        {"service": "work_order", "action": "open", "request_id": "r", "body": {"x": "y" * 5000}},
        {"service": "work_order", "action": "open", "request_id": "r", "body": {"n": 2**60}},
        {"service": "work_order", "action": "open", "request_id": "r", "body": {"a": [[[[1]]]]}},
    ],
)
def test_a_malformed_service_request_is_refused(service: object) -> None:
    raw = {"v": "1.0", "hub_id": "hub-1", "seq": 1, "ts": 1, "kind": "service_request"}
    if service is not None:
        raw["service"] = service
    with pytest.raises(InteropError):
        decode_record(json.dumps(raw).encode())


def test_a_notice_carries_structured_data_and_omits_it_when_empty() -> None:
    notice = DownlinkNotice(
        community_id="demo",
        seq=3,
        ts=1,
        notice_id="n-3",
        category=NoticeCategory.SERVICE,
        code="issued",
        params={"request_id": "r-1", "service": "visitor_pass"},
        data={"pass": "CYP1.abc.def", "uses": 2},
    )
    assert decode_notice(encode_notice(notice)) == notice
    bare = DownlinkNotice("demo", 4, 1, "n-4", NoticeCategory.PROPERTY, "drill", {})
    assert b'"data"' not in encode_notice(bare)
    assert decode_notice(encode_notice(bare)) == bare
    forged = json.loads(encode_notice(bare))
    forged["data"] = {"x": float("nan")}
    with pytest.raises(InteropError):
        decode_notice(json.dumps(forged).encode())
