"""Parcels in the community's lockers: the home is told, reminded, and the pickup is logged.

A parcel locker (device kind ``parcel_locker``) sits behind a common-area gateway. When a
courier stows a parcel the locker reports ``parcel_delivered`` {compartment, home, parcel_id,
code}; the desk files the parcel and, in the same transaction, writes a ``service`` notice
(code ``parcel_arrived``, ``params.service`` = ``parcels``) for the home's hubs whose ``data``
carries the pickup code. ``parcel_picked_up`` closes the parcel and tells the home (so a
resident learns at once if someone else used the code).

**The pickup code is the resident's secret.** It travels locker -> gateway -> community ->
home hub, and the community keeps it in clear only as long as it must:

* the parcel row stores an HMAC of the code under a per-community key (``parcel.key`` in the
  data directory, 0600) — a six-digit code under a plain hash would be undone in a second;
* the ingest pipeline calls :meth:`ParcelDesk.scrub` before it stores the locker's event, so
  the events table never holds the code;
* the notice row holds the code only until every addressed hub has receipted it (the desk's
  round then removes it from the notice's data), because an offline hub must still get it.

Uncollected parcels are reminded after each delay of :attr:`ParcelDesk.remind_after_s`
(seconds after delivery; a list of tiers). Each tier fires once per parcel, however often the
round runs or the server restarts: the tier count is in the parcel row, written in the same
transaction as the reminder notice, and the notice's ``source`` is unique per tier.

Only common-area gateways may report parcels: a home's hub reporting a delivery is ignored
(logged), so no hub can send codes to another home.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from sqlite_utils import Database

from community.clock import Clock, iso
from community.notices import NoticeDesk
from community.plates import load_or_create_key
from community.rounds import Rounds
from community.store import Store
from devices.catalog import DeviceKind, EventType
from devices.messages import Event
from devices.uplink import NoticeCategory, UplinkRecord

log = logging.getLogger(__name__)

Writer = Callable[..., Awaitable[Any]]

SERVICE: Final = "parcels"
KEY_FILE: Final = "parcel.key"
#: The event field that carries the pickup code (the only secret in a locker's report).
CODE: Final = "code"
#: Default reminder tiers: a day after delivery, then three days after.
DEFAULT_REMINDERS_S: Final = (24 * 3600.0, 72 * 3600.0)
LIST_LIMIT: Final = 500


class ParcelCode(StrEnum):
    """Notice codes the home's hub translates."""

    ARRIVED = "parcel_arrived"
    REMINDER = "parcel_reminder"
    PICKED_UP = "parcel_picked_up"


class ParcelAction(StrEnum):
    """What the parcel's log says happened."""

    DELIVERED = "delivered"
    NOTIFIED = "notified"
    CODE_CLEARED = "code_cleared"
    REMINDED = "reminded"
    PICKED_UP = "picked_up"


