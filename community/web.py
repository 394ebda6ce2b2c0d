"""The manager's HTTP side: login, the alarm API, the live WebSocket and the dashboard page.

Everything except ``/login`` and ``/api/health`` needs the manager token, either as
``Authorization: Bearer <token>`` (scripts) or as the HttpOnly, SameSite=Strict cookie that
``/login`` sets (the browser). Cookie-authenticated requests that change something, and
WebSockets, must also come from this server's own origin. The CAP feed (``GET /api/cap/…``)
also accepts a separate read-only token as a Bearer token, for city platforms.

Input is untrusted all the way down: every id, filter and body is checked here and refused
with a 400 JSON ``{"error": …}`` that says what is wrong. Unknown alarms are 404, actions the
alarm's state does not allow are 409. The access log shows paths only, never query strings,
because ``/login?token=…`` carries a secret.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

from aiohttp import WSCloseCode, web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from community import openapi
from community.accounts import Principal, may, permission_for
from community.alarms import PersonAction, TransitionError, WorkAction
from community.credentials import same_secret
from community.live import LiveFeed, Subscription
from community.queries import AlarmQuery, QueryError, clean_text, parse_query_string
from community.store import AlarmNotFoundError

log = logging.getLogger(__name__)

COOKIE: Final = "courtyard_manager"
COOKIE_MAX_AGE: Final = 30 * 24 * 3600
STATIC_DIR: Final = Path(__file__).parent / "static"
MAX_BODY: Final = 16 * 1024
MAX_NAME: Final = 64
MAX_NOTE: Final = 500
#: Version of the JSON API described at /api/openapi.json.
API_VERSION: Final = "1.0.0"
DEFAULT_PERSON: Final = "manager"
CAP_PREFIX: Final = "/api/cap/"
_PUBLIC: Final = frozenset({"/login", "/api/health", "/api/openapi.json"})
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CSP: Final = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'self'"
)
_LOGIN_CSP: Final = _CSP + "; style-src 'unsafe-inline'"


class Backend(Protocol):
    """What the web layer needs from the server; all reads and writes go through it."""

    @property
    def manager_token(self) -> str: ...

    @property
    def cap_token(self) -> str: ...

    @property
    def feed(self) -> LiveFeed: ...

    def principal(self, token: str) -> Principal | None:
        """The staff account a token belongs to (the manager token: the property admin)."""
        ...

    def health(self) -> dict[str, Any]: ...

    async def list_alarms(self, query: AlarmQuery) -> tuple[list[dict[str, Any]], int]: ...

    async def get_alarm(self, alarm_id: int) -> dict[str, Any] | None: ...

    async def act(
        self, alarm_id: int, action: PersonAction, by: str, note: str | None
    ) -> tuple[dict[str, Any], bool]: ...

    async def work(
        self, alarm_id: int, action: WorkAction, by: str, to: str | None, note: str | None
    ) -> tuple[dict[str, Any], bool]: ...

    async def release_elevator(self, alarm_id: int, by: str) -> dict[str, Any]: ...

    async def add_evidence(
        self, alarm_id: int, uri: str, sha256: str, kind: str, by: str
    ) -> tuple[dict[str, Any], dict[str, Any], bool]: ...

    async def cap_feed(self, base_url: str) -> bytes: ...

    async def cap_message(self, identifier: str) -> bytes | None: ...

    async def list_hubs(self) -> list[dict[str, Any]]: ...

    async def snapshot(self) -> dict[str, Any]: ...

    async def full_stats(self) -> dict[str, int]: ...


BACKEND: Final = web.AppKey("backend", Backend)
#: Who is acting, set by the auth middleware on every authenticated request.
PRINCIPAL: Final = web.RequestKey("principal", Principal)
SOCKETS: Final = web.AppKey("sockets", set[web.WebSocketResponse])
#: Routes that are no staff's: they check their own credential (a family member's mailbox
#: token, community.web_mailbox). Path prefix -> whether the request's credential is valid;
#: a staff token never opens them, and an invalid credential is a 401.
SELF_AUTHENTICATED: Final = web.AppKey(
    "self_authenticated", dict[str, Callable[[web.Request], bool]]
)


class BadRequestError(ValueError):
    """Input the API refuses; the message goes back to the caller as a 400."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Logs method, path and status; never the query string (it may carry the token)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


