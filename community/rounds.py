"""A background task that does one round of work now and then, or at once when woken.

The community's services that retry over the network — downlink commands, notices to hubs,
residents' charging sessions — each run the same loop: do a round, log (never die on) a
failure, then sleep until the poll interval passes or someone wakes the task. ``wake`` may
be called from any thread (the MQTT network thread, the writer thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Rounds:
    def __init__(
        self, name: str, round_: Callable[[], Awaitable[None]], poll_s: Callable[[], float]
    ) -> None:
        """``poll_s`` is read before every sleep, so a changed setting applies at once."""
        self._name = name
        self._round = round_
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        """Run the next round now rather than at the next poll (any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:
                log.exception("%s: round failed; retrying", self._name)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the stop's
            # cancellation when a wake-up arrives at the same moment.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s()):
                    await self._wake.wait()
            self._wake.clear()
