"""The native device link: one WebSocket per device at ``GET /api/device/ws``.

A device authenticates with its bearer token (unknown token: HTTP 401 before any upgrade),
says ``hello``, then sends reports with increasing ``seq``. Every frame is validated by
``devices.messages.parse_message``; a bad one gets an ``error`` reply naming the code and the
seq it refers to (when readable), changes nothing, and the link stays open — until 20
consecutive errors, which only a broken or hostile device produces.

A report is acked only after :class:`~hub.intake.Intake` committed it; for an event that
means its outbox row is on disk. Commands go the other way with a ``command_id`` the device
echoes in its ack; each waiting caller holds a future keyed by that id.

A new link for a device replaces the older one (the device rebooted, or its old TCP
connection is half-dead): the newest connection is the one a command must reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from enum import IntEnum
from typing import Any

from aiohttp import WSMsgType, web

from devices.catalog import MAX_MESSAGE_BYTES, CommandName
from devices.messages import (
    Ack,
    Command,
    ErrorCode,
    Event,
    Heartbeat,
    Hello,
    InteropError,
    Message,
    State,
    encode,
    parse_message,
)
from devices.messages import Error as ErrorMessage
from hub.core import Context, EventBus
from hub.events import DeviceConnected, DeviceDisconnected
from hub.intake import Intake, Verdict
from hub.outbox import OutboxFullError
from hub.registry import DeviceRegistry
from hub.store import StoredDevice

_LOG = logging.getLogger(__name__)

WS_PATH = "/api/device/ws"
#: Frames between the interop limit and this size get a ``too_large`` error reply; above it
#: aiohttp closes the socket (1009) without buffering more, which protects the hub's memory.
HARD_FRAME_LIMIT = 4 * MAX_MESSAGE_BYTES
MAX_CONSECUTIVE_ERRORS = 20
HELLO_TIMEOUT_S = 10.0
PING_INTERVAL_S = 30.0
#: How long a close waits for the device's close frame before dropping the socket.
CLOSE_TIMEOUT_S = 2.0
_MAX_REF = 64
_MAX_TEXT = 256


class LinkClose(IntEnum):
    """WebSocket close codes the hub uses (4000-4999 are for applications)."""

    GOING_AWAY = 1001
    INTERNAL_ERROR = 1011
    REPLACED = 4000
    WRONG_DEVICE = 4001
    TOO_MANY_ERRORS = 4002
    TOKEN_ROTATED = 4003
    HELLO_TIMEOUT = 4004


def bearer_token(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


def _readable_ref(raw: str) -> str:
    """The seq of a rejected message if it can be read at all, for the error's ``ref``."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return ""
    seq = obj.get("seq") if isinstance(obj, dict) else None
    if isinstance(seq, int) and not isinstance(seq, bool):
        return str(seq)[:_MAX_REF]
    return ""


class DeviceLink:
    """One open connection to one device."""

    def __init__(self, device: StoredDevice, ws: web.WebSocketResponse) -> None:
        self.device = device
        self.ws = ws
        self.pending: dict[str, asyncio.Future[Ack]] = {}
        self._send_lock = asyncio.Lock()

    async def send(self, message: Message) -> bool:
        """Send one message; False if the connection is already gone."""
        if self.ws.closed:
            return False
        try:
            async with self._send_lock:
                await self.ws.send_str(encode(message))
        except (ConnectionError, RuntimeError):
            _LOG.debug("device %s: send on a closing link", self.device.device_id)
            return False
        return True

    async def send_error(self, code: ErrorCode, reason: str, ref: str) -> None:
        _LOG.warning("device %s: %s: %s (ref %r)", self.device.device_id, code, reason, ref)
        await self.send(ErrorMessage(code=code, message=reason[:_MAX_TEXT], ref=ref[:_MAX_REF]))

    def resolve(self, ack: Ack) -> bool:
        future = self.pending.get(ack.ref)
        if future is None or future.done():
            return False
        future.set_result(ack)
        return True

    def fail_pending(self, error: str) -> None:
        for command_id, future in self.pending.items():
            if not future.done():
                future.set_result(Ack(ref=command_id, ok=False, error=error))

    async def close(self, code: LinkClose, reason: str) -> None:
        self.fail_pending("disconnected")
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=int(code), message=reason.encode())


