"""Hypothesis over request bodies: never a 5xx, and a refusal changes nothing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community.work_orders import OrderError
from tests.work_orders.conftest import HOME_A, Desk

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(
        ["plumbing", "lift", "tom", "2026-11-23T09:00:00Z", "9999-01-01T00:00:00Z", "\u0000", ""]
    ),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    [
        "home_id",
        "category",
        "description",
        "title",
        "room",
        "preferred_time",
        "photos",
        "to",
        "at",
        "note",
        "resolution",
        "rating",
        "comment",
        "order_id",
        "action",
        "by",
    ]
)
_BODIES = st.dictionaries(_KEYS, _VALUES, max_size=6)
_PATHS = st.sampled_from(
    [
        "/api/orders",
        "/api/orders/{id}/triage",
        "/api/orders/{id}/assign",
        "/api/orders/{id}/schedule",
        "/api/orders/{id}/start",
        "/api/orders/{id}/finish",
        "/api/orders/{id}/confirm",
        "/api/orders/{id}/reopen",
        "/api/orders/{id}/cancel",
        "/api/accounts",
    ]
)
_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _start(desk: Desk) -> int:
    desk.account("tom", "technician")
    answer = desk.ok(
        "POST",
        "/api/orders",
        {"home_id": HOME_A, "category": "plumbing", "description": "Leak"},
    )
    return int(answer["order"]["id"])


@_SETTINGS
@given(path=_PATHS, body=st.one_of(_BODIES, _VALUES), who=st.sampled_from(["manager", "tom"]))
def test_http_bodies_never_break_the_server(desk: Desk, path: str, body: Any, who: str) -> None:
    if not desk.tokens:
        desk.order_id = _start(desk)
    before = desk.snapshot()
    status, answer = desk.http("POST", path.format(id=desk.order_id), body, who=who)
    assert status < 500, (path, body, status, answer)
    if status >= 400:
        assert isinstance(answer, dict) and answer.get("error"), answer
        assert desk.snapshot() == before


@_SETTINGS
@given(raw=st.binary(max_size=300))
def test_raw_bytes_are_refused_cleanly(desk: Desk, raw: bytes) -> None:
    if not desk.tokens:
        desk.order_id = _start(desk)
    before = desk.snapshot()
    status, _answer = desk.http("POST", f"/api/orders/{desk.order_id}/assign", raw=raw)
    assert status < 500
    if status >= 400:
        assert desk.snapshot() == before


@_SETTINGS
@given(request=st.one_of(_BODIES, _VALUES), home=st.sampled_from([HOME_A, "401", "", "a/b"]))
def test_resident_requests_never_crash(desk: Desk, request: Any, home: str) -> None:
    before = desk.snapshot()
    orders = desk.community.server.work_orders
    try:
        orders.from_resident(home, request, desk.clock.ms)
    except OrderError:
        assert desk.snapshot() == before


def test_a_huge_body_is_413_and_changes_nothing(desk: Desk) -> None:
    order_id = _start(desk)
    before = desk.snapshot()
    big = json.dumps({"home_id": HOME_A, "category": "plumbing", "description": "x" * 40_000})
    status, answer = desk.http("POST", "/api/orders", raw=big.encode())
    assert status == 413 and answer["error"]
    status, answer = desk.http(
        "POST", f"/api/orders/{order_id}/finish", raw=b'{"resolution": "' + b"y" * 20_000 + b'"}'
    )
    assert status == 413
    assert desk.snapshot() == before
