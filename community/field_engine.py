"""The one engine that interprets :mod:`community.field_rules` against field telemetry.

Everything the engine knows lives in two SQLite tables of the community database, written in
the store's transactions on the single writer thread, so a restart loses no rule state:

- ``field_rule_state``: per (hub, device, rule) the device's latest state, since when the
  condition has held (community clock), whether it fired and when it last alerted.
- ``field_cuts``: every cut the rules asked for, keyed by (hub, device, reason, latch), with
  the ``command_id`` of the ``port_cut`` once it is booked with the command desk and whether
  its failure to be acknowledged has been alarmed. The *latch* is the charging session (or
  the shed-smoke alarm), so a flapping reading cuts a session at most once per reason, and a
  new cut is never asked for while an earlier one for the same port and reason is unsettled.

The engine decides; the server acts: it books every unbooked cut through ``send_command``
and records the command id (:meth:`FieldEngine.booked`). If the server stops between
booking a command and recording its id, the cut is booked again after the restart; a second
``port_cut`` to an already cut port changes nothing at the port.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlite_utils import Database

from community import command_book
from community.field_rules import FieldRule, FieldRules
from community.store import Store
from devices.catalog import DeviceKind, EventType
from devices.messages import Event, State
from devices.uplink import UplinkRecord

log = logging.getLogger(__name__)

RULES_BY: Final = "rules"
UNACKNOWLEDGED: Final = str(EventType.CHARGER_COMMAND_UNACKNOWLEDGED)

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS field_rule_state (
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    device TEXT NOT NULL,
    state TEXT NOT NULL,
    since_ms INTEGER,
    fired INTEGER NOT NULL DEFAULT 0,
    alerted_ms INTEGER,
    PRIMARY KEY (hub_id, device_id, rule)
)""",
    """CREATE TABLE IF NOT EXISTS field_cuts (
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    latch TEXT NOT NULL,
    alarm_id INTEGER,
    command_id TEXT,
    asked_ms INTEGER NOT NULL,
    unack_alarmed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hub_id, device_id, reason, latch)
)""",
    """CREATE TABLE IF NOT EXISTS field_notices (
    id INTEGER PRIMARY KEY,
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    notice TEXT NOT NULL,
    at_ms INTEGER NOT NULL
)""",
)


#: Every charging port a hub has reported anything from.
_PORTS: Final = "SELECT DISTINCT device_id FROM events WHERE hub_id = ? AND device_kind = ?"


@dataclass(frozen=True, slots=True)
class Cut:
    """A cut to book: ``port_cut{reason}`` to one port."""

    hub_id: str
    device_id: str
    reason: str
    latch: str


