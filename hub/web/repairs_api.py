"""The resident's JSON API for repair orders (the Repairs tab and the phone page).

Same rules as ``hub.web.api``: the admin token is required, bad input is a 400 that changes
nothing. The hub checks the shape of a request so the resident hears about a typo at once;
the community checks everything again and decides (its answer comes back as a notice).

    GET  /m                        the phone page (same sign-in as the hub's page)
    GET  /api/phone                what the phone page shows: active alarms, unread notices,
                                   the home's orders
    GET  /api/repairs              the home's orders and the requests waiting for an answer
    POST /api/repairs/requests     {action: open, category, description, title?, room?,
                                    preferred_time?, photos?: [{uri, sha256}]}
                                   {action: confirm|rate, order_id, rating 1-5, comment?}
                                   {action: cancel, order_id} · {action: reopen, order_id, note}
                                   -> 202 {request_id}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

from aiohttp import web

from hub.notices import NoticeBox
from hub.registry import DeviceRecord
from hub.repairs import CATEGORIES, RepairBook
from hub.web.api import BadRequestError, admin_only, json_body
from hub.web.auth import is_admin

#: The hub page's policy (scripts only from the hub itself).
CSP: Final = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'self'"
)
PHONE_PAGE: Final = Path(__file__).parent / "static" / "phone.html"
_ALARMING: Final = frozenset({"critical", "alert"})


class Home(Protocol):
    """What the phone page reads from the hub."""

    def devices(self) -> list[DeviceRecord]: ...

    def recent_events(self, device_id: str, limit: int = 5) -> list[dict[str, Any]]: ...


def active_alarms(home: Home) -> list[dict[str, Any]]:
    """Each device's alarms still on (its latest event of a kind is active and not info)."""
    out: list[dict[str, Any]] = []
    for device in home.devices():
        latest: dict[str, dict[str, Any]] = {}
        for event in home.recent_events(device.device_id, 20):
            latest.setdefault(str(event["event"]), event)  # newest first
        out.extend(
            {
                "device_id": device.device_id,
                "name": device.name,
                "room": device.room,
                "event": name,
                "priority": event["priority"],
                "ts": event["ts"],
            }
            for name, event in latest.items()
            if event["active"] and event["priority"] in _ALARMING
        )
    return sorted(out, key=lambda a: (a["priority"] != "critical", -int(a["ts"])))


_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")
#: Each action's fields: name -> (required, check).
_Check = Callable[[object], bool]


def _text(limit: int, *, empty: bool = False) -> _Check:
    return lambda v: isinstance(v, str) and (empty or bool(v.strip())) and len(v) <= limit


def _order_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**53


def _rating(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5


def _photos(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= 5
        and all(
            isinstance(p, dict)
            and set(p) == {"uri", "sha256"}
            and _text(500)(p["uri"])
            and isinstance(p["sha256"], str)
            and bool(_SHA256.fullmatch(p["sha256"]))
            for p in value
        )
    )


FIELDS: Final[dict[str, dict[str, tuple[bool, _Check]]]] = {
    "open": {
        "category": (True, lambda v: v in CATEGORIES),
        "description": (True, _text(2000)),
        "title": (False, _text(120)),
        "room": (False, _text(64, empty=True)),
        "preferred_time": (False, _text(40)),
        "photos": (False, _photos),
    },
    "confirm": {
        "order_id": (True, _order_id),
        "rating": (True, _rating),
        "comment": (False, _text(200, empty=True)),
    },
    "rate": {
        "order_id": (True, _order_id),
        "rating": (True, _rating),
        "comment": (False, _text(200, empty=True)),
    },
    "cancel": {"order_id": (True, _order_id)},
    "reopen": {"order_id": (True, _order_id), "note": (True, _text(500))},
}


def check_request(body: object) -> tuple[str, dict[str, Any]]:
    """The action and its fields, or BadRequestError saying what is wrong."""
    if not isinstance(body, dict):
        raise BadRequestError("send a JSON object with an action")
    action = body.get("action")
    if not isinstance(action, str) or action not in FIELDS:
        raise BadRequestError(f"action must be one of: {', '.join(FIELDS)}")
    fields = FIELDS[action]
    unknown = sorted(str(k)[:40] for k in body if k != "action" and k not in fields)
    if unknown:
        raise BadRequestError(f"unknown field(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, (required, ok) in fields.items():
        value = body.get(name)
        if value is None:
            if required:
                raise BadRequestError(f"'{name}' is required")
            continue
        if not ok(value):
            raise BadRequestError(f"'{name}' is not valid")
        out[name] = value.strip() if isinstance(value, str) else value
    return action, out


def add_repair_routes(
    app: web.Application,
    repairs: RepairBook,
    admin_token: Callable[[], str],
    *,
    home: Home | None = None,
    notices: NoticeBox | None = None,
) -> None:
    guarded = admin_only(admin_token, "repairs API")

    async def view(request: web.Request) -> web.StreamResponse:
        return web.json_response(repairs.view())

    async def ask(request: web.Request) -> web.StreamResponse:
        action, fields = check_request(await json_body(request))
        try:
            request_id = repairs.request(action, fields)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        return web.json_response({"request_id": request_id}, status=202)

    async def phone_page(request: web.Request) -> web.StreamResponse:
        if not is_admin(request, admin_token()):
            raise web.HTTPFound("/login")
        response = web.Response(
            text=PHONE_PAGE.read_text(encoding="utf-8"), content_type="text/html"
        )
        response.headers.update(
            {
                "Content-Security-Policy": CSP,
                "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            }
        )
        return response

    async def phone(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "alarms": active_alarms(home) if home is not None else [],
                "unread": notices.unread() if notices is not None else 0,
                "orders": repairs.orders(),
            }
        )

    app.router.add_get("/m", phone_page)
    app.router.add_get("/api/phone", guarded(phone))
    app.router.add_get("/api/repairs", guarded(view))
    app.router.add_post("/api/repairs/requests", guarded(ask))