# --- middleware ------------------------------------------------------------------------------


def _authorized(request: web.Request) -> Principal | None:
    """The staff account of the request's Bearer token or login cookie, if any."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return request.app[BACKEND].principal(header[len("Bearer ") :].strip())
    cookie = request.cookies.get(COOKIE)
    return None if cookie is None else request.app[BACKEND].principal(cookie)


def _cap_reader(request: web.Request) -> bool:
    """A city platform reading the CAP feed with its read-only token."""
    header = request.headers.get("Authorization", "")
    return (
        request.method == "GET"
        and request.path.startswith(CAP_PREFIX)
        and header.startswith("Bearer ")
        and same_secret(header[len("Bearer ") :].strip(), request.app[BACKEND].cap_token)
    )


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """API errors are JSON; nothing unexpected escapes as an HTML traceback."""
    try:
        return await handler(request)
    except BadRequestError as exc:
        return _error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            return _error(exc.status, exc.reason)
        raise
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return _error(500, "internal error")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    for prefix, valid in request.app.get(SELF_AUTHENTICATED, {}).items():
        if request.path.startswith(prefix):
            return await handler(request) if valid(request) else _error(401, "token refused")
    if request.path in _PUBLIC or _cap_reader(request):
        return await handler(request)
    principal = _authorized(request)
    if principal is None:
        if request.path.startswith("/api/"):
            return _error(401, "the manager token is required")
        raise web.HTTPFound("/login")
    # Least privilege: one table says what each role may do (community.accounts).
    if not may(principal.role, permission_for(request.method, request.path)):
        return _error(403, f"a {principal.role} may not do this")
    request[PRINCIPAL] = principal
    uses_cookie = not request.headers.get("Authorization", "").startswith("Bearer ")
    websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    if uses_cookie and (request.method in _UNSAFE or websocket) and not _same_origin(request):
        return _error(403, "cross-origin request refused")
    return await handler(request)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", _CSP)
    if request.path.startswith("/api/") or request.path == "/login":
        headers.setdefault("Cache-Control", "no-store")


# --- login -----------------------------------------------------------------------------------


def _login_page(error: str = "", status: int = 200) -> web.Response:
    page = (STATIC_DIR / "login.html").read_text(encoding="utf-8")
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    response = web.Response(
        text=page.replace("<!--error-->", message), status=status, content_type="text/html"
    )
    response.headers["Content-Security-Policy"] = _LOGIN_CSP
    return response


def _logged_in(request: web.Request, token: str) -> web.StreamResponse:
    if request.app[BACKEND].principal(token) is None:
        return _login_page("Wrong token. 令牌不正确。", status=401)
    response = web.Response(status=303, headers={"Location": "/"})
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


async def login_get(request: web.Request) -> web.StreamResponse:
    token = request.query.get("token")
    return _login_page() if token is None else _logged_in(request, token)


async def login_post(request: web.Request) -> web.StreamResponse:
    """The login form: ``application/x-www-form-urlencoded`` with exactly one ``token``."""
    tokens: list[str] = []
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            text = (await request.read()).decode("utf-8")
            tokens = urllib.parse.parse_qs(text, max_num_fields=8).get("token", [])
        except (UnicodeDecodeError, ValueError):
            tokens = []
    if len(tokens) != 1:
        return _login_page("Enter the manager token. 请输入管理员令牌。", status=400)
    return _logged_in(request, tokens[0].strip())


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.Response(status=303, headers={"Location": "/login"})
    response.del_cookie(COOKIE, path="/")
    return response


async def dashboard(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


# --- API -------------------------------------------------------------------------------------


def _alarm_id(request: web.Request) -> int:
    text = request.match_info["alarm_id"]
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) == 0:
        raise BadRequestError("alarm id must be a positive integer")
    return int(text)


def _reject_constant(token: str) -> Any:
    raise ValueError(token)


async def _person(request: web.Request) -> tuple[str, str | None]:
    """``{"by": name, "note": text}``, both optional; an empty body acts as ``manager``."""
    # Staff with their own account act under their name unless they name someone.
    default = request[PRINCIPAL].name if PRINCIPAL in request else DEFAULT_PERSON
    raw = await request.read()
    if not raw.strip():
        return default, None
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequestError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    unknown = sorted(str(k)[:40] for k in body if k not in ("by", "note"))
    if unknown:
        raise BadRequestError(f"unknown field(s): {', '.join(unknown)}")
    try:
        by = clean_text(body.get("by", default), "by", MAX_NAME).strip()
        note_raw = body.get("note")
        note = None if note_raw is None else clean_text(note_raw, "note", MAX_NOTE).strip()
    except QueryError as exc:
        raise BadRequestError(str(exc)) from None
    if not by:
        raise BadRequestError("'by' must name the person")
    return by, note or None


async def openapi_document(request: web.Request) -> web.StreamResponse:
    """The OpenAPI 3 document of this server's API (public: it holds no data)."""
    return web.json_response(
        openapi.document(request.app, title="Courtyard community server", version=API_VERSION)
    )


