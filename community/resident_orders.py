"""Residents' repair orders, asked from their home hub, and their progress told back to it.

The hub sends ``service_request`` records for the service ``work_order`` (actions ``open``,
``confirm``, ``rate``, ``cancel``, ``reopen``); the service desk hands each to a handler here,
with the home of the hub that signed it. Every handler goes through
:meth:`WorkOrders.from_resident` with that home as the authority, so a hub can only ever see
and touch its own home's orders: another home's order id is refused as ``not_found`` (the
same answer as an id that does not exist, so ids reveal nothing) and nothing changes.

The answer is the service notice the desk sends (``code`` ``order_opened`` …, ``data`` the
order as the hub keeps it). When staff move a resident's order — triage, assign, schedule,
start, finish, cancel — or open one for the home (from an alarm, on the phone), the home is
told with a ``service`` notice of code ``order_updated`` written in the same transaction as
the change (so it is sent at least once, and never for a change that did not happen).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from sqlite_utils import Database

from community.accounts import Role
from community.notices import NoticeDesk
from community.services import Asked, Reply, ServiceDesk, ServiceRefusedError
from community.work_order_rules import Status, allowed_actions
from community.work_orders import (
    OrderChange,
    OrderConflictError,
    OrderError,
    OrderForbiddenError,
    OrderNotFoundError,
    WorkOrders,
)
from devices.uplink import NoticeCategory

log = logging.getLogger(__name__)

SERVICE: Final = "work_order"
#: Hub action -> the resident request of ``WorkOrders.from_resident`` and the answer's code.
ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "open": ("report", "order_opened"),
    "confirm": ("confirm", "order_confirmed"),
    "rate": ("rate", "order_rated"),
    "cancel": ("cancel", "order_cancelled"),
    "reopen": ("reopen", "order_reopened"),
}
UPDATED: Final = "order_updated"
#: What a hub keeps of an order (short text fields are cut so a notice stays small).
_KEEP: Final[dict[str, int | None]] = {
    "category": None,
    "title": 120,
    "description": 200,
    "room": 64,
    "status": None,
    "source": None,
    "assignee": 64,
    "scheduled_at": None,
    "preferred_time": None,
    "resolution": 300,
    "rating": None,
    "comment": 200,
    "created_at": None,
    "updated_at": None,
    "due_at": None,
    "closed_at": None,
    "overdue": None,
}
#: Why a request is refused, by the kind of error (identifiers the hub translates).
_REASONS: Final[tuple[tuple[type[OrderError], str], ...]] = (
    (OrderNotFoundError, "not_found"),
    # Another home's order: answered exactly like an unknown one.
    (OrderForbiddenError, "not_found"),
    (OrderConflictError, "wrong_state"),
    (OrderError, "invalid"),
)


def hub_view(order: dict[str, Any]) -> dict[str, Any]:
    """The order as the home's hub keeps it: flat, small, state under ``state``."""
    view: dict[str, Any] = {"order_id": order["id"], "state": order["status"]}
    for key, limit in _KEEP.items():
        value = order.get(key)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            value = value[: limit - 1] + "…"
        view[key] = value
    status = Status(order["status"])
    actions = allowed_actions(status, Role.RESIDENT)
    # Rating a confirmed order again is the ``rate`` action (not a state change).
    view["resident_actions"] = [*actions, "rate"] if status is Status.CONFIRMED else actions
    return view


def _reason(exc: OrderError) -> str:
    return next(reason for kind, reason in _REASONS if isinstance(exc, kind))


class ResidentOrders:
    """The ``work_order`` service handlers and the progress notices to homes."""

    def __init__(self, orders: WorkOrders, notices: NoticeDesk) -> None:
        self._orders = orders
        self._notices = notices

    def register(self, services: ServiceDesk) -> None:
        for action in ACTIONS:
            services.register(SERVICE, action, self._handler(action))
        self._orders.watch(self.on_change)

    def _handler(self, action: str) -> Callable[[Database, Asked], Reply]:
        request, code = ACTIONS[action]

        def handle(db: Database, asked: Asked) -> Reply:
            try:
                order = self._orders.from_resident(
                    asked.home_id, {**asked.request.body, "action": request}, asked.now_ms
                )
            except OrderError as exc:
                raise ServiceRefusedError(_reason(exc), str(exc)) from None
            view = hub_view(order)
            return Reply(
                code,
                {"order_id": str(order["id"]), "state": str(order["status"])},
                view,
                title=f"Work order {order['id']}: {order['status']}",
            )

        return handle

    def on_change(self, db: Database, change: OrderChange) -> None:
        """Tell the order's home about a change someone else made (writer thread)."""
        if change.by_role is Role.RESIDENT or change.action == "escalated":
            return  # the resident's own requests are answered by the service desk
        order = change.order
        home = str(order["home_id"])
        if db.execute("SELECT 1 FROM hubs WHERE home_id = ?", [home]).fetchone() is None:
            return  # a common-area order: no home hub to tell
        view = hub_view(order)
        try:
            self._notices.add_for_homes(
                db,
                [home],
                category=NoticeCategory.SERVICE,
                code=UPDATED,
                params={
                    "service": SERVICE,
                    "order_id": str(order["id"]),
                    "state": str(order["status"]),
                    "action": change.action,
                },
                data=view,
                title=f"Work order {order['id']}: {order['status']}",
                body=str(order["title"]),
            )
        except ValueError:
            # The change itself must not fail for its notice; the hub resyncs on its next ask.
            log.exception("could not tell home %s about work order %s", home, order["id"])
            return
        self._notices.wake()
