"""The resident's repair orders, as this home's hub knows them.

Repairs are a property service: the resident's report, confirmation, rating or cancellation
goes to the community as a ``work_order`` service request (``hub.services``), and everything
the hub knows about an order comes back from the community as signed ``service`` notices —
the answer to a request (``order_opened`` …) and ``order_updated`` when staff move the order.
Each carries the order as ``data`` (``order_id``, ``state`` …); the hub keeps the latest view
of each order (the newest ``updated_at`` wins, so a late notice never rolls an order back)
and the page shows that, so the tab works from the hub's own database even while the
community is away.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Final

from devices.uplink import DownlinkNotice, NoticeCategory
from hub.services import ServiceRequests
from hub.store import Store

_LOG = logging.getLogger(__name__)

SERVICE: Final = "work_order"
ACTIONS: Final = ("open", "confirm", "rate", "cancel", "reopen")
CATEGORIES: Final = (
    "plumbing",
    "electrical",
    "lift",
    "safety_device",
    "repair",
    "cleaning",
    "noise_complaint",
    "other",
)
_TABLE: Final = """CREATE TABLE IF NOT EXISTS repair_orders (
    order_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL,
    notice_ms INTEGER NOT NULL
)"""
#: How many orders the page lists (newest first).
LIST_LIMIT: Final = 100


class RepairBook:
    """Sends the resident's repair requests and keeps each order's latest state."""

    def __init__(self, *, store: Store, services: ServiceRequests) -> None:
        self._store = store
        self._services = services
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        with store.transaction():
            store.db.execute(_TABLE)

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener`` with an order's view whenever it changes."""
        self._listeners.append(listener)

    def request(self, action: str, body: dict[str, Any]) -> str:
        """Queue a request to the community; its id. ValueError if it cannot be sent."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of: {', '.join(ACTIONS)}")
        return self._services.request(SERVICE, action, body)

    def on_notice(self, notice: DownlinkNotice) -> None:
        """Keep the order a ``work_order`` service notice carries (any code that has one)."""
        if notice.category is not NoticeCategory.SERVICE:
            return
        if notice.params.get("service") != SERVICE:
            return
        data = notice.data
        order_id, state = data.get("order_id"), data.get("state")
        updated = data.get("updated_at")
        if not isinstance(order_id, int) or isinstance(order_id, bool) or order_id < 1:
            return  # a refusal: nothing about an order to keep
        if not isinstance(state, str) or not isinstance(updated, str):
            _LOG.warning("work order notice %s without state", notice.notice_id)
            return
        with self._store.transaction():
            cursor = self._store.db.execute(
                "INSERT INTO repair_orders (order_id, state, updated_at, data, notice_ms)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET"
                " state = excluded.state, updated_at = excluded.updated_at,"
                " data = excluded.data, notice_ms = excluded.notice_ms"
                " WHERE excluded.updated_at >= repair_orders.updated_at",
                [order_id, state, updated, json.dumps(data, ensure_ascii=False), notice.ts],
            )
        if cursor.rowcount != 1:
            return
        for listener in self._listeners:
            try:
                listener(dict(data))
            except Exception:
                _LOG.exception("repairs listener failed on order %s", order_id)

    def orders(self) -> list[dict[str, Any]]:
        """The home's orders, newest first."""
        rows = self._store.db.execute(
            "SELECT data FROM repair_orders ORDER BY order_id DESC LIMIT ?", [LIST_LIMIT]
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def order(self, order_id: int) -> dict[str, Any] | None:
        row = self._store.db.execute(
            "SELECT data FROM repair_orders WHERE order_id = ?", [order_id]
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def view(self) -> dict[str, Any]:
        """Orders and the requests still waiting for (or refused by) the community."""
        requests = self._services.list(SERVICE, limit=20)
        return {
            "orders": self.orders(),
            "requests": [
                {
                    "request_id": r["request_id"],
                    "action": r["action"],
                    "asked_ms": r["asked_ms"],
                    "answer": r["answer"],
                    "reason": (r["params"] or {}).get("reason"),
                    "order_id": (r["data"] or {}).get("order_id"),
                }
                for r in requests
            ],
        }
