"""The community's durable memory: one SQLite file (WAL, synchronous=FULL) via sqlite-utils.

Everything the community promises rests on one rule: a record is acknowledged to its hub only
after it is on disk. So every write for one record (the idempotency key, the event, the alarm
it raises or updates, the alarm's history, the hub's last-seen time) happens in ONE
transaction, and ``synchronous=FULL`` makes the commit survive power loss, not only a crash.

One connection serves the whole process behind a lock; the server funnels all writes through
a single writer thread so that the event loop never waits on a disk flush.

Services that follow alarms (escalation, the CAP feed) are :class:`AlarmObserver` s: the store
tells them about every change of every alarm *inside* the transaction that makes it, so what
they derive (an escalation timer, a published CAP message) is committed together with the
change or not at all — never lost in a crash between two commits, never made twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from sqlite_utils import Database

from community import command_book
from community.alarms import (
    COMMUNITY_KINDS,
    DEVICE,
    HUB_OFFLINE,
    WORK_RECORDS,
    AlarmStatus,
    EventEffect,
    Handling,
    HistoryAction,
    Newer,
    PersonAction,
    TransitionError,
    WorkAction,
    alarm_view,
    event_effect,
    makes_alarm,
    person_rule,
    severity_of,
    severity_rank,
    work_rule,
)
from community.clock import iso
from community.queries import AlarmQuery
from community.resident_keys import SEALED_PREFIX, ResidentKeys, is_sealed
from devices.messages import Event, to_dict
from devices.uplink import RecordKind, UplinkRecord
from privacy.sealed_fields import summarise

SCHEMA_VERSION: Final = 2
#: The live board's snapshot holds at most this many open alarms.
SNAPSHOT_LIMIT: Final = 1000
#: Evidence references one alarm may hold.
MAX_EVIDENCE: Final = 100
#: Who raises and clears the alarm of a hub that went silent.
SUPERVISION: Final = "supervision"
HUB: Final = "hub"
#: Alarm columns added after schema version 1, added to older files at start.
_ALARM_COLUMNS_V2: Final[dict[str, type]] = {
    "handling": str,
    "assignee": str,
    "assigned_at": str,
    "started_at": str,
    "resolved_at": str,
    "resolved_by": str,
    "resolution": str,
    "escalation_tier": int,
    "exercise": int,
    #: What the raising event carried sealed for others: JSON ``[{field, recipients}]``.
    "sealed": str,
}
#: Event columns added after schema version 1: the record's sealed entries, stored opaque.
_EVENT_COLUMNS_V2: Final[dict[str, type]] = {"sealed": str}
#: Hub columns added after schema version 1: since when it is offline, and whether that
#: outage already raised its alarm (so a person clearing it is not overruled by a re-raise).
_HUB_COLUMNS_V2: Final[dict[str, type]] = {
    "offline_since_ms": int,
    "offline_alarmed": int,
    #: 1 for a gateway the community itself runs in a common area (charging shed, lift, lane).
    "common_area": int,
}

_ORDER: Final = (
    "ORDER BY (status = 'active') DESC, acknowledged ASC, severity_rank ASC,"
    " last_event_at DESC, id DESC"
)
_HUB_FIELDS: Final = (
    "hub_id",
    "home_id",
    "building",
    "unit",
    "key_id",
    "status",
    "last_seen",
    "devices",
    "devices_online",
    "enrolled_at",
)
#: (filter name, SQL condition) — one row per exact-match filter of :class:`AlarmQuery`.
_EXACT_FILTERS: Final = (
    ("status", "status = ?"),
    ("acknowledged", "acknowledged = ?"),
    ("severity", "severity = ?"),
    ("kind", "kind = ?"),
    ("home", "home_id = ?"),
    ("hub", "hub_id = ?"),
)
#: (filter name, SQL condition) — the raised-at range of :class:`AlarmQuery` (stored ISO
#: strings of one fixed UTC form compare in time order).
_RANGE_FILTERS: Final = (("since", "raised_at >= ?"), ("until", "raised_at < ?"))
_SEARCHED: Final = (
    "home_id",
    "building",
    "unit",
    "device_id",
    "device_name",
    "room",
    "kind",
    "assignee",
)
_EVIDENCE_FIELDS: Final = "alarm_id, uri, sha256, kind, added_at, added_by"
#: Alarm columns that describe a resident's home: sealed under the resident's data key.
_SEALED_ALARM: Final = ("device_name", "room", "resolution")
#: The searched columns a sealed row can only be matched on after opening it.
_SEALED_SEARCHED: Final = ("device_name", "room")


class AlarmNotFoundError(LookupError):
    """No alarm has the given id."""


class AlarmObserver(Protocol):
    """A service that follows alarms; called inside the transaction that changes one."""

    def create_schema(self, db: Database) -> None:
        """Create the observer's own tables (``IF NOT EXISTS``)."""

    def alarm_changed(
        self, db: Database, before: dict[str, Any] | None, after: dict[str, Any], now: int
    ) -> None:
        """``before`` is None for a new alarm; both are :func:`alarm_view` dicts."""


def hub_device_id(hub_id: str) -> str:
    """The pseudo-device a hub's own alarms (``hub_offline``) are raised on."""
    return f"hub:{hub_id}"


@dataclass(frozen=True, slots=True)
class HubChange:
    """A hub whose status changed, and the alarms that change raised or cleared."""

    hub: dict[str, Any]
    alarms: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Persisted:
    """What storing one record did, for the acks and the live feed."""

    duplicate: bool
    #: A duplicate key whose body differs from the stored one (a hub bug, logged).
    conflicting: bool = False
    alarms: tuple[dict[str, Any], ...] = ()
    hub: dict[str, Any] | None = None


