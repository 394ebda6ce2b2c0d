"""Charging sessions bound to homes: residents' start/stop requests, checked and carried out.

A resident's hub sends a ``resident_request`` (start or stop, a port id). The community owns
the charging shed's gateway, so it alone decides and commands the port. Deny by default:

- the requesting hub must belong to a home, and the home must be allowed to charge
  (:meth:`ChargingSessions.allow`);
- the port must be a charging port exactly one hub has reported;
- start: the port must be free (no open session, not charging or faulted) and the home must
  have no other open session; stop: the open session on the port must be this home's.

A refusal is answered at once with a ``refused`` notice and changes nothing else. An accepted
request opens (or closes) a session in ``charging_sessions`` and wants a command: the loop
books ``port_enable`` or ``port_cut{reason: manual}`` with the command desk and, when the port
has acknowledged it, tells the home (``started`` / ``stopped``; ``start_failed`` /
``stop_failed`` if the port refused or never answered).

Because the session is bound to the home, what the field rules do to the port reaches the
right hub: every new row of the field engine's ``field_cuts`` on a port with an open session
ends it with a ``full`` or ``cut`` notice (with the rule's reason), and a port's own
``charge_session_ended`` (unplugged, a fault...) ends it with an ``ended`` notice. Both are
read by cursor from tables that other parts write, so this module needs no hook in them.

Requests are applied once per uplink idempotency key (``charging_requests``), before the
record itself is stored, so a crash between the two replays nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, Final

from sqlite_utils import Database

from community import command_book
from community.clock import Clock
from community.notices import NoticeDesk
from community.rounds import Rounds
from community.store import Store
from devices.catalog import DeviceKind
from devices.uplink import (
    ChargingCode,
    NoticeCategory,
    RecordKind,
    Refusal,
    RequestAction,
    ResidentRequest,
    UplinkRecord,
)

log = logging.getLogger(__name__)

Writer = Callable[..., Awaitable[Any]]
Send = Callable[[str, str, str, dict[str, Any]], Awaitable[str]]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS charging_homes (
    home_id TEXT PRIMARY KEY,
    since_ms INTEGER NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS charging_sessions (
    id INTEGER PRIMARY KEY,
    home_id TEXT NOT NULL,
    hub_id TEXT NOT NULL,
    port_hub_id TEXT NOT NULL,
    port_id TEXT NOT NULL,
    port_name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_request TEXT NOT NULL,
    stop_request TEXT,
    start_command TEXT,
    stop_command TEXT,
    opened_ms INTEGER NOT NULL,
    closed_ms INTEGER,
    end_reason TEXT
)""",
    "CREATE INDEX IF NOT EXISTS charging_sessions_port ON charging_sessions(port_hub_id, port_id)",
    """CREATE TABLE IF NOT EXISTS charging_requests (
    key TEXT PRIMARY KEY,
    hub_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    port_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    at_ms INTEGER NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS charging_cursors (
    source TEXT PRIMARY KEY,
    last_rowid INTEGER NOT NULL
)""",
)


