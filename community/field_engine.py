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

- ``lane_obstructions``: one row per fire-lane alarm: its zone, since when the lane was
  blocked, and the keyed hash of the vehicle's plate (never the plate: the ingest pipeline
  has :meth:`FieldEngine.before_store` replace a fire-lane sensor's ``plate`` by its hash,
  see :mod:`community.plates`, before the record is stored). The weekly report reads it.

A fire-lane alarm gets an evidence reference when it is raised (the catalog's sensor sends
no snapshot, so the reference names the zone and the time: the camera's recording of it), and
:meth:`FieldEngine.vehicle_owner` tells the escalation engine whose home the vehicle belongs
to — only under live consent.

The engine decides; the server acts: it books every unbooked cut through ``send_command``
and records the command id (:meth:`FieldEngine.booked`). If the server stops between
booking a command and recording its id, the cut is booked again after the restart; a second
``port_cut`` to an already cut port changes nothing at the port.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlite_utils import Database

from community import command_book
from community.clock import iso
from community.escalation_rules import Resolved
from community.field_rules import Dwell, FieldRule, FieldRules
from community.plates import NO_CONSENT, PlateRegistry
from community.store import Store
from devices.catalog import DeviceKind, EventType
from devices.messages import Event, State
from devices.uplink import UplinkRecord

log = logging.getLogger(__name__)

RULES_BY: Final = "rules"
UNACKNOWLEDGED: Final = str(EventType.CHARGER_COMMAND_UNACKNOWLEDGED)
LANE_ALARM: Final = str(EventType.FIRE_LANE_OBSTRUCTED)
PLATE: Final = "plate"
PLATE_HASH: Final = "plate_hash"

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
    """CREATE TABLE IF NOT EXISTS lane_obstructions (
    alarm_id INTEGER PRIMARY KEY REFERENCES alarms(id),
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    zone_id TEXT NOT NULL,
    plate_hash TEXT,
    since_ms INTEGER NOT NULL,
    raised_ms INTEGER NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS lane_obstructions_raised ON lane_obstructions(raised_ms)",
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
    def __init__(
        self, store: Store, rules: FieldRules | None = None, plates: PlateRegistry | None = None
    ) -> None:
        self._store = store
        self.rules = rules or FieldRules()
        #: Hashes fire-lane plates (without it plates are dropped) and finds their owners.
        self.plates = plates
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
                state = dict(message.state)
                if info.kind is DeviceKind.FIRE_LANE_SENSOR and (
                    PLATE in state or "vehicle_present" in state
                ):  # already hashed by before_store, unless the caller skipped it
                    state = self._hide_plate(db, record.key, state)
                return self._state(db, record.hub_id, device, state, now)
            if (
                isinstance(message, Event)
                and message.event is EventType.CHARGING_SHED_SMOKE
                and message.active
            ):
                self._shed_smoke(db, record.hub_id, record.key, now)
        return ()

    def before_store(self, record: UplinkRecord) -> UplinkRecord:
        """The record with a fire-lane sensor's plate replaced by its keyed hash (the ingest
        pipeline calls this before anything stores the record)."""
        message, info = record.message, record.device
        if (
            not isinstance(message, State)
            or info is None
            or info.kind is not DeviceKind.FIRE_LANE_SENSOR
            or PLATE not in message.state
        ):
            return record
        state = dict(message.state)
        plate = state.pop(PLATE)
        state[PLATE_HASH] = None if self.plates is None else self.plates.hash(plate)
        return dataclasses.replace(record, message=dataclasses.replace(message, state=state))

    def _hide_plate(self, db: Database, key: str, state: dict[str, Any]) -> dict[str, Any]:
        """A plate still in clear (the record skipped :meth:`before_store`) is replaced by its
        keyed hash here and in the stored event. A report about a vehicle without a readable
        plate forgets the previous vehicle's."""
        if PLATE not in state:
            state.setdefault(PLATE_HASH, None)
            return state
        plate = state.pop(PLATE)
        plate_hash = None if self.plates is None else self.plates.hash(plate)
        state[PLATE_HASH] = plate_hash
        stored = _one(db, "SELECT message FROM events WHERE key = ?", [key])
        if stored is not None and stored["message"]:
            message = json.loads(stored["message"])
            if isinstance(message.get("state"), dict):
                message["state"].pop(PLATE, None)
                message["state"][PLATE_HASH] = plate_hash
                db.execute(
                    "UPDATE events SET message = ? WHERE key = ?", [json.dumps(message), key]
                )
        return state

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
            start = self.rules.counting_from(rule, int(row["since_ms"]), now)
            if start is None:
                if row["fired"]:
                    changed.extend(self._out_of_schedule(db, rule, row, now))
                continue
            if not row["fired"]:
                if now - start >= self.rules.duration_s(rule, state) * 1000:
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

    def _out_of_schedule(
        self, db: Database, rule: FieldRule, row: dict[str, Any], now: int
    ) -> list[dict[str, Any]]:
        """A fired rule whose schedule ended: it no longer applies, so its alarm clears (unless
        another rule raising the same kind still holds). The condition's start is kept: the
        next stretch of schedule counts from its own beginning."""
        db.execute(
            "UPDATE field_rule_state SET fired = 0, alerted_ms = NULL"
            " WHERE hub_id = ? AND device_id = ? AND rule = ?",
            [row["hub_id"], row["device_id"], row["rule"]],
        )
        if rule.alarm is None or self._any_holding(db, row["hub_id"], row["device_id"], rule.alarm):
            return []
        cleared = self._store.clear_community_alarm(
            db,
            hub_id=row["hub_id"],
            device_id=row["device_id"],
            kind=str(rule.alarm),
            by=RULES_BY,
            now=now,
        )
        return [] if cleared is None else [cleared]

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
        view, new = self._store.raise_community_alarm(
            db,
            hub_id=row["hub_id"],
            device=json.loads(row["device"]),
            kind=str(rule.alarm),
            by=RULES_BY,
            now=now,
            note=note,
        )
        if rule.dwell is not None:
            view = self._obstruction(db, rule, row, state, view, new, now)
        return [view]

    # --- fire lanes ------------------------------------------------------------------------

    def _obstruction(
        self,
        db: Database,
        rule: FieldRule,
        row: dict[str, Any],
        state: dict[str, Any],
        view: dict[str, Any],
        new: bool,
        now: int,
    ) -> dict[str, Any]:
        """Record a fire-lane obstruction (once per alarm) and its evidence reference."""
        alarm_id = int(view["id"])
        plate_hash = state.get(PLATE_HASH) if rule.dwell is Dwell.VEHICLE else None
        if not new:
            if plate_hash:
                db.execute(
                    "UPDATE lane_obstructions SET plate_hash = ?"
                    " WHERE alarm_id = ? AND plate_hash IS NULL",
                    [plate_hash, alarm_id],
                )
            return view
        zone = str(state.get("zone_id") or row["device_id"])
        since = int(row["since_ms"]) if row["since_ms"] is not None else now
        db.execute(
            "INSERT OR IGNORE INTO lane_obstructions (alarm_id, hub_id, device_id, zone_id,"
            " plate_hash, since_ms, raised_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [alarm_id, row["hub_id"], row["device_id"], zone, plate_hash, since, now],
        )
        uri = f"urn:courtyard:fire-lane:{urllib.parse.quote(zone, safe='')}:{iso(since)}"
        digest = hashlib.sha256(uri.encode("utf-8")).hexdigest()
        evidenced, _, _ = self._store.add_evidence(alarm_id, uri, digest, "other", RULES_BY, now)
        return evidenced

    def vehicle_owner(self, db: Database, alarm: Mapping[str, Any], now: int) -> Resolved:
        """The home to tell about a fire-lane alarm's vehicle (an escalation resolver)."""
        if alarm["kind"] != LANE_ALARM:
            return Resolved(None, "not a fire-lane alarm")
        vehicle = {r.name for r in self.rules.rules if r.dwell is Dwell.VEHICLE}
        rows = db.query(
            "SELECT rule, state FROM field_rule_state WHERE hub_id = ? AND device_id = ?"
            " AND since_ms IS NOT NULL AND fired = 1",
            [alarm["hub_id"], alarm["device_id"]],
        )
        states = [json.loads(r["state"]) for r in rows if r["rule"] in vehicle]
        if not states:
            return Resolved(None, "no vehicle")
        if self.plates is None:
            return Resolved(None, NO_CONSENT)
        found = self.plates.owner(db, states[0].get(PLATE_HASH), now)
        if found.home is None:
            return found
        zone = str(states[0].get("zone_id") or alarm["device_id"])
        where = (
            f"fire lane zone {zone}: your vehicle is blocking it, please move it now"
            f" / 消防通道 {zone} 被您的车辆占用。请立即挪车。"
        )
        return Resolved(found.home, where=where)

    def obstructions(self) -> list[dict[str, Any]]:
        """Every fire-lane obstruction on record (plate hashes, never plates)."""
        return self._store.read("SELECT * FROM lane_obstructions ORDER BY alarm_id")

    # --- cuts ------------------------------------------------------------------------------

    def _shed_smoke(self, db: Database, hub_id: str, key: str, now: int) -> None:
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
            self._ask_cut(db, hub_id, port["device_id"], "shed_smoke", latch, alarm_id, now)

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
