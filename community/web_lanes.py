"""The fire-lane service's HTTP side: the plate registry and the weekly report.

``POST /api/lanes/plates/register`` ``{"home_id", "subject", "plate", "by"?}`` maps a plate to
a home under that resident's consent (201 with the registration; 400 bad input, 403 no live
consent, 409 the plate belongs to another home); ``POST /api/lanes/plates/unregister``
``{"plate"}`` removes it (404 if it was not registered); ``GET /api/lanes/plates?home=…``
lists registrations (truncated hashes only); ``GET /api/lanes/report?week=2026-W47`` is the
weekly report. All need the manager token (the app's auth middleware).

A plate only ever travels in a request *body*: paths are written to the access log, bodies
are not, and no answer ever contains a plate — only its truncated keyed hash.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from community.clock import Clock
from community.lane_report import ReportError, weekly_report
from community.plates import (
    MAX_PLATE_INPUT,
    PlateConflictError,
    PlateConsentError,
    PlateError,
    PlateRegistry,
)
from community.queries import QueryError, clean_text
from community.store import Store
from community.web import DEFAULT_PERSON, MAX_NAME, BadRequestError, _error

Writer = Callable[..., Awaitable[Any]]
MAX_HOME: Final = 64
MAX_SUBJECT: Final = 128
#: Per action: field -> (longest text, required).
_BODIES: Final[dict[str, dict[str, tuple[int, bool]]]] = {
    "register": {
        "home_id": (MAX_HOME, True),
        "subject": (MAX_SUBJECT, True),
        "plate": (MAX_PLATE_INPUT, True),
        "by": (MAX_NAME, False),
    },
    "unregister": {"plate": (MAX_PLATE_INPUT, True), "by": (MAX_NAME, False)},
}


@dataclass(frozen=True, slots=True)
class Lanes:
    """What the routes need: the registry, the store, the writer thread and the clock."""

    registry: PlateRegistry
    store: Store
    write: Writer
    clock: Clock
    #: Local time of the report's weeks = UTC + this.
    utc_offset_min: int = 0


LANES: Final = web.AppKey("lanes", Lanes)


def _reject_constant(token: str) -> Any:
    raise ValueError(token)


async def _body(request: web.Request, action: str) -> dict[str, str]:
    spec = _BODIES[action]
    raw = await request.read()
    try:
        body = json.loads(raw, parse_constant=_reject_constant) if raw.strip() else None
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    unknown = sorted(str(k)[:40] for k in body if k not in spec)
    if unknown:
        raise BadRequestError(f"unknown field(s): {', '.join(unknown)}")
    values = {"by": DEFAULT_PERSON}
    try:
        for field, (longest, required) in spec.items():
            if body.get(field) is not None:
                text = clean_text(body[field], field, longest).strip()
                if not text:
                    raise QueryError(f"'{field}' must not be empty")
                values[field] = text
            elif required:
                raise QueryError(f"'{field}' is required")
    except QueryError as exc:
        raise BadRequestError(str(exc)) from None
    return values


async def register_plate(request: web.Request) -> web.StreamResponse:
    lanes = request.app[LANES]
    body = await _body(request, "register")
    try:
        entry = await lanes.write(
            lanes.registry.register,
            body["home_id"],
            body["subject"],
            body["plate"],
            body["by"],
            lanes.clock(),
        )
    except PlateError as exc:
        return _error(400, str(exc))
    except PlateConsentError as exc:
        return _error(403, str(exc))
    except PlateConflictError as exc:
        return _error(409, str(exc))
    return web.json_response({"registration": entry}, status=201)


async def unregister_plate(request: web.Request) -> web.StreamResponse:
    lanes = request.app[LANES]
    body = await _body(request, "unregister")
    try:
        removed = await lanes.write(lanes.registry.unregister, body["plate"])
    except PlateError as exc:
        return _error(400, str(exc))
    if not removed:
        return _error(404, "that plate is not registered")
    return web.json_response({"removed": True})


async def list_plates(request: web.Request) -> web.StreamResponse:
    lanes = request.app[LANES]
    home = request.query.get("home")
    if home is not None and not 0 < len(home) <= MAX_HOME:
        raise BadRequestError(f"home must be 1-{MAX_HOME} characters")
    rows = await lanes.write(lanes.registry.registrations, home)
    return web.json_response({"registrations": rows})


async def report(request: web.Request) -> web.StreamResponse:
    lanes = request.app[LANES]
    week = request.query.get("week", "")
    try:
        body = await lanes.write(
            lambda: weekly_report(
                lanes.store, week, now=lanes.clock(), utc_offset_min=lanes.utc_offset_min
            )
        )
    except ReportError as exc:
        return _error(400, str(exc))
    return web.json_response(body)


def add_lane_routes(app: web.Application, lanes: Lanes) -> None:
    app[LANES] = lanes
    app.router.add_post("/api/lanes/plates/register", register_plate)
    app.router.add_post("/api/lanes/plates/unregister", unregister_plate)
    app.router.add_get("/api/lanes/plates", list_plates)
    app.router.add_get("/api/lanes/report", report)
