"""The work-order desk's HTTP side, its overdue timer, and staff accounts.

``GET /api/orders`` (filters ``status``, ``category``, ``home``, ``assignee``, ``overdue``,
``q``; paged with ``limit``/``offset``), ``GET /api/orders/{id}``, ``POST /api/orders`` (staff
open an order for a resident), ``POST /api/orders/{id}/{action}`` (one transition of
``community.work_order_rules``) and ``POST /api/alarms/{id}/work-order`` (an order from an
alarm, idempotent while that order is open). ``GET /api/whoami`` says who the caller is;
``GET``/``POST /api/accounts`` and ``POST /api/accounts/{name}/disable`` let the property
admin manage staff accounts (the token of a new account is in the answer, once).

The person acting is the request's principal (set by the web middleware from the token),
never a name in the body. Bodies are JSON objects checked field by field; bad input is a 400
that says what is wrong, a role or scope that does not allow the action is a 403, an unknown
order a 404, a state the action does not fit a 409 — and nothing changes.

Overdue orders are found by a timer that reads the database (so it survives restarts) and
fires each tier once; a fired tier is in the order's history and goes out live as a
``work_order_overdue`` message, every change as a ``work_order`` message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, runtime_checkable

from aiohttp import web

from community.accounts import AccountError, Accounts, Principal
from community.clock import Clock, iso
from community.live import LiveFeed
from community.web import BACKEND, PRINCIPAL, BadRequestError, _error
from community.work_order_rules import OrderAction
from community.work_orders import OrderError, WorkOrders, parse_order_query

log = logging.getLogger(__name__)

Writer = Callable[..., Awaitable[Any]]
_ACTIONS: Final = "|".join(OrderAction)


class OrderDesk:
    """What the routes need: the orders, the accounts, the writer thread, the live feed."""

    def __init__(
        self,
        orders: WorkOrders,
        accounts: Accounts,
        *,
        write: Writer,
        clock: Clock,
        feed: LiveFeed,
        poll_s: float = 1.0,
    ) -> None:
        self.orders = orders
        self.accounts = accounts
        self.write = write
        self.clock = clock
        self.feed = feed
        self._poll_s = poll_s
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Called (on the event loop) after a round that fired tiers: wake what delivers them.
        self.on_fired: list[Callable[[], None]] = []

    def publish(self, order: dict[str, Any]) -> None:
        """Push a changed order to the dashboards (without the actor's own button list)."""
        self.feed.publish(
            {"type": "work_order", "work_order": {k: v for k, v in order.items() if k != "actions"}}
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="work-orders-overdue")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        self._wakeup.set()

    async def escalate_now(self) -> list[dict[str, Any]]:
        """One round of the overdue timer (also what the timer runs)."""
        fired: list[dict[str, Any]] = await self.write(self.orders.escalate_overdue, self.clock())
        for item in fired:
            order = item["order"]
            log.info(
                "work order %s is overdue: tier %s (%s)",
                order["id"],
                item["tier"],
                item["audience"],
            )
            self.feed.publish({"type": "work_order_overdue", **item})
            self.publish(order)
        if fired:
            for wake in self.on_fired:
                wake()
        return fired

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                await self.escalate_now()
            except sqlite3.Error:
                log.exception("could not check overdue work orders")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wakeup.wait()


@runtime_checkable
class OrdersBackend(Protocol):
    @property
    def order_desk(self) -> OrderDesk: ...


# --- helpers ----------------------------------------------------------------------------------


def _desk(request: web.Request) -> OrderDesk:
    backend = request.app[BACKEND]
    assert isinstance(backend, OrdersBackend)
    return backend.order_desk


def _reject_constant(token: str) -> Any:
    raise ValueError(token)


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequestError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    return body


def _positive_id(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) == 0:
        raise BadRequestError(f"{what} id must be a positive integer")
    return int(text)


def _refused(exc: OrderError) -> web.Response:
    return _error(exc.status, str(exc))


# --- work orders ------------------------------------------------------------------------------


async def list_orders(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    try:
        query = parse_order_query(list(request.query.items()))
    except OrderError as exc:
        return _refused(exc)
    orders, total = await desk.write(desk.orders.query, query, request[PRINCIPAL], desk.clock())
    return web.json_response(
        {
            "orders": orders,
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
            "server_time": iso(desk.clock()),
        }
    )


async def get_order(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    order_id = _positive_id(request.match_info["order_id"], "order")
    try:
        order = await desk.write(desk.orders.get, order_id, request[PRINCIPAL], desk.clock())
    except OrderError as exc:
        return _refused(exc)
    return web.json_response(order)


async def create_order(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    body = await _json_object(request)
    try:
        order = await desk.write(desk.orders.create, body, request[PRINCIPAL], desk.clock())
    except OrderError as exc:
        return _refused(exc)
    desk.publish(order)
    return web.json_response({"order": order, "created": True}, status=201)


async def act_on_order(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    order_id = _positive_id(request.match_info["order_id"], "order")
    action = OrderAction(request.match_info["action"])
    body = await _json_object(request)
    try:
        order = await desk.write(
            desk.orders.act, order_id, action, body, request[PRINCIPAL], desk.clock()
        )
    except OrderError as exc:
        return _refused(exc)
    desk.publish(order)
    return web.json_response({"order": order})


async def order_from_alarm(request: web.Request) -> web.StreamResponse:
    """One click on an alarm: its order, new (201) or the one still open for it (200)."""
    desk = _desk(request)
    alarm_id = _positive_id(request.match_info["alarm_id"], "alarm")
    body = await _json_object(request)
    if body:
        return _error(400, "this action takes no fields")
    try:
        order, created = await desk.write(
            desk.orders.from_alarm, alarm_id, request[PRINCIPAL], desk.clock()
        )
    except OrderError as exc:
        return _refused(exc)
    if created:
        desk.publish(order)
    return web.json_response({"order": order, "created": created}, status=201 if created else 200)


# --- who am I, and staff accounts -------------------------------------------------------------


async def whoami(request: web.Request) -> web.StreamResponse:
    principal: Principal = request[PRINCIPAL]
    return web.json_response(principal.as_dict())


async def list_accounts(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    return web.json_response({"accounts": await desk.write(desk.accounts.list)})


async def create_account(request: web.Request) -> web.StreamResponse:
    """``{"name", "role"}``; the answer carries the new token, the only time it is shown."""
    desk = _desk(request)
    body = await _json_object(request)
    unknown = sorted(str(k)[:40] for k in body if k not in ("name", "role"))
    if unknown:
        return _error(400, f"unknown field(s): {', '.join(unknown)}")
    try:
        account, token = await desk.write(
            desk.accounts.create,
            body.get("name"),
            body.get("role"),
            request[PRINCIPAL].name,
            desk.clock(),
        )
    except AccountError as exc:
        status = 409 if "already exists" in str(exc) else 400
        return _error(status, str(exc))
    log.info("staff account %s (%s) created", account["name"], account["role"])
    return web.json_response({"account": account, "token": token}, status=201)


async def disable_account(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    name = request.match_info["name"]
    try:
        account = await desk.write(desk.accounts.disable, name, desk.clock())
    except AccountError as exc:
        return _error(400, str(exc))
    except LookupError:
        return _error(404, "no such account")
    return web.json_response({"account": account})


def add_order_routes(app: web.Application) -> None:
    if not isinstance(app[BACKEND], OrdersBackend):
        raise TypeError("the backend has no order desk")
    app.router.add_get("/api/whoami", whoami)
    app.router.add_get("/api/orders", list_orders)
    app.router.add_post("/api/orders", create_order)
    app.router.add_get("/api/orders/{order_id}", get_order)
    app.router.add_post(f"/api/orders/{{order_id}}/{{action:{_ACTIONS}}}", act_on_order)
    app.router.add_post("/api/alarms/{alarm_id}/work-order", order_from_alarm)
    app.router.add_get("/api/accounts", list_accounts)
    app.router.add_post("/api/accounts", create_account)
    app.router.add_post("/api/accounts/{name}/disable", disable_account)
