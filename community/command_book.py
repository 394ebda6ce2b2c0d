"""The community's book of downlink commands: what was asked of which hub, and what came back.

Kept in the community database so pending commands survive a restart and keep being retried.
Each row moves ``pending`` -> ``acked`` (the device acknowledged) or ``failed`` (it refused,
the hub refused, or the community gave up). ``overdue`` marks a command that had no result
within its deadline: for a safety cut that is itself an alarm (``charger_command_
unacknowledged``), raised by whoever watches the book. Functions here run inside the
store's write transaction (the single writer thread), so a result is recorded with its record.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Final

from sqlite_utils import Database

from devices.uplink import CommandOutcome

_SCHEMA: Final = """CREATE TABLE IF NOT EXISTS downlink_commands (
    command_id TEXT PRIMARY KEY,
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    command TEXT NOT NULL,
    args TEXT NOT NULL,
    seq INTEGER NOT NULL,
    issued_ms INTEGER NOT NULL,
    last_sent_ms INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    overdue INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    result_ms INTEGER
)"""


class CommandStatus(StrEnum):
    PENDING = "pending"
    ACKED = "acked"
    FAILED = "failed"


def ensure_table(db: Database) -> None:
    db.execute(_SCHEMA)
    db.execute(
        "CREATE INDEX IF NOT EXISTS downlink_commands_status"
        " ON downlink_commands(status, issued_ms)"
    )


def add(
    db: Database,
    *,
    command_id: str,
    hub_id: str,
    device_id: str,
    command: str,
    args: dict[str, Any],
    now: int,
) -> int:
    """Book a new pending command; returns its per-hub sequence number."""
    row = db.execute("SELECT max(seq) FROM downlink_commands WHERE hub_id = ?", [hub_id]).fetchone()
    seq = int(row[0] or 0) + 1
    db.execute(
        "INSERT INTO downlink_commands (command_id, hub_id, device_id, command, args, seq,"
        " issued_ms, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [command_id, hub_id, device_id, command, json.dumps(args), seq, now, CommandStatus.PENDING],
    )
    return seq


def record_result(db: Database, hub_id: str, outcome: CommandOutcome, now: int) -> bool:
    """Apply a hub's result; True if it settled a pending command of that hub.

    A result for a command the hub was not sent, or a second result, changes nothing.
    """
    ensure_table(db)  # a store used without the command desk still takes results
    status = CommandStatus.ACKED if outcome.ok else CommandStatus.FAILED
    cursor = db.execute(
        "UPDATE downlink_commands SET status = ?, error = ?, result_ms = ?"
        " WHERE command_id = ? AND hub_id = ? AND status = ?",
        [status, outcome.error, now, outcome.command_id, hub_id, CommandStatus.PENDING],
    )
    return cursor.rowcount == 1


def mark_sent(db: Database, command_id: str, now: int) -> None:
    db.execute(
        "UPDATE downlink_commands SET attempts = attempts + 1, last_sent_ms = ?"
        " WHERE command_id = ?",
        [now, command_id],
    )


def due(db: Database, now: int, retry_ms: int) -> list[dict[str, Any]]:
    """Pending commands never sent, or not sent for ``retry_ms``."""
    return _rows(
        db,
        "SELECT * FROM downlink_commands WHERE status = ?"
        " AND (last_sent_ms IS NULL OR last_sent_ms <= ?) ORDER BY issued_ms",
        [CommandStatus.PENDING, now - retry_ms],
    )


def newly_overdue(db: Database, now: int, after_ms: int) -> list[dict[str, Any]]:
    """Pending commands older than ``after_ms`` not yet marked overdue; marks them."""
    rows = _rows(
        db,
        "SELECT * FROM downlink_commands WHERE status = ? AND overdue = 0 AND issued_ms <= ?",
        [CommandStatus.PENDING, now - after_ms],
    )
    for row in rows:
        db.execute(
            "UPDATE downlink_commands SET overdue = 1 WHERE command_id = ?", [row["command_id"]]
        )
    return rows


def expire(db: Database, now: int, after_ms: int) -> int:
    """Give up on pending commands older than ``after_ms``: they become failed."""
    cursor = db.execute(
        "UPDATE downlink_commands SET status = ?, error = ?, result_ms = ?"
        " WHERE status = ? AND issued_ms <= ?",
        [
            CommandStatus.FAILED,
            "expired: no result from the hub",
            now,
            CommandStatus.PENDING,
            now - after_ms,
        ],
    )
    return cursor.rowcount


def get(db: Database, command_id: str) -> dict[str, Any] | None:
    rows = _rows(db, "SELECT * FROM downlink_commands WHERE command_id = ?", [command_id])
    return rows[0] if rows else None


def _rows(db: Database, sql: str, params: list[object]) -> list[dict[str, Any]]:
    out = []
    for row in db.query(sql, params):
        row = dict(row)
        row["args"] = json.loads(row["args"])
        out.append(row)
    return out
