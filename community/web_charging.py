"""Which homes may charge e-bikes in the community's sheds (the manager decides).

A resident starts and stops sessions from their hub (``community.charging_sessions``); a home
is refused until the property admin allows it, as the shed's rules of use require (a
registered e-bike, an agreement signed). ``GET /api/charging/homes`` lists the allowed homes,
``PUT /api/charging/homes/{home_id}`` allows one and ``DELETE`` withdraws it (its open
session can still be stopped). An id that names no enrolled home is a 404; both changes are
idempotent. Only the property admin may change this (unlisted routes are admin-only, see
``community.accounts``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from community.queries import QueryError, clean_text
from community.web import BACKEND, BadRequestError, _error


@runtime_checkable
class ChargingBackend(Protocol):
    async def charging_homes(self) -> list[dict[str, Any]]: ...

    async def set_charging(self, home_id: str, allowed: bool) -> bool:
        """False when ``home_id`` names no enrolled home."""
        ...


def _backend(request: web.Request) -> ChargingBackend:
    backend = request.app[BACKEND]
    if not isinstance(backend, ChargingBackend):
        raise web.HTTPNotFound(reason="this server runs no charging shed")
    return backend


def _home(request: web.Request) -> str:
    try:
        home = clean_text(request.match_info["home_id"], "home_id", 64).strip()
    except QueryError as exc:
        raise BadRequestError(str(exc)) from None
    if not home:
        raise BadRequestError("home_id must not be empty")
    return home


async def list_homes(request: web.Request) -> web.StreamResponse:
    return web.json_response({"homes": await _backend(request).charging_homes()})


async def change_home(request: web.Request) -> web.StreamResponse:
    home = _home(request)
    allowed = request.method == "PUT"
    if not await _backend(request).set_charging(home, allowed):
        return _error(404, f"no enrolled home {home}")
    return web.json_response({"home_id": home, "allowed": allowed})


def add_charging_routes(app: web.Application) -> None:
    app.router.add_get("/api/charging/homes", list_homes)
    app.router.add_put("/api/charging/homes/{home_id}", change_home)
    app.router.add_delete("/api/charging/homes/{home_id}", change_home)
