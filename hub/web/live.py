"""``GET /api/live``: a WebSocket that pushes the home's devices to the resident's browser.

A snapshot first, then a message whenever the bus says something the page shows changed:
a device's state or events, its link, a pairing, a rename or removal, the discovered list,
a command's result, a community notice arriving or being read (``{"type": "notices"}``: the
page fetches the list again). Each socket has a bounded queue; a browser that cannot keep up is
disconnected (and reconnects for a fresh snapshot) rather than growing the hub's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

from aiohttp import WSCloseCode, web

from hub.core import BusEvent, EventBus
from hub.events import (
    CommandResult,
    DeviceConnected,
    DeviceDisconnected,
    DeviceEventFired,
    StateChanged,
)
from hub.notices import NoticesChanged
from hub.resident_events import DeviceChanged, DeviceRemoved, DiscoveryChanged
from hub.web.api import ResidentHub, device_json, discovered_json
from hub.web.auth import is_admin

_LOG = logging.getLogger(__name__)

QUEUE_LIMIT: Final = 256


class LiveFeed:
    """Fans bus events out to every open resident socket."""

    def __init__(self, hub: ResidentHub, bus: EventBus) -> None:
        self._hub = hub
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        for kind in (StateChanged, DeviceEventFired, DeviceConnected, DeviceDisconnected):
            self._unsubscribe.append(bus.subscribe(kind, self._on_device))
        self._unsubscribe += [
            bus.subscribe(DeviceChanged, self._on_device),
            bus.subscribe(DeviceRemoved, self._on_removed),
            bus.subscribe(DiscoveryChanged, self._on_discovery),
            bus.subscribe(CommandResult, self._on_command),
            bus.subscribe(NoticesChanged, self._on_notices),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for queue in list(self._queues):
            self._offer(queue, None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "hub_id": self._hub.hub_id,
            "devices": [device_json(self._hub, d) for d in self._hub.devices()],
            "discovered": discovered_json(self._hub),
        }

    def _publish(self, message: dict[str, Any]) -> None:
        for queue in list(self._queues):
            self._offer(queue, message)

    def _offer(
        self, queue: asyncio.Queue[dict[str, Any] | None], item: dict[str, Any] | None
    ) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            self._queues.discard(queue)
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()  # make room for the end-of-feed marker
            queue.put_nowait(None)

    def _on_device(self, event: BusEvent[Any]) -> None:
        device_id = getattr(event.data, "device_id", None)
        if device_id is None and isinstance(event.data, DeviceEventFired):
            device_id = event.data.device.device_id
        if not isinstance(device_id, str) or not self._queues:
            return
        record = self._hub.device(device_id)
        if record is not None:
            self._publish({"type": "device", "device": device_json(self._hub, record)})

    def _on_removed(self, event: BusEvent[DeviceRemoved]) -> None:
        self._publish({"type": "device_removed", "device_id": event.data.device_id})

    def _on_discovery(self, event: BusEvent[DiscoveryChanged]) -> None:
        if self._queues:
            self._publish({"type": "discovered", "discovered": discovered_json(self._hub)})

    def _on_notices(self, event: BusEvent[NoticesChanged]) -> None:
        self._publish({"type": "notices"})

    def _on_command(self, event: BusEvent[CommandResult]) -> None:
        result = event.data
        self._publish(
            {
                "type": "command_result",
                "device_id": result.device_id,
                "command": str(result.command),
                "ok": result.ack.ok,
                "error": result.ack.error,
            }
        )

    async def serve(self, request: web.Request, admin_token: str) -> web.StreamResponse:
        if not is_admin(request, admin_token):
            return web.json_response(
                {"error": "the hub's admin token is required", "code": "unauthorized"},
                status=401,
            )
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
        await ws.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_LIMIT)
        self._queues.add(queue)
        try:
            await ws.send_json(self.snapshot())
            sender = asyncio.create_task(self._pump(ws, queue))
            try:
                async for _ in ws:
                    pass  # one-way feed: client frames are ignored
            finally:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
        finally:
            self._queues.discard(queue)
        return ws

    async def _pump(
        self, ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        while not ws.closed:
            item = await queue.get()
            if item is None:
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"reconnect")
                return
            await ws.send_json(item)
