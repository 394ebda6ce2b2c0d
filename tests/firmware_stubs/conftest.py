"""Fixtures: a running fake hub, and a factory for devices linked to it with short intervals."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

from firmware_stubs import DeviceIdentity, SimulatedDevice
from tests.firmware_stubs.fakehub import FakeHub

D = TypeVar("D", bound=SimulatedDevice)

#: Intervals that keep tests short; each test overrides what it is about.
FAST: dict[str, Any] = {"heartbeat_s": 5.0, "telemetry_s": 5.0, "tick_s": 0.02}


class MakeDevice(Protocol):
    def __call__(
        self, cls: type[D], device_id: str, *, connect: bool = True, **kwargs: Any
    ) -> Awaitable[D]: ...


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    server = FakeHub()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
    server.assert_protocol_ok()


@pytest.fixture
async def make_device(hub: FakeHub, tmp_path: Path) -> AsyncIterator[MakeDevice]:
    """Build a device of a class, provision it at the hub, start it, wait for its link."""
    started: list[SimulatedDevice] = []

    async def make(cls: type[D], device_id: str, *, connect: bool = True, **kwargs: Any) -> D:
        assert cls.kind is not None
        token = kwargs.pop("token", None) or hub.provision(device_id, cls.kind)
        options = {**FAST, "rng": random.Random(device_id), **kwargs}
        identity = DeviceIdentity.default(cls.kind, device_id)
        device = cls(identity, hub.url, token, **options)
        started.append(device)
        await device.start()
        if connect:
            await device.wait_connected()
        return device

    yield make
    for device in started:
        await device.stop()
