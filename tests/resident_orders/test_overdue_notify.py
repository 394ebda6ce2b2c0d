"""Overdue work orders go out through the alarm notification queue: to real local webhook
receivers, signed, once per tier and target (retried on failure, never queued twice), each
outcome in the order's history; and after a restart nothing is sent again."""

from __future__ import annotations

import json

from community.accounts import Principal, Role
from community.clock import now_ms
from community.config import Channel, NotifyTarget
from community.escalation_rules import Audience
from community.signing import DELIVERY_HEADER, HEADER, verify
from tests.community.support import Community, SigningHub, wait_until
from tests.community_desk.support import FakeClock, Receiver
from tests.resident_orders.conftest import DeskFactory

SECRET = "a-webhook-secret-only-for-tests"
MANAGER = Principal("manager", Role.PROPERTY_ADMIN)
HOUR_S = 3600


def _targets(receiver: Receiver) -> tuple[NotifyTarget, ...]:
    def hook(name: str, audience: Audience) -> NotifyTarget:
        return NotifyTarget(
            name, Channel.WEBHOOK, receiver.url(f"/{name}"), (audience,), secret=SECRET
        )

    return (
        hook("duty", Audience.DUTY_STAFF),
        hook("boss", Audience.MANAGER),
        hook("tenant", Audience.RESIDENT),
    )


def _history(community: Community, order_id: int, action: str) -> list[tuple[str, str]]:
    rows = community.server._store.read(
        "SELECT by, note FROM work_order_history WHERE order_id = ? AND action = ? ORDER BY id",
        [order_id, action],
    )
    return [(r["by"], r["note"]) for r in rows]


def _start(desk: DeskFactory, clock: FakeClock, receiver: Receiver) -> Community:
    return desk(clock, notify_targets=_targets(receiver), notify_retry_s=0.2, notify_attempts=4)


def test_an_overdue_order_is_delivered_per_tier_once_and_not_again_after_a_restart(
    desk_factory: DeskFactory, receiver: Receiver
) -> None:
    clock = FakeClock()
    receiver.plan["/duty"] = [503]  # the first attempt fails: it is retried, not re-queued
    community = _start(desk_factory, clock, receiver)
    hub = SigningHub("hub-7")
    community.enroll(hub, "home-7", building="7", unit="1")
    order = community.server.work_orders.create(
        {"home_id": "home-7", "category": "cleaning", "description": "Bins overflow"},
        MANAGER,
        clock.ms,
    )
    order_id = int(order["id"])

    clock.advance(47 * HOUR_S)  # not due yet (cleaning: 48 h)
    community.server.order_desk.wake()
    clock.advance(1.5 * HOUR_S)
    community.server.order_desk.wake()

    def delivered(target: str) -> bool:
        clock.advance(1)  # the retry's backoff runs on the community's clock
        return bool([b for b, _ in _history(community, order_id, "notified") if b == target])

    wait_until(lambda: delivered("duty"), what="tier 0 delivered to duty staff")
    tries = receiver.at("/duty")
    assert len(tries) == 2 and len({r.headers[DELIVERY_HEADER] for r in tries}) == 1
    payload = tries[-1].json()
    assert verify(SECRET, tries[-1].headers[HEADER], tries[-1].body, now_ms() // 1000)
    assert payload["event"] == "work_order.overdue"
    assert payload["delivery"] == f"test:work_order:{payload['delivery'].rsplit(':', 1)[1]}"
    assert (payload["tier"], payload["audience"]) == (0, "duty_staff")
    assert (payload["order"]["id"], payload["order"]["status"]) == (order_id, "open")
    assert "description" not in payload["order"]
    assert receiver.at("/boss") == [] and receiver.at("/tenant") == []
    failed = _history(community, order_id, "notify_failed")
    assert [b for b, _ in failed] == ["duty"] and "HTTP 503" in failed[0][1]

    clock.advance(48 * HOUR_S)  # as late again as the SLA: the property admin's tier
    community.server.order_desk.wake()
    wait_until(lambda: delivered("boss"), what="tier 1 delivered to the manager")
    assert receiver.at("/boss")[0].json()["tier"] == 1
    queued = community.server._store.read(
        "SELECT tier, target, state, attempts FROM order_deliveries ORDER BY id"
    )
    assert queued == [
        {"tier": 0, "target": "duty", "state": "delivered", "attempts": 2},
        {"tier": 1, "target": "boss", "state": "delivered", "attempts": 1},
    ]
    escalated = _history(community, order_id, "escalated")
    assert len(escalated) == 2

    # Many more rounds, and a restart on the same data: nothing is queued or sent again.
    for _ in range(5):
        clock.advance(HOUR_S)
        community.server.order_desk.wake()
    desk_factory.stop(community)
    again = _start(desk_factory, clock, receiver)
    clock.advance(HOUR_S)
    again.server.order_desk.wake()
    wait_until(lambda: again.server.health()["ingesting"], what="the restarted community")
    assert len(receiver.at("/duty")) == 2 and len(receiver.at("/boss")) == 1
    assert len(again.server._store.read("SELECT id FROM order_deliveries")) == 2
    assert "receiver" not in json.dumps(_history(again, order_id, "notified"))  # names, no URLs


def test_a_reopened_order_escalates_again_in_its_new_cycle(
    desk_factory: DeskFactory, receiver: Receiver
) -> None:
    clock = FakeClock()
    community = _start(desk_factory, clock, receiver)
    community.enroll(SigningHub("hub-8"), "home-8")
    orders = community.server.work_orders
    order_id = int(
        orders.create(
            {"home_id": "home-8", "category": "lift", "description": "Lift stuck"},
            MANAGER,
            clock.ms,
        )["id"]
    )
    clock.advance(4.5 * HOUR_S)
    community.server.order_desk.wake()
    wait_until(lambda: len(receiver.at("/duty")) == 1, what="cycle 0 tier 0")
    community.server.accounts.create("li", "technician", "manager", clock.ms)
    from community.work_order_rules import OrderAction

    for action, body in (
        (OrderAction.ASSIGN, {"to": "li"}),
        (OrderAction.START, {}),
        (OrderAction.FINISH, {"resolution": "Reset the controller."}),
        (OrderAction.REOPEN, {"note": "Stuck again."}),
    ):
        orders.act(order_id, action, body, MANAGER, clock.ms)
    clock.advance(4.5 * HOUR_S)
    community.server.order_desk.wake()
    wait_until(lambda: len(receiver.at("/duty")) == 2, what="cycle 1 tier 0")
    cycles = community.server._store.read("SELECT cycle, tier FROM order_deliveries ORDER BY id")
    assert [(c["cycle"], c["tier"]) for c in cycles][:2] == [(0, 0), (1, 0)]
