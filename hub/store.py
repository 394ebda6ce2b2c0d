"""The hub's one SQLite file: registry, states, event log, outbox, meta.

WAL lets a reader (the local API, a test, an operator's ``sqlite3``) look while the hub
writes. ``synchronous=FULL`` makes every commit durable before it returns: the device gets its
ack only after that, so an acknowledged alarm survives a power cut.

Every write goes through :meth:`Store.transaction` (sqlite-utils ``atomic``; nested blocks
become savepoints), so an event-log row and its outbox row are committed together or not at
all. The connection is used from the hub's event loop thread only.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from devices.catalog import DeviceKind

SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS devices (
        device_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        room TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        provisioned INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS states (
        device_id TEXT PRIMARY KEY REFERENCES devices(device_id),
        state TEXT NOT NULL DEFAULT '{}',
        last_seq INTEGER,
        last_seen INTEGER,
        online INTEGER NOT NULL DEFAULT 0)""",
    # origin 'hub' rows (device_offline raised by supervision) reuse the device's last seq,
    # so uniqueness of (device_id, seq) holds for what devices sent, not for what we derived.
    """CREATE TABLE IF NOT EXISTS event_log (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        origin TEXT NOT NULL,
        ts INTEGER NOT NULL,
        received INTEGER NOT NULL,
        event TEXT NOT NULL,
        active INTEGER NOT NULL,
        priority TEXT NOT NULL,
        data TEXT NOT NULL,
        outbox_seq INTEGER,
        context_id TEXT NOT NULL,
        parent_id TEXT)""",
    """CREATE UNIQUE INDEX IF NOT EXISTS event_log_device_seq
        ON event_log(device_id, seq) WHERE origin = 'device'""",
    # AUTOINCREMENT: a seq is never reused, even after every row was acknowledged and deleted,
    # because hub_id:seq is the idempotency key the community de-duplicates on.
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        priority TEXT NOT NULL,
        rank INTEGER NOT NULL,
        telemetry INTEGER NOT NULL,
        payload BLOB NOT NULL,
        created INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_sent INTEGER)""",
    """CREATE INDEX IF NOT EXISTS outbox_order ON outbox(rank, seq)""",
)


class StoreError(RuntimeError):
    """The data directory belongs to another hub or has a newer schema."""


@dataclass(frozen=True, slots=True)
class StoredDevice:
    device_id: str
    kind: DeviceKind
    name: str
    room: str
    token_hash: str


@dataclass(frozen=True, slots=True)
class StoredState:
    device_id: str
    state: dict[str, Any]
    last_seq: int | None
    last_seen: int | None
    online: bool


@dataclass(frozen=True, slots=True)
class EventLogRow:
    device_id: str
    seq: int
    origin: str
    ts: int
    received: int
    event: str
    active: bool
    priority: str
    data: dict[str, Any]
    outbox_seq: int | None
    context_id: str
    parent_id: str | None


class Store:
    def __init__(self, path: Path, hub_id: str) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        self.path = path
        self.db = sqlite_utils.Database(conn)
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        with self.transaction():
            for statement in _SCHEMA:
                self.db.execute(statement)
            self._claim(hub_id)

    def _claim(self, hub_id: str) -> None:
        meta = self.db.table("meta")
        rows = {r["key"]: r["value"] for r in meta.rows}
        owner = rows.get("hub_id")
        if owner is not None and owner != hub_id:
            raise StoreError(f"{self.path} belongs to hub {owner!r}, not {hub_id!r}")
        version = int(rows.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema {version}; this hub knows {SCHEMA_VERSION}")
        if owner is None:
            self._seed_outbox_seq()
        meta.upsert_all(
            [
                {"key": "hub_id", "value": hub_id},
                {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            ],
            pk="key",
        )

    def _seed_outbox_seq(self) -> None:
        """Start a new store's outbox seqs at the clock (ms x 1000), not at 1.

        ``hub_id:seq`` is the idempotency key the community de-duplicates on forever. If a
        hub's database is lost and recreated, counting from 1 again would make the community
        drop its new alarms as already seen; starting from the clock keeps every new key
        above every old one (a hub writes far fewer than 1000 records a millisecond).
        """
        start = int(time.time() * 1000) * 1000
        self.db.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
        self.db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", [start])

    def transaction(self) -> AbstractContextManager[sqlite_utils.Database]:
        return self.db.atomic()

    def close(self) -> None:
        self.db.close()

    # --- devices -------------------------------------------------------------------------

    def upsert_device(self, device: StoredDevice, now: int) -> None:
        with self.transaction():
            self.db.execute(
                """INSERT INTO devices (device_id, kind, name, room, token_hash, provisioned)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT(device_id) DO UPDATE SET name = excluded.name,
                     room = excluded.room, token_hash = excluded.token_hash""",
                [
                    device.device_id,
                    str(device.kind),
                    device.name,
                    device.room,
                    device.token_hash,
                    now,
                ],
            )
            self.db.execute(
                "INSERT OR IGNORE INTO states (device_id) VALUES (?)", [device.device_id]
            )

    def delete_device(self, device_id: str) -> None:
        """Forget a device and its current state; the event log keeps its history."""
        with self.transaction():
            self.db.execute("DELETE FROM states WHERE device_id = ?", [device_id])
            self.db.execute("DELETE FROM devices WHERE device_id = ?", [device_id])

    def load_devices(self) -> list[StoredDevice]:
        return [
            StoredDevice(
                r["device_id"], DeviceKind(r["kind"]), r["name"], r["room"], r["token_hash"]
            )
            for r in self.db["devices"].rows_where(order_by="device_id")
        ]

    # --- states --------------------------------------------------------------------------

    def load_states(self) -> list[StoredState]:
        return [
            StoredState(
                r["device_id"],
                json.loads(r["state"]),
                r["last_seq"],
                r["last_seen"],
                bool(r["online"]),
            )
            for r in self.db["states"].rows
        ]

    def save_state(self, state: StoredState) -> None:
        """Write one device's state row; call inside a transaction with what it belongs to."""
        self.db.execute(
            """UPDATE states SET state = ?, last_seq = ?, last_seen = ?, online = ?
               WHERE device_id = ?""",
            [
                json.dumps(state.state, separators=(",", ":")),
                state.last_seq,
                state.last_seen,
                int(state.online),
                state.device_id,
            ],
        )

    # --- event log -----------------------------------------------------------------------

    def log_event(self, row: EventLogRow) -> None:
        self.db.execute(
            """INSERT INTO event_log (device_id, seq, origin, ts, received, event, active,
                 priority, data, outbox_seq, context_id, parent_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                row.device_id,
                row.seq,
                row.origin,
                row.ts,
                row.received,
                row.event,
                int(row.active),
                row.priority,
                json.dumps(row.data, separators=(",", ":")),
                row.outbox_seq,
                row.context_id,
                row.parent_id,
            ],
        )

    def has_device_event(self, device_id: str, seq: int, event: str, active: bool) -> bool:
        found = self.db.execute(
            """SELECT 1 FROM event_log WHERE device_id = ? AND seq = ? AND origin = 'device'
               AND event = ? AND active = ?""",
            [device_id, seq, event, int(active)],
        ).fetchone()
        return found is not None

    def recent_events(self, device_id: str, limit: int) -> list[dict[str, Any]]:
        """The device's last ``limit`` event-log rows, newest first."""
        return list(
            self.db["event_log"].rows_where(
                "device_id = ?", [device_id], order_by="id DESC", limit=limit
            )
        )

    def events(self, device_id: str | None = None) -> Iterator[dict[str, Any]]:
        where = "device_id = ?" if device_id else None
        args = [device_id] if device_id else None
        return self.db["event_log"].rows_where(where, args, order_by="id")
