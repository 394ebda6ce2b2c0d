"""The daily care check (一老一小): "are you all right today?", asked by the home itself.

A resident who opts in chooses a check time. If by then the home has shown no sign of life
since midnight (a door opened or closed, a movement, the emergency button, or "I'm fine" on the
hub page), the hub escalates in three bounded tiers, each after a grace period:

1. **ask** — the hub page sounds and shows a big "I'm fine" button. Nothing leaves the home.
2. **family** — a message for the family member the resident named, sealed to that person's
   registered X25519 key (``privacy.sealed_fields``), carried up in a ``care``/``missed``
   service request; the community cannot read it and files it in the recipient's mailbox.
3. **duty staff** — a ``care``/``missed`` request that makes the community raise a
   ``care_check_missed`` alarm showing the home and the time, nothing else.

Any sign of life ends the check; if anyone was told, a ``care``/``ok`` request clears the
alarm (and the family gets a sealed "all right" too). Each tier that would leave the home is
decided by the resident's own signed consent for the ``daily_check`` category (family:
``family_notification`` to the named recipient; staff: ``care_service`` to the duty staff);
without it nothing is sent, and every disclosure or refusal is appended to the hub's audit log,
which the resident's Care tab shows.

The clock is injectable (an aware local datetime), so tests and the demo can compress a day
into seconds. Which device changes count as signs of life is data (:data:`SIGN_FIELDS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Any, Final

from devices.catalog import DeviceKind, EventType
from devices.uplink import UPLINK_VERSION, SealedEntry
from hub.consent_gate import COMMUNITY_DUTY, ConsentGate
from hub.core import BusEvent, EventBus
from hub.events import DeviceEventFired, StateChanged
from hub.store import Store
from privacy.audit import MAX_FIELD, AuditAction
from privacy.consent import Decision
from privacy.sealed_fields import FieldContext, seal_field
from privacy.sealing import SealError
from privacy.vocabulary import Category, Purpose, Recipient, RecipientRole

_LOG = logging.getLogger(__name__)

#: The local time now, timezone-aware (tests and the demo pass a compressed clock).
Clock = Callable[[], datetime]
#: Queue a property-service request (``hub.services.ServiceRequests.request``).
Ask = Callable[[str, str, dict[str, Any]], str]

SERVICE: Final = "care"
#: The event name the sealed message and the community's alarm are about.
EVENT: Final = str(EventType.CARE_CHECK_MISSED)
#: The pseudo-device a sealed care message is bound to (``FieldContext.device``).
CARE_DEVICE: Final = "care"
#: The field name of the sealed message.
SEALED_FIELD: Final = "care_check"
#: State fields whose change means someone is up and about, per device kind.
SIGN_FIELDS: Final[dict[DeviceKind, str]] = {
    DeviceKind.DOOR_SENSOR: "contact",
    DeviceKind.MOTION_SENSOR: "occupancy",
}
#: Device events that are signs of life (raised, not cleared).
SIGN_EVENTS: Final = frozenset({EventType.EMERGENCY_CALL})
#: Grace periods a resident may choose, seconds (of the hub's clock).
MIN_GRACE_S: Final = 60
MAX_GRACE_S: Final = 6 * 3600
HISTORY: Final = 14
_HHMM: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_SETTINGS_KEYS: Final = frozenset(
    {"enabled", "check_time", "ask_grace_s", "family_grace_s", "family"}
)


class Tier(StrEnum):
    """How far a check has gone: asked at home, family told, duty staff told."""

    ASKED = "asked"
    FAMILY = "family"
    DUTY_STAFF = "duty_staff"


class Status(StrEnum):
    #: Signs of life before the check time: nobody was asked.
    ACTIVE = "active"
    #: Asked and not answered yet (``tier`` says how far it went).
    OPEN = "open"
    #: Ended by "I'm fine" or a sign of life after the ask.
    FINE = "fine"
    #: The resident opted out while the check was open.
    CANCELLED = "cancelled"


class Step(StrEnum):
    """What the hub should do now (the outcome of :func:`plan`)."""

    WAIT = "wait"
    SKIP = "skip"
    ASK = "ask"
    FAMILY = "family"
    DUTY_STAFF = "duty_staff"


@dataclass(frozen=True, slots=True)
class CareSettings:
    """The resident's opt-in. ``since_ms``: when it was switched on (checks start after)."""

    enabled: bool = False
    check_time: str = "09:00"
    ask_grace_s: int = 1800
    family_grace_s: int = 1800
    family: str = ""
    since_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class OpenCheck:
    """The escalation clock of a check that is still open."""

    tier: Tier
    asked_ms: int
    family_ms: int | None = None


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def parse_settings(body: object, *, now_ms: int, previous: CareSettings) -> CareSettings:
    """Settings from a resident's request; ValueError says what is wrong (nothing changes)."""
    if not isinstance(body, dict) or set(body) - _SETTINGS_KEYS or "enabled" not in body:
        raise ValueError("send {enabled, check_time, ask_grace_s, family_grace_s, family}")
    enabled = body["enabled"]
    if not isinstance(enabled, bool):
        raise ValueError("enabled must be true or false")
    check_time = body.get("check_time", previous.check_time)
    if not isinstance(check_time, str) or not _HHMM.fullmatch(check_time):
        raise ValueError("check_time must be HH:MM (24-hour, local time)")
    graces = []
    for name in ("ask_grace_s", "family_grace_s"):
        value = body.get(name, getattr(previous, name))
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number of seconds")
        if not MIN_GRACE_S <= value <= MAX_GRACE_S:
            raise ValueError(f"{name} must be {MIN_GRACE_S}..{MAX_GRACE_S} seconds")
        graces.append(value)
    family = body.get("family", previous.family)
    if not isinstance(family, str) or len(family) > 80:
        raise ValueError("family must be a recipient id such as family:li")
    if enabled:
        try:
            who = Recipient.parse(family)
        except ValueError:
            raise ValueError("choose the family member to tell (family:<name>)") from None
        if who.role is not RecipientRole.FAMILY:
            raise ValueError("the person told must be a family recipient (family:<name>)")
    since = previous.since_ms if previous.enabled and enabled else (now_ms if enabled else 0)
    return CareSettings(enabled, check_time, graces[0], graces[1], family, since)


