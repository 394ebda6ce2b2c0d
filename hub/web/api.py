"""The resident's JSON API: discovered devices, pairing, and one device at a time.

Every route needs the admin token (see ``hub.web.auth``). Input is untrusted: a bad request
is answered ``400 {"error": …, "code": …}`` and changes nothing; an unknown device is 404;
a request the current state refuses (window closed, already paired) is 409. Nothing a
client sends can produce a 500.

    GET    /api/pairing/discovered        unpaired devices on the LAN, with their window
    POST   /api/pairing/pair              {device_id, code, name, room[, fingerprint]}
                                          or {qr, name, room}
    GET    /api/devices/{id}              the device, its state and its last events
    PATCH  /api/devices/{id}              {name?, room?}
    DELETE /api/devices/{id}?grace_s=N    remove (after N s, undo-able until then)
    POST   /api/devices/{id}/undo-remove  cancel a pending removal
    POST   /api/devices/{id}/commands     {command, args?}: e.g. a self-test; waits for the ack
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from aiohttp import web

from devices.catalog import CommandName
from devices.messages import DEVICE_ID_RE, Ack
from hub.discovery import DiscoveredDevice
from hub.pairing import PairingError, PairRequest, Refusal, WindowView, clean_label
from hub.registry import DeviceRecord
from hub.removal import PendingRemoval
from hub.web.auth import is_admin

_LOG = logging.getLogger(__name__)

MAX_BODY: Final = 8 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ResidentHub(Protocol):
    """What the resident UI and API need from the hub."""

    @property
    def hub_id(self) -> str: ...

    def devices(self) -> list[DeviceRecord]: ...

    def device(self, device_id: str) -> DeviceRecord | None: ...

    def device_fingerprint(self, device_id: str) -> str | None: ...

    def recent_events(self, device_id: str, limit: int = 5) -> list[dict[str, Any]]: ...

    def pending_removal(self, device_id: str) -> PendingRemoval | None: ...

    def discovered(self) -> list[DiscoveredDevice]: ...

    def pairing_window(self, device: DiscoveredDevice) -> WindowView: ...

    async def pair_device(self, request: PairRequest) -> DeviceRecord: ...

    def relabel_device(self, device_id: str, name: str, room: str) -> DeviceRecord: ...

    async def remove_device(self, device_id: str, grace_s: float = 0) -> PendingRemoval | None: ...

    def undo_remove(self, device_id: str) -> bool: ...

    async def send_command(
        self, device_id: str, command: CommandName, args: dict[str, Any] | None = None
    ) -> Ack: ...


class BadRequestError(ValueError):
    """Refused input; the message is returned as a 400."""


def error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status)


def device_json(hub: ResidentHub, record: DeviceRecord) -> dict[str, Any]:
    """A device as the UI shows it: its record, key fingerprint, last events, removal."""
    pending = hub.pending_removal(record.device_id)
    return {
        **record.to_json(),
        "fingerprint": hub.device_fingerprint(record.device_id),
        "events": hub.recent_events(record.device_id),
        "removing_at": pending.final_at if pending else None,
    }


def discovered_json(hub: ResidentHub) -> list[dict[str, Any]]:
    paired = {d.device_id: hub.device_fingerprint(d.device_id) for d in hub.devices()}
    result = []
    for found in hub.discovered():
        window = hub.pairing_window(found)
        result.append(
            {
                **found.to_json(),
                "paired": paired.get(found.device_id, "") == found.fingerprint,
                "window_open": window.open,
                "attempts_left": window.attempts_left,
                "window_closes_at": window.closes_at,
            }
        )
    return result


def _reject_constant(token: str) -> Any:
    raise ValueError(token)


async def json_body(request: web.Request) -> Any:
    """The request's JSON body (at most ``MAX_BODY`` bytes); BadRequestError otherwise."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BadRequestError("the body is too large")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequestError("the body must be JSON") from None


def _device_id(request: web.Request) -> str:
    device_id = request.match_info["device_id"]
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise BadRequestError("not a valid device id")
    return device_id


