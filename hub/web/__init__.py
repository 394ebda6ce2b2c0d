"""The resident's web UI on the hub: sign-in, pages, the live feed and the JSON API.

Plain HTML, CSS and JavaScript served from ``static/`` — no build step. ``add_resident_routes``
adds everything to the hub's aiohttp application; ``PathOnlyAccessLogger`` keeps
``/login?token=…`` out of the access log.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from hub.core import EventBus
from hub.web.api import ResidentHub, add_resident_api
from hub.web.auth import COOKIE, is_admin, same_secret, set_login_cookie
from hub.web.live import LiveFeed

STATIC_DIR: Final = Path(__file__).parent / "static"
#: The only files ``/static/`` serves; anything else is a 404.
STATIC_FILES: Final = {
    "app.js": "application/javascript",
    "app.css": "text/css",
    "i18n.js": "application/javascript",
    "privacy.js": "application/javascript",
    "charging.js": "application/javascript",
    "notices.js": "application/javascript",  # property notices, parcels
    "notices.css": "text/css",  # property notices, parcels
    "care.js": "application/javascript",  # daily care check
    "repairs.js": "application/javascript",
    "phone.js": "application/javascript",
    "visitors.js": "application/javascript",  # visitor passes
}
CSP: Final = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'self'"
)
LIVE_FEED: Final = web.AppKey("resident_live_feed", LiveFeed)

__all__ = ["PathOnlyAccessLogger", "add_resident_routes"]


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Method, path and status; never the query string (``/login?token=`` is a secret)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


def _page(name: str, status: int = 200, error: str = "") -> web.Response:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    if error:
        text = text.replace(
            "<!--error-->",
            f'<p class="error" role="alert" id="login-error">{html.escape(error)}</p>',
        )
    response = web.Response(text=text, status=status, content_type="text/html")
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"


def add_resident_routes(
    app: web.Application, hub: ResidentHub, bus: EventBus, admin_token: Callable[[], str]
) -> None:
    feed = LiveFeed(hub, bus)
    app[LIVE_FEED] = feed

    def logged_in(request: web.Request, token: str) -> web.StreamResponse:
        if not same_secret(token, admin_token()):
            return _page("login.html", 401, "Wrong token. 令牌不正确。")
        response = web.Response(status=303, headers={"Location": "/"})
        set_login_cookie(request, response, token)
        return response

    async def login_get(request: web.Request) -> web.StreamResponse:
        token = request.query.get("token")
        return _page("login.html") if token is None else logged_in(request, token.strip())

    async def login_post(request: web.Request) -> web.StreamResponse:
        tokens: list[str] = []
        if request.content_type == "application/x-www-form-urlencoded":
            try:
                raw = (await request.content.read(4096)).decode("utf-8")
                tokens = urllib.parse.parse_qs(raw, max_num_fields=4).get("token", [])
            except (UnicodeDecodeError, ValueError):
                tokens = []
        if len(tokens) != 1:
            return _page("login.html", 400, "Enter the admin token. 请输入管理令牌。")
        return logged_in(request, tokens[0].strip())

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.Response(status=303, headers={"Location": "/login"})
        response.del_cookie(COOKIE, path="/")
        return response

    async def index(request: web.Request) -> web.StreamResponse:
        if not is_admin(request, admin_token()):
            raise web.HTTPFound("/login")
        return _page("index.html")

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        content_type = STATIC_FILES.get(name)
        if content_type is None:
            raise web.HTTPNotFound()
        response = web.Response(
            body=(STATIC_DIR / name).read_bytes(), content_type=content_type, charset="utf-8"
        )
        _secure(response)
        return response

    async def live(request: web.Request) -> web.StreamResponse:
        return await feed.serve(request, admin_token())

    async def close_feed(app: web.Application) -> None:
        feed.close()

    app.on_shutdown.append(close_feed)
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/live", live)
    add_resident_api(app, hub, admin_token)