def check_moment(settings: CareSettings, now: datetime) -> datetime:
    """Today's check time, in ``now``'s time zone."""
    hours, minutes = (int(p) for p in settings.check_time.split(":"))
    return datetime.combine(now.date(), time(hours, minutes), tzinfo=now.tzinfo)


def plan(
    settings: CareSettings,
    open_check: OpenCheck | None,
    checked_today: bool,
    last_activity_ms: int | None,
    now: datetime,
) -> Step:
    """The next step of the daily check (pure: the whole policy, for tests to probe)."""
    now_ms = to_ms(now)
    if open_check is not None:
        if open_check.tier is Tier.ASKED and now_ms >= open_check.asked_ms + (
            settings.ask_grace_s * 1000
        ):
            return Step.FAMILY
        if (
            open_check.tier is Tier.FAMILY
            and open_check.family_ms is not None
            and now_ms >= open_check.family_ms + settings.family_grace_s * 1000
        ):
            return Step.DUTY_STAFF
        return Step.WAIT
    if not settings.enabled or checked_today:
        return Step.WAIT
    due = check_moment(settings, now)
    if now < due or to_ms(due) < settings.since_ms:
        return Step.WAIT
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    window_start = max(to_ms(midnight), settings.since_ms)
    if last_activity_ms is not None and last_activity_ms >= window_start:
        return Step.SKIP
    return Step.ASK


@dataclass(frozen=True, slots=True)
class CareAsked:
    """Fired on the hub's bus when a check asks the resident (the page sounds)."""

    check_id: str


