"""The property manager's notices over HTTP: publish, list with receipt counts, one in detail.

``POST /api/notices`` publishes ``{title, body, audience: {scope: community|building|homes,
building?, homes?}, urgent}`` (see :mod:`community.notice_board`); an audience with no
enrolled home is a 400 and nothing is written. ``GET /api/notices`` lists the published
notices newest first with how many hubs have them (delivered, read, pending);
``GET /api/notices/{notice_id}`` adds a receipt per home. Only the property admin publishes
(the route is not opened in ``community.accounts``); duty staff may read. The publisher is
the request's principal, never a name in the body.
"""

from __future__ import annotations

import json
from typing import Any, Final, Protocol, runtime_checkable

from aiohttp import web

from community import openapi
from community.notice_board import MAX_HOMES, MAX_ID, NoticeBoard, NoticeInputError, parse_draft
from community.web import BACKEND, PRINCIPAL, BadRequestError, _error
from devices.uplink import BODY_LIMIT, TITLE_LIMIT

TAG: Final = "notices"


@runtime_checkable
class NoticesBackend(Protocol):
    @property
    def notice_board(self) -> NoticeBoard: ...


def _board(request: web.Request) -> NoticeBoard:
    backend = request.app[BACKEND]
    if not isinstance(backend, NoticesBackend):
        raise web.HTTPNotFound(reason="this server publishes no notices")
    return backend.notice_board


def _reject_constant(token: str) -> Any:
    raise ValueError(token)


async def _json(request: web.Request) -> object:
    raw = await request.read()
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequestError("the body must be a JSON object") from None


async def publish(request: web.Request) -> web.StreamResponse:
    board = _board(request)
    try:
        draft = parse_draft(await _json(request))
        notice = await board.publish(draft, request[PRINCIPAL].name)
    except NoticeInputError as exc:
        return _error(400, str(exc))
    return web.json_response({"notice": notice}, status=201)


async def list_notices(request: web.Request) -> web.StreamResponse:
    if request.query:
        return _error(400, "this list takes no parameters")
    return web.json_response({"notices": await _board(request).published()})


async def get_notice(request: web.Request) -> web.StreamResponse:
    notice = await _board(request).get(request.match_info["notice_id"])
    if notice is None:
        return _error(404, "no such notice")
    return web.json_response({"notice": notice})


def add_notice_routes(app: web.Application) -> None:
    app.router.add_get("/api/notices", list_notices)
    app.router.add_post("/api/notices", publish)
    app.router.add_get("/api/notices/{notice_id}", get_notice)


# --- OpenAPI ----------------------------------------------------------------------------------

_AUDIENCE: Final = openapi.obj(
    {
        "scope": openapi.enum(("community", "building", "homes")),
        "building": openapi.text(MAX_ID, 1, description="With scope building: which one."),
        "homes": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_HOMES,
            "items": openapi.text(MAX_ID, 1),
            "description": "With scope homes: the home ids (each must be enrolled).",
        },
    },
    ["scope"],
)
_COUNTS: Final = openapi.obj(
    {
        "hubs": openapi.integer(0),
        "delivered": openapi.integer(0),
        "read": openapi.integer(0),
        "pending": openapi.integer(0),
    },
    ["hubs", "delivered", "read", "pending"],
)
_NOTICE: Final = {
    "type": "object",
    "required": ["id", "title", "body", "urgent", "audience", "counts", "published_at"],
    "properties": {
        "id": openapi.text(32, 32),
        "title": {"type": "string"},
        "body": {"type": "string"},
        "urgent": {"type": "boolean"},
        "audience": {"type": "object"},
        "homes": openapi.integer(0),
        "published_by": {"type": "string"},
        "published_at": {"type": "string"},
        "counts": _COUNTS,
        "receipts": {
            "type": "array",
            "items": openapi.obj(
                {
                    "home_id": {"type": "string"},
                    "hub_id": {"type": "string"},
                    "status": openapi.enum(("pending", "delivered", "read")),
                    "attempts": openapi.integer(0),
                    "delivered_at": {"type": "string", "nullable": True},
                    "read_at": {"type": "string", "nullable": True},
                }
            ),
        },
    },
}

PATHS: Final[dict[str, Any]] = {
    "/api/notices": {
        "get": openapi.op(
            "The manager's published notices, newest first, with receipt counts",
            "listNotices",
            TAG,
            response=openapi.obj({"notices": {"type": "array", "items": _NOTICE}}, ["notices"]),
        ),
        "post": openapi.op(
            "Publish a notice to the community, a building or chosen homes",
            "publishNotice",
            TAG,
            body=openapi.obj(
                {
                    "title": openapi.text(TITLE_LIMIT, 1),
                    "body": openapi.text(BODY_LIMIT),
                    "audience": _AUDIENCE,
                    "urgent": {"type": "boolean", "description": "Hubs sound and show a banner."},
                },
                ["title", "audience"],
            ),
            ok=201,
            response=openapi.obj({"notice": _NOTICE}, ["notice"]),
            errors=(400, 401, 403, 413),
        ),
    },
    "/api/notices/{notice_id}": {
        "get": openapi.op(
            "One published notice with a receipt per home",
            "getNotice",
            TAG,
            parameters=[openapi.path_param("notice_id", openapi.text(64, 1), "The notice id.")],
            response=openapi.obj({"notice": _NOTICE}, ["notice"]),
            errors=(401, 403, 404),
        ),
    },
}