class FieldEngine:
    def __init__(self, store: Store, rules: FieldRules | None = None) -> None:
        self._store = store
        self.rules = rules or FieldRules()
        with store.transaction() as db:
            command_book.ensure_table(db)
            for sql in _SCHEMA:
                db.execute(sql)

    # --- telemetry (writer thread, after the record is stored) -----------------------------

    def observe(self, record: UplinkRecord, now: int) -> tuple[dict[str, Any], ...]:
        """Apply one stored record to the rules; returns the alarms it changed."""
        message, info = record.message, record.device
        if info is None or message is None:
            return ()
        device = {
            "device_id": info.device_id,
            "device_name": info.name,
            "device_kind": str(info.kind),
            "room": info.room,
        }
        with self._store.transaction() as db:
            if isinstance(message, State):
                return self._state(db, record.hub_id, device, dict(message.state), now)
            if (
                isinstance(message, Event)
                and message.event is EventType.CHARGING_SHED_SMOKE
                and message.active
            ):
                self._shed_smoke(db, record.hub_id, record.key)
        return ()

    def _state(
        self,
        db: Database,
        hub_id: str,
        device: dict[str, Any],
        state: dict[str, Any],
        now: int,
    ) -> tuple[dict[str, Any], ...]:
        changed: list[dict[str, Any]] = []
        rules = self.rules.for_kind(device["device_kind"])
        for rule in rules:
            key = [hub_id, device["device_id"], rule.name]
            row = _one(
                db,
                "SELECT * FROM field_rule_state WHERE hub_id = ? AND device_id = ? AND rule = ?",
                key,
            )
            # A state report is partial: absent fields keep their last reported value.
            merged = {**(json.loads(row["state"]) if row else {}), **state}
            holds = rule.holds(merged)
            held = holds and row is not None and row["since_ms"] is not None
            since = (row["since_ms"] if held and row else now) if holds else None
            fired = int(row["fired"]) if held and row else 0
            db.execute(
                "INSERT OR REPLACE INTO field_rule_state (hub_id, device_id, rule, device, state,"
                " since_ms, fired, alerted_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    *key,
                    json.dumps(device),
                    json.dumps(merged),
                    since,
                    fired,
                    row["alerted_ms"] if held and row else None,
                ],
            )
        for alarm in {rule.alarm for rule in rules if rule.alarm is not None}:
            if not self._any_holding(db, hub_id, device["device_id"], alarm):
                cleared = self._store.clear_community_alarm(
                    db,
                    hub_id=hub_id,
                    device_id=device["device_id"],
                    kind=str(alarm),
                    by=RULES_BY,
                    now=now,
                )
                if cleared is not None:
                    changed.append(cleared)
        changed.extend(self._due(db, now, hub_id, device["device_id"]))
        return tuple(changed)

    def _any_holding(self, db: Database, hub_id: str, device_id: str, alarm: EventType) -> bool:
        names = [r.name for r in self.rules.rules if r.alarm is alarm]
        rows = db.query(
            "SELECT rule FROM field_rule_state WHERE hub_id = ? AND device_id = ?"
            " AND since_ms IS NOT NULL AND fired = 1",
            [hub_id, device_id],
        )
        return any(row["rule"] in names for row in rows)

    # --- time (writer thread) --------------------------------------------------------------

    def tick(self, now: int) -> tuple[dict[str, Any], ...]:
        """Fire the duration conditions that came due and alarm unacknowledged cuts."""
        with self._store.transaction() as db:
            return (*self._due(db, now, None, None), *self._unacknowledged(db, now))

    def _due(
        self, db: Database, now: int, hub_id: str | None, device_id: str | None
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM field_rule_state WHERE since_ms IS NOT NULL"
        params: list[object] = []
        if hub_id is not None:
            sql += " AND hub_id = ? AND device_id = ?"
            params = [hub_id, device_id]
        changed: list[dict[str, Any]] = []
        for row in list(db.query(sql, params)):
            rule = self.rules.rule(row["rule"])
            if rule is None:
                continue
            state = json.loads(row["state"])
            if not row["fired"]:
                if now - int(row["since_ms"]) >= self.rules.duration_s(rule, state) * 1000:
                    changed.extend(self._fire(db, rule, row, state, now))
                continue
            repeat_s = self.rules.repeat_s(rule, state)
            alerted = row["alerted_ms"]
            if (
                rule.alarm is not None
                and repeat_s
                and alerted is not None
                and now - int(alerted) >= repeat_s * 1000
            ):
                changed.extend(self._alert(db, rule, row, state, now))
        return changed

    def _fire(
        self, db: Database, rule: FieldRule, row: dict[str, Any], state: dict[str, Any], now: int
    ) -> list[dict[str, Any]]:
        db.execute(
            "UPDATE field_rule_state SET fired = 1 WHERE hub_id = ? AND device_id = ? AND rule = ?",
            [row["hub_id"], row["device_id"], row["rule"]],
        )
        changed = self._alert(db, rule, row, state, now)
        if rule.notice:
            db.execute(
                "INSERT INTO field_notices (hub_id, device_id, notice, at_ms) VALUES (?, ?, ?, ?)",
                [row["hub_id"], row["device_id"], rule.name, now],
            )
            log.info("port %s: %s", row["device_id"], rule.name)
        if rule.cut is not None:
            alarm_id = changed[0]["id"] if changed else None
            latch = str(state.get("session_id") or "")
            self._ask_cut(db, row["hub_id"], row["device_id"], rule.cut, latch, alarm_id, now)
        return changed

    def _alert(
        self, db: Database, rule: FieldRule, row: dict[str, Any], state: dict[str, Any], now: int
    ) -> list[dict[str, Any]]:
        if rule.alarm is None:
            return []
        db.execute(
            "UPDATE field_rule_state SET alerted_ms = ?"
            " WHERE hub_id = ? AND device_id = ? AND rule = ?",
            [now, row["hub_id"], row["device_id"], row["rule"]],
        )
        note = f"{rule.quote}={state.get(rule.quote)}" if rule.quote else rule.name
        view, _ = self._store.raise_community_alarm(
            db,
            hub_id=row["hub_id"],
            device=json.loads(row["device"]),
            kind=str(rule.alarm),
            by=RULES_BY,
            now=now,
            note=note,
        )
        return [view]

    # --- cuts ------------------------------------------------------------------------------

    def _shed_smoke(self, db: Database, hub_id: str, key: str) -> None:
        """Smoke in the shed: cut every charging port the hub has reported."""
        ports = db.query(_PORTS, [hub_id, str(DeviceKind.CHARGING_PORT)])
        alarm = _one(
            db,
            "SELECT id FROM alarms WHERE hub_id = ? AND kind = ? AND status = 'active'"
            " ORDER BY id DESC LIMIT 1",
            [hub_id, str(EventType.CHARGING_SHED_SMOKE)],
        )
        alarm_id = None if alarm is None else int(alarm["id"])
        latch = f"smoke:{alarm_id if alarm_id is not None else key}"
        for port in list(ports):
            self._ask_cut(db, hub_id, port["device_id"], "shed_smoke", latch, alarm_id, 0)

    def _ask_cut(
        self,
        db: Database,
        hub_id: str,
        device_id: str,
        reason: str,
        latch: str,
        alarm_id: int | None,
        now: int,
    ) -> None:
        """Ask for a cut unless one for this port and reason is unsettled or already made."""
        unsettled = _one(
            db,
            "SELECT 1 FROM field_cuts c LEFT JOIN downlink_commands d"
            " ON d.command_id = c.command_id WHERE c.hub_id = ? AND c.device_id = ?"
            " AND c.reason = ? AND (c.command_id IS NULL OR d.status IS NULL"
            " OR d.status = 'pending')",
            [hub_id, device_id, reason],
        )
        if unsettled is not None:
            return
        db.execute(
            "INSERT OR IGNORE INTO field_cuts (hub_id, device_id, reason, latch, alarm_id,"
            " asked_ms) VALUES (?, ?, ?, ?, ?, ?)",
            [hub_id, device_id, reason, latch, alarm_id, now],
        )

    def unbooked(self) -> list[Cut]:
        """Cuts asked for but not yet booked with the command desk (also after a restart)."""
        rows = self._store.read(
            "SELECT hub_id, device_id, reason, latch FROM field_cuts WHERE command_id IS NULL"
            " ORDER BY asked_ms"
        )
        return [Cut(r["hub_id"], r["device_id"], r["reason"], r["latch"]) for r in rows]

    def booked(self, cut: Cut, command_id: str) -> None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE field_cuts SET command_id = ? WHERE hub_id = ? AND device_id = ?"
                " AND reason = ? AND latch = ?",
                [command_id, cut.hub_id, cut.device_id, cut.reason, cut.latch],
            )

    def _unacknowledged(self, db: Database, now: int) -> list[dict[str, Any]]:
        """A cut that failed, or is overdue, is itself an alarm on its port (once per cut)."""
        rows = list(
            db.query(
                "SELECT c.*, d.status AS command_status, d.command_id AS cid FROM field_cuts c"
                " JOIN downlink_commands d ON d.command_id = c.command_id"
                " WHERE c.unack_alarmed = 0 AND (d.status = 'failed'"
                " OR (d.status = 'pending' AND d.overdue = 1))"
            )
        )
        changed: list[dict[str, Any]] = []
        for row in rows:
            db.execute("UPDATE field_cuts SET unack_alarmed = 1 WHERE command_id = ?", [row["cid"]])
            known = _one(
                db,
                "SELECT device FROM field_rule_state WHERE hub_id = ? AND device_id = ? LIMIT 1",
                [row["hub_id"], row["device_id"]],
            )
            device = json.loads(known["device"]) if known else {"device_id": row["device_id"]}
            device.setdefault("device_kind", str(DeviceKind.CHARGING_PORT))
            view, _ = self._store.raise_community_alarm(
                db,
                hub_id=row["hub_id"],
                device=device,
                kind=UNACKNOWLEDGED,
                by=RULES_BY,
                now=now,
                note=f"port_cut {row['reason']} {row['cid']}: {row['command_status']}",
            )
            changed.append(view)
        return changed

    # --- views -----------------------------------------------------------------------------

    def command_status(self, alarm_id: int) -> str | None:
        """The status of the latest cut an alarm sent (pending/acked/failed), or None."""
        rows = self._store.read(
            "SELECT coalesce(d.status, 'pending') AS status FROM field_cuts c"
            " LEFT JOIN downlink_commands d ON d.command_id = c.command_id"
            " WHERE c.alarm_id = ? ORDER BY c.asked_ms DESC LIMIT 1",
            [alarm_id],
        )
        return str(rows[0]["status"]) if rows else None

    def cuts(self) -> list[dict[str, Any]]:
        """Every cut asked for, with its command's status (for the shed page and tests)."""
        return self._store.read(
            "SELECT c.hub_id, c.device_id, c.reason, c.latch, c.alarm_id, c.command_id,"
            " coalesce(d.status, 'pending') AS command_status FROM field_cuts c"
            " LEFT JOIN downlink_commands d ON d.command_id = c.command_id ORDER BY c.asked_ms"
        )

    def ports(self, hub_id: str) -> list[str]:
        """The charging ports a hub has reported (what a shed-smoke cut reaches)."""
        rows = self._store.read(_PORTS, [hub_id, str(DeviceKind.CHARGING_PORT)])
        return sorted(str(row["device_id"]) for row in rows)

    def notices(self) -> list[dict[str, Any]]:
        return self._store.read("SELECT * FROM field_notices ORDER BY id")


def _one(db: Database, sql: str, params: list[object]) -> Mapping[str, Any] | None:
    return next(iter(db.query(sql, params)), None)
