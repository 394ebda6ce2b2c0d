"""Daily care checks and care bookings, as the community sees them.

A home hub runs the check itself (``hub.care``) and asks the community only when a tier must
leave the home, each time under the resident's consent:

* ``care``/``missed`` tier ``family``: a message sealed for the named family member. The
  community cannot read it; it files it in that recipient's mailbox (``community.mailbox``)
  and records that the family was told.
* ``care``/``missed`` tier ``duty_staff``: a ``care_check_missed`` alarm (alert) on the hub's
  pseudo-device, showing the home and the check time — nothing else — for the duty staff.
* ``care``/``ok``: the resident is fine; the alarm is cleared (``cleared_by = "resident"``)
  and a sealed "all right" for the family, if it comes, is filed like the first message.
* ``care``/``book``: a meal-assistance, care-visit or child-care booking, kept for the staff.

The home always comes from the enrolled hub (``Asked.home_id``), never from the body. Each
check's escalations are one row of ``care_checks``; ``GET /api/care`` lists them
(``community.web_care``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Protocol

from sqlite_utils import Database

from community.clock import iso
from community.services import Asked, Reply, ServiceDesk, ServiceRefusedError
from community.store import Store, hub_device_id
from devices.catalog import EventType

log = logging.getLogger(__name__)

SERVICE: Final = "care"
KIND: Final = str(EventType.CARE_CHECK_MISSED)
#: Who raised and who cleared a care alarm, as the alarm history names them.
BY_CARE: Final = "care"
BY_RESIDENT: Final = "resident"
BOOKABLE: Final = frozenset({"meal", "care_visit", "child_care"})
MAX_NOTE: Final = 200
#: How far ahead a booking may be made.
BOOK_AHEAD_DAYS: Final = 90
_CHECK_ID: Final = re.compile(r"[0-9a-f]{32}")
_HHMM: Final = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS care_checks (
    hub_id TEXT NOT NULL,
    check_id TEXT NOT NULL,
    home_id TEXT NOT NULL,
    check_time TEXT,
    asked_at TEXT,
    family_told_ms INTEGER,
    family_recipient TEXT,
    staff_told_ms INTEGER,
    alarm_id INTEGER,
    ok_ms INTEGER,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (hub_id, check_id)
)""",
    """CREATE TABLE IF NOT EXISTS care_bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    hub_id TEXT NOT NULL,
    home_id TEXT NOT NULL,
    service TEXT NOT NULL,
    date TEXT NOT NULL,
    time TEXT NOT NULL,
    note TEXT NOT NULL,
    status TEXT NOT NULL,
    booked_ms INTEGER NOT NULL
)""",
)


class MailDrop(Protocol):
    """Where a sealed entry for a recipient is filed (``community.mailbox.Mailbox``)."""

    def deposit(
        self, db: Database, recipient: str, entry: dict[str, Any], *, source: str
    ) -> bool: ...


#: Push changed alarms to the dashboards and wake escalation (called on the event loop).
Publish = Callable[[tuple[dict[str, Any], ...]], None]


def _check_id(body: dict[str, Any]) -> str:
    check_id = body.get("check_id")
    if not isinstance(check_id, str) or not _CHECK_ID.fullmatch(check_id):
        raise ServiceRefusedError("bad_request", "check_id must be 32 hex digits")
    return check_id


