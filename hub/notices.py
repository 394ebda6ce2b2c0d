"""Notices from the community to the residents of this home: kept, shown, receipted.

A notice arrives on the downlink as a community-signed envelope (``hub.downlink`` verifies
it). Each ``notice_id`` is stored once; every copy, first or repeated, is answered with a
``notice_receipt`` record on the outbox saying how far it got (``delivered``, or ``read`` once
the resident opened it). The community resends a notice until a receipt arrives, so a receipt
lost on the way, or a hub that was off for hours, costs a resend and never a notice; the
outbox carries receipts across restarts like any other record.

Listeners (the charging view, the web UI's live feed) hear about each *new* notice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from devices.uplink import DownlinkNotice, NoticeReceipt, ReceiptStatus, notice_receipt
from hub.core import EventBus, now_ms
from hub.outbox import Outbox
from hub.store import Store

_LOG = logging.getLogger(__name__)

_TABLE: Final = """CREATE TABLE IF NOT EXISTS notices (
    notice_id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL,
    category TEXT NOT NULL,
    code TEXT NOT NULL,
    params TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    issued_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    read_ms INTEGER
)"""
#: How many notices the resident's list shows (newest first).
LIST_LIMIT: Final = 200


@dataclass(frozen=True, slots=True)
class NoticesChanged:
    """A notice arrived or was read (bus payload for the live feed)."""


class NoticeBox:
    def __init__(
        self,
        *,
        hub_id: str,
        store: Store,
        outbox: Outbox,
        bus: EventBus,
        wake_uplink: Callable[[], None],
    ) -> None:
        self._hub_id = hub_id
        self._store = store
        self._outbox = outbox
        self._bus = bus
        self._wake = wake_uplink
        self._listeners: list[Callable[[DownlinkNotice], None]] = []
        with store.transaction():
            store.db.execute(_TABLE)
            columns = {row[1] for row in store.db.execute("PRAGMA table_info(notices)")}
            if "data" not in columns:  # a database from before notices carried data
                store.db.execute("ALTER TABLE notices ADD COLUMN data TEXT NOT NULL DEFAULT '{}'")

    def listen(self, listener: Callable[[DownlinkNotice], None]) -> None:
        """Call ``listener`` with every new notice, after it is stored."""
        self._listeners.append(listener)

    def receive(self, notice: DownlinkNotice) -> bool:
        """Store a verified notice once and queue its receipt; True if it was new."""
        db = self._store.db
        with self._store.transaction():
            cursor = db.execute(
                "INSERT OR IGNORE INTO notices (notice_id, community_id, category, code, params,"
                " title, body, issued_ms, received_ms, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    notice.notice_id,
                    notice.community_id,
                    str(notice.category),
                    notice.code,
                    json.dumps(notice.params, ensure_ascii=False),
                    notice.title,
                    notice.body,
                    notice.ts,
                    now_ms(),
                    json.dumps(notice.data, ensure_ascii=False),
                ],
            )
            new = cursor.rowcount == 1
            read = db.execute(
                "SELECT read_ms FROM notices WHERE notice_id = ?", [notice.notice_id]
            ).fetchone()[0]
            status = ReceiptStatus.DELIVERED if read is None else ReceiptStatus.READ
            self._receipt(notice.notice_id, status)
        self._wake()
        if new:
            _LOG.info("notice %s (%s/%s) received", notice.notice_id, notice.category, notice.code)
            for listener in self._listeners:
                try:
                    listener(notice)
                except Exception:
                    _LOG.exception("notice listener failed on %s", notice.notice_id)
            self._bus.fire(NoticesChanged())
        return new

    def mark_read(self, notice_id: str) -> bool:
        """The resident read a notice: receipt ``read`` goes up once. False if unknown."""
        db = self._store.db
        with self._store.transaction():
            row = db.execute(
                "SELECT read_ms FROM notices WHERE notice_id = ?", [notice_id]
            ).fetchone()
            if row is None:
                return False
            if row[0] is not None:
                return True
            db.execute("UPDATE notices SET read_ms = ? WHERE notice_id = ?", [now_ms(), notice_id])
            self._receipt(notice_id, ReceiptStatus.READ)
        self._wake()
        self._bus.fire(NoticesChanged())
        return True

    def list(self, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """Newest first, as the resident's page shows them."""
        rows = self._store.db.execute(
            "SELECT notice_id, category, code, params, title, body, issued_ms, received_ms,"
            " read_ms, data FROM notices ORDER BY issued_ms DESC, received_ms DESC LIMIT ?",
            [limit],
        ).fetchall()
        keys = (
            "notice_id",
            "category",
            "code",
            "params",
            "title",
            "body",
            "issued_ms",
            "received_ms",
            "read_ms",
            "data",
        )
        notices = [dict(zip(keys, row, strict=True)) for row in rows]
        for notice in notices:
            notice["params"] = json.loads(notice["params"])
            notice["data"] = json.loads(notice["data"])
            notice["read"] = notice["read_ms"] is not None
        return notices

    def unread(self) -> int:
        row = self._store.db.execute("SELECT count(*) FROM notices WHERE read_ms IS NULL")
        return int(row.fetchone()[0])

    def _receipt(self, notice_id: str, status: ReceiptStatus) -> None:
        record = notice_receipt(self._hub_id, 0, now_ms(), NoticeReceipt(notice_id, status))
        if self._outbox.add(record) is None:
            _LOG.error("receipt for notice %s not queued: the outbox is full", notice_id)
