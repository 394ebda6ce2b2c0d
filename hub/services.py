"""The resident's requests to the community's property services, and their answers.

Every property service (repairs, visitor passes, care bookings ...) is asked the same way: a
``service_request`` record goes up through the outbox (so it survives restarts and a
community that is away), and the answer comes back as a signed ``service`` notice naming the
request. This module keeps each request with its answer so a page can show "sent", then
"accepted" or "refused (reason)", and the structured ``data`` the community returned.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, Final

from devices.messages import InteropError
from devices.service import ServiceRequest, parse_service_request
from devices.uplink import DownlinkNotice, NoticeCategory, service_request
from hub.core import now_ms
from hub.outbox import Outbox
from hub.store import Store

_LOG = logging.getLogger(__name__)

_TABLE: Final = """CREATE TABLE IF NOT EXISTS service_requests (
    request_id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    action TEXT NOT NULL,
    body TEXT NOT NULL,
    asked_ms INTEGER NOT NULL,
    answer TEXT,
    params TEXT,
    data TEXT,
    answered_ms INTEGER
)"""
_KEYS: Final = (
    "request_id",
    "service",
    "action",
    "body",
    "asked_ms",
    "answer",
    "params",
    "data",
    "answered_ms",
)
_SELECT: Final = (
    "SELECT request_id, service, action, body, asked_ms, answer, params, data, answered_ms"
    " FROM service_requests"
)
#: How many requests a page lists (newest first).
HISTORY: Final = 50


class ServiceRequests:
    """Queue requests to the community's services and file the answers that come back."""

    def __init__(
        self, *, hub_id: str, store: Store, outbox: Outbox, wake_uplink: Callable[[], None]
    ) -> None:
        self._hub_id = hub_id
        self._store = store
        self._outbox = outbox
        self._wake = wake_uplink
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        with store.transaction():
            store.db.execute(_TABLE)

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener`` with each request as soon as its answer is filed."""
        self._listeners.append(listener)

    def request(self, service: str, action: str, body: dict[str, Any] | None = None) -> str:
        """Queue a request; its id. ValueError if it would not pass the wire checks or the
        outbox is full (nothing is written either way)."""
        request_id = uuid.uuid4().hex
        try:
            checked = parse_service_request(
                ServiceRequest(service, action, request_id, dict(body or {})).to_dict()
            )
        except InteropError as exc:
            raise ValueError(exc.reason) from None
        record = service_request(self._hub_id, 0, now_ms(), checked)
        with self._store.transaction():
            if self._outbox.add(record) is None:
                raise ValueError("the hub's outbox is full; try again later")
            self._store.db.execute(
                "INSERT INTO service_requests (request_id, service, action, body, asked_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                [request_id, service, action, json.dumps(checked.body), now_ms()],
            )
        self._wake()
        _LOG.info("service %s/%s requested (%s)", service, action, request_id)
        return request_id

    def on_notice(self, notice: DownlinkNotice) -> None:
        """File the answer a service notice carries (first answer wins)."""
        if notice.category is not NoticeCategory.SERVICE:
            return
        request_id = notice.params.get("request_id", "")
        if not request_id:
            return
        with self._store.transaction():
            cursor = self._store.db.execute(
                "UPDATE service_requests SET answer = ?, params = ?, data = ?, answered_ms = ?"
                " WHERE request_id = ? AND answer IS NULL",
                [
                    notice.code,
                    json.dumps(notice.params, ensure_ascii=False),
                    json.dumps(notice.data, ensure_ascii=False),
                    notice.ts,
                    request_id,
                ],
            )
        if cursor.rowcount != 1:
            return
        answered = self.get(request_id)
        for listener in self._listeners:
            try:
                if answered is not None:
                    listener(answered)
            except Exception:
                _LOG.exception("service listener failed on %s", request_id)

    def get(self, request_id: str) -> dict[str, Any] | None:
        row = self._store.db.execute(
            _SELECT + " WHERE request_id = ?",
            [request_id],
        ).fetchone()
        return None if row is None else _view(row)

    def list(self, service: str | None = None, limit: int = HISTORY) -> list[dict[str, Any]]:
        """Newest first; only one service's if ``service`` is given."""
        sql = _SELECT
        params: list[object] = []
        if service is not None:
            sql += " WHERE service = ?"
            params.append(service)
        rows = self._store.db.execute(
            sql + " ORDER BY asked_ms DESC LIMIT ?", [*params, limit]
        ).fetchall()
        return [_view(row) for row in rows]


def _view(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(_KEYS, row, strict=True))
    for key in ("body", "params", "data"):
        out[key] = json.loads(out[key]) if out[key] is not None else None
    return out
