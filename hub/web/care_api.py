"""The resident's JSON API for the daily care check and care bookings.

Same rules as ``hub.web.api``: the admin token is required, bad input is a 400 that changes
nothing. The consent a care check needs is signed in the browser and recorded through
``POST /api/privacy/consent``, like every other consent: the hub never signs for a resident.

    GET  /api/care             settings, today's check, history, who may be told, the audit
                               of every escalation, and the resident's care bookings
    POST /api/care/settings    {enabled, check_time "HH:MM", ask_grace_s, family_grace_s,
                               family "family:<name>"}
    POST /api/care/fine        "I'm fine": ends an open check (and clears the staff alarm)
    POST /api/care/bookings    {service: meal|care_visit|child_care, date, time, note}: asks
                               the community; 202 {request_id} (the answer comes as a notice)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, Final

from aiohttp import web

from hub.care import SERVICE, CareChecks
from hub.services import ServiceRequests
from hub.web.api import BadRequestError, admin_only, json_body

#: What a resident may book from the Care tab.
BOOKABLE: Final = frozenset({"meal", "care_visit", "child_care"})
MAX_NOTE: Final = 200
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME: Final = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def booking_body(body: object) -> dict[str, str]:
    """A booking as it goes to the community; BadRequestError says what is wrong."""
    if not isinstance(body, dict) or set(body) - {"service", "date", "time", "note"}:
        raise BadRequestError("send {service, date, time, note}")
    service, day, at = body.get("service"), body.get("date"), body.get("time")
    note = body.get("note", "")
    if service not in BOOKABLE:
        raise BadRequestError("service must be meal, care_visit or child_care")
    if not isinstance(day, str) or not _DATE.fullmatch(day):
        raise BadRequestError("date must be YYYY-MM-DD")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise BadRequestError("date is not a calendar date") from None
    if not isinstance(at, str) or not _TIME.fullmatch(at):
        raise BadRequestError("time must be HH:MM")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise BadRequestError(f"note must be text of at most {MAX_NOTE} characters")
    return {"service": str(service), "date": day, "time": at, "note": note.strip()}


def add_care_routes(
    app: web.Application,
    care: CareChecks,
    services: ServiceRequests,
    admin_token: Callable[[], str],
) -> None:
    guarded = admin_only(admin_token, "care API")

    def bookings() -> list[dict[str, Any]]:
        return [r for r in services.list(SERVICE) if r["action"] == "book"]

    async def view(request: web.Request) -> web.StreamResponse:
        return web.json_response({**care.view(), "bookings": bookings()})

    async def settings(request: web.Request) -> web.StreamResponse:
        try:
            chosen = care.configure(await json_body(request))
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        return web.json_response(chosen.to_dict())

    async def fine(request: web.Request) -> web.StreamResponse:
        ended = care.fine()
        return web.json_response({"ended": ended})

    async def book(request: web.Request) -> web.StreamResponse:
        body = booking_body(await json_body(request))
        try:
            request_id = services.request(SERVICE, "book", body)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        return web.json_response({"request_id": request_id}, status=202)

    app.router.add_get("/api/care", guarded(view))
    app.router.add_post("/api/care/settings", guarded(settings))
    app.router.add_post("/api/care/fine", guarded(fine))
    app.router.add_post("/api/care/bookings", guarded(book))
