"""The hub's small local JSON API, on the same aiohttp app as the device link.

``GET /api/health`` is open (a liveness probe reveals nothing about the home).
Everything else needs the hub's admin token — random, created at first start in
``data_dir/admin.token`` (mode 0600), sent as ``Authorization: Bearer`` (or the resident UI's
login cookie, see ``hub.web.auth``). There is no default
password to forget to change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from hub.registry import DeviceRecord
from hub.web.auth import is_admin


class HubView(Protocol):
    """What the API reads from the hub."""

    @property
    def hub_id(self) -> str: ...

    @property
    def uplink_connected(self) -> bool: ...

    def outbox_pending(self) -> int: ...

    def devices(self) -> list[DeviceRecord]: ...


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_api_routes(app: web.Application, hub: HubView, admin_token: Callable[[], str]) -> None:
    def require_admin(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not is_admin(request, admin_token()):
                raise web.HTTPUnauthorized(
                    text="admin token required", headers={"WWW-Authenticate": "Bearer"}
                )
            return await handler(request)

        return guarded

    async def health(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "hub_id": hub.hub_id,
                "uplink": hub.uplink_connected,
                "outbox": hub.outbox_pending(),
            }
        )

    async def devices(request: web.Request) -> web.StreamResponse:
        return web.json_response({"devices": [d.to_json() for d in hub.devices()]})

    app.router.add_get("/api/health", health)
    app.router.add_get("/api/devices", require_admin(devices))
