"""The one engine that walks every alarm up its escalation chain until a person acts.

Timers are rows, not sleeping tasks: each step of a chain is an ``escalations`` row
(``alarm_id``, ``tier``, ``due_ms``, ``state``) with a UNIQUE (alarm_id, tier), written in
the same transaction as the change that makes it due. Firing a step is one transaction that
flips the row from ``pending`` to ``fired`` (only if it still is pending), raises the alarm's
``escalation_tier``, queues the step's notifications and schedules the next tier. So a
restart finds exactly the steps that are due and fires each once: a step fired before the
restart is no longer pending, a step that was due during the downtime fires at start, once.

Tier 0 is due when the alarm is raised (plus its delay, usually none) and fires inside the
raising transaction; tier ``n`` is due ``delay_s`` after tier ``n-1`` fired. An alarm that no
longer needs anyone (acknowledged, resolved, or — for chains that stop on clear — cleared)
has its pending step cancelled, by the observer that sees the change.

A tier that tells the residents of a home found per alarm (the vehicle owner of a blocked
fire lane, see ``escalation_rules.Whose``) asks the resolver the server registered for it;
when it finds nobody the step is ``skipped`` (with its reason in the alarm's history) and the
next tier is due at once. The people found are sent a reduced view of the alarm: its kind,
severity and time, and the resolver's words for where — nothing about anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, Final

from sqlite_utils import Database

from community.alarms import AlarmStatus, Handling, HistoryAction, alarm_view
from community.clock import Clock, iso
from community.escalation_rules import Audience, Chain, EscalationRules, Resolved, Tier, Whose
from community.notify import Notifier
from community.store import Store

log = logging.getLogger(__name__)

ESCALATION: Final = "escalation"
_BATCH: Final = 100
Writer = Callable[..., Awaitable[Any]]
#: Finds the home a per-alarm tier tells (runs inside the transaction firing the step).
Resolver = Callable[[Database, dict[str, Any], int], Resolved]


class StepState(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"
    #: Nobody to tell (no consent, no mapping, no target): the next tier was due at once.
    SKIPPED = "skipped"


def needs_escalation(alarm: dict[str, Any], chain: Chain) -> bool:
    """Whether nobody has taken the alarm yet and its condition still matters."""
    if alarm["acknowledged"] or alarm["handling"] == Handling.RESOLVED:
        return False
    return alarm["status"] == AlarmStatus.ACTIVE or not chain.stop_on_clear


def _told(view: dict[str, Any], found: Resolved) -> dict[str, Any]:
    """The reduced alarm a per-alarm audience is sent: no device, no place but ``where``."""
    return {
        "id": view["id"],
        "kind": view["kind"],
        "severity": view["severity"],
        "status": view["status"],
        "raised_at": view["raised_at"],
        "home_id": found.home,
        "room": found.where,
        "where": found.where,
    }


class EscalationEngine:
    """An :class:`~community.store.AlarmObserver` plus the loop that fires due steps."""

    def __init__(
        self,
        rules: EscalationRules,
        notifier: Notifier,
        *,
        clock: Clock,
        poll_s: float,
        resolvers: Mapping[Whose, Resolver] | None = None,
    ) -> None:
        self._rules = rules
        self._resolvers = dict(resolvers or {})
        self._notifier = notifier
        self._clock = clock
        self._poll_s = poll_s
        self._store: Store | None = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- observer (inside store transactions) ----------------------------------------------

    def create_schema(self, db: Database) -> None:
        db.table("escalations").create(
            {
                "id": int,
                "alarm_id": int,
                "tier": int,
                "audience": str,
                "due_ms": int,
                "due_at": str,
                "state": str,
                "fired_at": str,
                "notified": int,
            },
            pk="id",
            not_null={"alarm_id", "tier", "audience", "due_ms", "due_at", "state"},
            foreign_keys=[("alarm_id", "alarms", "id")],
            if_not_exists=True,
        )
        db.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS escalations_once ON escalations(alarm_id, tier)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS escalations_due ON escalations(state, due_ms)")
        self._notifier.create_schema(db)

    def alarm_changed(
        self, db: Database, before: dict[str, Any] | None, after: dict[str, Any], now: int
    ) -> None:
        chain = self._rules.chain_for(after["kind"], after["severity"])
        if before is None:
            if needs_escalation(after, chain):
                self._schedule(db, after["id"], chain, 0, now)
                # Tier 0 with no delay fires in the raising transaction: no lost first call
                # (nor the next one, when tier 0 finds nobody and is skipped).
                view = after
                while True:
                    step = next(
                        iter(
                            db.query(
                                "SELECT * FROM escalations WHERE alarm_id = ? AND state = ?"
                                " AND due_ms <= ? ORDER BY tier LIMIT 1",
                                [after["id"], StepState.PENDING, now],
                            )
                        ),
                        None,
                    )
                    if step is None:
                        break
                    view = self._fire(db, step, view, now) or view
        elif not needs_escalation(after, chain):
            db.execute(
                "UPDATE escalations SET state = ? WHERE alarm_id = ? AND state = ?",
                [StepState.CANCELLED, after["id"], StepState.PENDING],
            )

    def _schedule(
        self,
        db: Database,
        alarm_id: int,
        chain: Chain,
        tier: int,
        now: int,
        *,
        at_once: bool = False,
    ) -> None:
        if tier >= len(chain.tiers):
            return
        step = chain.tiers[tier]
        due = now if at_once else now + int(step.delay_s * 1000)
        db.execute(
            "INSERT OR IGNORE INTO escalations (alarm_id, tier, audience, due_ms, due_at, state)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [alarm_id, tier, str(step.audience), due, iso(due), StepState.PENDING],
        )

    def _fire(
        self, db: Database, step: dict[str, Any], row: dict[str, Any], now: int
    ) -> dict[str, Any] | None:
        """Fire one pending step exactly once; returns the alarm if its tier changed.

        ``row`` is the alarm as stored or as :func:`alarm_view` shows it.
        """
        claimed = db.execute(
            "UPDATE escalations SET state = ?, fired_at = ? WHERE id = ? AND state = ?",
            [StepState.FIRED, iso(now), step["id"], StepState.PENDING],
        )
        if claimed.rowcount != 1:
            return None
        view = alarm_view(row)
        tier, audience = int(step["tier"]), Audience(step["audience"])
        chain = self._rules.chain_for(view["kind"], view["severity"])
        told: dict[str, Any] | None = None
        label = str(audience)
        if tier < len(chain.tiers) and chain.tiers[tier].home is not Whose.ALARM_HOME:
            spec = chain.tiers[tier]
            label = f"{audience} of the {spec.home.replace('_', ' ')}"
            found = self._resolve(db, spec, view, now)
            if found.home is not None:
                told = _told(view, found)
                if not self._notifier.targets_for(told, audience):
                    found = Resolved(None, "no notification target")
            if found.home is None:
                return self._skip(db, step, row, view, chain, f"{label}: {found.reason}", now)
        count = len(self._notifier.targets_for(told or view, audience))
        note = f"tier {tier}: {label} ({count} target{'' if count == 1 else 's'})"
        changed = None
        if tier > view["escalation_tier"] and self._store is not None:
            view = self._store.change_alarm(
                db, row, {"escalation_tier": tier}, HistoryAction.ESCALATED, ESCALATION, now, note
            )
            changed = view
        elif told is not None and self._store is not None:
            self._store.add_history(db, view["id"], HistoryAction.ESCALATED, ESCALATION, now, note)
        queued = self._notifier.enqueue(db, told or view, tier, audience, now)
        db.execute("UPDATE escalations SET notified = ? WHERE id = ?", [queued, step["id"]])
        self._schedule(db, view["id"], chain, tier + 1, now)
        return changed

    def _resolve(self, db: Database, spec: Tier, view: dict[str, Any], now: int) -> Resolved:
        resolver = self._resolvers.get(spec.home)
        if resolver is None:
            return Resolved(None, "nobody resolves it")
        try:
            return resolver(db, view, now)
        except Exception:
            # Never let a per-alarm lookup stop an alarm from reaching the next tier.
            log.exception("could not resolve %s for alarm %s", spec.home, view["id"])
            return Resolved(None, "lookup failed")

    def _skip(
        self,
        db: Database,
        step: dict[str, Any],
        row: dict[str, Any],
        view: dict[str, Any],
        chain: Chain,
        why: str,
        now: int,
    ) -> dict[str, Any] | None:
        """Nobody to tell at this tier: record why and make the next tier due at once."""
        tier = int(step["tier"])
        db.execute(
            "UPDATE escalations SET state = ?, notified = 0 WHERE id = ?",
            [StepState.SKIPPED, step["id"]],
        )
        note = f"tier {tier}: {why}; skipped"
        changed = None
        if tier > view["escalation_tier"] and self._store is not None:
            changed = self._store.change_alarm(
                db, row, {"escalation_tier": tier}, HistoryAction.ESCALATED, ESCALATION, now, note
            )
        elif self._store is not None:
            self._store.add_history(db, view["id"], HistoryAction.ESCALATED, ESCALATION, now, note)
        self._schedule(db, view["id"], chain, tier + 1, now, at_once=True)
        return changed

    # --- writer thread ---------------------------------------------------------------------

    def fire_due(self, now: int) -> list[dict[str, Any]]:
        """Fire every step due by ``now``; returns the alarms whose tier changed."""
        store = self._store
        assert store is not None
        changed: list[dict[str, Any]] = []
        with store.transaction() as db:
            steps = list(
                db.query(
                    "SELECT * FROM escalations WHERE state = ? AND due_ms <= ?"
                    " ORDER BY due_ms, id LIMIT ?",
                    [StepState.PENDING, now, _BATCH],
                )
            )
            for step in steps:
                row = store.alarm_row(int(step["alarm_id"]))
                if row is None:
                    continue
                view = alarm_view(row)
                chain = self._rules.chain_for(view["kind"], view["severity"])
                if not needs_escalation(view, chain):
                    db.execute(
                        "UPDATE escalations SET state = ? WHERE id = ?",
                        [StepState.CANCELLED, step["id"]],
                    )
                    continue
                alarm = self._fire(db, step, row, now)
                if alarm is not None:
                    changed.append(alarm)
        return changed

    def _next_due_ms(self) -> int | None:
        assert self._store is not None
        rows = self._store.read(
            "SELECT min(due_ms) AS due FROM escalations WHERE state = ?", [StepState.PENDING]
        )
        due = rows[0]["due"] if rows else None
        return None if due is None else int(due)

    def steps(self, alarm_id: int) -> list[dict[str, Any]]:
        """The alarm's escalation steps: fired, pending or cancelled."""
        assert self._store is not None
        return self._store.read(
            "SELECT tier, audience, due_at, state, fired_at, notified FROM escalations"
            " WHERE alarm_id = ? ORDER BY tier",
            [alarm_id],
        )

    # --- event loop ------------------------------------------------------------------------

    def attach(self, store: Store) -> None:
        self._store = store

    async def start(
        self, write: Writer, on_escalated: Callable[[list[dict[str, Any]]], None]
    ) -> None:
        self._task = asyncio.create_task(self._run(write, on_escalated), name="escalation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        self._wakeup.set()

    async def _run(
        self, write: Writer, on_escalated: Callable[[list[dict[str, Any]]], None]
    ) -> None:
        while True:
            self._wakeup.clear()
            next_ms: int | None = None
            try:
                changed = await write(self.fire_due, self._clock())
                next_ms = await write(self._next_due_ms)
            except sqlite3.Error:
                log.exception("could not fire due escalation steps")
                changed = []
            on_escalated(changed)
            timeout = self._poll_s
            if next_ms is not None:
                timeout = min(timeout, max(0.0, (next_ms - self._clock()) / 1000))
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # and hang the server's stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
