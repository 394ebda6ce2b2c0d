"""Visitor passes for staff: the passes issued, the entries logged at the gates, revoking.

Residents issue and revoke their own passes from their hub (``community.visitors``); staff
see every pass with its home, window, entries used and status, but never the visitor's name
or plate (the community does not have them in clear). Reading needs the field pages'
permission; revoking is alarm work (duty staff at the gate act on it), see
``community.accounts``.

    GET  /api/visitors/passes                 ?home_id=&limit=   newest first
    GET  /api/visitors/entries                ?pass_id=&limit=   newest first
    POST /api/visitors/passes/{pass_id}/revoke                   the home is told
"""

from __future__ import annotations

from typing import Any, Final, Protocol, runtime_checkable

from aiohttp import web

from community.openapi import integer, obj, op, path_param, query_param, text
from community.queries import QueryError, clean_text
from community.visitors import LIST_MAX, VisitorDesk
from community.web import BACKEND, PRINCIPAL, BadRequestError, _error
from devices.visitor_pass import PASS_ID_RE

_TAG: Final = "visitors"
_PASS_ID: Final = {"type": "string", "pattern": "^vp[0-9a-f]{16}$"}
_STATUS: Final = ["active", "upcoming", "used_up", "expired", "revoked"]
_PASS: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "pass_id": _PASS_ID,
        "home_id": {"type": "string"},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_to": {"type": "string", "format": "date-time"},
        "entries": {"type": "integer"},
        "used": {"type": "integer"},
        "has_plate": {"type": "boolean"},
        "status": {"type": "string", "enum": _STATUS},
        "issued_at": {"type": "string"},
        "revoked_at": {"type": "string", "nullable": True},
        "revoked_by": {"type": "string", "nullable": True},
    },
}
_ENTRY: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "pass_id": {"type": "string"},
        "home_id": {"type": "string", "nullable": True},
        "hub_id": {"type": "string"},
        "device_id": {"type": "string"},
        "accepted": {"type": "boolean"},
        "reason": {"type": "string"},
        "entry": {"type": "integer"},
        "at": {"type": "string"},
    },
}
_LIMIT: Final = query_param("limit", integer(1, LIST_MAX), "At most this many rows (100).")

PATHS: Final[dict[str, Any]] = {
    "/api/visitors/passes": {
        "get": op(
            "Visitor passes, newest first (no names or plates)",
            "listVisitorPasses",
            _TAG,
            parameters=[
                query_param("home_id", text(64, 1), "Only this home's passes."),
                _LIMIT,
            ],
            response=obj({"passes": {"type": "array", "items": _PASS}}, ["passes"]),
        )
    },
    "/api/visitors/entries": {
        "get": op(
            "Passes shown at the gates, accepted or refused, newest first",
            "listVisitorEntries",
            _TAG,
            parameters=[query_param("pass_id", _PASS_ID, "Only this pass's entries."), _LIMIT],
            response=obj({"entries": {"type": "array", "items": _ENTRY}}, ["entries"]),
        )
    },
    "/api/visitors/passes/{pass_id}/revoke": {
        "post": op(
            "Revoke a pass: every gate refuses it, the issuing home is told",
            "revokeVisitorPass",
            _TAG,
            parameters=[path_param("pass_id", _PASS_ID, "The pass.")],
            response=obj({"pass": _PASS}, ["pass"]),
            errors=(400, 401, 403, 404),
        )
    },
}


@runtime_checkable
class VisitorsBackend(Protocol):
    visitors: VisitorDesk


def _desk(request: web.Request) -> VisitorDesk:
    backend = request.app[BACKEND]
    if not isinstance(backend, VisitorsBackend):
        raise web.HTTPNotFound(reason="this server issues no visitor passes")
    return backend.visitors


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4 or not 1 <= int(raw) <= LIST_MAX:
        raise BadRequestError(f"limit must be an integer 1..{LIST_MAX}")
    return int(raw)


def _pass_id(text_: str) -> str:
    if not PASS_ID_RE.fullmatch(text_):
        raise BadRequestError("not a pass id")
    return text_


async def list_passes(request: web.Request) -> web.StreamResponse:
    home: str | None = None
    if "home_id" in request.query:
        try:
            home = clean_text(request.query["home_id"], "home_id", 64).strip()
        except QueryError as exc:
            raise BadRequestError(str(exc)) from None
        if not home:
            raise BadRequestError("home_id must not be empty")
    passes = _desk(request).passes(home_id=home, limit=_limit(request))
    return web.json_response({"passes": passes})


async def list_entries(request: web.Request) -> web.StreamResponse:
    pass_id = _pass_id(request.query["pass_id"]) if "pass_id" in request.query else None
    entries = _desk(request).entries(pass_id=pass_id, limit=_limit(request))
    return web.json_response({"entries": entries})


async def revoke_pass(request: web.Request) -> web.StreamResponse:
    pass_id = _pass_id(request.match_info["pass_id"])
    principal = request[PRINCIPAL]
    revoked = await _desk(request).revoke(pass_id, principal.name)
    if revoked is None:
        return _error(404, f"no visitor pass {pass_id}")
    return web.json_response({"pass": revoked})


def add_visitor_routes(app: web.Application) -> None:
    app.router.add_get("/api/visitors/passes", list_passes)
    app.router.add_get("/api/visitors/entries", list_entries)
    app.router.add_post("/api/visitors/passes/{pass_id}/revoke", revoke_pass)
