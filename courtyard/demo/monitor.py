"""A dashboard client of the demo: prints the live alarm table and measures alarm latency.

It connects to the community's dashboard WebSocket exactly as the browser page does, so the
latency it measures is the whole path a duty officer sees: device event → hub → broker →
community (stored) → pushed to a dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

_SEVERITY_MARK = {"critical": "!!!", "alert": " ! ", "info": " i "}


class AlarmSource(Protocol):
    def alarms(self, **filters: Any) -> list[dict[str, Any]]: ...


class AlarmMonitor:
    def __init__(self, base_url: str, token: str, say: Callable[[str], None]) -> None:
        self._base = base_url
        self._token = token
        self._say = say
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._connected = asyncio.Event()
        #: First time each alarm id was pushed, and the latency of that push in ms.
        self.first_seen: dict[int, float] = {}
        self.latencies_ms: dict[int, float] = {}
        self.pushes = 0

    @staticmethod
    def header() -> str:
        return (
            f"{'sev':>3} {'age':>6}  {'home':<7} {'room':<9} {'device':<22} {'kind':<15} "
            f"{'status':<18} {'latency':>8}"
        )

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self._token}"})
        self._task = asyncio.create_task(self._run(), name="demo-alarm-monitor")
        await asyncio.wait_for(self._connected.wait(), 15)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        assert self._session is not None
        while True:
            try:
                async with self._session.ws_connect(f"{self._base}/api/ws", heartbeat=20) as ws:
                    self._connected.set()
                    async for msg in ws:
                        if msg.type is aiohttp.WSMsgType.TEXT:
                            self._on_message(msg.json())
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.5)

    def _on_message(self, message: dict[str, Any]) -> None:
        now_ms = time.time() * 1000
        if message.get("type") == "snapshot":
            for alarm in message.get("alarms", []):
                self.first_seen.setdefault(int(alarm["id"]), now_ms)
            return
        if message.get("type") != "alarm":
            return
        alarm = message["alarm"]
        self.pushes += 1
        alarm_id = int(alarm["id"])
        latency = ""
        if alarm_id not in self.first_seen:
            self.first_seen[alarm_id] = now_ms
            event_ts = alarm.get("event_ts")
            if isinstance(event_ts, int | float):
                self.latencies_ms[alarm_id] = now_ms - event_ts
                latency = f"{now_ms - event_ts:6.1f}ms"
        status = alarm["status"] + (" ack" if alarm.get("acknowledged") else " unack")
        if alarm.get("count", 1) > 1:
            status += f" x{alarm['count']}"
        if alarm.get("escalation_tier"):
            status += f" tier {alarm['escalation_tier']}"
        age = max(0.0, (now_ms - float(alarm.get("event_ts") or now_ms)) / 1000)
        self._say(
            f"{_SEVERITY_MARK.get(alarm['severity'], '   ')} {age:5.1f}s  {alarm['home_id']:<7} "
            f"{alarm.get('room', ''):<9} {alarm.get('device_name', alarm['device_id'])[:22]:<22} "
            f"{alarm['kind']:<15} {status:<18} {latency:>8}"
        )

    async def settle(self, source: AlarmSource, within_s: float) -> None:
        """Wait until every alarm the server recorded has been pushed to this client."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            ids = {int(a["id"]) for a in source.alarms()}
            if ids <= self.first_seen.keys():
                return
            await asyncio.sleep(0.1)
