"""The hub core: contexts chain, and the bus survives its listeners."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from hub.core import BusEvent, Context, EventBus


@dataclass(frozen=True, slots=True)
class Ping:
    n: int


@dataclass(frozen=True, slots=True)
class Pong:
    n: int


async def test_listeners_get_their_payload_type_and_a_failing_one_breaks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    got: list[int] = []
    later: list[int] = []

    def broken(event: BusEvent[Ping]) -> None:
        raise RuntimeError("listener bug")

    async def slow(event: BusEvent[Ping]) -> None:
        await asyncio.sleep(0)
        later.append(event.data.n)

    async def broken_async(event: BusEvent[Ping]) -> None:
        raise RuntimeError("async listener bug")

    bus.subscribe(Ping, broken)
    bus.subscribe(Ping, broken_async)
    bus.subscribe(Ping, lambda e: got.append(e.data.n))
    bus.subscribe(Ping, slow)
    bus.subscribe(Pong, lambda e: got.append(-e.data.n))
    with caplog.at_level(logging.ERROR, logger="hub.core"):
        fired = bus.fire(Ping(1))
        await bus.drain()
    assert got == [1] and later == [1]
    assert fired.context.parent_id is None and len(fired.context.id) == 32
    assert sum("failed" in r.message for r in caplog.records) == 2


async def test_unsubscribe_and_context_children() -> None:
    bus = EventBus()
    got: list[BusEvent[Ping]] = []
    unsubscribe = bus.subscribe(Ping, got.append)
    root = Context(user_id="resident-1")
    bus.fire(Ping(1), root.child())
    unsubscribe()
    bus.fire(Ping(2))
    assert [e.data.n for e in got] == [1]
    assert got[0].context.parent_id == root.id and got[0].context.user_id == "resident-1"
