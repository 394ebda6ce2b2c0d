"""The resident's JSON API for visitor passes (the Visitors tab).

Same rules as ``hub.web.api``: the admin token is required, bad input is a 400 that changes
nothing. The hub checks the shape of a request so a typo is caught at once; the community
checks the limits (window, entries, dates) and signs the pass, and its answer, with the pass
text for the QR code, comes back as a service notice. The visitor's name is kept here, in the
home's own request log; the community keeps only a keyed hash of it.

    GET  /api/visitors                         the home's passes, newest first
    POST /api/visitors/passes                  {name, plate?, valid_from, valid_to, entries}
                                               -> 202 {request_id}
    POST /api/visitors/passes/{pass_id}/revoke -> 202 {request_id}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from devices.visitor_pass import MAX_ENTRIES, PASS_ID_RE
from hub.notices import NoticeBox
from hub.services import ServiceRequests
from hub.web.api import BadRequestError, admin_only, json_body

SERVICE: Final = "visitor_pass"
_TIME_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})"
)
_Check = Callable[[object], bool]


def _text(limit: int) -> _Check:
    return lambda v: isinstance(v, str) and bool(v.strip()) and len(v) <= limit


def _time(value: object) -> bool:
    return isinstance(value, str) and bool(_TIME_RE.fullmatch(value))


def _entries(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ENTRIES


#: name -> (required, check): the shape of an issue request.
FIELDS: Final[dict[str, tuple[bool, _Check]]] = {
    "name": (True, _text(64)),
    "plate": (False, lambda v: v == "" or _text(16)(v)),
    "valid_from": (True, _time),
    "valid_to": (True, _time),
    "entries": (True, _entries),
}


def passes_view(services: ServiceRequests, notices: NoticeBox) -> list[dict[str, Any]]:
    """Every pass this home asked for, newest first, with its answer and whether it is
    revoked (by the home or by the property)."""
    asked = services.list(SERVICE, limit=200)
    revoked = {
        str((r["params"] or {}).get("pass_id"))
        for r in asked
        if r["action"] == "revoke" and r["answer"] == "revoked"
    }
    revoked |= {
        str(n["params"].get("pass_id"))
        for n in notices.list()
        if n["category"] == "service"
        and n["code"] == "revoked"
        and n["params"].get("service") == SERVICE
    }
    revoking = {str((r["body"] or {}).get("pass_id")) for r in asked if r["action"] == "revoke"}
    out = []
    for r in asked:
        if r["action"] != "issue":
            continue
        body, data = r["body"] or {}, r["data"] or {}
        pass_id = str(data.get("pass_id", ""))
        out.append(
            {
                "request_id": r["request_id"],
                "name": body.get("name", ""),
                "plate": body.get("plate", ""),
                "valid_from": data.get("valid_from", body.get("valid_from")),
                "valid_to": data.get("valid_to", body.get("valid_to")),
                "entries": data.get("entries", body.get("entries")),
                "answer": r["answer"],
                "reason": (r["params"] or {}).get("reason", ""),
                "pass_id": pass_id,
                "qr": data.get("qr", ""),
                "revoked": bool(pass_id) and pass_id in revoked,
                "revoking": bool(pass_id) and pass_id in revoking and pass_id not in revoked,
                "asked_ms": r["asked_ms"],
            }
        )
    return out


def add_visitor_routes(
    app: web.Application,
    services: ServiceRequests,
    notices: NoticeBox,
    admin_token: Callable[[], str],
) -> None:
    guarded = admin_only(admin_token, "visitors API")

    async def view(request: web.Request) -> web.StreamResponse:
        return web.json_response({"passes": passes_view(services, notices)})

    async def issue(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        if not isinstance(body, dict) or not set(body) <= set(FIELDS):
            raise BadRequestError("send {name, plate?, valid_from, valid_to, entries}")
        for name, (required, check) in FIELDS.items():
            if name not in body:
                if required:
                    raise BadRequestError(f"{name} is required")
            elif not check(body[name]):
                raise BadRequestError(f"{name} is not valid")
        clean: dict[str, Any] = {**body, "name": " ".join(str(body["name"]).split())}
        if not clean.get("plate"):
            clean.pop("plate", None)
        return _asked(services.request, "issue", clean)

    async def revoke(request: web.Request) -> web.StreamResponse:
        pass_id = request.match_info["pass_id"]
        if not PASS_ID_RE.fullmatch(pass_id):
            raise BadRequestError("not a pass id")
        return _asked(services.request, "revoke", {"pass_id": pass_id})

    app.router.add_get("/api/visitors", guarded(view))
    app.router.add_post("/api/visitors/passes", guarded(issue))
    app.router.add_post("/api/visitors/passes/{pass_id}/revoke", guarded(revoke))


def _asked(
    request: Callable[[str, str, dict[str, Any]], str], action: str, body: dict[str, Any]
) -> web.Response:
    try:
        request_id = request(SERVICE, action, body)
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None
    return web.json_response({"request_id": request_id}, status=202)