class LinkServer:
    """Accepts device links, keeps the current one per device, and sends commands."""

    def __init__(self, *, registry: DeviceRegistry, intake: Intake, bus: EventBus) -> None:
        self._registry = registry
        self._intake = intake
        self._bus = bus
        self._links: dict[str, DeviceLink] = {}
        self._closing = False

    def connected(self) -> list[str]:
        return sorted(self._links)

    def is_connected(self, device_id: str) -> bool:
        return device_id in self._links

    # --- serving -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = bearer_token(request.headers.get("Authorization", ""))
        device = self._registry.authenticate(token) if token else None
        if device is None:
            _LOG.warning("device link from %s refused: unknown token", request.remote)
            raise web.HTTPUnauthorized(text="unknown device token")
        if self._closing:
            raise web.HTTPServiceUnavailable(text="hub stopping")
        ws = web.WebSocketResponse(
            max_msg_size=HARD_FRAME_LIMIT,
            heartbeat=PING_INTERVAL_S,
            timeout=CLOSE_TIMEOUT_S,
            # Frames are a few hundred bytes; no per-message deflate to decompress for anyone.
            compress=False,
        )
        await ws.prepare(request)
        link = DeviceLink(device, ws)
        try:
            if await self._hello(link):
                await self._serve(link)
        finally:
            link.fail_pending("disconnected")
            if self._links.get(device.device_id) is link:
                del self._links[device.device_id]
                self._bus.fire(DeviceDisconnected(device.device_id))
            if not ws.closed:
                await link.close(LinkClose.GOING_AWAY, "bye")
        return ws

    async def _hello(self, link: DeviceLink) -> bool:
        device = link.device
        errors = 0
        while errors < MAX_CONSECUTIVE_ERRORS:
            try:
                frame = await link.ws.receive(HELLO_TIMEOUT_S)
            except TimeoutError:
                await link.close(LinkClose.HELLO_TIMEOUT, "no hello")
                return False
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return False
            message = await self._parse(link, frame.type, frame.data)
            if message is None:
                errors += 1
                continue
            if not isinstance(message, Hello):
                await link.send_error(ErrorCode.UNKNOWN_TYPE, "send hello first", "")
                errors += 1
                continue
            if message.device_id != device.device_id or message.kind != device.kind:
                await link.send_error(
                    ErrorCode.WRONG_DEVICE, "this token belongs to another device", "hello"
                )
                await link.close(LinkClose.WRONG_DEVICE, "wrong device")
                return False
            old = self._links.get(device.device_id)
            self._links[device.device_id] = link
            if old is not None:
                _LOG.info("device %s reconnected: replacing its older link", device.device_id)
                await old.close(LinkClose.REPLACED, "replaced by a newer connection")
            self._intake.heard(device, Context(), persist=True)
            await link.send(Ack(ref="hello"))
            _LOG.info("device %s connected (%s %s)", device.device_id, message.model, device.kind)
            self._bus.fire(DeviceConnected(device.device_id))
            return True
        await link.close(LinkClose.TOO_MANY_ERRORS, "too many errors")
        return False

    async def _serve(self, link: DeviceLink) -> None:
        errors = 0
        while True:
            frame = await link.ws.receive()
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                if frame.type is WSMsgType.ERROR:
                    _LOG.warning("device %s: link error %s", link.device.device_id, frame.data)
                return
            ok = await self._on_frame(link, frame.type, frame.data)
            errors = 0 if ok else errors + 1
            if errors >= MAX_CONSECUTIVE_ERRORS:
                _LOG.warning(
                    "device %s: %d errors in a row, closing", link.device.device_id, errors
                )
                await link.close(LinkClose.TOO_MANY_ERRORS, "too many errors")
                return

    async def _parse(self, link: DeviceLink, kind: WSMsgType, data: Any) -> Message | None:
        if kind is WSMsgType.BINARY:
            await link.send_error(ErrorCode.MALFORMED, "binary frames are not supported", "")
            return None
        try:
            return parse_message(data)
        except InteropError as exc:
            await link.send_error(exc.code, exc.reason, _readable_ref(data))
            return None

    async def _on_frame(self, link: DeviceLink, kind: WSMsgType, data: Any) -> bool:
        """Handle one frame after hello; False if it earned the device an error."""
        message = await self._parse(link, kind, data)
        device = link.device
        match message:
            case None:
                return False
            case State() | Event() | Heartbeat():
                return await self._on_report(link, message)
            case Ack():
                if not link.resolve(message):
                    _LOG.debug("device %s: ack for unknown ref %r", device.device_id, message.ref)
                return True
            case ErrorMessage():
                _LOG.warning(
                    "device %s reports %s: %s", device.device_id, message.code, message.message
                )
                link.resolve(Ack(ref=message.ref, ok=False, error=str(message.code)))
                return True
            case Hello() if message.device_id == device.device_id and message.kind == device.kind:
                await link.send(Ack(ref="hello"))
                return True
            case Hello():
                await link.send_error(ErrorCode.WRONG_DEVICE, "hello for another device", "hello")
                await link.close(LinkClose.WRONG_DEVICE, "wrong device")
                return False
            case _:
                await link.send_error(ErrorCode.UNKNOWN_TYPE, "a device does not send commands", "")
                return False

    async def _on_report(self, link: DeviceLink, message: State | Event | Heartbeat) -> bool:
        device = link.device
        ref = str(message.seq)
        if message.device_id != device.device_id or message.kind != device.kind:
            await link.send_error(ErrorCode.WRONG_DEVICE, "message for another device", ref)
            return False
        verdict = self._intake.verdict(message)
        if verdict is Verdict.DUPLICATE:
            await link.send(Ack(ref=ref))
            return True
        if verdict is Verdict.REGRESSION:
            await link.send_error(
                ErrorCode.SEQUENCE_REGRESSION,
                f"seq {message.seq} is not after the last accepted one",
                ref,
            )
            return False
        context = Context()
        try:
            self._intake.heard(device, context)
            committed = self._intake.commit(device, message, context)
        except OutboxFullError as full:
            # No ack: the device keeps the alarm and resends it once it reconnects.
            _LOG.error(
                "device %s: %s; not acknowledged, the device keeps it", device.device_id, full
            )
            await link.close(LinkClose.INTERNAL_ERROR, "outbox full")
            return False
        except Exception:
            # Storage failed: no ack, so the device keeps the message and resends it.
            _LOG.exception("device %s: cannot store seq %s", device.device_id, message.seq)
            await link.close(LinkClose.INTERNAL_ERROR, "storage failure")
            return False
        try:
            await link.send(Ack(ref=ref))
        finally:
            self._intake.announce(committed)
        return True

    # --- commands and shutdown -------------------------------------------------------------

    async def send_command(
        self,
        device_id: str,
        command: CommandName,
        args: dict[str, Any],
        wait_s: float,
    ) -> Ack:
        """Send a command and wait for the device's ack; failures come back as ``ok=False``."""
        link = self._links.get(device_id)
        command_id = uuid.uuid4().hex
        if link is None:
            return Ack(ref=command_id, ok=False, error="not_connected")
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        link.pending[command_id] = future
        try:
            sent = await link.send(Command(device_id, command_id, command, args))
            if not sent:
                return Ack(ref=command_id, ok=False, error="disconnected")
            return await asyncio.wait_for(future, wait_s)
        except TimeoutError:
            return Ack(ref=command_id, ok=False, error="timeout")
        finally:
            link.pending.pop(command_id, None)

    async def drop(self, device_id: str, code: LinkClose, reason: str) -> None:
        link = self._links.pop(device_id, None)
        if link is not None:
            await link.close(code, reason)
            self._bus.fire(DeviceDisconnected(device_id))

    async def close_all(self) -> None:
        self._closing = True
        links = list(self._links.values())
        await asyncio.gather(*(link.close(LinkClose.GOING_AWAY, "hub stopping") for link in links))
