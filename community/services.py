"""One desk for every property service a resident asks from their hub.

A hub sends a ``service_request`` record (``devices.service``): a service name, an action, a
request id and a small JSON body. The desk applies it exactly once (the record's idempotency
key is remembered in the same transaction as the service's own writes), hands it to the
handler the service registered, and answers the home with a signed ``service`` notice naming
the request (``params.request_id``, ``params.service``): ``code`` is what the handler said
(``accepted``, ``issued`` ...) or ``refused`` with ``params.reason``. Unknown services and
actions are refused the same way, so a newer hub talking to an older community gets an answer,
not silence.

Handlers run on the store's writer thread inside the transaction, so a refused request (a
:class:`ServiceRefusedError` raised by the handler) rolls back whatever the handler wrote and
leaves only the refusal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlite_utils import Database

from community.notices import NoticeDesk
from community.store import Store
from devices.service import ServiceRequest
from devices.uplink import NoticeCategory, RecordKind, UplinkRecord

log = logging.getLogger(__name__)

_SCHEMA: Final = """CREATE TABLE IF NOT EXISTS service_requests (
    key TEXT PRIMARY KEY,
    hub_id TEXT NOT NULL,
    home_id TEXT,
    service TEXT NOT NULL,
    action TEXT NOT NULL,
    request_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    at_ms INTEGER NOT NULL
)"""


class ServiceRefusedError(Exception):
    """A handler refuses a request; ``reason`` is an identifier the hub can translate."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Reply:
    """What the home is told: ``code`` plus params and structured data for the hub."""

    code: str
    params: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    body: str = ""


@dataclass(frozen=True, slots=True)
class Asked:
    """One request as a handler sees it: who asked (hub and its home) and what."""

    hub_id: str
    home_id: str
    request: ServiceRequest
    key: str
    now_ms: int


#: A handler: writes through ``db`` (inside the desk's transaction) and says what to answer.
Handler = Callable[[Database, Asked], Reply]


class ServiceDesk:
    """Routes service requests to their handlers; answers every request once."""

    def __init__(self, store: Store, notices: NoticeDesk) -> None:
        self._store = store
        self._notices = notices
        self._handlers: dict[tuple[str, str], Handler] = {}
        with store.transaction() as db:
            db.execute(_SCHEMA)

    def register(self, service: str, action: str, handler: Handler) -> None:
        """Route ``service``/``action`` to ``handler`` (once per pair)."""
        if (service, action) in self._handlers:
            raise ValueError(f"{service}/{action} already has a handler")
        self._handlers[(service, action)] = handler

    def on_record(self, record: UplinkRecord, now: int) -> None:
        """Apply a service request once (writer thread); other records are not this desk's."""
        if record.kind is not RecordKind.SERVICE_REQUEST or record.service is None:
            return
        request = record.service
        with self._store.transaction() as db:
            seen = db.execute("SELECT 1 FROM service_requests WHERE key = ?", [record.key])
            if seen.fetchone() is not None:
                return
            row = db.execute("SELECT home_id FROM hubs WHERE hub_id = ?", [record.hub_id])
            found = row.fetchone()
            home_id = str(found[0]) if found and found[0] else ""
            reply, verdict, reason = self._apply(db, record, request, home_id, now)
            db.execute(
                "INSERT INTO service_requests (key, hub_id, home_id, service, action,"
                " request_id, verdict, reason, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.key,
                    record.hub_id,
                    home_id or None,
                    request.service,
                    request.action,
                    request.request_id,
                    verdict,
                    reason,
                    now,
                ],
            )
            params = {
                **reply.params,
                "request_id": request.request_id,
                "service": request.service,
            }
            self._notices.add(
                db,
                hub_ids=[record.hub_id],
                category=NoticeCategory.SERVICE,
                code=reply.code,
                params=params,
                data=reply.data,
                title=reply.title,
                body=reply.body,
                source=f"service:{record.key}",
            )
        log.info(
            "service %s/%s from %s: %s",
            request.service,
            request.action,
            record.hub_id,
            verdict if not reason else f"{verdict} ({reason})",
        )
        self._notices.wake()

    def _apply(
        self,
        db: Database,
        record: UplinkRecord,
        request: ServiceRequest,
        home_id: str,
        now: int,
    ) -> tuple[Reply, str, str]:
        handler = self._handlers.get((request.service, request.action))
        if handler is None:
            return _refusal("unknown_service"), "refused", "unknown_service"
        if not home_id:
            return _refusal("unknown_home"), "refused", "unknown_home"
        try:
            with db.atomic():  # a savepoint: a refusal undoes the handler's own writes
                reply = handler(db, Asked(record.hub_id, home_id, request, record.key, now))
        except ServiceRefusedError as refused:
            return _refusal(refused.reason), "refused", refused.reason
        except Exception:
            log.exception("service %s/%s failed", request.service, request.action)
            return _refusal("service_error"), "refused", "service_error"
        return reply, "accepted", ""

    def requests(self, service: str | None = None) -> list[dict[str, Any]]:
        """Every request the desk answered (oldest first), for reports and audits."""
        sql = "SELECT key, hub_id, home_id, service, action, request_id, verdict, reason, at_ms"
        sql += " FROM service_requests"
        params: list[object] = []
        if service is not None:
            sql += " WHERE service = ?"
            params.append(service)
        return self._store.read(sql + " ORDER BY at_ms, key", params)


def _refusal(reason: str) -> Reply:
    return Reply("refused", {"reason": reason})


def dumps(value: Any) -> str:
    """Compact JSON as services store it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
