"""The replay window at ingest: a record must be fresh, not only genuine.

A signature proves a hub sent a record, not that it sent it *now*. The idempotency key
already makes an exact copy of a stored record harmless (it is re-acknowledged, never
processed again). This check refuses what the key cannot catch: a device message that comes
again under a new key, and records far outside the time a hub could plausibly have held them.

For a record whose key is not stored yet:

* **time**: the hub's timestamp (``record.ts``, set when the record entered its outbox and
  kept through every resend) may be at most ``future_ms`` ahead of the community clock (clock
  skew) and at most ``past_ms`` behind it. The past window is wide on purpose (a week by
  default): a hub that was offline for hours or days publishes its whole outbox backlog when it
  comes back, and every one of those records is new to the community and must be accepted.
* **per-device sequence**: for a device this hub has reported before, the message's sequence
  number must be one the community has never stored for it, and either higher than the highest
  stored, or at most ``reorder`` below it. The allowance exists because a hub publishes its
  backlog alarms first, then telemetry, so a device's older state report can arrive after its
  newer alarm; it is refused only if it was already stored, or is too far behind.
  A message whose device timestamp is later than everything stored from that device is not a
  replay whatever its number (a re-paired or reset device counts again from the start; a
  replayed message carries its original, older time).

Records without a device (hub heartbeats, command results) are held to the time window only.
A refusal is audited, stores nothing, and is acknowledged so the hub stops resending it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from community.clock import Clock, now_ms
from community.store import Store
from devices.uplink import UplinkRecord
from privacy.audit import MAX_FIELD, AuditAction, AuditLog

log = logging.getLogger(__name__)

_MINUTE_MS: Final = 60_000
#: Who refuses in the audit log.
ACTOR: Final = "community:ingest"


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    """How fresh a record must be (all in milliseconds, except ``reorder``: sequence numbers)."""

    future_ms: int = 10 * _MINUTE_MS
    past_ms: int = 7 * 24 * 60 * _MINUTE_MS
    reorder: int = 100_000

    def __post_init__(self) -> None:
        for name in ("future_ms", "past_ms", "reorder"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"replay window {name} must be a non-negative integer")


class ReplayGuard:
    """Decides freshness against what the store already holds (so it survives restarts and
    needs no state of its own). Runs on the community's single writer thread."""

    def __init__(
        self,
        store: Store,
        window: ReplayWindow | None = None,
        clock: Clock = now_ms,
        audit: Callable[[], AuditLog] | None = None,
    ) -> None:
        self._store = store
        self.window = window or ReplayWindow()
        self._clock = clock
        self._audit = audit
        #: Refusals per hub since this process started.
        self.refused: Counter[str] = Counter()

    def check(self, record: UplinkRecord) -> str | None:
        """None if the record is fresh (or a known key, re-acknowledged by the store as a
        duplicate); else why not, already counted, logged and audited."""
        if self._store.read("SELECT 1 FROM received WHERE key = ?", [record.key]):
            return None
        reason = self._time(record) or self._sequence(record)
        if reason is None:
            return None
        return self._refuse(record, reason)

    def _time(self, record: UplinkRecord) -> str | None:
        now = self._clock()
        if record.ts > now + self.window.future_ms:
            ahead = (record.ts - now) // 1000
            return f"timestamp is {ahead} s ahead of the community clock"
        if record.ts < now - self.window.past_ms:
            behind = (now - record.ts) // 1000
            return f"timestamp is {behind} s old, beyond the {self.window.past_ms // 1000} s window"
        return None

    def _sequence(self, record: UplinkRecord) -> str | None:
        message, device = record.message, record.device
        if message is None or device is None:
            return None
        rows = self._store.read(
            "SELECT max(device_seq) AS top, max(ts) AS latest,"
            " coalesce(sum(device_seq = ?), 0) AS same FROM events"
            " WHERE hub_id = ? AND device_id = ? AND device_seq IS NOT NULL",
            [message.seq, record.hub_id, device.device_id],
        )
        top = rows[0]["top"] if rows else None
        if top is None or message.seq > top:
            return None
        if message.ts > int(rows[0]["latest"]):
            return None  # a device counting again from the start, not a copy of the past
        if int(rows[0]["same"]) > 0:
            return f"device {device.device_id} sequence {message.seq} was already received"
        if top - message.seq > self.window.reorder:
            return (
                f"device {device.device_id} sequence {message.seq} is more than"
                f" {self.window.reorder} behind {top}"
            )
        return None

    def _refuse(self, record: UplinkRecord, reason: str) -> str:
        self.refused[record.hub_id] += 1
        log.warning("refused %s as a replay: %s", record.key, reason)
        if self._audit is not None:
            self._audit().append(
                actor=ACTOR,
                role="community",
                purpose="security",
                legal_basis="none",
                action=AuditAction.REFUSE,
                record_ids=[record.key],
                detail=f"refused at ingest: replay: {reason}"[:MAX_FIELD],
            )
        return f"replay: {reason}"
