"""Who may use the resident UI and API: whoever holds the hub's admin token.

Scripts send it as ``Authorization: Bearer``; the browser gets it once through ``/login``
and keeps it in an HttpOnly, SameSite=Strict cookie that page scripts cannot read. A
cookie-authenticated request that changes something (or opens the live WebSocket) must
also come from this hub's own origin.
"""

from __future__ import annotations

import hmac
from typing import Final

from aiohttp import web

COOKIE: Final = "courtyard_hub_admin"
COOKIE_MAX_AGE: Final = 30 * 24 * 3600
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def same_secret(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode())


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


def is_admin(request: web.Request, admin_token: str) -> bool:
    """Bearer token or login cookie; a cookie only for same-origin changes and sockets."""
    bearer = _bearer(request)
    if bearer is not None:
        return same_secret(bearer, admin_token)
    cookie = request.cookies.get(COOKIE)
    if cookie is None or not same_secret(cookie, admin_token):
        return False
    websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    if request.method in _UNSAFE or websocket:
        origin = request.headers.get("Origin")
        return origin is None or origin == f"{request.scheme}://{request.host}"
    return True


def set_login_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