def admin_only(admin_token: Callable[[], str], area: str) -> Callable[[Handler], Handler]:
    """Wrap a resident page's handler: the hub's admin token first, then bad input as a 400
    and anything unexpected as a logged 500, so every API of the hub fails the same way."""

    def guarded(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            if not is_admin(request, admin_token()):
                return error(401, "the hub's admin token is required", "unauthorized")
            try:
                return await handler(request)
            except BadRequestError as exc:
                return error(400, str(exc), "bad_request")
            except web.HTTPException:
                raise
            except Exception:
                _LOG.exception("%s: %s %s failed", area, request.method, request.path)
                return error(500, "internal error", "internal")

        return run

    return guarded


def add_resident_api(
    app: web.Application, hub: ResidentHub, admin_token: Callable[[], str]
) -> None:
    def guarded(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            if not is_admin(request, admin_token()):
                return error(401, "the hub's admin token is required", "unauthorized")
            try:
                return await handler(request)
            except PairingError as refused:
                return web.json_response(refused.to_json(), status=refused.status)
            except BadRequestError as exc:
                return error(400, str(exc), str(Refusal.BAD_REQUEST))
            except web.HTTPException:
                raise
            except Exception:
                _LOG.exception("resident API: %s %s failed", request.method, request.path)
                return error(500, "internal error", "internal")

        return run

    async def discovered(request: web.Request) -> web.StreamResponse:
        return web.json_response({"discovered": discovered_json(hub)})

    async def pair(request: web.Request) -> web.StreamResponse:
        pair_request = PairRequest.from_json(await json_body(request))
        record = await hub.pair_device(pair_request)
        return web.json_response({"device": device_json(hub, record)})

    async def get_device(request: web.Request) -> web.StreamResponse:
        device_id = _device_id(request)
        record = hub.device(device_id)
        if record is None:
            return error(404, f"no device {device_id}", "not_found")
        return web.json_response({"device": device_json(hub, record)})

    async def patch_device(request: web.Request) -> web.StreamResponse:
        device_id = _device_id(request)
        body = await json_body(request)
        if not isinstance(body, dict) or not body or set(body) - {"name", "room"}:
            raise BadRequestError("send an object with name and/or room")
        record = hub.device(device_id)
        if record is None:
            return error(404, f"no device {device_id}", "not_found")
        name = clean_label(body.get("name", record.name), "name")
        room = clean_label(body.get("room", record.room), "room")
        return web.json_response(
            {"device": device_json(hub, hub.relabel_device(device_id, name, room))}
        )

    async def delete_device(request: web.Request) -> web.StreamResponse:
        device_id = _device_id(request)
        text = request.query.get("grace_s", "0")
        try:
            grace = float(text)
        except ValueError:
            raise BadRequestError("grace_s must be a number of seconds") from None
        if not 0 <= grace <= 60:
            raise BadRequestError("grace_s must be 0..60")
        if hub.device(device_id) is None:
            return error(404, f"no device {device_id}", "not_found")
        pending = await hub.remove_device(device_id, grace)
        if pending is None:
            return web.json_response({"removed": device_id})
        return web.json_response({"removing": device_id, "final_at": pending.final_at})

    async def undo_remove(request: web.Request) -> web.StreamResponse:
        device_id = _device_id(request)
        if not hub.undo_remove(device_id):
            return error(409, f"no pending removal of {device_id} to undo", "not_pending")
        return web.json_response({"restored": device_id})

    async def command(request: web.Request) -> web.StreamResponse:
        device_id = _device_id(request)
        body = await json_body(request)
        if not isinstance(body, dict) or set(body) - {"command", "args"}:
            raise BadRequestError("send {command, args?}")
        try:
            name = CommandName(str(body.get("command")))
        except ValueError:
            raise BadRequestError("unknown command") from None
        args = body.get("args", {})
        if not isinstance(args, dict):
            raise BadRequestError("args must be an object")
        if hub.device(device_id) is None:
            return error(404, f"no device {device_id}", "not_found")
        try:
            ack = await hub.send_command(device_id, name, args)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        return web.json_response({"ok": ack.ok, "error": ack.error, "command": str(name)})

    app.router.add_get("/api/pairing/discovered", guarded(discovered))
    app.router.add_post("/api/pairing/pair", guarded(pair))
    app.router.add_get("/api/devices/{device_id}", guarded(get_device))
    app.router.add_patch("/api/devices/{device_id}", guarded(patch_device))
    app.router.add_delete("/api/devices/{device_id}", guarded(delete_device))
    app.router.add_post("/api/devices/{device_id}/undo-remove", guarded(undo_remove))
    app.router.add_post("/api/devices/{device_id}/commands", guarded(command))
