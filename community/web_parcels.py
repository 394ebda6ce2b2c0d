"""The parcel desk over HTTP: which parcels wait in the lockers, which were reminded, collected.

``GET /api/parcels?status=all|waiting|picked_up`` lists parcels newest first, each with its
log (delivered, notified, code cleared, reminded, picked up). A parcel's pickup code is never
in an answer: the community does not keep it (see :mod:`community.parcels`). Duty staff and
the property admin may read it (``community.accounts``).
"""

from __future__ import annotations

from typing import Any, Final, Protocol, runtime_checkable

from aiohttp import web

from community import openapi
from community.parcels import LIST_LIMIT, ParcelDesk
from community.web import BACKEND, _error

TAG: Final = "parcels"
STATUSES: Final = ("all", "waiting", "picked_up")


@runtime_checkable
class ParcelsBackend(Protocol):
    @property
    def parcels(self) -> ParcelDesk: ...

    async def read_parcels(self, status: str, limit: int) -> dict[str, Any]: ...


async def list_parcels(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    if not isinstance(backend, ParcelsBackend):
        raise web.HTTPNotFound(reason="this server keeps no parcels")
    unknown = sorted(k[:40] for k in request.query if k not in ("status", "limit"))
    if unknown:
        return _error(400, f"unknown parameter(s): {', '.join(unknown)}")
    status = request.query.get("status", "all")
    if status not in STATUSES:
        return _error(400, f"'status' must be one of: {', '.join(STATUSES)}")
    text = request.query.get("limit", str(LIST_LIMIT))
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or not 1 <= int(text) <= LIST_LIMIT:
        return _error(400, f"'limit' must be an integer from 1 to {LIST_LIMIT}")
    return web.json_response(await backend.read_parcels(status, int(text)))


def add_parcel_routes(app: web.Application) -> None:
    app.router.add_get("/api/parcels", list_parcels)


_ENTRY: Final = openapi.obj(
    {"at": {"type": "string"}, "action": {"type": "string"}, "note": {"type": "string"}}
)
_PARCEL: Final = {
    "type": "object",
    "required": ["id", "parcel_id", "home_id", "locker", "compartment", "status"],
    "properties": {
        "id": openapi.integer(1),
        "parcel_id": {"type": "string"},
        "home_id": {"type": "string"},
        "locker": {"type": "string"},
        "device_id": {"type": "string"},
        "hub_id": {"type": "string"},
        "compartment": {"type": "string"},
        "status": openapi.enum(("waiting", "picked_up")),
        "notified": {"type": "boolean"},
        "code_held": {
            "type": "boolean",
            "description": "The code is still held for a hub that has not receipted it.",
        },
        "delivered_at": {"type": "string", "nullable": True},
        "reminded": openapi.integer(0),
        "last_reminded_at": {"type": "string", "nullable": True},
        "picked_up_at": {"type": "string", "nullable": True},
        "history": {"type": "array", "items": _ENTRY},
    },
}

PATHS: Final[dict[str, Any]] = {
    "/api/parcels": {
        "get": openapi.op(
            "Parcels in the community's lockers, newest first",
            "listParcels",
            TAG,
            parameters=[
                openapi.query_param("status", openapi.enum(STATUSES), "Which parcels."),
                openapi.query_param("limit", openapi.integer(1, LIST_LIMIT), "At most this many."),
            ],
            response=openapi.obj(
                {
                    "parcels": {"type": "array", "items": _PARCEL},
                    "waiting": openapi.integer(0),
                    "total": openapi.integer(0),
                },
                ["parcels", "waiting", "total"],
            ),
        )
    }
}
