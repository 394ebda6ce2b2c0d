"""Per-client session state: subscriptions, the outbound queue and inflight messages.

A session outlives its network connection when the client asked for
``clean_session=False``. Everything the broker owes such a client (queued
messages and QoS 1 messages sent but not yet acknowledged) is kept here so a
reconnecting client resumes exactly where it left off.

Ordering: deliveries leave the queue strictly in arrival order. A QoS 1
delivery at the head waits for a free inflight slot and everything behind it
waits too, which preserves per-topic QoS 1 order (MQTT 3.1.1 section 4.6)
across reconnects. Unacknowledged deliveries are resent, in their original
order and with DUP set, before anything new.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Delivery", "Message", "Peer", "Session"]

_log = logging.getLogger("courtyard.broker")

_DROP_LOG_INTERVAL = 5.0
_MAX_PACKET_ID = 65535


@dataclass(slots=True, frozen=True)
class Message:
    """An application message as published (or as a client's will)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(slots=True)
class Delivery:
    """One message on its way to one subscriber, at the QoS granted to it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    sequence: int
    packet_id: int = 0


class Peer(Protocol):
    """What a session needs from the live connection currently attached to it."""

    def notify(self) -> None:
        """New deliveries were queued or inflight slots were freed."""

    def evict(self) -> Message | None:
        """Close because another connection took over; return the pending will."""


class Session:
    """State of one client id. See the module docstring for ordering rules."""

    __slots__ = (
        "_last_drop_log",
        "_next_packet_id",
        "_qos0",
        "_qos1",
        "_sequence",
        "_unlogged_drops",
        "clean",
        "client_id",
        "dropped",
        "incoming_qos2",
        "inflight",
        "max_inflight",
        "peer",
        "queue_limit",
        "subscriptions",
    )

    def __init__(self, client_id: str, *, clean: bool, queue_limit: int, max_inflight: int) -> None:
        if queue_limit < 1:
            raise ValueError("queue_limit must be at least 1")
        if not 1 <= max_inflight <= _MAX_PACKET_ID:
            raise ValueError(f"max_inflight must be between 1 and {_MAX_PACKET_ID}")
        self.client_id = client_id
        self.clean = clean
        self.queue_limit = queue_limit
        self.max_inflight = max_inflight
        self.subscriptions: dict[str, int] = {}
        #: QoS 1 deliveries written to the client and not yet PUBACKed, in send order.
        self.inflight: dict[int, Delivery] = {}
        #: Identifiers of inbound QoS 2 messages delivered but not yet released.
        self.incoming_qos2: set[int] = set()
        self.peer: Peer | None = None
        #: Messages discarded because the queue was full.
        self.dropped = 0
        # Two queues, merged by sequence number on the way out, make "drop the
        # oldest QoS 0 first" O(1) without giving up overall arrival order.
        self._qos0: deque[Delivery] = deque()
        self._qos1: deque[Delivery] = deque()
        self._sequence = 0
        self._next_packet_id = 1
        self._last_drop_log = float("-inf")
        self._unlogged_drops = 0

    @property
    def online(self) -> bool:
        return self.peer is not None

    @property
    def queued(self) -> int:
        """Deliveries waiting to be sent (not counting inflight ones)."""
        return len(self._qos0) + len(self._qos1)

    def enqueue(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        """Queue a delivery at ``qos`` (0 or 1); returns how many older
        deliveries were dropped to make room (0 or 1)."""
        dropped = 0
        if self.queued >= self.queue_limit:
            (self._qos0 if self._qos0 else self._qos1).popleft()
            dropped = 1
            self._note_drop()
        self._sequence += 1
        delivery = Delivery(topic, payload, qos, retain, self._sequence)
        (self._qos1 if qos else self._qos0).append(delivery)
        return dropped

    def pop_next(self) -> Delivery | None:
        """The next delivery to write, or None if nothing may be sent now.

        A QoS 1 delivery is moved to ``inflight`` with a fresh packet id; the
        caller must write it.
        """
        head0 = self._qos0[0] if self._qos0 else None
        head1 = self._qos1[0] if self._qos1 else None
        if head0 is not None and (head1 is None or head0.sequence < head1.sequence):
            return self._qos0.popleft()
        if head1 is None or len(self.inflight) >= self.max_inflight:
            return None
        delivery = self._qos1.popleft()
        delivery.packet_id = self._allocate_packet_id()
        self.inflight[delivery.packet_id] = delivery
        return delivery

    def acknowledge(self, packet_id: int) -> bool:
        """Handle PUBACK; False if the id was not inflight."""
        return self.inflight.pop(packet_id, None) is not None

    def drop_qos0(self) -> int:
        """Discard queued QoS 0 deliveries (the client went away); returns the count."""
        count = len(self._qos0)
        self._qos0.clear()
        return count

    def _allocate_packet_id(self) -> int:
        while True:
            candidate = self._next_packet_id
            self._next_packet_id = candidate % _MAX_PACKET_ID + 1
            if candidate not in self.inflight:
                return candidate

    def _note_drop(self) -> None:
        self.dropped += 1
        self._unlogged_drops += 1
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_INTERVAL:
            _log.warning(
                "session %r: queue full (%d messages), dropped %d oldest message(s) "
                "since last report, %d in total",
                self.client_id,
                self.queue_limit,
                self._unlogged_drops,
                self.dropped,
            )
            self._last_drop_log = now
            self._unlogged_drops = 0
