"""Events the hub has not acknowledged yet, kept for resending with their original seq.

Only events are kept: a missed state report is superseded by the next one, but a missed
alarm is a missed alarm. The store is bounded (a device has little RAM); when it is full,
the oldest *info* event goes first, and an alarm is only dropped to make room for another
alarm, always with a log line.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator

from devices.catalog import PRIORITY_RANK, Priority
from devices.messages import Event

_LOG = logging.getLogger(__name__)


class PendingEvents:
    """Unacknowledged events in seq order; :meth:`add` may evict one when full."""

    __slots__ = ("_events", "dropped", "limit")

    def __init__(self, limit: int = 1000) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._events: dict[int, Event] = {}
        #: The most recent events evicted because the store was full (for diagnostics).
        self.dropped: deque[Event] = deque(maxlen=100)

    def add(self, event: Event) -> Event | None:
        """Keep ``event``; return the event dropped to make room (maybe ``event`` itself)."""
        if len(self._events) < self.limit:
            self._events[event.seq] = event
            return None
        # Least important first, oldest first within a priority.
        victim = min(self._events.values(), key=lambda e: (-PRIORITY_RANK[e.priority], e.seq))
        if PRIORITY_RANK[victim.priority] < PRIORITY_RANK[event.priority]:
            victim = event  # never push out a more urgent event for a less urgent one
        log = _LOG.warning if victim.priority is Priority.INFO else _LOG.error
        log(
            "%s: unacked event store full (%d), dropping %s seq %d",
            victim.device_id,
            self.limit,
            victim.event,
            victim.seq,
        )
        self.dropped.append(victim)
        if victim is not event:
            del self._events[victim.seq]
            self._events[event.seq] = event
        return victim

    def discard(self, seq: int) -> Event | None:
        return self._events.pop(seq, None)

    def __contains__(self, seq: object) -> bool:
        return seq in self._events

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events.values()))
