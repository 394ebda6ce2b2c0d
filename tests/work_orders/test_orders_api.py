"""Work orders through the HTTP API and the resident entry point, against a real community."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from typing import Any

import aiohttp
import pytest

from community.accounts import Role
from community.clock import iso as _iso
from community.work_orders import OrderError, OrderForbiddenError, OrderNotFoundError
from tests.community.support import wait_until
from tests.work_orders.conftest import HOME_A, HOME_B, Desk

PHOTO = {"uri": "https://media.example/302/sink.jpg", "sha256": "ab" * 32}


def _order(desk: Desk, **extra: Any) -> dict[str, Any]:
    body = {
        "home_id": HOME_A,
        "category": "plumbing",
        "description": "The kitchen sink leaks under the cabinet.",
        "room": "Kitchen",
        **extra,
    }
    answer = desk.ok("POST", "/api/orders", body)
    assert answer["created"] is True
    return dict(answer["order"])


def _staff(desk: Desk) -> None:
    desk.account("dora", "duty_staff")
    desk.account("tom", "technician")
    desk.account("tia", "technician")


# --- roles and accounts -------------------------------------------------------------------------


def test_the_manager_token_is_the_property_admin_and_nothing_existing_breaks(desk: Desk) -> None:
    assert desk.ok("GET", "/api/whoami") == {
        "name": "manager",
        "role": "property_admin",
        "home_id": None,
    }
    assert desk.ok("GET", "/api/alarms")["total"] == 0
    assert desk.ok("GET", "/api/hubs")["hubs"]
    status, _ = desk.http("GET", "/api/orders", who="not-a-token-at-all-0123456789")
    assert status == 401


def test_tokens_are_stored_only_as_digests(desk: Desk) -> None:
    token = desk.account("dora", "duty_staff")
    raw = desk.community.runner.db.read_bytes()
    wal = desk.community.runner.db.with_name("community.db-wal")
    stored = raw + (wal.read_bytes() if wal.exists() else b"")
    assert token.encode() not in stored
    assert desk.community.token.encode() not in stored
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    accounts = desk.ok("GET", "/api/accounts")["accounts"]
    assert {a["name"]: a["role"] for a in accounts} == {
        "dora": "duty_staff",
        "manager": "property_admin",
    }
    assert all("token" not in json.dumps(a) for a in accounts)


def test_least_privilege_by_role(desk: Desk) -> None:
    _staff(desk)
    alarm_id = desk.smoke_end_of_service()
    # Duty staff work alarms and orders, but make no accounts.
    assert desk.ok("GET", "/api/alarms", who="dora")["total"] == 1
    acked = desk.ok("POST", f"/api/alarms/{alarm_id}/ack", who="dora")["alarm"]
    assert acked["acked_by"] == "dora"  # under her own name, not the shared "manager"
    assert (
        desk.http("POST", "/api/accounts", {"name": "x", "role": "technician"}, who="dora")[0]
        == 403
    )
    # Technicians see neither alarms nor accounts, nor may they open orders.
    for method, path in (
        ("GET", "/api/alarms"),
        ("GET", f"/api/alarms/{alarm_id}"),
        ("GET", "/api/accounts"),
        ("GET", "/api/hubs"),
        ("POST", f"/api/alarms/{alarm_id}/clear"),
        ("POST", f"/api/alarms/{alarm_id}/work-order"),
        ("POST", "/api/orders"),
    ):
        status, answer = desk.http(method, path, {} if method == "POST" else None, who="tom")
        assert status == 403, (method, path, status, answer)
        assert "technician" in answer["error"]
    assert desk.ok("GET", "/api/orders", who="tom")["orders"] == []
    # A paths nobody listed is the admin's only.
    assert desk.http("GET", "/api/lanes/plates", who="dora")[0] == 403


def test_a_disabled_account_is_refused_at_once(desk: Desk) -> None:
    desk.account("dora", "duty_staff")
    desk.ok("POST", "/api/accounts/dora/disable")
    assert desk.http("GET", "/api/orders", who="dora")[0] == 401
    assert desk.http("POST", "/api/accounts/manager/disable")[0] == 400
    assert desk.http("POST", "/api/accounts/nobody/disable")[0] == 404


def test_bad_accounts_are_refused(desk: Desk) -> None:
    desk.account("dora", "duty_staff")
    before = desk.snapshot()
    for body, status in (
        ({"name": "dora", "role": "technician"}, 409),
        ({"name": "eve", "role": "resident"}, 400),
        ({"name": "eve", "role": "god"}, 400),
        ({"name": "", "role": "technician"}, 400),
        ({"name": "a/b", "role": "technician"}, 400),
        ({"name": "eve", "role": "technician", "token": "mine"}, 400),
    ):
        assert desk.http("POST", "/api/accounts", body)[0] == status, body
    assert desk.snapshot() == before


# --- the life of an order -----------------------------------------------------------------------


def test_the_full_life_of_an_order(desk: Desk) -> None:
    _staff(desk)
    order = _order(desk, photos=[PHOTO])
    oid = order["id"]
    assert order["status"] == "open" and order["source"] == "staff"
    assert order["photos"][0]["uri"] == PHOTO["uri"]
    # Plumbing: 24 hours.
    due = desk.ok("GET", f"/api/orders/{oid}")["due_at"]
    assert due > order["created_at"]
    desk.ok("POST", f"/api/orders/{oid}/triage", {"note": "a real leak"}, who="dora")
    desk.ok("POST", f"/api/orders/{oid}/assign", {"to": "tom"}, who="dora")
    assert desk.ok("GET", "/api/orders", who="tom")["total"] == 1
    assert desk.ok("GET", "/api/orders", who="tia")["total"] == 0
    when = "2030-01-02T09:30:00+08:00"
    status, answer = desk.http("POST", f"/api/orders/{oid}/schedule", {"at": when}, who="tom")
    # 2030 is more than a year ahead of the test's clock: an absurd date.
    assert status == 400 and "year" in answer["error"]
    soon = _iso(desk.clock.ms + 3_600_000)
    scheduled = desk.ok("POST", f"/api/orders/{oid}/schedule", {"at": soon}, who="tom")["order"]
    assert scheduled["status"] == "scheduled" and scheduled["scheduled_at"] == soon
    desk.ok("POST", f"/api/orders/{oid}/start", who="tom")
    # Another technician may neither see nor close it; nothing changes.
    before = desk.snapshot()
    status, answer = desk.http(
        "POST", f"/api/orders/{oid}/finish", {"resolution": "fixed"}, who="tia"
    )
    assert status == 403 and "not assigned to you" in answer["error"]
    assert desk.http("GET", f"/api/orders/{oid}", who="tia")[0] == 403
    assert desk.snapshot() == before
    done = desk.ok(
        "POST", f"/api/orders/{oid}/finish", {"resolution": "Replaced the trap seal."}, who="tom"
    )["order"]
    assert done["status"] == "done" and done["resolution"] == "Replaced the trap seal."
    # Staff cannot rate for the resident; the resident does, through the hub path.
    assert desk.http("POST", f"/api/orders/{oid}/confirm", {"rating": 5}, who="dora")[0] == 403
    orders = desk.community.server.work_orders
    confirmed = orders.from_resident(
        HOME_A,
        {"action": "confirm", "order_id": oid, "rating": 5, "comment": "快, 谢谢"},
        desk.clock.ms,
    )
    assert confirmed["status"] == "confirmed" and confirmed["rating"] == 5
    assert confirmed["closed_at"] is not None
    history = [(h["action"], h["by"], h["role"]) for h in confirmed["history"]]
    assert history == [
        ("created", "manager", "property_admin"),
        ("triage", "dora", "duty_staff"),
        ("assign", "dora", "duty_staff"),
        ("schedule", "tom", "technician"),
        ("start", "tom", "technician"),
        ("finish", "tom", "technician"),
        ("confirm", "resident", "resident"),
    ]
    # A closed order takes no more transitions.
    assert desk.http("POST", f"/api/orders/{oid}/reopen", {"note": "again"})[0] == 409


def test_wrong_states_and_unknown_orders(desk: Desk) -> None:
    _staff(desk)
    oid = _order(desk)["id"]
    before = desk.snapshot()
    cases = [
        ("/api/orders/999/triage", {}, 404),
        ("/api/orders/0/triage", {}, 400),
        ("/api/orders/abc/triage", {}, 400),
        (f"/api/orders/{oid}/start", {}, 409),
        (f"/api/orders/{oid}/finish", {"resolution": "x"}, 409),
        (f"/api/orders/{oid}/assign", {"to": "nobody"}, 400),
        (f"/api/orders/{oid}/assign", {}, 400),
        (f"/api/orders/{oid}/assign", {"to": "tom", "by": "someone"}, 400),
        (f"/api/orders/{oid}/triage", {"category": "teleport"}, 400),
        (f"/api/orders/{oid}/cancel", {}, 400),
    ]
    for path, body, status in cases:
        got, answer = desk.http("POST", path, body)
        assert got == status, (path, body, got, answer)
        assert isinstance(answer, dict) and answer["error"]
    assert desk.http("POST", f"/api/orders/{oid}/explode", {})[0] == 404
    assert desk.snapshot() == before


def test_reopening_starts_a_new_cycle(desk: Desk) -> None:
    _staff(desk)
    oid = _order(desk)["id"]
    for action, body in (
        ("assign", {"to": "tom"}),
        ("start", {}),
        ("finish", {"resolution": "ok"}),
    ):
        desk.ok("POST", f"/api/orders/{oid}/{action}", body)
    reopened = desk.community.server.work_orders.from_resident(
        HOME_A, {"action": "reopen", "order_id": oid, "note": "still drips"}, desk.clock.ms
    )
    assert reopened["status"] == "reopened" and reopened["cycle"] == 1
    assert reopened["resolution"] is None


# --- residents, through their hub ---------------------------------------------------------------


def test_a_resident_reports_and_sees_only_their_home(desk: Desk) -> None:
    orders = desk.community.server.work_orders
    now = desk.clock.ms
    mine = orders.from_resident(
        HOME_A,
        {
            "action": "report",
            "category": "noise_complaint",
            "description": "Drilling after 22:00\nevery night",
            "preferred_time": _iso(now + 86_400_000),
            "photos": [PHOTO],
        },
        now,
    )
    assert mine["home_id"] == HOME_A and mine["source"] == "resident"
    assert mine["description"] == "Drilling after 22:00\nevery night"
    theirs = orders.from_resident(
        HOME_B, {"action": "report", "category": "cleaning", "description": "Stairs"}, now
    )
    listed = orders.from_resident(HOME_A, {"action": "list"}, now)
    assert [o["id"] for o in listed["orders"]] == [mine["id"]]
    before = desk.snapshot()
    with pytest.raises(OrderForbiddenError):
        orders.from_resident(HOME_A, {"action": "cancel", "order_id": theirs["id"]}, now)
    with pytest.raises(OrderForbiddenError):
        orders.from_resident(
            HOME_B, {"action": "confirm", "order_id": mine["id"], "rating": 1}, now
        )
    with pytest.raises(OrderNotFoundError):
        orders.from_resident(HOME_A, {"action": "cancel", "order_id": 9999}, now)
    assert desk.snapshot() == before
    cancelled = orders.from_resident(HOME_A, {"action": "cancel", "order_id": mine["id"]}, now)
    assert cancelled["status"] == "cancelled"


@pytest.mark.parametrize(
    "request_body",
    [
        {"action": "report", "category": "plumbing", "description": "x", "home_id": HOME_B},
        {"action": "report", "category": "plumbing"},
        {"action": "report", "category": "plumbing", "description": "   "},
        {"action": "report", "category": "plumbing", "description": "x" * 2001},
        {"action": "report", "category": "plumbing", "description": "x", "preferred_time": "soon"},
        {
            "action": "report",
            "category": "plumbing",
            "description": "x",
            "preferred_time": "9999-12-31T00:00:00Z",
        },
        {
            "action": "report",
            "category": "plumbing",
            "description": "x",
            "preferred_time": "2000-01-01T00:00:00Z",
        },
        {
            "action": "report",
            "category": "plumbing",
            "description": "x",
            "preferred_time": "2026-11-23T09:00:00",
        },
        {"action": "report", "category": "plumbing", "description": "x", "photos": [PHOTO] * 6},
        {
            "action": "report",
            "category": "plumbing",
            "description": "x",
            "photos": [{"uri": "file:///etc/passwd", "sha256": "ab" * 32}],
        },
        {
            "action": "report",
            "category": "plumbing",
            "description": "x",
            "photos": [{"uri": PHOTO["uri"], "sha256": "nothex"}],
        },
        {"action": "report", "category": "plumbing", "description": "x\u0007"},
        {"action": "report", "category": "plumbing", "description": "x", "blob": "y" * 17_000},
        {"action": "confirm", "order_id": True, "rating": 5},
        {"action": "confirm", "order_id": "1", "rating": 5},
        {"action": "list", "extra": 1},
        {"action": "delete_everything"},
        {},
    ],
)
def test_bad_resident_requests_change_nothing(desk: Desk, request_body: dict[str, Any]) -> None:
    before = desk.snapshot()
    with pytest.raises(OrderError):
        desk.community.server.work_orders.from_resident(HOME_A, request_body, desk.clock.ms)
    assert desk.snapshot() == before


def test_a_resident_rating_must_be_one_to_five(desk: Desk) -> None:
    _staff(desk)
    oid = _order(desk)["id"]
    for action, body in (
        ("assign", {"to": "tom"}),
        ("start", {}),
        ("finish", {"resolution": "ok"}),
    ):
        desk.ok("POST", f"/api/orders/{oid}/{action}", body)
    orders = desk.community.server.work_orders
    before = desk.snapshot()
    for rating in (0, 6, 4.5, "5", None, True):
        with pytest.raises(OrderError):
            orders.from_resident(
                HOME_A, {"action": "confirm", "order_id": oid, "rating": rating}, desk.clock.ms
            )
    assert desk.snapshot() == before


# --- from an alarm with one click ---------------------------------------------------------------


def test_one_click_on_an_end_of_service_alarm(desk: Desk) -> None:
    alarm_id = desk.smoke_end_of_service(room="Kitchen")
    status, first = desk.http("POST", f"/api/alarms/{alarm_id}/work-order")
    assert status == 201 and first["created"] is True
    order = first["order"]
    assert order["category"] == "safety_device"
    assert order["title"] == "Replace the smoke detector in 302 Kitchen"
    assert order["home_id"] == HOME_A and order["source"] == "alarm"
    assert order["alarm"]["id"] == alarm_id and order["alarm"]["kind"] == "end_of_service"
    status, second = desk.http("POST", f"/api/alarms/{alarm_id}/work-order")
    assert status == 200 and second["created"] is False
    assert second["order"]["id"] == order["id"]
    detail = desk.ok("GET", f"/api/alarms/{alarm_id}")
    assert [o["id"] for o in detail["work_orders"]] == [order["id"]]
    assert desk.http("POST", "/api/alarms/9999/work-order")[0] == 404
    assert desk.http("POST", f"/api/alarms/{alarm_id}/work-order", {"x": 1})[0] == 400
    # Once the order is closed for good, a new click opens a new one.
    desk.ok("POST", f"/api/orders/{order['id']}/cancel", {"note": "duplicate"})
    status, third = desk.http("POST", f"/api/alarms/{alarm_id}/work-order")
    assert status == 201 and third["order"]["id"] != order["id"]


# --- SLA and overdue ----------------------------------------------------------------------------


async def _overdue_messages(url: str, token: str, into: list[dict[str, Any]]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{url}/api/ws", headers={"Authorization": f"Bearer {token}"}) as ws,
    ):
        async for message in ws:
            data = json.loads(message.data)
            if data["type"] == "work_order_overdue":
                into.append(data)


def test_overdue_orders_escalate_once_per_tier_across_restarts(desk: Desk) -> None:
    oid = _order(desk, category="lift", description="Lift 2 stuck")["id"]  # SLA 4 h
    live: list[dict[str, Any]] = []
    loop = desk.community.runner.loop
    watcher = asyncio.run_coroutine_threadsafe(
        _overdue_messages(desk.community.url, desk.community.token, live), loop
    )
    try:
        wait_until(lambda: len(desk.community.server.feed) >= 1, 10, "the live socket")
        desk.clock.advance(3.9 * 3600)
        assert not desk.ok("GET", "/api/orders?overdue=true")["orders"]
        desk.clock.advance(0.2 * 3600)
        wait_until(lambda: len(live) >= 1, 10, "the tier 0 message")
        assert live[0]["tier"] == 0 and live[0]["audience"] == "duty_staff"
        assert live[0]["order"]["id"] == oid and live[0]["order"]["overdue"] is True
        overdue = desk.ok("GET", "/api/orders?overdue=true")["orders"]
        assert [o["id"] for o in overdue] == [oid]
        assert desk.ok("GET", "/api/orders?overdue=false")["orders"] == []
    finally:
        watcher.cancel()
    desk.restart()
    desk.clock.advance(4 * 3600)
    wait_until(lambda: len(desk.ok("GET", f"/api/orders/{oid}")["escalations"]) == 2, 10, "tier 1")
    desk.restart()
    desk.clock.advance(48 * 3600)
    desk.restart()
    order = desk.ok("GET", f"/api/orders/{oid}")
    assert [(e["cycle"], e["tier"], e["audience"]) for e in order["escalations"]] == [
        (0, 0, "duty_staff"),
        (0, 1, "property_admin"),
    ]
    escalated = [h for h in order["history"] if h["action"] == "escalated"]
    assert len(escalated) == 2 and order["escalation_tier"] == 1
    assert all(h["by"] == "sla" and h["role"] == "system" for h in escalated)
    conn = sqlite3.connect(desk.community.runner.db)
    try:
        assert conn.execute("SELECT count(*) FROM work_order_escalations").fetchone() == (2,)
    finally:
        conn.close()


def test_a_finished_order_is_not_escalated(desk: Desk) -> None:
    desk.account("tom", "technician")
    oid = _order(desk, category="lift", description="Lift 2 stuck")["id"]
    for action, body in (
        ("assign", {"to": "tom"}),
        ("start", {}),
        ("finish", {"resolution": "ok"}),
    ):
        desk.ok("POST", f"/api/orders/{oid}/{action}", body)
    desk.clock.advance(100 * 3600)
    desk.restart()
    assert desk.ok("GET", f"/api/orders/{oid}")["escalations"] == []


def test_roles_table_covers_every_role() -> None:
    from community.accounts import PERMISSIONS
    from community.work_order_rules import ROLE_SCOPE

    assert set(PERMISSIONS) == set(Role) == set(ROLE_SCOPE)


def test_triage_to_another_category_moves_the_due_time(desk: Desk) -> None:
    order = _order(desk)  # plumbing: 24 h
    triaged = desk.ok(
        "POST", f"/api/orders/{order['id']}/triage", {"category": "lift", "note": "in the lift"}
    )["order"]
    assert triaged["category"] == "lift"
    assert triaged["due_at"] == _iso(desk.clock.ms + 4 * 3_600_000)
    assert triaged["history"][-1]["note"] == "category lift: in the lift"


def test_a_reopened_order_is_escalated_again_in_its_new_cycle(desk: Desk) -> None:
    desk.account("tom", "technician")
    oid = _order(desk, category="lift", description="Lift 2 stuck")["id"]
    desk.clock.advance(4.5 * 3600)
    wait_until(lambda: desk.ok("GET", f"/api/orders/{oid}")["escalation_tier"] == 0, 10, "tier 0")
    for action, body in (
        ("assign", {"to": "tom"}),
        ("start", {}),
        ("finish", {"resolution": "ok"}),
    ):
        desk.ok("POST", f"/api/orders/{oid}/{action}", body)
    desk.ok("POST", f"/api/orders/{oid}/reopen", {"note": "stuck again"})
    assert desk.ok("GET", f"/api/orders/{oid}")["overdue"] is False
    desk.clock.advance(4.5 * 3600)
    wait_until(lambda: len(desk.ok("GET", f"/api/orders/{oid}")["escalations"]) == 2, 10, "cycle 1")
    steps = desk.ok("GET", f"/api/orders/{oid}")["escalations"]
    assert [(e["cycle"], e["tier"]) for e in steps] == [(0, 0), (1, 0)]
