"""Overdue work orders are told to people the way alarms are: through the notification queue.

When an order's overdue tier fires (``WorkOrders.escalate_overdue``), this watcher queues one
delivery per configured target serving the tier's audience — in the same transaction that
fires the tier, in the table ``order_deliveries``, UNIQUE per (order, cycle, tier, target).
So a tier is delivered at least once and queued exactly once, across retries and restarts,
by the same worker, retries and signing as alarm notifications (``community.notify``). Each
attempt's outcome is a row in the order's history (``notified`` / ``notify_failed``).

Overdue audiences map onto the notification audiences targets declare: duty staff are duty
staff, the property admin is the ``manager`` audience.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from sqlite_utils import Database

from community.clock import iso
from community.escalation_rules import Audience
from community.notify import DeliveryQueue, Notifier
from community.work_order_rules import CATEGORIES, Category, OverdueAudience
from community.work_orders import OrderChange

log = logging.getLogger(__name__)

QUEUE: Final = "work_order"
TABLE: Final = "order_deliveries"
AUDIENCES: Final[dict[str, Audience]] = {
    OverdueAudience.DUTY_STAFF: Audience.DUTY_STAFF,
    OverdueAudience.PROPERTY_ADMIN: Audience.MANAGER,
}
#: The order fields a notification carries (the description stays on the community board).
_FIELDS: Final = (
    "id",
    "home_id",
    "category",
    "title",
    "room",
    "status",
    "source",
    "assignee",
    "created_at",
    "due_at",
    "cycle",
)


def _create(db: Database) -> None:
    db.execute(
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            id INTEGER PRIMARY KEY,
            order_id INTEGER NOT NULL REFERENCES work_orders(id),
            cycle INTEGER NOT NULL,
            tier INTEGER NOT NULL,
            audience TEXT NOT NULL,
            target TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_ms INTEGER NOT NULL,
            created_at TEXT,
            delivered_at TEXT,
            last_error TEXT,
            payload TEXT NOT NULL,
            UNIQUE (order_id, cycle, tier, target)
        )"""
    )
    db.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE}(state, next_ms)")


def _history(db: Database, order_id: int, action: str, target: str, now: int, note: str) -> None:
    db.execute(
        "INSERT INTO work_order_history (order_id, at, action, by, role, note)"
        " VALUES (?, ?, ?, ?, 'system', ?)",
        [order_id, iso(now), action, target, note],
    )


def render(payload: dict[str, Any]) -> tuple[str, str]:
    """Title and body, English then Chinese, for apprise services."""
    order = payload["order"]
    category = (
        CATEGORIES.get(Category(order["category"])) if order["category"] in Category else None
    )
    cat_en, cat_zh = (category.en, category.zh) if category else (order["category"],) * 2
    where = " ".join(p for p in (order.get("home_id"), order.get("room")) if p)
    title = (
        f"[Overdue] Work order {order['id']}: {order['title']}"
        f" / 【超时】工单 {order['id']} {order['title']}"
    )
    body = "\n".join(
        (
            f"{cat_en} order {order['id']} at {where} was due {order['due_at']} and is still"
            f" {order['status']}. Overdue tier {payload['tier']} ({payload['audience']}):"
            " assign or finish it on the community board.",
            f"{cat_zh}工单 {order['id']} ({where}) 应于 {order['due_at']} 完成, 目前仍为"
            f" {order['status']}。第 {payload['tier']} 级超时通知, 请在社区工单中心处理。",
        )
    )
    return title, body


ORDER_QUEUE: Final = DeliveryQueue(
    name=QUEUE,
    table=TABLE,
    subject="order_id",
    create=_create,
    history=_history,
    render=render,
    severity=lambda payload: "alert",
)


class OrderNotices:
    """Queues an overdue tier's notifications; wire with ``work_orders.watch(x.on_change)``
    (the order desk wakes the notifier after a round that fired, on the event loop)."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        notifier.add_queue(ORDER_QUEUE)

    def on_change(self, db: Database, change: OrderChange) -> None:
        if change.action != "escalated" or change.tier is None or change.audience is None:
            return
        order = change.order
        audience = AUDIENCES.get(change.audience)
        if audience is None:
            log.warning("work order %s: no notification audience %s", order["id"], change.audience)
            return
        queued = self._notifier.enqueue_in(
            db,
            QUEUE,
            order,
            {"order_id": order["id"], "cycle": order["cycle"]},
            change.tier,
            audience,
            {"event": "work_order.overdue", "order": {k: order.get(k) for k in _FIELDS}},
            change.now,
        )
        log.info(
            "work order %s overdue tier %s: %d notification(s) queued",
            order["id"],
            change.tier,
            queued,
        )
