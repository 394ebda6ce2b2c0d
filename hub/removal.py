"""Removing a device, with a few seconds to change one's mind.

A resident who taps "remove" on the wrong smoke alarm expects an "undo" — so a removal can
be scheduled with a grace period, during which the device keeps working and the removal
can be cancelled. When the grace ends (or the hub stops, or the resident asked for no
grace) the removal is final: the device's credential is revoked and its link closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from hub.core import now_ms

_LOG = logging.getLogger(__name__)

MAX_GRACE_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class PendingRemoval:
    device_id: str
    #: Milliseconds since the Unix epoch when the removal becomes final.
    final_at: int


class Removals:
    def __init__(
        self,
        remove: Callable[[str], Awaitable[None]],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._remove = remove
        self._on_change = on_change
        self._pending: dict[str, tuple[PendingRemoval, asyncio.Task[None]]] = {}

    def pending(self, device_id: str) -> PendingRemoval | None:
        entry = self._pending.get(device_id)
        return entry[0] if entry else None

    async def schedule(self, device_id: str, grace_s: float) -> PendingRemoval | None:
        """Remove now (grace 0: returns None once done) or after ``grace_s`` seconds."""
        if not 0 <= grace_s <= MAX_GRACE_S:
            raise ValueError(f"grace must be 0..{MAX_GRACE_S:.0f} seconds")
        if grace_s == 0:
            self._cancel(device_id)
            await self._remove(device_id)
            return None
        if device_id in self._pending:
            return self._pending[device_id][0]
        pending = PendingRemoval(device_id, now_ms() + int(grace_s * 1000))
        task = asyncio.get_running_loop().create_task(self._later(device_id, grace_s))
        self._pending[device_id] = (pending, task)
        self._on_change()
        return pending

    def undo(self, device_id: str) -> bool:
        """Cancel a scheduled removal; False if there was none (or it is already final)."""
        if self._cancel(device_id):
            self._on_change()
            return True
        return False

    def _cancel(self, device_id: str) -> bool:
        entry = self._pending.pop(device_id, None)
        if entry is None:
            return False
        entry[1].cancel()
        return True

    async def _later(self, device_id: str, grace_s: float) -> None:
        await asyncio.sleep(grace_s)
        self._pending.pop(device_id, None)
        try:
            await self._remove(device_id)
        except Exception:
            _LOG.exception("removing %s failed", device_id)

    async def flush(self) -> None:
        """Make every scheduled removal final now (the hub is stopping)."""
        for device_id in list(self._pending):
            self._cancel(device_id)
            with contextlib.suppress(Exception):
                await self._remove(device_id)