class CareDesk:
    """The community's side of care checks and bookings (handlers run on the writer thread)."""

    def __init__(self, store: Store, mailbox: MailDrop) -> None:
        self._store = store
        self._mailbox = mailbox
        self._publish: Publish | None = None
        with store.transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def register(self, services: ServiceDesk) -> None:
        services.register(SERVICE, "missed", self._missed)
        services.register(SERVICE, "ok", self._ok)
        services.register(SERVICE, "book", self._book)

    def attach(self, publish: Publish) -> None:
        """Push alarm changes live through ``publish`` (call on the server's event loop)."""
        loop = asyncio.get_running_loop()

        def from_writer(alarms: tuple[dict[str, Any], ...]) -> None:
            loop.call_soon_threadsafe(publish, alarms)

        self._publish = from_writer

    def _changed(self, alarms: tuple[dict[str, Any], ...]) -> None:
        if alarms and self._publish is not None:
            self._publish(alarms)

    # --- checks ----------------------------------------------------------------------------

    def _row(self, db: Database, asked: Asked, check_id: str) -> dict[str, Any]:
        found = db.execute(
            "SELECT check_time, family_told_ms, staff_told_ms, alarm_id, ok_ms FROM care_checks"
            " WHERE hub_id = ? AND check_id = ?",
            [asked.hub_id, check_id],
        ).fetchone()
        if found is None:
            db.execute(
                "INSERT INTO care_checks (hub_id, check_id, home_id, updated_ms)"
                " VALUES (?, ?, ?, ?)",
                [asked.hub_id, check_id, asked.home_id, asked.now_ms],
            )
            return {"check_time": None, "alarm_id": None, "ok_ms": None}
        keys = ("check_time", "family_told_ms", "staff_told_ms", "alarm_id", "ok_ms")
        return dict(zip(keys, found, strict=True))

    def _file(self, db: Database, asked: Asked, sealed: object, what: str) -> str:
        """File a sealed entry for its recipient; the recipient's id."""
        if not isinstance(sealed, dict) or not isinstance(sealed.get("recipient"), str):
            raise ServiceRefusedError("bad_request", "sealed must be a mailbox entry")
        context = sealed.get("context")
        if not isinstance(context, dict) or context.get("hub") != asked.hub_id:
            raise ServiceRefusedError("bad_request", "the entry was sealed by another hub")
        recipient = str(sealed["recipient"])
        if not recipient.startswith("family:"):
            raise ServiceRefusedError("bad_request", "care messages are for family members")
        try:
            self._mailbox.deposit(db, recipient, sealed, source=f"care:{what}:{asked.key}")
        except ValueError as exc:
            raise ServiceRefusedError("bad_request", str(exc)) from None
        return recipient

    def _missed(self, db: Database, asked: Asked) -> Reply:
        body = asked.request.body
        check_id = _check_id(body)
        tier = body.get("tier")
        row = self._row(db, asked, check_id)
        if row["ok_ms"] is not None:
            raise ServiceRefusedError("check_ended")
        asked_at = body.get("asked_at")
        if asked_at is not None:
            if not isinstance(asked_at, str) or not _ISO.fullmatch(asked_at):
                raise ServiceRefusedError("bad_request", "asked_at must be an ISO-8601 time")
            db.execute(
                "UPDATE care_checks SET asked_at = COALESCE(asked_at, ?)"
                " WHERE hub_id = ? AND check_id = ?",
                [asked_at, asked.hub_id, check_id],
            )
        if tier == "family":
            recipient = self._file(db, asked, body.get("sealed"), "family")
            db.execute(
                "UPDATE care_checks SET family_told_ms = ?, family_recipient = ?,"
                " updated_ms = ? WHERE hub_id = ? AND check_id = ?",
                [asked.now_ms, recipient, asked.now_ms, asked.hub_id, check_id],
            )
            log.info("care check %s of %s: family told", check_id, asked.home_id)
            return Reply("family_told", {"tier": "family"})
        if tier != "duty_staff":
            raise ServiceRefusedError("bad_request", "tier must be family or duty_staff")
        check_time = body.get("check_time")
        if check_time is not None and (
            not isinstance(check_time, str) or not _HHMM.fullmatch(check_time)
        ):
            raise ServiceRefusedError("bad_request", "check_time must be HH:MM")
        label = f"Care check {check_time}" if check_time else "Care check"
        alarm, _ = self._store.raise_community_alarm(
            db,
            hub_id=asked.hub_id,
            device={"device_id": hub_device_id(asked.hub_id), "device_name": label},
            kind=KIND,
            by=BY_CARE,
            now=asked.now_ms,
            note=label,
        )
        db.execute(
            "UPDATE care_checks SET staff_told_ms = ?, alarm_id = ?, check_time = ?,"
            " updated_ms = ? WHERE hub_id = ? AND check_id = ?",
            [asked.now_ms, alarm["id"], check_time, asked.now_ms, asked.hub_id, check_id],
        )
        self._changed((alarm,))
        log.info("care check %s of %s: duty staff alarm %s", check_id, asked.home_id, alarm["id"])
        return Reply("staff_told", {"tier": "duty_staff", "alarm_id": str(alarm["id"])})

    def _ok(self, db: Database, asked: Asked) -> Reply:
        body = asked.request.body
        check_id = _check_id(body)
        row = self._row(db, asked, check_id)
        if "sealed" in body:
            self._file(db, asked, body["sealed"], "ok")
        db.execute(
            "UPDATE care_checks SET ok_ms = COALESCE(ok_ms, ?), updated_ms = ?"
            " WHERE hub_id = ? AND check_id = ?",
            [asked.now_ms, asked.now_ms, asked.hub_id, check_id],
        )
        if row["alarm_id"] is not None:
            cleared = self._store.clear_community_alarm(
                db,
                hub_id=asked.hub_id,
                device_id=hub_device_id(asked.hub_id),
                kind=KIND,
                by=BY_RESIDENT,
                now=asked.now_ms,
            )
            if cleared is not None:
                self._changed((cleared,))
        log.info("care check %s of %s: the resident is fine", check_id, asked.home_id)
        return Reply("ok")

    def checks(self, home_id: str | None = None) -> list[dict[str, Any]]:
        """Every check that left a home, newest first, with the tiers it reached."""
        sql = (
            "SELECT hub_id, check_id, home_id, check_time, asked_at, family_told_ms,"
            " family_recipient,"
            " staff_told_ms, alarm_id, ok_ms, updated_ms FROM care_checks"
        )
        params: list[object] = []
        if home_id is not None:
            sql += " WHERE home_id = ?"
            params.append(home_id)
        rows = self._store.read(sql + " ORDER BY updated_ms DESC LIMIT 500", params)
        return [_check_view(row) for row in rows]

    # --- bookings --------------------------------------------------------------------------

    def _book(self, db: Database, asked: Asked) -> Reply:
        body = asked.request.body
        if set(body) - {"service", "date", "time", "note"}:
            raise ServiceRefusedError("bad_request", "unknown fields")
        service, day, at, note = (body.get(k) for k in ("service", "date", "time", "note"))
        note = "" if note is None else note
        if service not in BOOKABLE:
            raise ServiceRefusedError("unknown_service_kind")
        if not isinstance(at, str) or not _HHMM.fullmatch(at):
            raise ServiceRefusedError("bad_time")
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise ServiceRefusedError("bad_note")
        if not isinstance(day, str) or not _DATE.fullmatch(day):
            raise ServiceRefusedError("bad_date")
        try:
            wanted = date.fromisoformat(day)
        except ValueError:
            raise ServiceRefusedError("bad_date") from None
        today = datetime.fromtimestamp(asked.now_ms / 1000, UTC).date()
        if not today - timedelta(days=1) <= wanted <= today + timedelta(days=BOOK_AHEAD_DAYS):
            raise ServiceRefusedError("date_out_of_range")
        cursor = db.execute(
            "INSERT INTO care_bookings (key, hub_id, home_id, service, date, time, note, status,"
            " booked_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 'booked', ?)",
            [asked.key, asked.hub_id, asked.home_id, service, day, at, note, asked.now_ms],
        )
        booking_id = int(cursor.lastrowid or 0)
        log.info("care booking %s (%s) for %s", booking_id, service, asked.home_id)
        return Reply("booked", {"booking_id": str(booking_id)}, {"booking_id": booking_id})

    def bookings(self) -> list[dict[str, Any]]:
        rows = self._store.read(
            "SELECT id, home_id, service, date, time, note, status, booked_ms FROM care_bookings"
            " ORDER BY date, time, id LIMIT 500"
        )
        return [{**row, "booked_at": iso(int(row["booked_ms"]))} for row in rows]


def _check_view(row: dict[str, Any]) -> dict[str, Any]:
    escalated = [
        tier
        for tier, column in (("family", "family_told_ms"), ("duty_staff", "staff_told_ms"))
        if row[column] is not None
    ]
    when = {k: (iso(int(row[k])) if row[k] is not None else None) for k in _TIMES}
    return {
        "home": row["home_id"],
        "hub_id": row["hub_id"],
        "check_id": row["check_id"],
        "check_time": row["check_time"],
        "asked_at": row["asked_at"],
        "family_told_at": when["family_told_ms"],
        "family_recipient": row["family_recipient"],
        "staff_told_at": when["staff_told_ms"],
        "staff_alarm_id": row["alarm_id"],
        "ok_at": when["ok_ms"],
        "escalated_to": escalated,
        "status": "ok" if row["ok_ms"] is not None else "open",
    }


_TIMES: Final = ("family_told_ms", "staff_told_ms", "ok_ms")
