"""The resident's side of e-bike charging: ask the community, and follow what it answers.

The charging ports are not this hub's devices: they sit behind the charging shed's gateway,
which the community runs. So the hub never commands a port. It sends the resident's request
up as a ``resident_request`` record (the outbox delivers it, across restarts), and the
community decides and answers with a charging notice (``started``, ``refused`` with a reason,
``stopped``...). The same notices report how a session ended (``full``, ``cut`` with the
rule's reason). This module keeps the requests and, from the notices, the resident's view of
their sessions; the community's book stays the truth.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, Final

from devices.messages import DEVICE_ID_RE
from devices.uplink import (
    ChargingCode,
    DownlinkNotice,
    NoticeCategory,
    RequestAction,
    ResidentRequest,
    resident_request,
)
from hub.core import now_ms
from hub.outbox import Outbox
from hub.store import Store

_LOG = logging.getLogger(__name__)

_TABLES: Final = (
    """CREATE TABLE IF NOT EXISTS charging_requests (
    request_id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    port_id TEXT NOT NULL,
    asked_ms INTEGER NOT NULL,
    answer TEXT,
    reason TEXT,
    answered_ms INTEGER
)""",
    """CREATE TABLE IF NOT EXISTS charging_sessions (
    port_id TEXT PRIMARY KEY,
    port_name TEXT NOT NULL,
    status TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    reason TEXT NOT NULL DEFAULT ''
)""",
)

#: Session status a notice code leads to (codes not listed leave the session as it is).
_STATUS: Final[dict[str, str]] = {
    ChargingCode.STARTED: "active",
    ChargingCode.STOPPED: "ended",
    ChargingCode.FULL: "ended",
    ChargingCode.CUT: "ended",
    ChargingCode.ENDED: "ended",
    ChargingCode.START_FAILED: "ended",
}
_SESSION_KEYS: Final = ("port_id", "port_name", "status", "since_ms", "ended_ms", "reason")
_REQUEST_KEYS: Final = ("request_id", "action", "port_id", "asked_ms", "answer", "reason")
#: How many finished sessions and requests the page lists.
HISTORY: Final = 20


class ChargingRequests:
    def __init__(
        self, *, hub_id: str, store: Store, outbox: Outbox, wake_uplink: Callable[[], None]
    ) -> None:
        self._hub_id = hub_id
        self._store = store
        self._outbox = outbox
        self._wake = wake_uplink
        with store.transaction():
            for sql in _TABLES:
                store.db.execute(sql)

    def request(self, action: RequestAction, port_id: str) -> str:
        """Queue a start/stop request for the community; returns its request id.

        ValueError for a port id that is not a device id, or when the outbox refuses it.
        """
        if not DEVICE_ID_RE.fullmatch(port_id):
            raise ValueError("a port id is 1-64 letters, digits or ._:- and starts alnum")
        request_id = uuid.uuid4().hex
        record = resident_request(
            self._hub_id, 0, now_ms(), ResidentRequest(request_id, action, port_id)
        )
        with self._store.transaction():
            if self._outbox.add(record) is None:
                raise ValueError("the hub's outbox is full; try again later")
            self._store.db.execute(
                "INSERT INTO charging_requests (request_id, action, port_id, asked_ms)"
                " VALUES (?, ?, ?, ?)",
                [request_id, str(action), port_id, now_ms()],
            )
        self._wake()
        _LOG.info("charging %s on %s requested (%s)", action, port_id, request_id)
        return request_id

    def on_notice(self, notice: DownlinkNotice) -> None:
        """Follow a new charging notice: answer its request, move its session."""
        if notice.category is not NoticeCategory.CHARGING:
            return
        params = notice.params
        db = self._store.db
        with self._store.transaction():
            request_id = params.get("request_id")
            if request_id:
                db.execute(
                    "UPDATE charging_requests SET answer = ?, reason = ?, answered_ms = ?"
                    " WHERE request_id = ? AND answer IS NULL",
                    [notice.code, params.get("reason", ""), notice.ts, request_id],
                )
            status = _STATUS.get(notice.code)
            port_id = params.get("port", "")
            if status is None or not port_id:
                return
            if status == "active":
                db.execute(
                    "INSERT OR REPLACE INTO charging_sessions (port_id, port_name, status,"
                    " since_ms, ended_ms, reason) VALUES (?, ?, 'active', ?, NULL, '')",
                    [port_id, params.get("port_name", port_id), notice.ts],
                )
            else:
                db.execute(
                    "UPDATE charging_sessions SET status = 'ended', ended_ms = ?, reason = ?"
                    " WHERE port_id = ? AND status = 'active'",
                    [notice.ts, params.get("reason", notice.code), port_id],
                )

    def view(self) -> dict[str, Any]:
        """The resident's sessions (active first) and the requests still unanswered."""
        db = self._store.db
        sessions = [
            dict(zip(_SESSION_KEYS, r, strict=True))
            for r in db.execute(
                "SELECT port_id, port_name, status, since_ms, ended_ms, reason"
                " FROM charging_sessions ORDER BY status = 'active' DESC, since_ms DESC LIMIT ?",
                [HISTORY],
            ).fetchall()
        ]
        requests = [
            dict(zip(_REQUEST_KEYS, r, strict=True))
            for r in db.execute(
                "SELECT request_id, action, port_id, asked_ms, answer, reason"
                " FROM charging_requests ORDER BY asked_ms DESC LIMIT ?",
                [HISTORY],
            ).fetchall()
        ]
        return {"sessions": sessions, "requests": requests}
