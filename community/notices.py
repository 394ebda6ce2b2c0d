"""Notices from the community to homes: kept per home hub, resent until receipted.

A notice (``devices.uplink.DownlinkNotice``) is written once to ``notices`` and gets one row
per addressed hub in ``notice_deliveries`` (``pending`` -> ``delivered`` -> ``read``), in the
same transaction as whatever caused it (a refused request, a cut, a manager's announcement).
The desk's loop publishes every pending delivery, signed with the community key, on the
hub's downlink topic, and again every ``retry_s`` until the hub's ``notice_receipt`` arrives.
A hub known to be offline is skipped, not flooded: its notices go out within a poll of it
coming back (the retained ``online`` status, or any record it sends). The hub stores each
``notice_id`` once, so the resends are harmless, and a receipt never moves a delivery back.

``source`` makes creation idempotent: a notice derived from a stored fact (``cut:17``) is
created once however often the fact is looked at.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlite_utils import Database

from community.clock import Clock
from community.rounds import Rounds
from community.store import Store
from devices.messages import InteropError
from devices.uplink import (
    DownlinkNotice,
    NoticeCategory,
    ReceiptStatus,
    RecordKind,
    UplinkRecord,
    decode_notice,
    encode_notice,
    topic_down,
)
from privacy.envelope import seal

log = logging.getLogger(__name__)

Writer = Callable[..., Awaitable[Any]]
Publish = Callable[[str, bytes], bool]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS notices (
    notice_id TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    code TEXT NOT NULL,
    params TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    source TEXT UNIQUE
)""",
    """CREATE TABLE IF NOT EXISTS notice_deliveries (
    notice_id TEXT NOT NULL REFERENCES notices(notice_id),
    hub_id TEXT NOT NULL,
    home_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_sent_ms INTEGER,
    delivered_ms INTEGER,
    read_ms INTEGER,
    PRIMARY KEY (notice_id, hub_id)
)""",
    "CREATE INDEX IF NOT EXISTS notice_deliveries_status ON notice_deliveries(status, hub_id)",
)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    READ = "read"


#: How a receipt moves a delivery: the statuses it may move from, and the time it stamps.
_RECEIPT: Final = {
    ReceiptStatus.DELIVERED: ((DeliveryStatus.PENDING,), "delivered_ms"),
    ReceiptStatus.READ: ((DeliveryStatus.PENDING, DeliveryStatus.DELIVERED), "read_ms"),
}