_TABLES: Final = (
    """CREATE TABLE IF NOT EXISTS care_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    settings TEXT NOT NULL,
    last_activity_ms INTEGER
)""",
    """CREATE TABLE IF NOT EXISTS care_checks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    check_id TEXT NOT NULL UNIQUE,
    day TEXT NOT NULL UNIQUE,
    check_time TEXT NOT NULL,
    status TEXT NOT NULL,
    tier TEXT,
    asked_ms INTEGER,
    family_ms INTEGER,
    staff_ms INTEGER,
    ended_ms INTEGER,
    ended_by TEXT,
    family TEXT,
    family_sent INTEGER NOT NULL DEFAULT 0,
    staff_sent INTEGER NOT NULL DEFAULT 0
)""",
)
_CHECK_KEYS: Final = (
    "seq",
    "check_id",
    "day",
    "check_time",
    "status",
    "tier",
    "asked_ms",
    "family_ms",
    "staff_ms",
    "ended_ms",
    "ended_by",
    "family",
    "family_sent",
    "staff_sent",
)
_SELECT: Final = (
    "SELECT seq, check_id, day, check_time, status, tier, asked_ms, family_ms, staff_ms,"
    " ended_ms, ended_by, family, family_sent, staff_sent FROM care_checks"
)
_WHERE: Final = {"all": "", "open": " WHERE status = ?", "id": " WHERE check_id = ?"}