def sealed_json(record: UplinkRecord) -> str | None:
    """A record's sealed entries as stored: opaque, exactly as they arrived (never opened)."""
    return json.dumps([e.to_dict() for e in record.sealed]) if record.sealed else None


def sealed_summary_json(record: UplinkRecord) -> str | None:
    """Which fields of the record are sealed, and for whom (shown instead of the values)."""
    return json.dumps(summarise(record.sealed)) if record.sealed else None


def hub_view(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in _HUB_FIELDS}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _alarm_context(column: str, row: Mapping[str, Any]) -> str:
    """What a sealed alarm column is bound to: the column and the device it names."""
    return f"alarms.{column}:{row.get('hub_id')}/{row.get('device_id')}"


def _matches(row: Mapping[str, Any], text: str) -> bool:
    """The free-text search of :class:`AlarmQuery` on an opened row."""
    wanted = text.casefold()
    return any(wanted in str(row.get(column) or "").casefold() for column in _SEARCHED)


def _where(query: AlarmQuery, *, sealed_too: bool = False) -> tuple[str, list[object]]:
    conditions: list[str] = []
    params: list[object] = []
    for name, condition in _EXACT_FILTERS:
        value = getattr(query, name)
        if value is not None:
            conditions.append(condition)
            params.append(int(value) if isinstance(value, bool) else str(value))
    for name, condition in _RANGE_FILTERS:
        value = getattr(query, name)
        if value is not None:
            conditions.append(condition)
            params.append(value)
    if query.q:
        matches = [f"{column} LIKE ? ESCAPE '\\'" for column in _SEARCHED]
        params.extend([_like(query.q)] * len(_SEARCHED))
        if sealed_too:  # judged in Python once opened
            matches += [
                f"substr({column}, 1, {len(SEALED_PREFIX)}) = ?" for column in _SEALED_SEARCHED
            ]
            params.extend([SEALED_PREFIX] * len(_SEALED_SEARCHED))
        conditions.append("(" + " OR ".join(matches) + ")")
    return ("WHERE " + " AND ".join(conditions) if conditions else ""), params