class SessionStatus(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"
    ENDED = "ended"


_OPEN_ON_PORT: Final = (
    "SELECT * FROM charging_sessions WHERE port_hub_id = ? AND port_id = ?"
    " AND status IN ('starting', 'active', 'stopping')"
)
_OPEN_OF_HOME: Final = (
    "SELECT 1 FROM charging_sessions WHERE home_id = ?"
    " AND status IN ('starting', 'active', 'stopping')"
)
#: Ports' own ``charge_session_ended`` events (the catalog's event name).
_PORT_ENDED: Final = "SELECT rowid AS rid, * FROM events WHERE event = 'charge_session_ended'"
#: Port states in which a port is somebody's (or nobody may use it).
_BUSY_STATES: Final = {"charging": Refusal.PORT_BUSY, "full": Refusal.PORT_BUSY}
_FAULT_STATES: Final = {"fault": Refusal.PORT_FAULT}
#: The manual stop the resident asked for (a catalog ``port_cut`` reason).
STOP_REASON: Final = "manual"
_START: Final[tuple[str, dict[str, Any]]] = ("port_enable", {})
_STOP: Final[tuple[str, dict[str, Any]]] = ("port_cut", {"reason": STOP_REASON})
#: Words for hubs that show ``title`` as is; a hub's UI says the ``code`` in its language.
_TITLES: Final[dict[ChargingCode, str]] = {
    ChargingCode.STARTED: "Charging started on {port_name}",
    ChargingCode.REFUSED: "Charging request refused: {reason}",
    ChargingCode.START_FAILED: "Charging could not start on {port_name}: {reason}",
    ChargingCode.STOPPED: "Charging stopped on {port_name}",
    ChargingCode.STOP_FAILED: "Charging could not be stopped on {port_name}: {reason}",
    ChargingCode.FULL: "Battery full: charging stopped on {port_name}",
    ChargingCode.CUT: "Charging cut on {port_name}: {reason}",
    ChargingCode.ENDED: "Charging ended on {port_name}: {reason}",
}


class _RefusedError(Exception):
    def __init__(self, reason: Refusal) -> None:
        self.reason = reason


class ChargingSessions:
    def __init__(
        self,
        *,
        store: Store,
        notices: NoticeDesk,
        send: Send,
        write: Writer,
        clock: Clock,
        poll_s: float = 0.5,
    ) -> None:
        self._store = store
        self._notices = notices
        self._send = send
        self._write = write
        self._clock = clock
        self.poll_s = poll_s
        self._rounds = Rounds("community-charging", self._round, lambda: self.poll_s)
        with store.transaction() as db:
            command_book.ensure_table(db)
            for sql in _SCHEMA:
                db.execute(sql)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    def wake(self) -> None:
        self._rounds.wake()

    # --- who may charge --------------------------------------------------------------------

    def allow(self, home_id: str) -> None:
        """Let a home start charging sessions (homes are refused until allowed)."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO charging_homes (home_id, since_ms) VALUES (?, ?)",
                [home_id, self._clock()],
            )

    def disallow(self, home_id: str) -> None:
        """No new sessions for the home; its open session may still be stopped."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM charging_homes WHERE home_id = ?", [home_id])

    # --- requests (writer thread, from the pipeline, before the record is stored) ----------

    def on_record(self, record: UplinkRecord, now: int) -> None:
        """Apply a resident's request once; other records are not this module's."""
        if record.kind is not RecordKind.RESIDENT_REQUEST or record.request is None:
            return
        request = record.request
        with self._store.transaction() as db:
            seen = db.execute("SELECT 1 FROM charging_requests WHERE key = ?", [record.key])
            if seen.fetchone() is not None:
                return
            try:
                if request.action is RequestAction.START:
                    self._start(db, record.hub_id, request, now)
                else:
                    self._stop(db, record.hub_id, request, now)
                verdict = "accepted"
            except _RefusedError as refused:
                verdict = str(refused.reason)
                self._tell(
                    db,
                    record.hub_id,
                    ChargingCode.REFUSED,
                    {"request_id": request.request_id, "port": request.port_id},
                    request.port_id,
                    str(refused.reason),
                )
            db.execute(
                "INSERT INTO charging_requests (key, hub_id, request_id, action, port_id,"
                " verdict, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    record.key,
                    record.hub_id,
                    request.request_id,
                    str(request.action),
                    request.port_id,
                    verdict,
                    now,
                ],
            )
        log.info(
            "charging %s on %s from %s: %s", request.action, request.port_id, record.hub_id, verdict
        )
        self.wake()
        self._notices.wake()

    def _home(self, db: Database, hub_id: str) -> str:
        row = db.execute("SELECT home_id FROM hubs WHERE hub_id = ?", [hub_id]).fetchone()
        if row is None or not row[0]:
            raise _RefusedError(Refusal.UNKNOWN_HOME)
        return str(row[0])

    def _port(self, db: Database, port_id: str) -> tuple[str, str, dict[str, Any]]:
        """(hub that reported the port, its name, its latest port_state message)."""
        hubs = db.execute(
            "SELECT DISTINCT hub_id FROM events WHERE device_id = ? AND device_kind = ?",
            [port_id, str(DeviceKind.CHARGING_PORT)],
        ).fetchall()
        if len(hubs) != 1:
            raise _RefusedError(Refusal.UNKNOWN_PORT)
        port_hub = str(hubs[0][0])
        latest = db.execute(
            "SELECT message FROM events WHERE hub_id = ? AND device_id = ?"
            " AND message_type = 'state'"
            " AND json_extract(message, '$.state.port_state') IS NOT NULL"
            " ORDER BY rowid DESC LIMIT 1",
            [port_hub, port_id],
        ).fetchone()
        state = dict(json.loads(latest[0])["state"]) if latest else {}
        return port_hub, _port_name(port_id, state), state

    def _open_session(self, db: Database, port_hub: str, port_id: str) -> dict[str, Any] | None:
        return _one(
            db,
            _OPEN_ON_PORT,
            [port_hub, port_id],
        )

    def _start(self, db: Database, hub_id: str, request: ResidentRequest, now: int) -> None:
        home = self._home(db, hub_id)
        allowed = db.execute("SELECT 1 FROM charging_homes WHERE home_id = ?", [home])
        if allowed.fetchone() is None:
            raise _RefusedError(Refusal.NOT_ALLOWED)
        port_hub, name, state = self._port(db, request.port_id)
        session = self._open_session(db, port_hub, request.port_id)
        if session is not None:
            raise _RefusedError(
                Refusal.HOME_BUSY if session["home_id"] == home else Refusal.PORT_BUSY
            )
        mine = _one(db, _OPEN_OF_HOME, [home])
        if mine is not None:
            raise _RefusedError(Refusal.HOME_BUSY)
        port_state = str(state.get("port_state", ""))
        refusal = _FAULT_STATES.get(port_state) or _BUSY_STATES.get(port_state)
        if refusal is not None:
            raise _RefusedError(refusal)
        db.execute(
            "INSERT INTO charging_sessions (home_id, hub_id, port_hub_id, port_id, port_name,"
            " status, start_request, opened_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                home,
                hub_id,
                port_hub,
                request.port_id,
                name,
                SessionStatus.STARTING,
                request.request_id,
                now,
            ],
        )

    def _stop(self, db: Database, hub_id: str, request: ResidentRequest, now: int) -> None:
        home = self._home(db, hub_id)
        port_hub, _, _ = self._port(db, request.port_id)
        session = self._open_session(db, port_hub, request.port_id)
        if session is None:
            raise _RefusedError(Refusal.NO_SESSION)
        if session["home_id"] != home:
            raise _RefusedError(Refusal.NOT_YOUR_SESSION)
        if session["status"] == SessionStatus.STOPPING:
            return  # a stop is already on its way
        db.execute(
            "UPDATE charging_sessions SET status = ?, stop_request = ?, stop_command = NULL"
            " WHERE id = ?",
            [SessionStatus.STOPPING, request.request_id, session["id"]],
        )

    # --- the loop: book commands, settle them, follow the port -----------------------------

    async def _round(self) -> None:
        for row in await self._write(self._wanted):
            starting = row["status"] == SessionStatus.STARTING
            command, args = (
                ("port_enable", {}) if starting else ("port_cut", {"reason": STOP_REASON})
            )
            try:
                command_id = await self._send(row["port_hub_id"], row["port_id"], command, args)
            except ValueError as exc:
                log.warning("charging session %s: %s not sent: %s", row["id"], command, exc)
                command_id = ""
            await self._write(self._booked, int(row["id"]), starting, command_id)
        if await self._write(self._settle):
            self._notices.wake()

    def _wanted(self) -> list[dict[str, Any]]:
        return self._store.read(
            "SELECT * FROM charging_sessions WHERE (status = ? AND start_command IS NULL)"
            " OR (status = ? AND stop_command IS NULL) ORDER BY id",
            [SessionStatus.STARTING, SessionStatus.STOPPING],
        )

    def _booked(self, session_id: int, starting: bool, command_id: str) -> None:
        column = "start_command" if starting else "stop_command"
        with self._store.transaction() as db:
            db.execute(
                f"UPDATE charging_sessions SET {column} = ? WHERE id = ?",  # noqa: S608
                [command_id, session_id],
            )

    def _settle(self) -> int:
        """Turn command results, field cuts and port events into session changes and notices;
        returns how many notices were written."""
        now = self._clock()
        told = 0
        with self._store.transaction() as db:
            told += self._settle_commands(db, now)
            told += self._follow_cuts(db, now)
            told += self._follow_port_events(db, now)
        return told

    def _settle_commands(self, db: Database, now: int) -> int:
        told = 0
        rows = list(
            db.query(
                "SELECT s.*, d.status AS result, d.error AS error FROM charging_sessions s"
                " LEFT JOIN downlink_commands d ON d.command_id = CASE s.status"
                " WHEN 'starting' THEN s.start_command ELSE s.stop_command END"
                " WHERE s.status IN ('starting', 'stopping')"
                " AND CASE s.status WHEN 'starting' THEN s.start_command"
                " ELSE s.stop_command END IS NOT NULL"
            )
        )
        for row in rows:
            starting = row["status"] == SessionStatus.STARTING
            result = row["result"] if row["result"] is not None else "failed"
            if result == command_book.CommandStatus.PENDING:
                continue
            ok = result == command_book.CommandStatus.ACKED
            error = str(row["error"] or "the command could not be sent")
            request = row["start_request"] if starting else row["stop_request"]
            if starting:
                status = SessionStatus.ACTIVE if ok else SessionStatus.ENDED
                code = ChargingCode.STARTED if ok else ChargingCode.START_FAILED
            else:
                status = SessionStatus.ENDED if ok else SessionStatus.ACTIVE
                code = ChargingCode.STOPPED if ok else ChargingCode.STOP_FAILED
            reason = error if not ok else "" if starting else "user"
            self._move(db, row, status, reason, now)
            self._tell(db, row["hub_id"], code, {"request_id": str(request)}, row, reason)
            told += 1
        return told

    def _follow_cuts(self, db: Database, now: int) -> int:
        told = 0
        for cut in self._since(db, "field_cuts", "SELECT rowid AS rid, * FROM field_cuts"):
            session = self._open_session(db, cut["hub_id"], cut["device_id"])
            if session is None:
                continue
            reason = str(cut["reason"])
            code = ChargingCode.FULL if reason == "full" else ChargingCode.CUT
            self._move(db, session, SessionStatus.ENDED, reason, now)
            self._tell(db, session["hub_id"], code, {}, session, reason)
            told += 1
        return told

    def _follow_port_events(self, db: Database, now: int) -> int:
        told = 0
        for event in self._since(db, "events", _PORT_ENDED):
            session = self._open_session(db, event["hub_id"], event["device_id"])
            if session is None or session["status"] != SessionStatus.ACTIVE:
                continue  # a stop or start in flight settles by its command
            data = json.loads(event["message"] or "{}").get("data", {})
            reason = str(data.get("reason", "ended"))
            self._move(db, session, SessionStatus.ENDED, reason, now)
            self._tell(db, session["hub_id"], ChargingCode.ENDED, {}, session, reason)
            told += 1
        return told

    def _since(self, db: Database, source: str, sql: str) -> list[dict[str, Any]]:
        """Rows of ``source`` added since the last call (by rowid); advances the cursor."""
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [source]
        ).fetchone()
        if exists is None:
            return []
        row = db.execute(
            "SELECT last_rowid FROM charging_cursors WHERE source = ?", [source]
        ).fetchone()
        last = int(row[0]) if row else 0
        joiner = " AND" if " WHERE " in sql else " WHERE"
        rows = list(db.query(f"{sql}{joiner} rowid > ? ORDER BY rowid", [last]))
        if rows:
            db.execute(
                "INSERT OR REPLACE INTO charging_cursors (source, last_rowid) VALUES (?, ?)",
                [source, int(rows[-1]["rid"])],
            )
        return rows

    def _move(
        self, db: Database, session: Mapping[str, Any], status: SessionStatus, reason: str, now: int
    ) -> None:
        ended = status is SessionStatus.ENDED
        db.execute(
            "UPDATE charging_sessions SET status = ?, closed_ms = ?, end_reason = ? WHERE id = ?",
            [status, now if ended else None, reason if ended else None, session["id"]],
        )

    def _tell(
        self,
        db: Database,
        hub_id: str,
        code: ChargingCode,
        params: dict[str, str],
        port: Mapping[str, Any] | str,
        reason: str,
    ) -> None:
        """Write the charging notice for a home's hub (``port``: a session row or a port id)."""
        if isinstance(port, str):
            port_id, port_name = port, port
        else:
            port_id, port_name = str(port["port_id"]), str(port["port_name"])
        full = {"port": port_id, "port_name": port_name, **params}
        if reason:
            full["reason"] = reason[:128]
        title = _TITLES[code].format(port_name=port_name, reason=reason)[:200]
        self._notices.add(
            db,
            hub_ids=[hub_id],
            category=NoticeCategory.CHARGING,
            code=str(code),
            params=full,
            title=title,
        )

    # --- views -----------------------------------------------------------------------------

    def sessions(self, home_id: str | None = None) -> list[dict[str, Any]]:
        """Every session (or one home's), oldest first."""
        if home_id is None:
            return self._store.read("SELECT * FROM charging_sessions ORDER BY id")
        return self._store.read(
            "SELECT * FROM charging_sessions WHERE home_id = ? ORDER BY id", [home_id]
        )

    def requests(self) -> list[dict[str, Any]]:
        return self._store.read("SELECT * FROM charging_requests ORDER BY at_ms, key")


def _port_name(port_id: str, state: Mapping[str, Any]) -> str:
    number = state.get("port")
    return f"port {number}" if isinstance(number, int) and not isinstance(number, bool) else port_id


def _one(db: Database, sql: str, params: list[object]) -> dict[str, Any] | None:
    return next(iter(db.query(sql, params)), None)
