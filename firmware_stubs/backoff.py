"""Reconnect delays: exponential with jitter, so a hub restart is not met by a thundering herd.

Every device in a building loses its link at the same moment when the hub reboots; if all
of them retried on the same schedule they would arrive together again and again. Each delay
is drawn from the upper half of the current step ("equal jitter"), so it never collapses
to zero but devices spread out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays of ``initial_s`` doubling to ``max_s``; :meth:`reset` after a successful link."""

    initial_s: float = 0.2
    max_s: float = 10.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def step_s(self, attempt: int) -> float:
        """The un-jittered ceiling for ``attempt`` (0-based)."""
        return min(self.max_s, self.initial_s * 2.0 ** min(attempt, 62))

    def next_delay(self) -> float:
        ceiling = self.step_s(self.attempt)
        self.attempt += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempt = 0