class Store:
    """All reads and writes of ``community.db``. Thread-safe; callers serialise writes."""

    def __init__(
        self,
        path: Path,
        observers: Sequence[AlarmObserver] = (),
        keys: ResidentKeys | None = None,
    ) -> None:
        #: Seals what describes a resident's home (community.resident_keys); None: plaintext.
        self.keys = keys
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db = Database(conn, execute_plugins=False)
        self._lock = threading.RLock()
        self._observers = tuple(observers)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.enable_wal()
        self._create_schema()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        with self._lock, self._db.atomic() as db:
            yield db

    #: One write transaction for observers and services that keep their own tables here.
    transaction = _transaction

    def _one(self, sql: str, params: Sequence[object]) -> dict[str, Any] | None:
        return next(iter(self._db.query(sql, params)), None)

    def read(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        """Rows of one read-only query, under the store's lock."""
        with self._lock:
            return list(self._db.query(sql, params))

    def alarm_row(self, alarm_id: int) -> dict[str, Any] | None:
        """The stored row of one alarm, opened (call inside :meth:`transaction` to act on it)."""
        row = self._one("SELECT * FROM alarms WHERE id = ?", [alarm_id])
        return None if row is None else self.open_alarm(row)

    # --- sealing: what describes a resident's home (community.resident_keys) ---------------

    def _key_name(self, home_id: object) -> str | None:
        """The data key a home's rows are sealed under; None: they are stored as they are."""
        if self.keys is None or not isinstance(home_id, str):
            return None
        return self.keys.key_of(home_id)

    def _seal(self, home_id: object, value: object, context: str) -> object:
        key = self._key_name(home_id)
        if key is None or self.keys is None or not isinstance(value, str) or not value:
            return value
        return self.keys.seal(key, value, context)

    def _open(self, value: object, context: str) -> object:
        """A column value opened: plaintext passes; None once its resident was erased."""
        if self.keys is None or not is_sealed(value):
            return value
        assert isinstance(value, str)
        return self.keys.open(value, context)

    def _seal_alarm(
        self, row: Mapping[str, Any], changes: Mapping[str, object]
    ) -> dict[str, object]:
        """``changes`` to the alarm ``row`` as they are stored."""
        out = dict(changes)
        for column in _SEALED_ALARM:
            if column in out:
                out[column] = self._seal(
                    row.get("home_id"), out[column], _alarm_context(column, row)
                )
        return out

    def open_alarm(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A stored alarm row with its sealed columns opened (``""`` once erased)."""
        out = dict(row)
        for column in _SEALED_ALARM:
            if is_sealed(out.get(column)):
                out[column] = self._open(out[column], _alarm_context(column, out)) or ""
        return out

    def open_message(self, key: str, message: object) -> str | None:
        """An event row's stored wire message (``events.message``), opened; None if erased."""
        opened = self._open(message, f"events.message:{key}")
        return opened if isinstance(opened, str) else None

    def _changed(
        self,
        db: Database,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any],
        now: int,
    ) -> dict[str, Any]:
        """Tell every observer about one alarm change; returns the alarm's view."""
        view = alarm_view(self.open_alarm(after))
        prior = None if before is None else alarm_view(self.open_alarm(before))
        for observer in self._observers:
            observer.alarm_changed(db, prior, view, now)
        return view

    def change_alarm(
        self,
        db: Database,
        row: Mapping[str, Any],
        changes: Mapping[str, object],
        action: HistoryAction,
        by: str,
        now: int,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Update one alarm inside a transaction, with its history row and its observers."""
        changes = {**changes, "updated_at": iso(now)}
        db.table("alarms").update(row["id"], self._seal_alarm(row, changes))
        self._history(db, int(row["id"]), action, by, now, note=note)
        return self._changed(db, row, {**row, **changes}, now)

    def add_history(
        self, db: Database, alarm_id: int, action: HistoryAction, by: str, now: int, note: str
    ) -> None:
        """A history row that changes nothing else (a notification's outcome)."""
        self._history(db, alarm_id, action, by, now, note=note)

    def _create_schema(self) -> None:
        with self._transaction() as db:
            db.table("hubs").create(
                {
                    "hub_id": str,
                    "home_id": str,
                    "building": str,
                    "unit": str,
                    "public_key": str,
                    "key_id": str,
                    "password_hash": str,
                    "status": str,
                    "last_seen": str,
                    "last_seen_ms": int,
                    "devices": int,
                    "devices_online": int,
                    "enrolled_at": str,
                    **_HUB_COLUMNS_V2,
                },
                pk="hub_id",
                not_null={"home_id", "public_key", "key_id", "status", "enrolled_at"},
                if_not_exists=True,
            )
            db.table("received").create(
                {"key": str, "hub_id": str, "seq": int, "digest": str, "received_at": str},
                pk="key",
                not_null={"hub_id", "seq", "digest", "received_at"},
                if_not_exists=True,
            )
            db.table("events").create(
                {
                    "key": str,
                    "hub_id": str,
                    "home_id": str,
                    "record_kind": str,
                    "message_type": str,
                    "device_id": str,
                    "device_kind": str,
                    "event": str,
                    "priority": str,
                    "active": int,
                    "seq": int,
                    "device_seq": int,
                    "ts": int,
                    "received_at": str,
                    "message": str,
                    "summary": str,
                },
                pk="key",
                not_null={"hub_id", "record_kind", "priority", "seq", "ts", "received_at"},
                foreign_keys=[("key", "received", "key")],
                if_not_exists=True,
            )
            db.table("alarms").create(
                {
                    "id": int,
                    "home_id": str,
                    "building": str,
                    "unit": str,
                    "hub_id": str,
                    "device_id": str,
                    "device_name": str,
                    "device_kind": str,
                    "room": str,
                    "kind": str,
                    "severity": str,
                    "severity_rank": int,
                    "status": str,
                    "acknowledged": int,
                    "count": int,
                    "raised_at": str,
                    "last_event_at": str,
                    "acked_at": str,
                    "acked_by": str,
                    "cleared_at": str,
                    "cleared_by": str,
                    "event_ts": int,
                    "key": str,
                    "updated_at": str,
                    **_ALARM_COLUMNS_V2,
                },
                pk="id",
                not_null={"hub_id", "device_id", "kind", "severity", "status", "count"},
                if_not_exists=True,
            )
            for table, added in (
                ("alarms", _ALARM_COLUMNS_V2),
                ("hubs", _HUB_COLUMNS_V2),
                ("events", _EVENT_COLUMNS_V2),
            ):
                columns = db.table(table).columns_dict
                for name, column_type in added.items():
                    if name not in columns:
                        db.table(table).add_column(name, column_type)
            db.table("alarm_history").create(
                {
                    "id": int,
                    "alarm_id": int,
                    "at": str,
                    "action": str,
                    "by": str,
                    "note": str,
                    "key": str,
                },
                pk="id",
                not_null={"alarm_id", "at", "action", "by"},
                foreign_keys=[("alarm_id", "alarms", "id")],
                if_not_exists=True,
            )
            db.table("alarm_evidence").create(
                {
                    "id": int,
                    "alarm_id": int,
                    "uri": str,
                    "sha256": str,
                    "kind": str,
                    "added_at": str,
                    "added_by": str,
                },
                pk="id",
                not_null={"alarm_id", "uri", "sha256", "kind", "added_at", "added_by"},
                foreign_keys=[("alarm_id", "alarms", "id")],
                if_not_exists=True,
            )
            for sql in (
                "CREATE UNIQUE INDEX IF NOT EXISTS alarm_evidence_once"
                " ON alarm_evidence(alarm_id, sha256)",
                "CREATE INDEX IF NOT EXISTS events_condition"
                " ON events(hub_id, device_id, event, seq)",
                # The replay window's lookups (community.replay).
                "CREATE INDEX IF NOT EXISTS events_device_seq"
                " ON events(hub_id, device_id, device_seq)",
                "CREATE UNIQUE INDEX IF NOT EXISTS alarms_one_active"
                " ON alarms(hub_id, device_id, kind) WHERE status = 'active'",
                "CREATE INDEX IF NOT EXISTS alarms_open ON alarms(status, acknowledged)",
                "CREATE INDEX IF NOT EXISTS alarm_history_alarm ON alarm_history(alarm_id, id)",
                "CREATE INDEX IF NOT EXISTS alarm_history_key ON alarm_history(key)",
            ):
                db.execute(sql)
            for observer in self._observers:
                observer.create_schema(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- hubs ------------------------------------------------------------------------------

    def upsert_hub(
        self,
        *,
        hub_id: str,
        home_id: str,
        building: str,
        unit: str,
        public_key_hex: str,
        key_id: str,
        password_hash: str | None,
        now: int,
        common_area: bool = False,
    ) -> None:
        """Register or update a hub; ``password_hash=None`` keeps the stored one."""
        fields: dict[str, object] = {
            "home_id": home_id,
            "building": building,
            "unit": unit,
            "public_key": public_key_hex,
            "key_id": key_id,
            "common_area": int(common_area),
        }
        if password_hash is not None:
            fields["password_hash"] = password_hash
        with self._transaction() as db:
            if self._one("SELECT hub_id FROM hubs WHERE hub_id = ?", [hub_id]) is None:
                db.table("hubs").insert(
                    {"hub_id": hub_id, "status": "unknown", "enrolled_at": iso(now), **fields}
                )
            else:
                db.table("hubs").update(hub_id, fields)

    def hub_public_keys(self) -> dict[str, str]:
        with self._lock:
            return {r["hub_id"]: r["public_key"] for r in self._db.query("SELECT * FROM hubs")}

    def common_area_hubs(self) -> set[str]:
        """The gateways the community runs itself (no resident's home behind them)."""
        with self._lock:
            rows = self._db.query("SELECT hub_id FROM hubs WHERE common_area = 1")
            return {r["hub_id"] for r in rows}

    def hub_password_hash(self, hub_id: str) -> str | None:
        with self._lock:
            row = self._one("SELECT password_hash FROM hubs WHERE hub_id = ?", [hub_id])
        return None if row is None else row["password_hash"]

    def hubs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [hub_view(r) for r in self._db.query("SELECT * FROM hubs ORDER BY hub_id")]

    def set_hub_status(self, hub_id: str, status: str, now: int) -> HubChange | None:
        """Record a hub's reported status; returns the change when its status changed.

        Coming back online clears the hub's ``hub_offline`` alarm; going offline starts the
        outage that :meth:`raise_hub_alarms` turns into one if it lasts.
        """
        with self._transaction() as db:
            row = self._one("SELECT * FROM hubs WHERE hub_id = ?", [hub_id])
            if row is None:
                return None
            changes: dict[str, object] = {"status": status}
            if status == "online":
                changes.update(last_seen=iso(now), last_seen_ms=now)
            elif row["status"] != status:
                changes.update(offline_since_ms=now, offline_alarmed=0)
            db.table("hubs").update(hub_id, changes)
            if row["status"] == status:
                return None
            alarm = self._hub_online(db, row, now) if status == "online" else None
            return HubChange(hub_view({**row, **changes}), () if alarm is None else (alarm,))

    def mark_silent_hubs(self, now: int, after_ms: int) -> list[HubChange]:
        """Hubs online but silent for longer than ``after_ms`` become offline; returns them."""
        with self._transaction() as db:
            rows = list(
                db.query(
                    "SELECT * FROM hubs WHERE status = 'online'"
                    " AND (last_seen_ms IS NULL OR last_seen_ms < ?)",
                    [now - after_ms],
                )
            )
            for row in rows:
                # The outage began when the hub was last heard from.
                since = row["last_seen_ms"] if row["last_seen_ms"] is not None else now
                db.table("hubs").update(
                    row["hub_id"],
                    {"status": "offline", "offline_since_ms": since, "offline_alarmed": 0},
                )
        return [HubChange(hub_view({**row, "status": "offline"})) for row in rows]

    def raise_hub_alarms(self, now: int, after_ms: int) -> list[dict[str, Any]]:
        """Raise ``hub_offline`` for hubs offline longer than ``after_ms``, once per outage."""
        raised: list[dict[str, Any]] = []
        with self._transaction() as db:
            rows = list(
                db.query(
                    "SELECT * FROM hubs WHERE status = 'offline'"
                    " AND coalesce(offline_alarmed, 0) = 0"
                    " AND coalesce(offline_since_ms, 0) <= ?",
                    [now - after_ms],
                )
            )
            for row in rows:
                db.table("hubs").update(row["hub_id"], {"offline_alarmed": 1})
                alarm = self._hub_offline(db, row, now)
                if alarm is not None:
                    raised.append(alarm)
        return raised

    def _hub_offline(self, db: Database, hub: dict[str, Any], now: int) -> dict[str, Any] | None:
        """Raise the hub's trouble alarm on its pseudo-device, unless it is already active."""
        device_id = hub_device_id(hub["hub_id"])
        condition = [hub["hub_id"], device_id, HUB_OFFLINE]
        if self._one(
            "SELECT id FROM alarms WHERE hub_id = ? AND device_id = ? AND kind = ?"
            " AND status = 'active'",
            condition,
        ):
            return None
        severity = COMMUNITY_KINDS[HUB_OFFLINE]
        row: dict[str, object] = {
            "home_id": hub.get("home_id", ""),
            "building": hub.get("building", ""),
            "unit": hub.get("unit", ""),
            "hub_id": hub["hub_id"],
            "device_id": device_id,
            "device_name": hub["hub_id"],
            "device_kind": HUB,
            "room": "",
            "kind": HUB_OFFLINE,
            "severity": str(severity),
            "severity_rank": severity_rank(severity),
            "status": str(AlarmStatus.ACTIVE),
            "acknowledged": 0,
            "count": 1,
            "raised_at": iso(now),
            "last_event_at": iso(now),
            "event_ts": now,
            "updated_at": iso(now),
            "handling": str(Handling.NEW),
            "escalation_tier": 0,
            "exercise": 0,
        }
        alarm_id = db.table("alarms").insert(row).last_rowid
        assert alarm_id is not None
        self._history(db, alarm_id, HistoryAction.RAISED, SUPERVISION, now)
        return self._changed(db, None, {**row, "id": alarm_id}, now)

    def raise_community_alarm(
        self,
        db: Database,
        *,
        hub_id: str,
        device: Mapping[str, Any],
        kind: str,
        by: str,
        now: int,
        note: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Raise a community-decided alarm on a device, or count a repeat if it is active.

        ``device`` carries device_id, and optionally device_name, device_kind, room. Returns
        the alarm's view and whether it is new. Runs inside the caller's transaction.
        """
        active = self._one(
            "SELECT * FROM alarms WHERE hub_id = ? AND device_id = ? AND kind = ?"
            " AND status = 'active'",
            [hub_id, device["device_id"], kind],
        )
        if active is not None:
            changes = {"count": int(active["count"]) + 1, "last_event_at": iso(now)}
            view = self.change_alarm(db, active, changes, HistoryAction.REPEATED, by, now, note)
            return view, False
        hub = self._one("SELECT * FROM hubs WHERE hub_id = ?", [hub_id]) or {}
        severity = COMMUNITY_KINDS[kind]
        row: dict[str, object] = {
            "home_id": hub.get("home_id", ""),
            "building": hub.get("building", ""),
            "unit": hub.get("unit", ""),
            "hub_id": hub_id,
            "device_id": device["device_id"],
            "device_name": device.get("device_name") or device["device_id"],
            "device_kind": device.get("device_kind", ""),
            "room": device.get("room", ""),
            "kind": kind,
            "severity": str(severity),
            "severity_rank": severity_rank(severity),
            "status": str(AlarmStatus.ACTIVE),
            "acknowledged": 0,
            "count": 1,
            "raised_at": iso(now),
            "last_event_at": iso(now),
            "event_ts": now,
            "updated_at": iso(now),
            "handling": str(Handling.NEW),
            "escalation_tier": 0,
            "exercise": 0,
        }
        alarm_id = db.table("alarms").insert(self._seal_alarm(row, row)).last_rowid
        assert alarm_id is not None
        self._history(db, alarm_id, HistoryAction.RAISED, by, now, note=note)
        return self._changed(db, None, {**row, "id": alarm_id}, now), True

    def clear_community_alarm(
        self, db: Database, *, hub_id: str, device_id: str, kind: str, by: str, now: int
    ) -> dict[str, Any] | None:
        """Clear the active community-decided alarm for a condition, if any."""
        active = self._one(
            "SELECT * FROM alarms WHERE hub_id = ? AND device_id = ? AND kind = ?"
            " AND status = 'active'",
            [hub_id, device_id, kind],
        )
        if active is None:
            return None
        changes = {"status": str(AlarmStatus.CLEARED), "cleared_at": iso(now), "cleared_by": by}
        return self.change_alarm(db, active, changes, HistoryAction.CLEARED, by, now)

    def _hub_online(self, db: Database, hub: dict[str, Any], now: int) -> dict[str, Any] | None:
        """End the hub's outage and clear its trouble alarm (``cleared_by = "hub"``), if any."""
        db.table("hubs").update(hub["hub_id"], {"offline_since_ms": None, "offline_alarmed": 0})
        active = self._one(
            "SELECT * FROM alarms WHERE hub_id = ? AND device_id = ? AND kind = ?"
            " AND status = 'active'",
            [hub["hub_id"], hub_device_id(hub["hub_id"]), HUB_OFFLINE],
        )
        if active is None:
            return None
        changes = {"status": str(AlarmStatus.CLEARED), "cleared_at": iso(now), "cleared_by": HUB}
        return self.change_alarm(db, active, changes, HistoryAction.CLEARED, HUB, now)

    # --- ingest ----------------------------------------------------------------------------

    def persist(self, record: UplinkRecord, digest: str, now: int) -> Persisted:
        """Store one verified record exactly once, with all its effects, in one transaction."""
        with self._transaction() as db:
            seen = self._one("SELECT digest FROM received WHERE key = ?", [record.key])
            if seen is not None:
                return Persisted(duplicate=True, conflicting=seen["digest"] != digest)
            hub = self._one("SELECT * FROM hubs WHERE hub_id = ?", [record.hub_id]) or {}
            changed: tuple[dict[str, Any], ...] = ()
            if isinstance(record.message, Event) and makes_alarm(record.message.event):
                changed = self._apply_alarm_event(db, record, record.message, hub, now)
            if record.result is not None:
                command_book.record_result(db, record.hub_id, record.result, now)
            db.table("received").insert(
                {
                    "key": record.key,
                    "hub_id": record.hub_id,
                    "seq": record.seq,
                    "digest": digest,
                    "received_at": iso(now),
                }
            )
            db.table("events").insert(self._event_row(record, hub, now))
            hub_change = self._touch_hub(db, record, hub, now)
            if hub and hub.get("status") != "online":
                back = self._hub_online(db, hub, now)
                changed = changed if back is None else (*changed, back)
        return Persisted(duplicate=False, alarms=changed, hub=hub_change)

    def _event_row(self, record: UplinkRecord, hub: dict[str, Any], now: int) -> dict[str, object]:
        message = record.message
        event = message if isinstance(message, Event) else None
        return {
            "key": record.key,
            "hub_id": record.hub_id,
            "home_id": hub.get("home_id"),
            "record_kind": str(record.kind),
            "message_type": None if message is None else str(message.type),
            "device_id": None if record.device is None else record.device.device_id,
            "device_kind": None if record.device is None else str(record.device.kind),
            "event": None if event is None else str(event.event),
            "priority": str(record.priority),
            "active": None if event is None else int(event.active),
            "seq": record.seq,
            "device_seq": None if message is None else message.seq,
            "ts": record.ts if message is None else message.ts,
            "received_at": iso(now),
            "message": None
            if message is None
            else self._seal(
                hub.get("home_id"), json.dumps(to_dict(message)), f"events.message:{record.key}"
            ),
            "summary": None if record.summary is None else json.dumps(record.summary),
            "sealed": sealed_json(record),
        }

    def _touch_hub(
        self, db: Database, record: UplinkRecord, hub: dict[str, Any], now: int
    ) -> dict[str, Any] | None:
        """Any accepted record proves the hub is alive; a heartbeat also carries its counts."""
        if not hub:
            return None
        changes: dict[str, object] = {
            "status": "online",
            "last_seen": iso(now),
            "last_seen_ms": now,
        }
        if record.kind is RecordKind.HUB_HEARTBEAT and record.summary is not None:
            changes["devices"] = record.summary.get("devices", hub.get("devices"))
            changes["devices_online"] = record.summary.get("online", hub.get("devices_online"))
        db.table("hubs").update(hub["hub_id"], changes)
        visible = ("status", "devices", "devices_online")
        if all(changes.get(k, hub.get(k)) == hub.get(k) for k in visible):
            return None
        return hub_view({**hub, **changes})

    # --- alarms: device side ---------------------------------------------------------------

    def _apply_alarm_event(
        self, db: Database, record: UplinkRecord, event: Event, hub: dict[str, Any], now: int
    ) -> tuple[dict[str, Any], ...]:
        condition = [record.hub_id, event.device_id, str(event.event)]
        active = self._one(
            "SELECT * FROM alarms WHERE hub_id = ? AND device_id = ? AND kind = ?"
            " AND status = 'active'",
            condition,
        )
        newer = self._one(
            "SELECT e.active, (SELECT h.alarm_id FROM alarm_history h WHERE h.key = e.key"
            " LIMIT 1) AS alarm_id FROM events e WHERE e.hub_id = ? AND e.device_id = ?"
            " AND e.event = ? AND e.seq > ? ORDER BY e.seq LIMIT 1",
            [*condition, record.seq],
        )
        if newer is None:
            kind = Newer.NONE
        elif newer["alarm_id"] is not None:
            kind = Newer.IN_ALARM
        else:
            kind = Newer.LONE_RAISE if newer["active"] else Newer.LONE_CLEAR
        effect = event_effect(
            alarm_active=active is not None, event_active=event.active, newer=kind
        )
        if effect is EventEffect.JOIN:
            assert newer is not None
            active = self._one("SELECT * FROM alarms WHERE id = ?", [newer["alarm_id"]])
        apply = self._EFFECTS.get(effect)
        if apply is None:
            return ()
        before = (
            active if effect in (EventEffect.REPEAT, EventEffect.JOIN, EventEffect.CLEAR) else None
        )
        alarm_id = apply(self, db, record, event, hub, active, now)
        row = self._one("SELECT * FROM alarms WHERE id = ?", [alarm_id])
        return () if row is None else (self._changed(db, before, row, now),)

    def _exercise(self, record: UplinkRecord, event: Event) -> bool:
        """An alarm raised while the device's last reported state says a self-test runs."""
        row = self._one(
            "SELECT key, message FROM events WHERE hub_id = ? AND device_id = ?"
            " AND message_type = 'state' AND seq < ? ORDER BY seq DESC LIMIT 1",
            [record.hub_id, event.device_id, record.seq],
        )
        message = None if row is None else self.open_message(row["key"], row["message"])
        try:
            state = json.loads(message)["state"] if message else {}
            return isinstance(state, dict) and state.get("test_in_progress") is True
        except (ValueError, KeyError, TypeError):
            return False

    def _history(
        self,
        db: Database,
        alarm_id: int,
        action: HistoryAction,
        by: str,
        now: int,
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> None:
        if note is not None and self.keys is not None:
            home = self._one("SELECT home_id FROM alarms WHERE id = ?", [alarm_id])
            if home is not None:
                sealed = self._seal(home["home_id"], note, f"alarm_history.note:{alarm_id}")
                note = sealed if isinstance(sealed, str) else note
        db.table("alarm_history").insert(
            {
                "alarm_id": alarm_id,
                "at": iso(now),
                "action": str(action),
                "by": by,
                "note": note,
                "key": key,
            }
        )

    def _raise(
        self,
        db: Database,
        record: UplinkRecord,
        event: Event,
        hub: dict[str, Any],
        active: dict[str, Any] | None,
        now: int,
        *,
        already_cleared: bool = False,
    ) -> int:
        severity = severity_of(event.event)
        device = record.device
        row: dict[str, object] = {
            "home_id": hub.get("home_id", ""),
            "building": hub.get("building", ""),
            "unit": hub.get("unit", ""),
            "hub_id": record.hub_id,
            "device_id": event.device_id,
            "device_name": "" if device is None else device.name,
            "device_kind": str(event.kind),
            "room": "" if device is None else device.room,
            "kind": str(event.event),
            "severity": str(severity),
            "severity_rank": severity_rank(severity),
            "status": str(AlarmStatus.CLEARED if already_cleared else AlarmStatus.ACTIVE),
            "acknowledged": 0,
            "count": 1,
            "raised_at": iso(now),
            "last_event_at": iso(now),
            "cleared_at": iso(now) if already_cleared else None,
            "cleared_by": DEVICE if already_cleared else None,
            "event_ts": event.ts,
            "key": record.key,
            "updated_at": iso(now),
            "handling": str(Handling.NEW),
            "escalation_tier": 0,
            "exercise": int(self._exercise(record, event)),
            "sealed": sealed_summary_json(record),
        }
        alarm_id = db.table("alarms").insert(self._seal_alarm(row, row)).last_rowid
        assert alarm_id is not None
        self._history(db, alarm_id, HistoryAction.RAISED, DEVICE, now, key=record.key)
        if already_cleared:
            note = "a newer clear for this condition had already arrived"
            self._history(db, alarm_id, HistoryAction.CLEARED, DEVICE, now, note=note)
        return alarm_id

    def _raise_cleared(
        self,
        db: Database,
        record: UplinkRecord,
        event: Event,
        hub: dict[str, Any],
        active: dict[str, Any] | None,
        now: int,
    ) -> int:
        return self._raise(db, record, event, hub, active, now, already_cleared=True)

    def _repeat(
        self,
        db: Database,
        record: UplinkRecord,
        event: Event,
        hub: dict[str, Any],
        active: dict[str, Any] | None,
        now: int,
    ) -> int:
        assert active is not None
        alarm_id = int(active["id"])
        changes: dict[str, object] = {
            "count": int(active["count"]) + 1,
            "last_event_at": iso(now),
            "updated_at": iso(now),
        }
        if record.sealed:
            changes["sealed"] = sealed_summary_json(record)
        db.table("alarms").update(alarm_id, changes)
        self._history(db, alarm_id, HistoryAction.REPEATED, DEVICE, now, key=record.key)
        return alarm_id

    def _join(
        self,
        db: Database,
        record: UplinkRecord,
        event: Event,
        hub: dict[str, Any],
        active: dict[str, Any] | None,
        now: int,
    ) -> int:
        """A late raise counts toward the alarm its newer records belong to."""
        assert active is not None
        alarm_id = int(active["id"])
        db.table("alarms").update(
            alarm_id, {"count": int(active["count"]) + 1, "updated_at": iso(now)}
        )
        note = "arrived after newer records for the same condition"
        self._history(db, alarm_id, HistoryAction.REPEATED, DEVICE, now, note=note, key=record.key)
        return alarm_id

    def _device_clear(
        self,
        db: Database,
        record: UplinkRecord,
        event: Event,
        hub: dict[str, Any],
        active: dict[str, Any] | None,
        now: int,
    ) -> int:
        assert active is not None
        alarm_id = int(active["id"])
        db.table("alarms").update(
            alarm_id,
            {
                "status": str(AlarmStatus.CLEARED),
                "cleared_at": iso(now),
                "cleared_by": DEVICE,
                "updated_at": iso(now),
            },
        )
        self._history(db, alarm_id, HistoryAction.CLEARED, DEVICE, now, key=record.key)
        return alarm_id

    _EFFECTS: Final[
        dict[
            EventEffect,
            Callable[
                [
                    Store,
                    Database,
                    UplinkRecord,
                    Event,
                    dict[str, Any],
                    dict[str, Any] | None,
                    int,
                ],
                int,
            ],
        ]
    ] = {
        EventEffect.RAISE: _raise,
        EventEffect.RAISE_CLEARED: _raise_cleared,
        EventEffect.REPEAT: _repeat,
        EventEffect.JOIN: _join,
        EventEffect.CLEAR: _device_clear,
    }

    # --- alarms: people side ---------------------------------------------------------------

    _PERSON_CHANGES: Final[dict[HistoryAction, Callable[[str, str], dict[str, object]]]] = {
        HistoryAction.ACKNOWLEDGED: lambda by, at: {
            "acknowledged": 1,
            "acked_at": at,
            "acked_by": by,
        },
        HistoryAction.CLEARED: lambda by, at: {
            "status": str(AlarmStatus.CLEARED),
            "cleared_at": at,
            "cleared_by": by,
        },
    }

    def act(
        self, alarm_id: int, action: PersonAction, by: str, note: str | None, now: int
    ) -> tuple[dict[str, Any], bool]:
        """Apply a person's ack or clear; returns the alarm and whether anything changed.

        Raises :class:`AlarmNotFoundError` or ``community.alarms.TransitionError``.
        """
        with self._transaction() as db:
            row = self._one("SELECT * FROM alarms WHERE id = ?", [alarm_id])
            if row is None:
                raise AlarmNotFoundError(alarm_id)
            rule = person_rule(action, AlarmStatus(row["status"]), bool(row["acknowledged"]))
            if rule.records is None:
                return alarm_view(self.open_alarm(row)), False
            changes = self._PERSON_CHANGES[rule.records](by, iso(now))
            return self.change_alarm(db, row, changes, rule.records, by, now, note), True

    def acknowledge_in(
        self, db: Database, row: Mapping[str, Any], by: str, now: int, note: str
    ) -> dict[str, Any]:
        """Acknowledge an alarm inside the caller's transaction (a service acting for a
        person, e.g. staff releasing a held elevator car)."""
        changes = self._PERSON_CHANGES[HistoryAction.ACKNOWLEDGED](by, iso(now))
        return self.change_alarm(db, row, changes, HistoryAction.ACKNOWLEDGED, by, now, note)

    def work(
        self,
        alarm_id: int,
        action: WorkAction,
        by: str,
        now: int,
        *,
        to: str | None = None,
        note: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Assign, start or resolve; returns the alarm and whether anything changed.

        ``to`` is required to assign and a ``note`` (the resolution) to resolve. Starting
        acknowledges an unacknowledged alarm; resolving clears an active one. Raises
        :class:`AlarmNotFoundError` or ``community.alarms.TransitionError``.
        """
        with self._transaction() as db:
            row = self._one("SELECT * FROM alarms WHERE id = ?", [alarm_id])
            if row is None:
                raise AlarmNotFoundError(alarm_id)
            handling = Handling(row["handling"] or Handling.NEW)
            rule = work_rule(action, handling)
            if rule.to is None or (action is WorkAction.ASSIGN and row["assignee"] == to):
                return alarm_view(self.open_alarm(row)), False
            at = iso(now)
            changes: dict[str, object] = {"handling": str(rule.to)}
            records = [(WORK_RECORDS[action], note)]
            if action is WorkAction.ASSIGN:
                assert to
                changes.update(assignee=to, assigned_at=at)
                records = [(HistoryAction.ASSIGNED, to)]
            elif action is WorkAction.START:
                changes["started_at"] = at
                if not row["assignee"]:
                    changes.update(assignee=by, assigned_at=at)
                if not row["acknowledged"]:
                    changes.update(self._PERSON_CHANGES[HistoryAction.ACKNOWLEDGED](by, at))
                    records.insert(0, (HistoryAction.ACKNOWLEDGED, None))
            else:
                assert note
                changes.update(resolved_at=at, resolved_by=by, resolution=note)
                if row["status"] == AlarmStatus.ACTIVE:
                    changes.update(self._PERSON_CHANGES[HistoryAction.CLEARED](by, at))
                    records.append((HistoryAction.CLEARED, None))
            for action_record, text in records[:-1]:
                self._history(db, alarm_id, action_record, by, now, note=text)
            last, text = records[-1]
            return self.change_alarm(db, row, changes, last, by, now, text), True

    def add_evidence(
        self, alarm_id: int, uri: str, sha256: str, kind: str, by: str, now: int
    ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """Attach a reference to evidence (never the evidence itself); once per digest.

        Returns the alarm, the evidence entry and whether it is new.
        """
        with self._transaction() as db:
            row = self._one("SELECT * FROM alarms WHERE id = ?", [alarm_id])
            if row is None:
                raise AlarmNotFoundError(alarm_id)
            known = self._one(
                f"SELECT {_EVIDENCE_FIELDS} FROM alarm_evidence"  # noqa: S608
                " WHERE alarm_id = ? AND sha256 = ?",
                [alarm_id, sha256],
            )
            if known is not None:
                known["uri"] = self._open(known["uri"], f"alarm_evidence.uri:{alarm_id}") or ""
                return alarm_view(self.open_alarm(row)), known, False
            held = self._one(
                "SELECT count(*) AS n FROM alarm_evidence WHERE alarm_id = ?", [alarm_id]
            )
            if held and int(held["n"]) >= MAX_EVIDENCE:
                raise TransitionError(f"an alarm holds at most {MAX_EVIDENCE} evidence references")
            entry = {
                "alarm_id": alarm_id,
                "uri": uri,
                "sha256": sha256,
                "kind": kind,
                "added_at": iso(now),
                "added_by": by,
            }
            uri_context = f"alarm_evidence.uri:{alarm_id}"
            db.table("alarm_evidence").insert(
                {**entry, "uri": self._seal(row["home_id"], uri, uri_context)}
            )
            note = f"{kind} sha256:{sha256[:16]}"
            view = self.change_alarm(db, row, {}, HistoryAction.EVIDENCE, by, now, note)
            return view, entry, True

    # --- alarms: reads ---------------------------------------------------------------------

    def query_alarms(self, query: AlarmQuery) -> tuple[list[dict[str, Any]], int]:
        if query.q and self.keys is not None:
            return self._search_alarms(query)
        where, params = _where(query)
        with self._lock:
            rows = self._db.query(
                f"SELECT * FROM alarms {where} {_ORDER} LIMIT ? OFFSET ?",  # noqa: S608
                [*params, query.limit, query.offset],
            )
            alarms = [alarm_view(self.open_alarm(r)) for r in rows]
            total = self._one(f"SELECT count(*) AS n FROM alarms {where}", params)  # noqa: S608
        return alarms, int(total["n"]) if total else 0

    def _search_alarms(self, query: AlarmQuery) -> tuple[list[dict[str, Any]], int]:
        """Free-text search where names and rooms may be sealed: SQL keeps the plaintext
        matches and every sealed row, which is judged once opened."""
        assert query.q
        where, params = _where(query, sealed_too=True)
        with self._lock:
            rows = list(self._db.query(f"SELECT * FROM alarms {where} {_ORDER}", params))  # noqa: S608
        found = [
            opened for opened in (self.open_alarm(r) for r in rows) if _matches(opened, query.q)
        ]
        page = found[query.offset : query.offset + query.limit]
        return [alarm_view(r) for r in page], len(found)

    def open_alarms(self) -> list[dict[str, Any]]:
        """Alarms still needing a person: active, or cleared but never acknowledged."""
        with self._lock:
            rows = self._db.query(
                f"SELECT * FROM alarms WHERE status = 'active' OR acknowledged = 0 {_ORDER}"  # noqa: S608
                " LIMIT ?",
                [SNAPSHOT_LIMIT],
            )
            return [alarm_view(self.open_alarm(r)) for r in rows]

    def events(self) -> list[dict[str, Any]]:
        """Every stored device event, in arrival order: what the community has on record."""
        with self._lock:
            return list(
                self._db.query(
                    "SELECT key, hub_id, home_id, device_id, event, priority, active, device_seq,"
                    " ts, received_at FROM events WHERE message_type = 'event' ORDER BY rowid"
                )
            )

    def alarm(self, alarm_id: int) -> dict[str, Any] | None:
        """One alarm with its history, oldest entry first."""
        with self._lock:
            row = self._one("SELECT * FROM alarms WHERE id = ?", [alarm_id])
            if row is None:
                return None
            history = list(
                self._db.query(
                    "SELECT alarm_id, at, action, by, note FROM alarm_history"
                    " WHERE alarm_id = ? ORDER BY id",
                    [alarm_id],
                )
            )
            evidence = list(
                self._db.query(
                    f"SELECT {_EVIDENCE_FIELDS} FROM alarm_evidence"  # noqa: S608
                    " WHERE alarm_id = ? ORDER BY id",
                    [alarm_id],
                )
            )
        for entry in history:
            context = f"alarm_history.note:{alarm_id}"
            entry["note"] = self._open(entry["note"], context) if entry["note"] else entry["note"]
        for entry in evidence:
            entry["uri"] = self._open(entry["uri"], f"alarm_evidence.uri:{alarm_id}") or ""
        return {**alarm_view(self.open_alarm(row)), "history": history, "evidence": evidence}

    def counts(self) -> dict[str, int]:
        with self._lock:
            row = self._one(
                "SELECT (SELECT count(*) FROM events) AS events_total,"
                " (SELECT count(*) FROM alarms WHERE status = 'active') AS alarms_active,"
                " (SELECT count(*) FROM alarms WHERE acknowledged = 0) AS alarms_unacknowledged,"
                " (SELECT count(*) FROM hubs WHERE status = 'online') AS hubs_online",
                [],
            )
        return {k: int(v) for k, v in (row or {}).items()}