def _iso(ms: int) -> str:
    """UTC ISO-8601 with milliseconds, as the community stores times."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def local_now() -> datetime:
    return datetime.now().astimezone()


class CareChecks:
    """One home's daily care check: settings, signs of life, the tiers and their audit."""

    def __init__(
        self,
        *,
        hub_id: str,
        home_id: str,
        store: Store,
        gate: ConsentGate,
        ask: Ask,
        bus: EventBus,
        kind_of: Callable[[str], DeviceKind | None],
        clock: Clock = local_now,
        tick_s: float = 1.0,
    ) -> None:
        self._hub_id, self._home_id = hub_id, home_id
        self._store, self._gate, self._ask, self._bus = store, gate, ask, bus
        self._kind_of = kind_of
        self._clock = clock
        self._tick_s = tick_s
        #: Sign-of-life fields seen per device: a field's first report is not a change.
        self._known: dict[str, set[str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        with store.transaction():
            for sql in _TABLES:
                store.db.execute(sql)
        bus.subscribe(StateChanged, self._on_state)
        bus.subscribe(DeviceEventFired, self._on_event)

    # --- time ----------------------------------------------------------------------------

    def set_clock(self, clock: Clock, tick_s: float | None = None) -> None:
        """Use another clock (tests and the demo compress a day into seconds)."""
        self._clock = clock
        if tick_s is not None:
            self._tick_s = tick_s
        self._wake.set()

    def now(self) -> datetime:
        return self._clock()

    # --- settings ------------------------------------------------------------------------

    def settings(self) -> CareSettings:
        row = self._store.db.execute("SELECT settings FROM care_settings WHERE id = 1").fetchone()
        return CareSettings(**json.loads(row[0])) if row else CareSettings()

    def configure(self, body: object) -> CareSettings:
        """Apply the resident's settings; ValueError (nothing changes) for bad ones or a
        family member whose key is not registered on this hub."""
        now_ms = to_ms(self.now())
        settings = parse_settings(body, now_ms=now_ms, previous=self.settings())
        if settings.enabled and settings.family not in self._family_ids():
            raise ValueError(f"{settings.family} has no key registered on this hub (Privacy tab)")
        with self._store.transaction():
            self._store.db.execute(
                "INSERT INTO care_settings (id, settings) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET settings = excluded.settings",
                [json.dumps(settings.to_dict())],
            )
        if not settings.enabled:
            self._end("opt_out", Status.CANCELLED)
        self._wake.set()
        _LOG.info("care check %s", "on" if settings.enabled else "off")
        return settings

    def _family_ids(self) -> list[str]:
        return [
            r.recipient.id
            for r in self._gate.recipients.all()
            if r.recipient.role is RecipientRole.FAMILY
        ]

    # --- signs of life -------------------------------------------------------------------

    def _on_state(self, event: BusEvent[StateChanged]) -> None:
        kind = self._kind_of(event.data.device_id)
        field = SIGN_FIELDS.get(kind) if kind is not None else None
        if field is None or field not in event.data.changed:
            return
        known = self._known.setdefault(event.data.device_id, set())
        if field in known:
            self.activity(f"{kind}:{event.data.device_id}")
        known.add(field)

    def _on_event(self, event: BusEvent[DeviceEventFired]) -> None:
        fired = event.data.event
        if fired.event in SIGN_EVENTS and fired.active:
            self.activity(f"{fired.event}:{fired.device_id}")

    def activity(self, source: str) -> None:
        """Someone is up and about: remember when; an open check ends."""
        now_ms = to_ms(self.now())
        with self._store.transaction():
            self._store.db.execute(
                "INSERT INTO care_settings (id, settings, last_activity_ms) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET last_activity_ms = excluded.last_activity_ms",
                [json.dumps(CareSettings().to_dict()), now_ms],
            )
        if self._open() is not None:
            _LOG.info("care check answered by a sign of life (%s)", source.split(":")[0])
            self._end("activity", Status.FINE)

    def fine(self) -> dict[str, Any] | None:
        """The resident pressed "I'm fine": it counts as activity and ends an open check."""
        was_open = self._open()
        self.activity("resident")
        return None if was_open is None else self.check(was_open["check_id"])

    def _last_activity(self) -> int | None:
        row = self._store.db.execute(
            "SELECT last_activity_ms FROM care_settings WHERE id = 1"
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # --- the checks ----------------------------------------------------------------------

    def _rows(self, where: str, params: list[object], limit: int = HISTORY) -> list[dict[str, Any]]:
        rows = self._store.db.execute(
            _SELECT + _WHERE[where] + " ORDER BY seq DESC LIMIT ?", [*params, limit]
        ).fetchall()
        out = []
        for row in rows:
            item = dict(zip(_CHECK_KEYS, row, strict=True))
            item["family_sent"], item["staff_sent"] = (
                bool(item["family_sent"]),
                bool(item["staff_sent"]),
            )
            out.append(item)
        return out

    def _open(self) -> dict[str, Any] | None:
        rows = self._rows("open", [str(Status.OPEN)], 1)
        return rows[0] if rows else None

    def check(self, check_id: str) -> dict[str, Any] | None:
        rows = self._rows("id", [check_id], 1)
        return rows[0] if rows else None

    def checks(self) -> list[dict[str, Any]]:
        return self._rows("all", [])

    def tick(self) -> Step:
        """Evaluate the check once (the timer calls this; tests call it directly)."""
        now = self.now()
        settings = self.settings()
        row = self._open()
        open_check = (
            None
            if row is None
            else OpenCheck(Tier(row["tier"]), int(row["asked_ms"]), row["family_ms"])
        )
        day = now.date().isoformat()
        checked = (
            self._store.db.execute("SELECT 1 FROM care_checks WHERE day = ?", [day]).fetchone()
            is not None
        )
        step = plan(settings, open_check, checked, self._last_activity(), now)
        if step is Step.SKIP:
            self._insert(day, settings, Status.ACTIVE, None, now)
        elif step is Step.ASK:
            check_id = self._insert(day, settings, Status.OPEN, Tier.ASKED, now)
            _LOG.info("care check %s: no sign of life by %s; asking", check_id, settings.check_time)
            self._bus.fire(CareAsked(check_id))
        elif step is Step.FAMILY and row is not None:
            self._tell_family(row, settings, now)
        elif step is Step.DUTY_STAFF and row is not None:
            self._tell_staff(row, now)
        return step

    def _insert(
        self, day: str, settings: CareSettings, status: Status, tier: Tier | None, now: datetime
    ) -> str:
        check_id = uuid.uuid4().hex
        with self._store.transaction():
            self._store.db.execute(
                "INSERT INTO care_checks (check_id, day, check_time, status, tier, asked_ms)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    check_id,
                    day,
                    settings.check_time,
                    str(status),
                    None if tier is None else str(tier),
                    None if tier is None else to_ms(now),
                ],
            )
        return check_id

    # --- the tiers that leave the home ---------------------------------------------------

    def _decide(self, recipient: Recipient, purpose: Purpose) -> Decision:
        """Consent is decided on the wall clock, whatever clock the schedule runs on: a
        compressed day must not stretch or shorten the resident's consent."""
        moment = datetime.now(UTC)
        return self._gate.policy().decide(Category.DAILY_CHECK, purpose, recipient, EVENT, moment)

    def _audit(
        self, row: dict[str, Any], who: Recipient, purpose: Purpose, decision: Decision, what: str
    ) -> None:
        allowed = decision.allowed and decision.override is None
        self._gate.audit.append(
            actor=who.id,
            role=str(who.role),
            purpose=str(purpose),
            legal_basis=str(decision.basis) if allowed else "none",
            action=AuditAction.DISCLOSE if allowed else AuditAction.REFUSE,
            record_ids=[f"care:{row['check_id']}"],
            context_id=f"care:{row['check_id']}",
            detail=f"care check {row['check_time']}: {what}; {decision.reason}"[:MAX_FIELD],
        )

    def _sealed(
        self, row: dict[str, Any], who: Recipient, tier: str, fields: frozenset[str], ts: int
    ) -> dict[str, Any]:
        """The minimum message, sealed for ``who`` with its opening context (mailbox form)."""
        registered = next(r for r in self._gate.recipients.all() if r.recipient == who)
        message = {"home": self._home_id, "check_time": row["check_time"], "tier": tier, "ts": ts}
        context = FieldContext(
            hub=self._hub_id,
            device=CARE_DEVICE,
            event_type=EVENT,
            seq=int(row["seq"]),
            ts=ts,
            key_id=self._gate.signing_key_id,
            version=UPLINK_VERSION,
        )
        value = seal_field(
            SEALED_FIELD,
            {k: v for k, v in message.items() if k in fields},
            who.id,
            registered.public_key,
            context,
        )
        entry = SealedEntry(
            value.field,
            value.recipient,
            value.key_id,
            value.suite,
            value.wrapped,
            value.nonce,
            value.ciphertext,
        )
        return {**entry.to_dict(), "context": asdict(context)}

    def _family_message(
        self, row: dict[str, Any], family: str, tier: str, now: datetime
    ) -> dict[str, Any] | None:
        """The sealed message for ``family``, if a consent allows it (audited either way)."""
        purpose = Purpose.FAMILY_NOTIFICATION
        try:
            who = Recipient.parse(family)
        except ValueError:
            return None
        decision = self._decide(who, purpose)
        if not decision.allowed or decision.override is not None:
            self._audit(row, who, purpose, decision, f"{tier} not sent to {who.id}")
            return None
        if who.id not in self._family_ids():
            refused = replace(decision, allowed=False, reason="no key registered for them")
            self._audit(row, who, purpose, refused, f"{tier} not sent to {who.id}")
            return None
        try:
            sealed = self._sealed(row, who, tier, decision.fields_allowed, to_ms(now))
        except SealError as exc:
            _LOG.error("care message for %s not sealed: %s", who.id, exc)
            return None
        self._audit(row, who, purpose, decision, f"{tier}: sealed message for {who.id}")
        return sealed

    def _tell_family(self, row: dict[str, Any], settings: CareSettings, now: datetime) -> None:
        sealed = self._family_message(row, settings.family, str(Tier.FAMILY), now)
        sent = False
        if sealed is not None:
            body = {
                "tier": str(Tier.FAMILY),
                "check_id": row["check_id"],
                "asked_at": _iso(row["asked_ms"]),
                "sealed": sealed,
            }
            sent = self._send("missed", body)
            if not sent:
                return  # the outbox refused: try again on the next tick
        with self._store.transaction():
            self._store.db.execute(
                "UPDATE care_checks SET tier = ?, family_ms = ?, family = ?, family_sent = ?"
                " WHERE seq = ?",
                [str(Tier.FAMILY), to_ms(now), settings.family, int(sent), row["seq"]],
            )
        _LOG.info("care check %s: family %s", row["check_id"], "told" if sent else "not told")

    def _tell_staff(self, row: dict[str, Any], now: datetime) -> None:
        purpose = Purpose.CARE_SERVICE
        decision = self._decide(COMMUNITY_DUTY, purpose)
        sent = False
        if decision.allowed and decision.override is None:
            body: dict[str, Any] = {
                "tier": str(Tier.DUTY_STAFF),
                "check_id": row["check_id"],
                "asked_at": _iso(row["asked_ms"]),
            }
            if "check_time" in decision.fields_allowed:
                body["check_time"] = row["check_time"]
            sent = self._send("missed", body)
            if not sent:
                return
            self._audit(row, COMMUNITY_DUTY, purpose, decision, "duty staff alarm")
        else:
            self._audit(row, COMMUNITY_DUTY, purpose, decision, "duty staff not told")
        with self._store.transaction():
            self._store.db.execute(
                "UPDATE care_checks SET tier = ?, staff_ms = ?, staff_sent = ? WHERE seq = ?",
                [str(Tier.DUTY_STAFF), to_ms(now), int(sent), row["seq"]],
            )
        _LOG.info("care check %s: duty staff %s", row["check_id"], "told" if sent else "not told")

    def _end(self, by: str, status: Status) -> None:
        row = self._open()
        if row is None:
            return
        now = self.now()
        with self._store.transaction():
            self._store.db.execute(
                "UPDATE care_checks SET status = ?, ended_ms = ?, ended_by = ? WHERE seq = ?",
                [str(status), to_ms(now), by, row["seq"]],
            )
        if not (row["family_sent"] or row["staff_sent"]):
            return
        # Those who were told hear that it is over (the family sealed, as before).
        body: dict[str, Any] = {"check_id": row["check_id"]}
        if row["family_sent"] and row["family"]:
            # The family member who was told (even if the resident has since chosen another).
            sealed = self._family_message(row, str(row["family"]), "ok", now)
            if sealed is not None:
                body["sealed"] = sealed
        self._send("ok", body)

    def _send(self, action: str, body: dict[str, Any]) -> bool:
        try:
            self._ask(SERVICE, action, body)
        except ValueError as exc:
            _LOG.error("care %s not queued: %s", action, exc)
            return False
        return True

    # --- what the resident sees ----------------------------------------------------------

    def audit(self) -> list[dict[str, Any]]:
        """Every care disclosure and refusal, newest first (from the hub's audit log)."""
        return [
            {"at": e.at, "to": e.actor, "action": e.action, "what": e.detail}
            for e in reversed(self._gate.audit.entries())
            if e.context_id.startswith("care:")
        ][:50]

    def view(self) -> dict[str, Any]:
        settings = self.settings()
        now = self.now()
        return {
            "settings": settings.to_dict(),
            "now_ms": to_ms(now),
            "next_check_ms": to_ms(check_moment(settings, now)) if settings.enabled else None,
            "last_activity_ms": self._last_activity(),
            "asking": self._open(),
            "checks": self.checks(),
            "family_recipients": self._family_ids(),
            "audit": self.audit(),
        }

    # --- the timer -----------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="care-checks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                self.tick()
            except Exception:
                _LOG.exception("care check round failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._tick_s):
                    await self._wake.wait()
