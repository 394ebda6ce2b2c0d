"""Notifications: a durable delivery queue that no failing target can turn into a blocked alarm.

An escalation step that fires writes one ``deliveries`` row per target, in the transaction
that fires it; a worker on the event loop sends them. So a crash between the two loses
nothing (pending rows are sent after the restart) and an alarm never waits on a network:
ingest and people's actions only ever insert rows. Each target is sent to independently, at
most :data:`CONCURRENCY` at a time, each attempt bounded by a timeout; a failed attempt is
retried with exponential backoff (``notify_retry_s`` doubling, with jitter) up to
``notify_attempts`` times. Every outcome, success or failure, is a row in the alarm's history.

Two channels: **apprise** (one library, many services: SMS gateways, WeCom, DingTalk, e-mail,
plain JSON or form posts) runs in its own small thread pool because it is synchronous; a
**webhook** is a JSON POST signed with the target's secret (``community.signing``), sent
with aiohttp. Delivery is at least once: a receiver deduplicates on ``X-Courtyard-Delivery``.
Target URLs and secrets never appear in logs, errors or history — only target names.

Alarms are not the only thing that escalates: a :class:`DeliveryQueue` names another table of
the same shape (a delivery row per subject, tier and target, UNIQUE so queueing twice is a
no-op), where an attempt's outcome goes in that subject's history, and how it reads. The one
worker sends every queue's rows with the same retries, timeouts and signing; alarms are the
built-in queue (table ``deliveries``), overdue work orders another (``community.order_notify``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import aiohttp
import apprise
from sqlite_utils import Database

from community.alarms import HistoryAction
from community.clock import Clock, iso, now_ms
from community.config import Channel, NotifyTarget
from community.escalation_rules import Audience
from community.signing import DELIVERY_HEADER, HEADER, sign
from community.store import Store
from community.texts import AUDIENCE_NAMES, SEVERITY_NAMES, event_name, place

log = logging.getLogger(__name__)

CONCURRENCY: Final = 8
ATTEMPT_TIMEOUT_S: Final = 15.0
MAX_BACKOFF_S: Final = 3600.0
_BATCH: Final = 50
_APPRISE_TYPES: Final = {
    "critical": apprise.NotifyType.FAILURE,
    "alert": apprise.NotifyType.WARNING,
    "info": apprise.NotifyType.INFO,
}
Writer = Callable[..., Awaitable[Any]]
#: The built-in queue's name, and the key that says which queue a row came from.
ALARMS: Final = "alarm"
_QUEUE: Final = "_queue"


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryQueue:
    """Another kind of subject that is notified through the same worker and its retries.

    The table has the columns of ``deliveries`` with ``subject`` instead of ``alarm_id``.
    """

    name: str
    table: str
    #: The column naming the subject (an order id ...).
    subject: str
    #: Creates the table (IF NOT EXISTS), inside a store transaction.
    create: Callable[[Database], None]
    #: ``history(db, subject_id, action, target, now, note)``; ``action`` is ``notified`` or
    #: ``notify_failed``, as for alarms.
    history: Callable[[Database, int, str, str, int, str], None]
    #: Title and body for apprise services, from the stored payload.
    render: Callable[[dict[str, Any]], tuple[str, str]]
    #: ``critical``, ``alert`` or ``info`` (the apprise notification type).
    severity: Callable[[dict[str, Any]], str]


def _serves(target: NotifyTarget, audience: Audience, home_id: str) -> bool:
    return audience in target.audiences and (not target.homes or home_id in target.homes)


def render(payload: dict[str, Any]) -> tuple[str, str]:
    """Title and body of a notification, English then Chinese, for apprise services."""
    alarm = payload["alarm"]
    kind, severity = alarm["kind"], alarm["severity"]
    sev_en, sev_zh = SEVERITY_NAMES.get(severity, (severity, severity))
    aud_en, aud_zh = AUDIENCE_NAMES.get(payload["audience"], (payload["audience"],) * 2)
    where_en = ", ".join(
        p for p in (alarm.get("home_id"), place(alarm.get("building"), alarm.get("unit"))) if p
    )
    where_zh = " ".join(
        p
        for p in (place(alarm.get("building"), alarm.get("unit"), zh=True), alarm.get("home_id"))
        if p
    )
    room = alarm.get("room") or ""
    title = f"[{sev_en}] {event_name(kind)} · {where_en} / 【{sev_zh}】{event_name(kind, True)}"
    body = "\n".join(
        (
            f"{event_name(kind)} ({sev_en}) at {where_en}{', ' + room if room else ''};"
            f" raised {alarm.get('raised_at')}. Escalation tier {payload['tier']} ({aud_en}):"
            " acknowledge it on the community board.",
            f"【{sev_zh}】{event_name(kind, True)} {where_zh} {room}。"
            f"报警时间 {alarm.get('raised_at')}。第 {payload['tier']} 级通知 {aud_zh}。"
            "请在社区报警中心确认。",
        )
    )
    return title, body


def _send_apprise(url: str, title: str, body: str, severity: str) -> str | None:
    """One apprise delivery (blocking; runs in the notifier's pool); None when it worked."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return "apprise does not accept the target's URL"
    notify_type = _APPRISE_TYPES.get(severity, apprise.NotifyType.INFO)
    ok = sender.notify(body=body, title=title, notify_type=notify_type)
    return None if ok else "apprise reported a failed delivery"


class Notifier:
    """The delivery queue (its table lives in the community store) and its worker."""

    def __init__(
        self,
        targets: tuple[NotifyTarget, ...],
        *,
        community_id: str,
        clock: Clock,
        retry_s: float,
        attempts: int,
        poll_s: float,
    ) -> None:
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise ValueError("notification target names must be unique")
        for target in targets:
            if target.channel is Channel.APPRISE and not apprise.Apprise().add(target.url):
                raise ValueError(f"target {target.name}: apprise does not accept its URL")
        if attempts < 1 or retry_s <= 0 or poll_s <= 0:
            raise ValueError(
                "notify_attempts must be >= 1, notify_retry_s and escalation_poll_s > 0"
            )
        self._targets = {t.name: t for t in targets}
        self._community_id = community_id
        self._clock = clock
        self._retry_s = retry_s
        self._attempts = attempts
        self._poll_s = poll_s
        self._store: Store | None = None
        self._write: Writer | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._wakeup = asyncio.Event()
        self._inflight: set[tuple[str, int]] = set()
        self._queues: dict[str, DeliveryQueue] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def add_queue(self, queue: DeliveryQueue) -> None:
        """Deliver ``queue``'s rows too (before :meth:`start`)."""
        if queue.name == ALARMS or queue.name in self._queues:
            raise ValueError(f"delivery queue {queue.name} already exists")
        self._queues[queue.name] = queue

    # --- inside store transactions (writer thread) -----------------------------------------

    def create_schema(self, db: Database) -> None:
        db.table("deliveries").create(
            {
                "id": int,
                "alarm_id": int,
                "tier": int,
                "audience": str,
                "target": str,
                "state": str,
                "attempts": int,
                "next_ms": int,
                "created_at": str,
                "delivered_at": str,
                "last_error": str,
                "payload": str,
            },
            pk="id",
            not_null={"alarm_id", "tier", "target", "state", "attempts", "payload"},
            foreign_keys=[("alarm_id", "alarms", "id")],
            if_not_exists=True,
        )
        db.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS deliveries_once"
            " ON deliveries(alarm_id, tier, target)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_ms)")

    def targets_for(self, alarm: dict[str, Any], audience: Audience) -> list[str]:
        """Names of the targets that tell ``audience`` about ``alarm``."""
        home = alarm.get("home_id") or ""
        return [t.name for t in self._targets.values() if _serves(t, audience, home)]

    def enqueue(
        self, db: Database, alarm: dict[str, Any], tier: int, audience: Audience, now: int
    ) -> int:
        """Queue the notifications of one escalation step; returns how many were queued."""
        targets = self.targets_for(alarm, audience)
        payload = json.dumps(
            {
                "event": "alarm.escalation",
                "community_id": self._community_id,
                "tier": tier,
                "audience": str(audience),
                "alarm": alarm,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for target in targets:
            row = {
                "alarm_id": alarm["id"],
                "tier": tier,
                "audience": str(audience),
                "target": target,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_ms": now,
                "created_at": iso(now),
                "payload": payload,
            }
            db.table("deliveries").insert(row, ignore=True)
        return len(targets)

    def enqueue_in(
        self,
        db: Database,
        queue: str,
        subject: dict[str, Any],
        keys: dict[str, object],
        tier: int,
        audience: Audience,
        payload: dict[str, Any],
        now: int,
    ) -> int:
        """Queue one tier of another queue's subject (``subject`` has its ``home_id``);
        ``keys`` are the row's identifying columns besides tier and target. Returns how many
        targets were queued (0 too when they were queued before)."""
        table = self._queues[queue].table
        text = json.dumps(
            {"community_id": self._community_id, "tier": tier, "audience": str(audience)} | payload,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        targets = self.targets_for(subject, audience)
        for target in targets:
            row = {
                **keys,
                "tier": tier,
                "audience": str(audience),
                "target": target,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_ms": now,
                "created_at": iso(now),
                "payload": text,
            }
            db.table(table).insert(row, ignore=True)
        return len(targets)

    def _tables(self) -> list[tuple[str, str]]:
        return [(ALARMS, "deliveries"), *((q.name, q.table) for q in self._queues.values())]

    def _due(self, now: int, busy: frozenset[tuple[str, int]]) -> list[dict[str, Any]]:
        assert self._store is not None
        due: list[dict[str, Any]] = []
        for name, table in self._tables():
            rows = self._store.read(
                f"SELECT * FROM {table} WHERE state = ? AND next_ms <= ?"  # noqa: S608 - fixed
                " ORDER BY next_ms, id LIMIT ?",
                [DeliveryState.PENDING, now, _BATCH + len(busy)],
            )
            due.extend({**r, _QUEUE: name} for r in rows if (name, r["id"]) not in busy)
        return sorted(due, key=lambda r: int(r["next_ms"]))[:_BATCH]

    def _next_due_ms(self, busy: frozenset[tuple[str, int]]) -> int | None:
        assert self._store is not None
        found: list[int] = []
        for name, table in self._tables():
            rows = self._store.read(
                f"SELECT id, next_ms FROM {table} WHERE state = ?"  # noqa: S608 - fixed
                " ORDER BY next_ms LIMIT ?",
                [DeliveryState.PENDING, len(busy) + 1],
            )
            found.extend(int(r["next_ms"]) for r in rows if (name, r["id"]) not in busy)
        return min(found, default=None)

    def _record(self, row: dict[str, Any], error: str | None, final: bool, now: int) -> None:
        """Store one attempt's outcome and put it in the alarm's history."""
        assert self._store is not None
        attempts = int(row["attempts"]) + 1
        where = f"tier {row['tier']} ({row['audience']})"
        changes: dict[str, object] = {"attempts": attempts}
        if error is None:
            changes.update(state=DeliveryState.DELIVERED, delivered_at=iso(now), last_error=None)
            action, note = HistoryAction.NOTIFIED, f"{where}, attempt {attempts}"
        elif final or attempts >= self._attempts:
            changes.update(state=DeliveryState.FAILED, last_error=error)
            action = HistoryAction.NOTIFY_FAILED
            note = f"{where}, attempt {attempts}/{self._attempts}: {error}; giving up"
        else:
            backoff = min(MAX_BACKOFF_S, self._retry_s * 2 ** (attempts - 1))
            backoff *= random.uniform(0.9, 1.1)
            changes.update(next_ms=now + int(backoff * 1000), last_error=error)
            action = HistoryAction.NOTIFY_FAILED
            note = (
                f"{where}, attempt {attempts}/{self._attempts}: {error}; retrying in {backoff:.1f}s"
            )
        queue = self._queues.get(row.get(_QUEUE, ALARMS))
        with self._store.transaction() as db:
            if queue is None:
                db.table("deliveries").update(row["id"], changes)
                self._store.add_history(db, int(row["alarm_id"]), action, row["target"], now, note)
            else:
                db.table(queue.table).update(row["id"], changes)
                queue.history(db, int(row[queue.subject]), str(action), row["target"], now, note)

    # --- event loop ------------------------------------------------------------------------

    async def start(self, store: Store, write: Writer) -> None:
        self._store, self._write = store, write
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S)
        )
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="community-notify")
        if self._queues:
            with store.transaction() as db:
                for queue in self._queues.values():
                    queue.create(db)
        self._task = asyncio.create_task(self._run(), name="community-notify")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._sending) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._pool is not None:
            # Running apprise calls finish in their threads; nothing waits for them.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def wake(self) -> None:
        """Look for due deliveries now (an escalation step just fired)."""
        self._wakeup.set()

    def deliveries(self, alarm_id: int) -> list[dict[str, Any]]:
        assert self._store is not None
        return self._store.read(
            "SELECT tier, audience, target, state, attempts, created_at, delivered_at,"
            " last_error FROM deliveries WHERE alarm_id = ? ORDER BY id",
            [alarm_id],
        )

    async def _run(self) -> None:
        assert self._write is not None
        while True:
            self._wakeup.clear()
            busy = frozenset(self._inflight)
            try:
                due = await self._write(self._due, self._clock(), busy)
                next_ms = await self._write(
                    self._next_due_ms, busy | {(r[_QUEUE], r["id"]) for r in due}
                )
            except sqlite3.Error:
                log.exception("could not read the delivery queue")
                due, next_ms = [], None
            for row in due:
                self._inflight.add((row[_QUEUE], row["id"]))
                task = asyncio.create_task(self._deliver(row))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            timeout = self._poll_s
            if next_ms is not None:
                timeout = min(timeout, max(0.0, (next_ms - self._clock()) / 1000))
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # and hang the server's stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()

    async def _deliver(self, row: dict[str, Any]) -> None:
        assert self._write is not None
        try:
            target = self._targets.get(row["target"])
            async with self._slots:
                if target is None:
                    error: str | None = "the target is no longer configured"
                else:
                    error = await self._attempt(target, row)
            if error is not None:
                log.warning("notification %s to %s failed: %s", row["id"], row["target"], error)
            await self._write(self._record, row, error, target is None, self._clock())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not deliver notification %s", row["id"])
        finally:
            self._inflight.discard((row[_QUEUE], row["id"]))
            self._wakeup.set()

    async def _attempt(self, target: NotifyTarget, row: dict[str, Any]) -> str | None:
        payload: dict[str, Any] = json.loads(row["payload"])
        if target.channel is Channel.WEBHOOK:
            return await self._post_webhook(target, row, payload)
        assert self._pool is not None
        queue = self._queues.get(row[_QUEUE])
        if queue is None:
            title, body = render(payload)
            severity = str(payload["alarm"]["severity"])
        else:
            title, body = queue.render(payload)
            severity = queue.severity(payload)
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._pool, _send_apprise, target.url, title, body, severity)
        try:
            return await asyncio.wait_for(call, ATTEMPT_TIMEOUT_S)
        except TimeoutError:
            return "apprise timed out"

    async def _post_webhook(
        self, target: NotifyTarget, row: dict[str, Any], payload: dict[str, Any]
    ) -> str | None:
        assert self._session is not None
        # Alarms keep their historical ids; another queue's ids are prefixed by its name.
        prefix = "" if row[_QUEUE] == ALARMS else f"{row[_QUEUE]}:"
        delivery = f"{self._community_id}:{prefix}{row['id']}"
        body = json.dumps({**payload, "delivery": delivery}, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            # Wall-clock time, whatever clock drives the timers: receivers check it against
            # their own clock.
            HEADER: sign(target.secret, now_ms() // 1000, body),
            DELIVERY_HEADER: delivery,
        }
        try:
            async with self._session.post(target.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except TimeoutError:
            return "timed out"
        except aiohttp.ClientError as exc:
            return f"connection failed ({type(exc).__name__})"
