"""Supervision: a life-safety device that goes silent is itself an alarm condition.

Each kind has its own interval in the catalog (minutes, not Zigbee2MQTT's 25 hours), scaled by
``supervision_scale`` so the demo and tests can compress time. A device is supervised once it
has been heard at least once; silence is counted from its last message or from the hub's
start, whichever is later, so rebooting the hub does not flag every device at once.

The verdict goes through :class:`~hub.intake.Intake` like any device event: event log, outbox,
bus. The device speaking again clears it there (``device_offline`` active=False).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from devices.catalog import KINDS
from hub.core import StateMachine, now_ms
from hub.intake import Intake
from hub.registry import DeviceRegistry

_LOG = logging.getLogger(__name__)

#: Bounds of the check period: often enough to flag within a few % of the interval, rarely
#: enough to cost nothing on a gateway.
MIN_TICK_S = 0.05
MAX_TICK_S = 5.0


class Supervisor:
    def __init__(
        self,
        *,
        registry: DeviceRegistry,
        states: StateMachine,
        intake: Intake,
        scale: float,
    ) -> None:
        self._registry = registry
        self._states = states
        self._intake = intake
        self._scale = scale
        self._started_ms = now_ms()
        self._task: asyncio.Task[None] | None = None

    def interval_s(self, device_id: str) -> float:
        device = self._registry.get(device_id)
        assert device is not None
        return KINDS[device.kind].supervision_s * self._scale

    @property
    def tick_s(self) -> float:
        shortest = min(spec.supervision_s for spec in KINDS.values()) * self._scale
        return min(max(shortest / 10, MIN_TICK_S), MAX_TICK_S)

    def check(self) -> None:
        """Raise ``device_offline`` for every online device silent past its interval."""
        now = now_ms()
        for device in self._registry.all():
            state = self._states.get(device.device_id)
            if not state.online or state.last_seen is None:
                continue
            silent_s = (now - max(state.last_seen, self._started_ms)) / 1000
            if silent_s > self.interval_s(device.device_id):
                # Report the real silence, not the part since the hub started.
                self._intake.raise_offline(device, (now - state.last_seen) / 1000)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self.check()
            except Exception:
                _LOG.exception("supervision check failed; retrying next tick")

    def start(self) -> None:
        self._started_ms = now_ms()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="supervision")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
