"""The property manager's field pages, read side: the charging shed and the fire lanes.

``GET /api/field/ports`` (filters ``hub``, ``station``) answers ``{"server_time", "stations":
[{hub_id, home_id, building, unit, station_id, ports: [...]}], "cuts": [...]}`` and
``GET /api/field/lanes`` (filters ``hub``, ``zone``) answers ``{"server_time", "zones":
[...]}`` (see :mod:`community.field_views` for the fields). Both sit behind the manager token
like the rest of ``/api/``; an unknown, repeated or unusable filter is a 400 that says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol, runtime_checkable

from aiohttp import web

from community.field_views import FieldFilter
from community.queries import QueryError, clean_text
from community.web import BACKEND, BadRequestError

MAX_FILTER: Final = 64
#: Per page: the filter name that narrows to one place -> ``FieldFilter.place``.
_PLACE_FILTER: Final[Mapping[str, str]] = {"ports": "station", "lanes": "zone"}


@runtime_checkable
class FieldBackend(Protocol):
    """What these pages need from the server (the community server has both)."""

    async def field_ports(self, view: FieldFilter) -> dict[str, Any]: ...

    async def field_lanes(self, view: FieldFilter) -> dict[str, Any]: ...


def _backend(request: web.Request) -> FieldBackend:
    backend = request.app[BACKEND]
    if not isinstance(backend, FieldBackend):
        raise web.HTTPNotFound(reason="this server has no field pages")
    return backend


def _filter(request: web.Request, page: str) -> FieldFilter:
    """``hub`` and the page's place filter, each at most once, as plain non-empty text."""
    place = _PLACE_FILTER[page]
    seen: dict[str, str] = {}
    for name, value in request.query.items():
        if name not in ("hub", place):
            raise BadRequestError(f"unknown filter '{name[:40]}'; use hub or {place}")
        if name in seen:
            raise BadRequestError(f"filter '{name}' is given more than once")
        try:
            text = clean_text(value, name, MAX_FILTER).strip()
        except QueryError as exc:
            raise BadRequestError(str(exc)) from None
        if not text:
            raise BadRequestError(f"'{name}' must not be empty")
        seen[name] = text
    return FieldFilter(hub=seen.get("hub"), place=seen.get(place))


async def field_ports(request: web.Request) -> web.StreamResponse:
    view = _filter(request, "ports")
    return web.json_response(await _backend(request).field_ports(view))


async def field_lanes(request: web.Request) -> web.StreamResponse:
    view = _filter(request, "lanes")
    return web.json_response(await _backend(request).field_lanes(view))


def add_field_routes(app: web.Application) -> None:
    app.router.add_get("/api/field/ports", field_ports)
    app.router.add_get("/api/field/lanes", field_lanes)