async def health(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[BACKEND].health())


async def list_alarms(request: web.Request) -> web.StreamResponse:
    try:
        query = parse_query_string(list(request.query.items()))
    except QueryError as exc:
        raise BadRequestError(str(exc)) from None
    alarms, total = await request.app[BACKEND].list_alarms(query)
    return web.json_response(
        {"alarms": alarms, "total": total, "limit": query.limit, "offset": query.offset}
    )


async def get_alarm(request: web.Request) -> web.StreamResponse:
    alarm_id = _alarm_id(request)
    alarm = await request.app[BACKEND].get_alarm(alarm_id)
    if alarm is None:
        return _error(404, f"no alarm {alarm_id}")
    return web.json_response(alarm)


async def act_on_alarm(request: web.Request) -> web.StreamResponse:
    alarm_id = _alarm_id(request)
    action = PersonAction(request.match_info["action"])
    by, note = await _person(request)
    try:
        alarm, changed = await request.app[BACKEND].act(alarm_id, action, by, note)
    except AlarmNotFoundError:
        return _error(404, f"no alarm {alarm_id}")
    except TransitionError as exc:
        return _error(409, f"alarm {alarm_id}: {exc}")
    return web.json_response({"alarm": alarm, "changed": changed})


async def list_hubs(request: web.Request) -> web.StreamResponse:
    return web.json_response({"hubs": await request.app[BACKEND].list_hubs()})


async def stats(request: web.Request) -> web.StreamResponse:
    return web.json_response(await request.app[BACKEND].full_stats())


async def _pump(ws: web.WebSocketResponse, sub: Subscription) -> None:
    while not ws.closed:
        if sub.overflowed.is_set():
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"reconnect for a snapshot")
            return
        await ws.send_json(await sub.queue.get())


async def live(request: web.Request) -> web.StreamResponse:
    """Snapshot first, then every alarm and hub change as it is committed."""
    backend = request.app[BACKEND]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    # Subscribe before reading the snapshot: a change committed in between then arrives
    # twice (harmless, clients upsert by id) instead of never.
    sub = backend.feed.subscribe()
    try:
        await ws.send_json({"type": "snapshot", **await backend.snapshot()})
        sender = asyncio.create_task(_pump(ws, sub))
        try:
            async for _ in ws:
                pass  # the feed is one-way; client frames are ignored
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    finally:
        backend.feed.unsubscribe(sub)
        request.app[SOCKETS].discard(ws)
    return ws


async def _close_sockets(app: web.Application) -> None:
    sockets: set[web.WebSocketResponse] = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")


def make_app(backend: Backend) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware], client_max_size=MAX_BODY
    )
    app[BACKEND] = backend
    app[SOCKETS] = set()
    app[SELF_AUTHENTICATED] = {}
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", dashboard)
    app.router.add_static("/static/", STATIC_DIR)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/openapi.json", openapi_document)
    app.router.add_get("/api/alarms", list_alarms)
    app.router.add_get("/api/alarms/{alarm_id}", get_alarm)
    app.router.add_post("/api/alarms/{alarm_id}/{action:ack|clear}", act_on_alarm)
    app.router.add_get("/api/hubs", list_hubs)
    app.router.add_get("/api/stats", stats)
    app.router.add_get("/api/ws", live)
    return app