class NoticeDesk:
    def __init__(
        self,
        *,
        community_id: str,
        key: Ed25519PrivateKey,
        store: Store,
        write: Writer,
        publish: Publish,
        clock: Clock,
        retry_s: float = 5.0,
        poll_s: float = 0.5,
    ) -> None:
        if not 0 < poll_s <= retry_s:
            raise ValueError("need 0 < poll_s <= retry_s")
        self._community_id = community_id
        self._key = key
        self._store = store
        self._write = write
        self._publish = publish
        self._clock = clock
        self.retry_s = retry_s
        self.poll_s = poll_s
        self._rounds = Rounds("community-notices", self._round, lambda: self.poll_s)
        with store.transaction() as db:
            for sql in _SCHEMA:
                db.execute(sql)
            columns = {row[1] for row in db.execute("PRAGMA table_info(notices)")}
            if "data" not in columns:  # a database from before notices carried data
                db.execute("ALTER TABLE notices ADD COLUMN data TEXT NOT NULL DEFAULT '{}'")

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    def wake(self) -> None:
        """Publish what is pending now rather than at the next poll (any thread)."""
        self._rounds.wake()

    # --- creating notices (inside a store transaction, on the writer thread) ---------------

    def add(
        self,
        db: Database,
        *,
        hub_ids: Sequence[str],
        category: NoticeCategory,
        code: str,
        params: dict[str, str] | None = None,
        title: str = "",
        body: str = "",
        data: dict[str, Any] | None = None,
        source: str | None = None,
    ) -> str | None:
        """Write a notice for ``hub_ids``; its id, or None if ``source`` already made one.

        ValueError if the notice would not pass the wire checks (nothing is written).
        """
        notice_id = uuid.uuid4().hex
        draft = DownlinkNotice(
            self._community_id,
            1,
            0,
            notice_id,
            category,
            code,
            dict(params or {}),
            title,
            body,
            dict(data or {}),
        )
        try:
            checked = decode_notice(encode_notice(draft))
        except InteropError as exc:
            raise ValueError(f"invalid notice: {exc.reason}") from None
        cursor = db.execute(
            "INSERT OR IGNORE INTO notices (notice_id, category, code, params, title, body,"
            " created_ms, source, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                notice_id,
                str(checked.category),
                checked.code,
                json.dumps(checked.params, ensure_ascii=False),
                checked.title,
                checked.body,
                self._clock(),
                source,
                json.dumps(checked.data, ensure_ascii=False),
            ],
        )
        if cursor.rowcount != 1:
            return None
        for hub_id in dict.fromkeys(hub_ids):
            home = db.execute("SELECT home_id FROM hubs WHERE hub_id = ?", [hub_id]).fetchone()
            if home is None:
                log.warning("notice %s not addressed to unknown hub %s", notice_id, hub_id)
                continue
            row = db.execute(
                "SELECT max(seq) FROM notice_deliveries WHERE hub_id = ?", [hub_id]
            ).fetchone()
            db.execute(
                "INSERT INTO notice_deliveries (notice_id, hub_id, home_id, seq, status)"
                " VALUES (?, ?, ?, ?, ?)",
                [notice_id, hub_id, home[0], int(row[0] or 0) + 1, DeliveryStatus.PENDING],
            )
        log.info("notice %s (%s/%s) for %s", notice_id, category, code, ", ".join(hub_ids))
        return notice_id

    def add_for_homes(self, db: Database, home_ids: Sequence[str], **notice: Any) -> str | None:
        """A notice for every hub of the given homes (see :meth:`add`)."""
        hubs = [
            row[0]
            for home in home_ids
            for row in db.execute(
                "SELECT hub_id FROM hubs WHERE home_id = ? ORDER BY hub_id", [home]
            ).fetchall()
        ]
        return self.add(db, hub_ids=hubs, **notice)

    async def notify_homes(self, home_ids: Sequence[str], **notice: Any) -> str | None:
        """Write a notice for the hubs of ``home_ids`` and publish it (from the event loop)."""

        def write() -> str | None:
            with self._store.transaction() as db:
                return self.add_for_homes(db, home_ids, **notice)

        notice_id: str | None = await self._write(write)
        self._rounds.wake()
        return notice_id

    # --- receipts (writer thread, from the pipeline) ---------------------------------------

    def on_record(self, record: UplinkRecord, now: int) -> None:
        """Apply a hub's ``notice_receipt``; other records are not this desk's."""
        if record.kind is not RecordKind.NOTICE_RECEIPT or record.receipt is None:
            return
        receipt = record.receipt
        allowed, stamp = _RECEIPT[receipt.status]
        marks = ", ".join("?" for _ in allowed)
        with self._store.transaction() as db:
            cursor = db.execute(
                f"UPDATE notice_deliveries SET status = ?, {stamp} = ?,"  # noqa: S608 - constants
                " delivered_ms = coalesce(delivered_ms, ?)"
                f" WHERE notice_id = ? AND hub_id = ? AND status IN ({marks})",
                [str(receipt.status), now, now, receipt.notice_id, record.hub_id, *allowed],
            )
        if cursor.rowcount:
            log.info("notice %s %s by %s", receipt.notice_id, receipt.status, record.hub_id)

    # --- views -----------------------------------------------------------------------------

    def deliveries(self, notice_id: str | None = None) -> list[dict[str, Any]]:
        """Each delivery with its notice (all of them, or one notice's), oldest first."""
        sql = (
            "SELECT d.notice_id, d.hub_id, d.home_id, d.status, d.attempts, d.delivered_ms,"
            " d.read_ms, n.category, n.code, n.params, n.title, n.body, n.created_ms, n.data"
            " FROM notice_deliveries d JOIN notices n USING (notice_id)"
        )
        params: list[object] = []
        if notice_id is not None:
            sql += " WHERE d.notice_id = ?"
            params.append(notice_id)
        rows = self._store.read(sql + " ORDER BY n.created_ms, d.hub_id", params)
        for row in rows:
            row["params"] = json.loads(row["params"])
            row["data"] = json.loads(row["data"])
        return rows

    def for_home(self, home_id: str) -> list[dict[str, Any]]:
        return [row for row in self.deliveries() if row["home_id"] == home_id]

    # --- the loop --------------------------------------------------------------------------

    async def _round(self) -> None:
        due = await self._write(self._due)
        sent = [(r["notice_id"], r["hub_id"]) for r in due if self._send(r)]
        if sent:
            await self._write(self._sent, sent)

    def _due(self) -> list[dict[str, Any]]:
        cutoff = self._clock() - int(self.retry_s * 1000)
        return self._store.read(
            "SELECT d.notice_id, d.hub_id, d.seq, n.category, n.code, n.params, n.title,"
            " n.body, n.created_ms, n.data"
            " FROM notice_deliveries d JOIN notices n USING (notice_id)"
            " JOIN hubs h ON h.hub_id = d.hub_id WHERE d.status = ? AND h.status != 'offline'"
            " AND (d.last_sent_ms IS NULL OR d.last_sent_ms <= ?) ORDER BY n.created_ms",
            [DeliveryStatus.PENDING, cutoff],
        )

    def _send(self, row: dict[str, Any]) -> bool:
        notice = DownlinkNotice(
            community_id=self._community_id,
            seq=int(row["seq"]),
            ts=int(row["created_ms"]),
            notice_id=str(row["notice_id"]),
            category=NoticeCategory(row["category"]),
            code=str(row["code"]),
            params=json.loads(row["params"]),
            title=str(row["title"]),
            body=str(row["body"]),
            data=json.loads(row["data"]),
        )
        envelope = seal(self._community_id, self._key, encode_notice(notice))
        return self._publish(topic_down(str(row["hub_id"])), envelope)

    def _sent(self, sent: list[tuple[str, str]]) -> None:
        now = self._clock()
        with self._store.transaction() as db:
            for notice_id, hub_id in sent:
                db.execute(
                    "UPDATE notice_deliveries SET attempts = attempts + 1, last_sent_ms = ?"
                    " WHERE notice_id = ? AND hub_id = ?",
                    [now, notice_id, hub_id],
                )
