"""The hub's core: a context on everything, an event bus, and the in-memory device states.

Shaped after Home Assistant's core. Every bus event carries a :class:`Context` whose
``parent_id`` points at the context that caused it, so "why did the hall alarm start
sounding?" is answered by following parents back to the kitchen alarm's smoke event.

The bus is typed by payload class: ``bus.subscribe(DeviceEventFired, listener)`` hands the
listener ``BusEvent[DeviceEventFired]``. A listener may be a plain function or a coroutine
function; a failing listener is logged and never stops the others or the caller, because the
code that fires (a device link acknowledging an alarm) must not depend on who is listening.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Generic, TypeVar

_LOG = logging.getLogger(__name__)
T = TypeVar("T")


def now_ms() -> int:
    """Wall-clock milliseconds since the Unix epoch (the interop ``ts`` unit)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Context:
    """Who or what caused something: ``id`` is unique, ``parent_id`` is the cause's id."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user_id: str | None = None
    parent_id: str | None = None

    def child(self) -> Context:
        """A new context caused by this one (same user)."""
        return Context(user_id=self.user_id, parent_id=self.id)


@dataclass(frozen=True, slots=True)
class BusEvent(Generic[T]):
    data: T
    context: Context
    time_fired: int


Listener = Callable[[BusEvent[T]], Awaitable[None] | None]


class EventBus:
    """Typed publish/subscribe inside one hub process, on its event loop."""

    def __init__(self) -> None:
        self._listeners: dict[type[Any], list[Listener[Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, kind: type[T], listener: Listener[T]) -> Callable[[], None]:
        """Call ``listener`` for every fired payload of class ``kind``; returns unsubscribe."""
        self._listeners.setdefault(kind, []).append(listener)

        def unsubscribe() -> None:
            listeners = self._listeners.get(kind, [])
            if listener in listeners:
                listeners.remove(listener)

        return unsubscribe

    def fire(self, data: T, context: Context | None = None) -> BusEvent[T]:
        """Deliver ``data`` to its listeners now; coroutine listeners run as tasks.

        Never raises because of a listener and never waits for one.
        """
        event = BusEvent(data=data, context=context or Context(), time_fired=now_ms())
        for listener in list(self._listeners.get(type(data), ())):
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    self._track(result, type(data).__name__)
            except Exception:
                _LOG.exception("bus listener %r failed on %s", listener, type(data).__name__)
        return event

    def _track(self, awaitable: Awaitable[None], name: str) -> None:
        async def run() -> None:
            await awaitable

        task = asyncio.get_running_loop().create_task(run(), name=f"bus:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOG.error("bus listener task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self) -> None:
        """Wait until every listener task started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_pending(self) -> None:
        """Cancel listener tasks still running (used when the hub stops)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What the hub knows about a device right now.

    ``online`` is the supervision verdict: False before the device was first heard and after
    it was silent too long. ``last_seq`` is the last sequence number accepted from it.
    """

    device_id: str
    state: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    last_seen: int | None = None
    last_seq: int | None = None
    online: bool = False
    context: Context = field(default_factory=Context)


class StateMachine:
    """In-memory mirror of the ``states`` table; the store stays the source of truth."""

    def __init__(self) -> None:
        self._states: dict[str, DeviceState] = {}

    def get(self, device_id: str) -> DeviceState:
        return self._states.get(device_id) or DeviceState(device_id)

    def set(self, state: DeviceState) -> None:
        self._states[state.device_id] = replace(state, state=MappingProxyType(dict(state.state)))

    def all(self) -> list[DeviceState]:
        return list(self._states.values())
