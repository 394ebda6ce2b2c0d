"""Fixtures for hub tests: real hubs on 127.0.0.1 port 0, real SQLite files in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import Hub, HubConfig
from tests.support.mosquitto import free_port

MakeHub = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def make_hub(tmp_path: Path) -> AsyncIterator[MakeHub]:
    """Build and start hubs; the default MQTT port has no broker (the uplink stays down)."""
    hubs: list[Hub] = []
    dead_port = free_port()

    async def make(*, start: bool = True, **overrides: Any) -> Hub:
        fields: dict[str, Any] = {
            "hub_id": "hub-1",
            "home_id": "home-1",
            "data_dir": tmp_path / f"hub-data-{len(hubs)}",
            "mqtt_host": "127.0.0.1",
            "mqtt_port": dead_port,
            "mqtt_password": "hub-secret",
        }
        fields.update(overrides)
        hub = Hub(HubConfig(**{"consent": "open", **fields}))
        hubs.append(hub)
        if start:
            await hub.start()
        return hub

    yield make
    for hub in hubs:
        await hub.stop()
