"""The durable, bounded queue of records waiting for the community's acknowledgement.

A row is written in the same transaction as whatever produced it, is published by the uplink
(alarms first: priority rank, then seq), and is deleted only when the community acknowledges
its seq. ``seq`` is the row's AUTOINCREMENT key and the record's idempotency key.

Bounded, because a hub cut off for days must not fill its flash: when full, the oldest
telemetry rows go first. An alarm or trouble event is never dropped to make room for
telemetry; when the outbox is full of them, a new one is refused with a logged error and
stays in the local event log.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from devices.catalog import PRIORITY_RANK
from devices.uplink import RecordKind, UplinkRecord, encode_record, is_telemetry
from hub.core import now_ms
from hub.store import Store

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    rank: int
    telemetry: bool
    #: ``encode_record`` bytes of the record, whose seq equals this row's seq.
    payload: bytes
    attempts: int


class OutboxFullError(RuntimeError):
    """The outbox is full of alarms and refused one more.

    Raised for an alarm a device sent, inside the transaction that would have logged it, so
    nothing is written and the device gets no ack: it keeps the event and resends it, and the
    alarm waits on the device instead of being acknowledged and then never sent.
    """


class Outbox:
    def __init__(self, store: Store, limit: int) -> None:
        self._store = store
        self._db = store.db
        self.limit = limit

    def pending(self) -> int:
        row = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0])

    def add(self, record: UplinkRecord) -> int | None:
        """Queue ``record`` (its seq is assigned here) and return the seq, or None if refused.

        Joins the caller's transaction when there is one, so the row commits with its cause.
        """
        telemetry = is_telemetry(record)
        with self._store.transaction():
            if not self._make_room(telemetry, record):
                return None
            cursor = self._db.execute(
                """INSERT INTO outbox (kind, priority, rank, telemetry, payload, created)
                   VALUES (?, ?, ?, ?, x'', ?)""",
                [
                    str(record.kind),
                    str(record.priority),
                    PRIORITY_RANK[record.priority],
                    int(telemetry),
                    now_ms(),
                ],
            )
            seq = cursor.lastrowid
            assert seq is not None
            payload = encode_record(dataclasses.replace(record, seq=seq))
            self._db.execute("UPDATE outbox SET payload = ? WHERE seq = ?", [payload, seq])
        return seq

    def _make_room(self, telemetry: bool, record: UplinkRecord) -> bool:
        over = self.pending() - self.limit + 1
        if over <= 0:
            return True
        if telemetry:
            # Telemetry only displaces older telemetry; never an alarm.
            shed = self._shed_telemetry(over)
            if shed < over:
                _LOG.warning("outbox full of alarms: new %s telemetry record dropped", record.kind)
                return False
            return True
        shed = self._shed_telemetry(over)
        if shed < over:
            _LOG.error(
                "outbox full (%d alarm rows): %s record from %s refused",
                self.limit,
                record.priority,
                record.device.device_id if record.device else record.hub_id,
            )
            return False
        return True

    def _shed_telemetry(self, count: int) -> int:
        cursor = self._db.execute(
            """DELETE FROM outbox WHERE seq IN (
                 SELECT seq FROM outbox WHERE telemetry = 1 ORDER BY seq LIMIT ?)""",
            [count],
        )
        shed = max(cursor.rowcount, 0)
        if shed:
            _LOG.warning("outbox full: shed %d oldest telemetry record(s)", shed)
        return shed

    def drop_pending_heartbeats(self) -> None:
        """An older hub heartbeat is worthless once a newer one is queued."""
        with self._store.transaction():
            self._db.execute("DELETE FROM outbox WHERE kind = ?", [str(RecordKind.HUB_HEARTBEAT)])

    def next_batch(
        self, *, limit: int = 100, now: int | None = None, resend_after_ms: int = 0
    ) -> list[OutboxRow]:
        """Rows due for publishing, alarms first: never sent, or sent ``resend_after_ms`` ago."""
        cutoff = (now_ms() if now is None else now) - resend_after_ms
        rows = self._db.execute(
            """SELECT seq, rank, telemetry, payload, attempts FROM outbox
               WHERE last_sent IS NULL OR last_sent <= ?
               ORDER BY rank, seq LIMIT ?""",
            [cutoff, limit],
        ).fetchall()
        return [OutboxRow(r[0], r[1], bool(r[2]), bytes(r[3]), r[4]) for r in rows]

    def mark_sent(self, seqs: Iterable[int], now: int | None = None) -> None:
        at = now_ms() if now is None else now
        with self._store.transaction():
            self._db.conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_sent = ? WHERE seq = ?",
                [(at, seq) for seq in seqs],
            )

    def mark_all_due(self) -> None:
        """After a reconnect every pending row goes out again, whatever its timer says."""
        with self._store.transaction():
            self._db.execute("UPDATE outbox SET last_sent = NULL")

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete acknowledged rows; unknown seqs (already acked, shed) are ignored."""
        with self._store.transaction():
            cursor = self._db.conn.executemany(
                "DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in seqs]
            )
        return max(cursor.rowcount, 0)
