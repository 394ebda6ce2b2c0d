"""The care desk's HTTP side: daily care checks that left a home, and care bookings.

``GET /api/care`` lists every check a hub escalated beyond the home (optionally one home's,
``?home=``), with the tiers it reached; ``GET /api/care/bookings`` lists meal-assistance,
care-visit and child-care bookings. Both are read-only for the duty staff (community.accounts
ROUTES); residents never use this API, they act through their hub.
"""

from __future__ import annotations

from typing import Any, Final, Protocol, runtime_checkable

from aiohttp import web

from community import openapi
from community.care import BOOKABLE, CareDesk
from community.queries import QueryError, clean_text
from community.web import BACKEND, BadRequestError

_CHECK: Final = openapi.obj(
    {
        "home": openapi.text(64),
        "hub_id": openapi.text(64),
        "check_id": openapi.text(32),
        "check_time": {"type": "string", "nullable": True},
        "asked_at": {"type": "string", "nullable": True},
        "family_told_at": {"type": "string", "nullable": True},
        "family_recipient": {"type": "string", "nullable": True},
        "staff_told_at": {"type": "string", "nullable": True},
        "staff_alarm_id": {"type": "integer", "nullable": True},
        "ok_at": {"type": "string", "nullable": True},
        "escalated_to": {"type": "array", "items": openapi.enum(["family", "duty_staff"])},
        "status": openapi.enum(["open", "ok"]),
    }
)
_BOOKING: Final = openapi.obj(
    {
        "id": openapi.integer(1),
        "home_id": openapi.text(64),
        "service": openapi.enum(sorted(BOOKABLE)),
        "date": openapi.text(10),
        "time": openapi.text(5),
        "note": openapi.text(200),
        "status": openapi.text(16),
        "booked_ms": openapi.integer(0),
        "booked_at": openapi.text(32),
    }
)

PATHS: Final[dict[str, Any]] = {
    "/api/care": {
        "get": openapi.op(
            "Daily care checks that were escalated beyond the home, newest first",
            "listCareChecks",
            "care",
            parameters=[openapi.query_param("home", openapi.text(64, 1), "Only this home's.")],
            response=openapi.obj({"checks": {"type": "array", "items": _CHECK}}, ["checks"]),
        )
    },
    "/api/care/bookings": {
        "get": openapi.op(
            "Meal-assistance, care-visit and child-care bookings, by date",
            "listCareBookings",
            "care",
            response=openapi.obj({"bookings": {"type": "array", "items": _BOOKING}}, ["bookings"]),
        )
    },
}


@runtime_checkable
class CareBackend(Protocol):
    @property
    def care(self) -> CareDesk: ...


def _desk(request: web.Request) -> CareDesk:
    backend = request.app[BACKEND]
    if not isinstance(backend, CareBackend):
        raise web.HTTPNotFound(reason="this server runs no care desk")
    return backend.care


async def list_checks(request: web.Request) -> web.StreamResponse:
    home: str | None = None
    if "home" in request.query:
        try:
            home = clean_text(request.query["home"], "home", 64).strip()
        except QueryError as exc:
            raise BadRequestError(str(exc)) from None
        if not home:
            raise BadRequestError("home must not be empty")
    return web.json_response({"checks": _desk(request).checks(home)})


async def list_bookings(request: web.Request) -> web.StreamResponse:
    return web.json_response({"bookings": _desk(request).bookings()})


def add_care_routes(app: web.Application) -> None:
    app.router.add_get("/api/care", list_checks)
    app.router.add_get("/api/care/bookings", list_bookings)
