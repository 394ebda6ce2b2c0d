"""The resident's JSON API for community notices and charging requests.

Same rules as ``hub.web.api``: the admin token is required, bad input is a 400 that changes
nothing, an unknown notice is a 404.

    GET  /api/notices                   newest first, with the unread count
    POST /api/notices/{id}/read         mark read (the community gets a ``read`` receipt)
    GET  /api/charging                  the resident's sessions and recent requests
    POST /api/charging/requests         {action: start|stop, port_id}: asks the community;
                                        202 {request_id} (the answer comes as a notice)
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from devices.messages import DEVICE_ID_RE
from devices.uplink import RequestAction
from hub.charging import ChargingRequests
from hub.notices import NoticeBox
from hub.web.api import BadRequestError, admin_only, error, json_body


def add_notice_routes(
    app: web.Application,
    notices: NoticeBox,
    charging: ChargingRequests,
    admin_token: Callable[[], str],
) -> None:
    guarded = admin_only(admin_token, "notices API")

    async def list_notices(request: web.Request) -> web.StreamResponse:
        return web.json_response({"notices": notices.list(), "unread": notices.unread()})

    async def read_notice(request: web.Request) -> web.StreamResponse:
        notice_id = request.match_info["notice_id"]
        if not DEVICE_ID_RE.fullmatch(notice_id):
            raise BadRequestError("not a valid notice id")
        if not notices.mark_read(notice_id):
            return error(404, f"no notice {notice_id}", "not_found")
        return web.json_response({"read": notice_id, "unread": notices.unread()})

    async def charging_view(request: web.Request) -> web.StreamResponse:
        return web.json_response(charging.view())

    async def charging_request(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        if not isinstance(body, dict) or set(body) != {"action", "port_id"}:
            raise BadRequestError("send {action: start|stop, port_id}")
        try:
            action = RequestAction(str(body["action"]))
        except ValueError:
            raise BadRequestError("action must be start or stop") from None
        port_id = body["port_id"]
        if not isinstance(port_id, str):
            raise BadRequestError("port_id must be a string")
        try:
            request_id = charging.request(action, port_id.strip())
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        return web.json_response({"request_id": request_id}, status=202)

    app.router.add_get("/api/notices", guarded(list_notices))
    app.router.add_post("/api/notices/{notice_id}/read", guarded(read_notice))
    app.router.add_get("/api/charging", guarded(charging_view))
    app.router.add_post("/api/charging/requests", guarded(charging_request))