_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS parcels (
    id INTEGER PRIMARY KEY,
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    locker TEXT NOT NULL,
    compartment TEXT NOT NULL,
    home_id TEXT NOT NULL,
    parcel_id TEXT NOT NULL,
    code_hmac TEXT NOT NULL,
    delivered_ms INTEGER NOT NULL,
    delivered_key TEXT NOT NULL UNIQUE,
    notice_id TEXT,
    code_cleared_ms INTEGER,
    reminded INTEGER NOT NULL DEFAULT 0,
    last_reminded_ms INTEGER,
    picked_up_ms INTEGER,
    picked_up_key TEXT UNIQUE
)""",
    "CREATE INDEX IF NOT EXISTS parcels_waiting ON parcels(picked_up_ms, delivered_ms)",
    """CREATE TABLE IF NOT EXISTS parcel_log (
    parcel INTEGER NOT NULL REFERENCES parcels(id),
    at_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
)""",
)


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


class ParcelDesk:
    def __init__(
        self,
        *,
        store: Store,
        notices: NoticeDesk,
        write: Writer,
        clock: Clock,
        data_dir: Path,
        remind_after_s: Sequence[float] = DEFAULT_REMINDERS_S,
        poll_s: float = 30.0,
    ) -> None:
        self._store = store
        self._notices = notices
        self._write = write
        self._clock = clock
        self._key = load_or_create_key(data_dir / KEY_FILE)
        self._remind_after_s = tuple(remind_after_s)
        self._poll_s = poll_s
        self._rounds = Rounds("community-parcels", self.round, lambda: self._poll_s)
        with store.transaction() as db:
            for sql in _SCHEMA:
                db.execute(sql)

    @property
    def remind_after_s(self) -> tuple[float, ...]:
        """Reminder tiers, seconds after delivery; a change applies at the next round."""
        return self._remind_after_s

    @remind_after_s.setter
    def remind_after_s(self, tiers: Sequence[float]) -> None:
        if any(not s > 0 for s in tiers):
            raise ValueError("reminder delays must be positive seconds")
        self._remind_after_s = tuple(tiers)
        self.wake()

    @property
    def poll_s(self) -> float:
        """How often the round looks for reminders due and codes to clear."""
        return self._poll_s

    @poll_s.setter
    def poll_s(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError("poll_s must be positive")
        self._poll_s = seconds
        self.wake()  # a loop asleep on the old interval starts the new one now

    def __repr__(self) -> str:
        return "ParcelDesk(key=<hidden>)"

    async def start(self) -> None:
        await self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    def wake(self) -> None:
        self._rounds.wake()

    def code_hmac(self, code: str) -> str:
        return hmac.new(self._key, code.encode("utf-8"), hashlib.sha256).hexdigest()

    def code_matches(self, parcel: int, code: str) -> bool:
        """Whether ``code`` is the pickup code of ``parcel`` (front-desk check)."""
        rows = self._store.read("SELECT code_hmac FROM parcels WHERE id = ?", [parcel])
        return bool(rows) and hmac.compare_digest(rows[0]["code_hmac"], self.code_hmac(code))

    # --- ingest (writer thread) ------------------------------------------------------------

    @staticmethod
    def _parcel_event(record: UplinkRecord) -> Event | None:
        message, device = record.message, record.device
        if (
            isinstance(message, Event)
            and device is not None
            and device.kind is DeviceKind.PARCEL_LOCKER
            and message.event in (EventType.PARCEL_DELIVERED, EventType.PARCEL_PICKED_UP)
        ):
            return message
        return None

    def scrub(self, record: UplinkRecord) -> UplinkRecord:
        """The record without the pickup code: what the community may store."""
        event = self._parcel_event(record)
        if event is None or CODE not in event.data:
            return record
        data = {k: v for k, v in event.data.items() if k != CODE}
        return dataclasses.replace(record, message=dataclasses.replace(event, data=data))

    def on_record(self, record: UplinkRecord, now: int) -> None:
        """File a delivery or a pickup once (a resent record changes nothing)."""
        event = self._parcel_event(record)
        if event is None or record.device is None:
            return
        with self._store.transaction() as db:
            hub = db.execute(
                "SELECT common_area FROM hubs WHERE hub_id = ?", [record.hub_id]
            ).fetchone()
            if hub is None or not hub[0]:
                log.warning(
                    "parcel event from %s ignored: not a common-area gateway", record.hub_id
                )
                return
            if event.event is EventType.PARCEL_DELIVERED:
                notify = self._delivered(db, record, event, now)
            else:
                notify = self._picked_up(db, record, event, now)
        if notify:
            self._notices.wake()

    def _delivered(self, db: Database, record: UplinkRecord, event: Event, now: int) -> bool:
        if db.execute("SELECT 1 FROM parcels WHERE delivered_key = ?", [record.key]).fetchone():
            return False
        assert record.device is not None
        data = event.data
        home, parcel_id = _text(data, "home").strip(), _text(data, "parcel_id")
        compartment, code = _text(data, "compartment"), _text(data, CODE)
        locker = record.device.name or record.device.device_id
        cursor = db.execute(
            "INSERT INTO parcels (hub_id, device_id, locker, compartment, home_id, parcel_id,"
            " code_hmac, delivered_ms, delivered_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record.hub_id,
                record.device.device_id,
                locker,
                compartment,
                home,
                parcel_id,
                self.code_hmac(code) if code else "",
                min(event.ts, now),
                record.key,
            ],
        )
        parcel = int(cursor.lastrowid or 0)
        self._log(db, parcel, now, ParcelAction.DELIVERED, f"{locker} #{compartment}")
        log.info("parcel %s for %s in %s #%s", parcel, home, locker, compartment)
        known = db.execute(
            "SELECT 1 FROM hubs WHERE home_id = ? AND coalesce(common_area, 0) = 0", [home]
        ).fetchone()
        if known is None or not code:
            log.warning("parcel %s: no enrolled home %r or no code; nobody told", parcel, home)
            return False
        params = {
            "service": SERVICE,
            "parcel": str(parcel),
            "parcel_id": parcel_id,
            "locker": locker,
            "compartment": compartment,
        }
        notice_id = self._notices.add_for_homes(
            db,
            [home],
            category=NoticeCategory.SERVICE,
            code=ParcelCode.ARRIVED,
            params=params,
            data={**params, CODE: code},
            title=f"Parcel to collect: {locker}, compartment {compartment}",
            source=f"parcel:{parcel}:arrived",
        )
        db.execute("UPDATE parcels SET notice_id = ? WHERE id = ?", [notice_id, parcel])
        self._log(db, parcel, now, ParcelAction.NOTIFIED, home)
        return True

    def _picked_up(self, db: Database, record: UplinkRecord, event: Event, now: int) -> bool:
        assert record.device is not None
        data = event.data
        row = db.execute(
            "SELECT id, home_id, locker, compartment, parcel_id, picked_up_key FROM parcels"
            " WHERE device_id = ? AND parcel_id = ? AND compartment = ?"
            " AND (picked_up_ms IS NULL OR picked_up_key = ?) ORDER BY id DESC LIMIT 1",
            [
                record.device.device_id,
                _text(data, "parcel_id"),
                _text(data, "compartment"),
                record.key,
            ],
        ).fetchone()
        if row is None:
            log.warning("pickup of an unknown parcel reported by %s", record.device.device_id)
            return False
        parcel, home, locker, compartment, parcel_id, done = row
        if done == record.key:
            return False
        db.execute(
            "UPDATE parcels SET picked_up_ms = ?, picked_up_key = ? WHERE id = ?",
            [min(event.ts, now), record.key, parcel],
        )
        self._clear_code(db, parcel, now)
        self._log(db, parcel, now, ParcelAction.PICKED_UP, f"{locker} #{compartment}")
        log.info("parcel %s picked up", parcel)
        params = {
            "service": SERVICE,
            "parcel": str(parcel),
            "parcel_id": parcel_id,
            "locker": locker,
            "compartment": compartment,
        }
        self._notices.add_for_homes(
            db,
            [home],
            category=NoticeCategory.SERVICE,
            code=ParcelCode.PICKED_UP,
            params=params,
            data=params,
            title=f"Parcel collected from {locker}, compartment {compartment}",
            source=f"parcel:{parcel}:picked_up",
        )
        return True

    # --- the round: reminders, and codes no longer needed ----------------------------------

    async def round(self) -> None:
        reminded: int = await self._write(self.remind_due, self._clock())
        cleared: int = await self._write(self.clear_delivered_codes, self._clock())
        if reminded:
            self._notices.wake()
        if reminded or cleared:
            log.info("parcels: %d reminded, %d codes cleared", reminded, cleared)

    def remind_due(self, now: int) -> int:
        """Remind each uncollected parcel of the highest tier now due and not yet fired."""
        tiers = sorted(self.remind_after_s)
        if not tiers:
            return 0
        fired = 0
        with self._store.transaction() as db:
            rows = db.execute(
                "SELECT id, home_id, locker, compartment, parcel_id, delivered_ms, reminded"
                " FROM parcels WHERE picked_up_ms IS NULL AND reminded < ? AND notice_id IS NOT"
                " NULL AND delivered_ms <= ?",
                [len(tiers), now - int(tiers[0] * 1000)],
            ).fetchall()
            for parcel, home, locker, compartment, parcel_id, delivered, reminded in rows:
                due = sum(1 for s in tiers if delivered + int(s * 1000) <= now)
                if due <= reminded:
                    continue
                params = {
                    "service": SERVICE,
                    "parcel": str(parcel),
                    "parcel_id": parcel_id,
                    "locker": locker,
                    "compartment": compartment,
                    "tier": str(due),
                }
                self._notices.add_for_homes(
                    db,
                    [home],
                    category=NoticeCategory.SERVICE,
                    code=ParcelCode.REMINDER,
                    params=params,
                    data=params,
                    title=f"Reminder: your parcel is waiting in {locker}, compartment"
                    f" {compartment}",
                    source=f"parcel:{parcel}:reminder:{due}",
                )
                db.execute(
                    "UPDATE parcels SET reminded = ?, last_reminded_ms = ? WHERE id = ?",
                    [due, now, parcel],
                )
                self._log(db, parcel, now, ParcelAction.REMINDED, f"tier {due}")
                fired += 1
        return fired

    def clear_delivered_codes(self, now: int) -> int:
        """Remove the code from arrival notices every addressed hub has receipted."""
        with self._store.transaction() as db:
            rows = db.execute(
                "SELECT p.id FROM parcels p WHERE p.code_cleared_ms IS NULL"
                " AND p.notice_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM notice_deliveries d"
                " WHERE d.notice_id = p.notice_id AND d.status = 'pending')"
            ).fetchall()
            for (parcel,) in rows:
                self._clear_code(db, parcel, now)
        return len(rows)

    def _clear_code(self, db: Database, parcel: int, now: int) -> None:
        row = db.execute(
            "SELECT notice_id, code_cleared_ms FROM parcels WHERE id = ?", [parcel]
        ).fetchone()
        if row is None or row[1] is not None:
            return
        if row[0] is not None:
            db.execute(
                "UPDATE notices SET data = json_remove(data, '$.code') WHERE notice_id = ?",
                [row[0]],
            )
        db.execute("UPDATE parcels SET code_cleared_ms = ? WHERE id = ?", [now, parcel])
        self._log(db, parcel, now, ParcelAction.CODE_CLEARED, "")

    @staticmethod
    def _log(db: Database, parcel: int, now: int, action: ParcelAction, note: str) -> None:
        db.execute(
            "INSERT INTO parcel_log (parcel, at_ms, action, note) VALUES (?, ?, ?, ?)",
            [parcel, now, str(action), note],
        )

    # --- views -----------------------------------------------------------------------------

    def view(self, status: str = "all", limit: int = LIST_LIMIT) -> dict[str, Any]:
        """Parcels newest first, each with its log; never a code or its hash."""
        where = {
            "all": "",
            "waiting": " WHERE picked_up_ms IS NULL",
            "picked_up": " WHERE picked_up_ms IS NOT NULL",
        }[status]
        columns = (
            "id, hub_id, device_id, locker, compartment, home_id, parcel_id, delivered_ms,"
            " notice_id, code_cleared_ms, reminded, last_reminded_ms, picked_up_ms"
        )
        sql = f"SELECT {columns} FROM parcels{where} ORDER BY id DESC LIMIT ?"  # noqa: S608
        rows = self._store.read(sql, [limit])
        logs: dict[int, list[dict[str, Any]]] = {}
        if rows:
            marks = ", ".join("?" for _ in rows)
            for entry in self._store.read(
                f"SELECT parcel, at_ms, action, note FROM parcel_log WHERE parcel IN ({marks})"  # noqa: S608
                " ORDER BY at_ms, rowid",
                [row["id"] for row in rows],
            ):
                logs.setdefault(int(entry["parcel"]), []).append(
                    {
                        "at": iso(int(entry["at_ms"])),
                        "action": entry["action"],
                        "note": entry["note"],
                    }
                )
        counts = self._store.read(
            "SELECT count(*) AS total, coalesce(sum(picked_up_ms IS NULL), 0) AS waiting"
            " FROM parcels"
        )[0]
        return {
            "parcels": [self._view(row, logs.get(int(row["id"]), [])) for row in rows],
            "waiting": int(counts["waiting"]),
            "total": int(counts["total"]),
        }

    @staticmethod
    def _view(row: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
        def at(name: str) -> str | None:
            value = row[name]
            return None if value is None else iso(int(value))

        return {
            "id": int(row["id"]),
            "parcel_id": row["parcel_id"],
            "home_id": row["home_id"],
            "locker": row["locker"],
            "device_id": row["device_id"],
            "hub_id": row["hub_id"],
            "compartment": row["compartment"],
            "status": "waiting" if row["picked_up_ms"] is None else "picked_up",
            "notified": row["notice_id"] is not None,
            "code_held": row["notice_id"] is not None and row["code_cleared_ms"] is None,
            "delivered_at": at("delivered_ms"),
            "reminded": int(row["reminded"]),
            "last_reminded_at": at("last_reminded_ms"),
            "picked_up_at": at("picked_up_ms"),
            "history": history,
        }
