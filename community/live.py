"""Fan-out of live updates to dashboard connections, without letting one slow screen hurt.

Each connection gets its own bounded queue. Publishing never waits: a connection whose queue
is full is marked overflowed and closed by its handler, and the browser reconnects and gets
a fresh snapshot — so memory stays bounded and the other screens keep updating.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

DEFAULT_QUEUE: Final = 1000


class Subscription:
    __slots__ = ("overflowed", "queue")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(size)
        self.overflowed = asyncio.Event()


class LiveFeed:
    """Loop-thread only: ``publish`` must be called on the event loop that owns the feed."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE) -> None:
        self._size = queue_size
        self._subscribers: set[Subscription] = set()

    def subscribe(self) -> Subscription:
        sub = Subscription(self._size)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, message: dict[str, Any]) -> None:
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                sub.overflowed.set()
                self._subscribers.discard(sub)

    def alarm(self, alarm: dict[str, Any]) -> None:
        self.publish({"type": "alarm", "alarm": alarm})

    def hub(self, hub: dict[str, Any]) -> None:
        self.publish({"type": "hub", "hub": hub})

    def __len__(self) -> int:
        return len(self._subscribers)
