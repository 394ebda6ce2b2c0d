"""Work orders: repairs and complaints, from report to the resident's rating.

An order lives in three tables of the community database: ``work_orders`` (one row per
order, its current state), ``work_order_history`` (every change, who made it and in which
role — the order's audit trail) and ``work_order_photos`` (photo *references*: where the
picture is kept and its SHA-256, never the picture). A fourth, ``work_order_escalations``,
holds one row per overdue tier fired, UNIQUE per (order, cycle, tier): firing is an
``INSERT OR IGNORE``, so a tier fires exactly once however often the timer runs and across
restarts.

Every method runs on the server's writer thread and changes the database in one transaction,
after checking everything: a refused request changes nothing. What may happen is decided by
the tables of :mod:`community.work_order_rules`; this module only interprets them.

Residents act through their home hub: :meth:`WorkOrders.from_resident` takes the home the
hub is enrolled for (the authority) and the resident's request, and can only ever touch that
home's orders.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlite_utils import Database

from community.accounts import Principal, Role
from community.clock import iso
from community.queries import QueryError, clean_text
from community.store import Store
from community.work_order_rules import (
    CLOSED,
    DEFAULT_RULES,
    OWED,
    ROLE_SCOPE,
    Category,
    Field,
    OrderAction,
    OrderRules,
    Scope,
    Status,
    Transition,
    allowed_actions,
    find_transition,
    order_for_alarm,
)

MAX_REQUEST: Final = 16 * 1024
MAX_TITLE: Final = 120
MAX_DESCRIPTION: Final = 2000
MAX_NOTE: Final = 500
MAX_RESOLUTION: Final = 1000
MAX_PHOTOS: Final = 5
MAX_URI: Final = 2000
PHOTO_SCHEMES: Final = frozenset({"https", "http", "s3", "urn"})
#: Dates further ahead than this are refused (a typo, not a plan).
MAX_AHEAD_MS: Final = 366 * 24 * 3_600_000
#: A time "now" may be this much in the past (clocks differ, forms take time).
MAX_BEHIND_MS: Final = 3_600_000
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
MAX_OFFSET: Final = 1_000_000
RESIDENT: Final = "resident"
_SHA256: Final = re.compile(r"^[0-9a-fA-F]{64}$")
_HOME: Final = re.compile(r"^[^\s/][^/]{0,63}$")


# --- errors: each carries the HTTP status it maps to ----------------------------------------


class OrderError(ValueError):
    """Input that cannot be used (400); the message is safe to show."""

    status: ClassVar[int] = 400


class OrderForbiddenError(OrderError):
    """The person may not do this (their role, or an order outside their scope)."""

    status: ClassVar[int] = 403


class OrderNotFoundError(OrderError):
    status: ClassVar[int] = 404


class OrderConflictError(OrderError):
    """The order's state does not allow the action now."""

    status: ClassVar[int] = 409


# --- field parsers: untrusted values in, clean values out ------------------------------------


def _text(value: object, name: str, limit: int, *, empty: bool = False) -> str:
    try:
        text = clean_text(value, name, limit).strip()
    except QueryError as exc:
        raise OrderError(str(exc)) from None
    if not text and not empty:
        raise OrderError(f"'{name}' must not be empty")
    return text


def _multiline(value: object, name: str, limit: int) -> str:
    """Text that may keep line breaks (a description); other control characters refused."""
    if not isinstance(value, str):
        raise OrderError(f"'{name}' must be a string")
    lines = value.replace("\r\n", "\n").split("\n")
    if len(value) > limit:
        raise OrderError(f"'{name}' must be at most {limit} characters")
    cleaned = "\n".join(_text(line, name, limit, empty=True) for line in lines).strip()
    if not cleaned:
        raise OrderError(f"'{name}' must not be empty")
    return cleaned


def parse_time(value: object, name: str, now: int) -> int:
    """An ISO-8601 time with a zone, from an hour ago to a year ahead, as ms."""
    text = _text(value, name, 40)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise OrderError(f"'{name}' must be an ISO-8601 time like 2026-11-23T09:00:00Z") from None
    if moment.tzinfo is None:
        raise OrderError(f"'{name}' must carry a time zone (Z or +08:00)")
    ms = int(moment.astimezone(UTC).timestamp() * 1000)
    if ms < now - MAX_BEHIND_MS:
        raise OrderError(f"'{name}' is in the past")
    if ms > now + MAX_AHEAD_MS:
        raise OrderError(f"'{name}' is more than a year ahead")
    return ms


def _category(value: object, name: str) -> Category:
    if not isinstance(value, str) or value not in {str(c) for c in Category}:
        raise OrderError(f"'{name}' must be one of: {', '.join(Category)}")
    return Category(value)


def _rating(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise OrderError(f"'{name}' must be a whole number from 1 to 5")
    return value


def _photo(value: object) -> tuple[str, str]:
    if not isinstance(value, dict) or set(value) - {"uri", "sha256"}:
        raise OrderError('each photo must be {"uri": …, "sha256": …}')
    uri = _text(value.get("uri"), "photo uri", MAX_URI)
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in PHOTO_SCHEMES or any(ch.isspace() for ch in uri):
        raise OrderError(f"'photo uri' must be a {'/'.join(sorted(PHOTO_SCHEMES))} URI")
    if scheme != "urn" and not parts.netloc:
        raise OrderError("'photo uri' must name the host or bucket that keeps the photo")
    digest = value.get("sha256")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise OrderError("'photo sha256' must be 64 hex digits (a SHA-256)")
    return uri, digest.lower()


def _photos(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise OrderError("'photos' must be a list")
    if len(value) > MAX_PHOTOS:
        raise OrderError(f"at most {MAX_PHOTOS} photos per order")
    return [_photo(item) for item in value]


def home_id_of(value: object) -> str:
    home = _text(value, "home_id", 64)
    if not _HOME.fullmatch(home):
        raise OrderError("'home_id' must be 1-64 characters without '/'")
    return home


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A checked request to open an order."""

    home_id: str
    category: Category
    title: str
    description: str
    room: str = ""
    preferred_ms: int | None = None
    photos: tuple[tuple[str, str], ...] = ()


_NEW_FIELDS: Final = frozenset(
    {"home_id", "category", "title", "description", "room", "preferred_time", "photos"}
)


def parse_new_order(body: Mapping[str, Any], now: int, *, home_id: str | None = None) -> NewOrder:
    """Check a request to open an order; ``home_id`` given means it is not taken from body."""
    allowed = _NEW_FIELDS - ({"home_id"} if home_id is not None else set())
    unknown = sorted(str(k)[:40] for k in body if k not in allowed)
    if unknown:
        raise OrderError(f"unknown field(s): {', '.join(unknown)}")
    home = home_id if home_id is not None else home_id_of(body.get("home_id"))
    if body.get("category") is None:
        raise OrderError("'category' is required")
    if body.get("description") is None:
        raise OrderError("'description' is required")
    category = _category(body["category"], "category")
    description = _multiline(body["description"], "description", MAX_DESCRIPTION)
    title_raw = body.get("title")
    title = (
        _text(title_raw, "title", MAX_TITLE)
        if title_raw is not None
        else description.split("\n", 1)[0][:MAX_TITLE]
    )
    room = _text(body["room"], "room", 64, empty=True) if body.get("room") is not None else ""
    preferred = body.get("preferred_time")
    return NewOrder(
        home_id=home,
        category=category,
        title=title,
        description=description,
        room=room,
        preferred_ms=None if preferred is None else parse_time(preferred, "preferred_time", now),
        photos=tuple(_photos(body["photos"])) if body.get("photos") is not None else (),
    )


def parse_action_body(row: Transition, body: Mapping[str, Any], now: int) -> dict[Field, str | int]:
    """Check the body of one transition against its row; returns the values by field."""
    known = row.required | row.optional
    unknown = sorted(str(k)[:40] for k in body if k not in {str(f) for f in known})
    if unknown:
        raise OrderError(f"unknown field(s) for {row.action}: {', '.join(unknown)}")
    values: dict[Field, str | int] = {}
    for field in sorted(known):
        raw = body.get(str(field))
        if raw is None:
            if field in row.required:
                raise OrderError(f"'{field}' is required to {row.action} an order")
            continue
        values[field] = _FIELD_PARSERS[field](raw, str(field), now)
    return values


_FIELD_PARSERS: Final[dict[Field, Callable[[object, str, int], str | int]]] = {
    Field.NOTE: lambda v, n, now: _text(v, n, MAX_NOTE),
    Field.TO: lambda v, n, now: _text(v, n, 64),
    Field.AT: lambda v, n, now: parse_time(v, n, now),
    Field.CATEGORY: lambda v, n, now: str(_category(v, n)),
    Field.RESOLUTION: lambda v, n, now: _multiline(v, n, MAX_RESOLUTION),
    Field.RATING: lambda v, n, now: _rating(v, n),
    Field.COMMENT: lambda v, n, now: _text(v, n, MAX_NOTE, empty=True),
}


# --- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderQuery:
    status: Status | None = None
    category: Category | None = None
    home: str | None = None
    assignee: str | None = None
    overdue: bool | None = None
    q: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def _int(value: str, name: str, low: int, high: int) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise OrderError(f"'{name}' must be a whole number")
    number = int(value)
    if not low <= number <= high:
        raise OrderError(f"'{name}' must be from {low} to {high}")
    return number


def parse_order_query(pairs: list[tuple[str, str]]) -> OrderQuery:
    """Filters of ``GET /api/orders``; unknown or repeated names are refused."""
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name in seen:
            raise OrderError(f"filter '{str(name)[:40]}' is given more than once")
        seen[name] = value
    unknown = sorted(str(k)[:40] for k in seen if k not in OrderQuery.__dataclass_fields__)
    if unknown:
        raise OrderError(f"unknown filter(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    if "status" in seen:
        if seen["status"] not in {str(s) for s in Status}:
            raise OrderError(f"'status' must be one of: {', '.join(Status)}")
        values["status"] = Status(seen["status"])
    if "category" in seen:
        values["category"] = _category(seen["category"], "category")
    for name in ("home", "assignee", "q"):
        if name in seen:
            values[name] = _text(seen[name], name, 100, empty=True) or None
    if "overdue" in seen:
        if seen["overdue"] not in ("true", "false"):
            raise OrderError("'overdue' must be true or false")
        values["overdue"] = seen["overdue"] == "true"
    if "limit" in seen:
        values["limit"] = _int(seen["limit"], "limit", 1, MAX_LIMIT)
    if "offset" in seen:
        values["offset"] = _int(seen["offset"], "offset", 0, MAX_OFFSET)
    return OrderQuery(**values)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- schema -------------------------------------------------------------------------------------

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS work_orders (
        id INTEGER PRIMARY KEY,
        home_id TEXT NOT NULL,
        category TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        room TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        source TEXT NOT NULL,
        alarm_id INTEGER REFERENCES alarms(id),
        created_ms INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        assignee TEXT,
        scheduled_at TEXT,
        preferred_time TEXT,
        resolution TEXT,
        rating INTEGER,
        comment TEXT,
        due_ms INTEGER NOT NULL,
        due_at TEXT NOT NULL,
        cycle INTEGER NOT NULL DEFAULT 0,
        escalation_tier INTEGER NOT NULL DEFAULT -1,
        updated_at TEXT NOT NULL,
        closed_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS work_orders_owed ON work_orders(status, due_ms)",
    "CREATE INDEX IF NOT EXISTS work_orders_home ON work_orders(home_id, id)",
    "CREATE INDEX IF NOT EXISTS work_orders_alarm ON work_orders(alarm_id)",
    """CREATE TABLE IF NOT EXISTS work_order_history (
        id INTEGER PRIMARY KEY,
        order_id INTEGER NOT NULL REFERENCES work_orders(id),
        at TEXT NOT NULL,
        action TEXT NOT NULL,
        by TEXT NOT NULL,
        role TEXT NOT NULL,
        note TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS work_order_history_order ON work_order_history(order_id, id)",
    """CREATE TABLE IF NOT EXISTS work_order_photos (
        id INTEGER PRIMARY KEY,
        order_id INTEGER NOT NULL REFERENCES work_orders(id),
        uri TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        added_at TEXT NOT NULL,
        by TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS work_order_escalations (
        id INTEGER PRIMARY KEY,
        order_id INTEGER NOT NULL REFERENCES work_orders(id),
        cycle INTEGER NOT NULL,
        tier INTEGER NOT NULL,
        audience TEXT NOT NULL,
        due_at TEXT NOT NULL,
        fired_at TEXT NOT NULL,
        UNIQUE (order_id, cycle, tier)
    )""",
)

_STATUS_SQL: Final = ", ".join(f"'{s}'" for s in sorted(OWED))


@dataclass(frozen=True, slots=True)
class OrderChange:
    """One change of an order, as watchers see it (inside the transaction that makes it)."""

    #: The order's view after the change.
    order: dict[str, Any]
    #: ``created``, a transition's action, ``rated`` or ``escalated``.
    action: str
    #: The role of who changed it; None when the community itself did (an overdue tier).
    by_role: Role | None
    now: int
    tier: int | None = None
    audience: str | None = None


#: Called on the writer thread inside the change's transaction (what it writes commits with
#: the change, or not at all).
OrderWatcher = Callable[[Database, OrderChange], None]


def _one(db: Database, sql: str, params: list[object]) -> dict[str, Any] | None:
    return next(iter(db.query(sql, params)), None)


class WorkOrders:
    """The work orders of one community, in the community store."""

    def __init__(
        self,
        store: Store,
        role_of: Callable[[str], Role | None] | None = None,
        rules: OrderRules = DEFAULT_RULES,
    ) -> None:
        """``role_of(name) -> Role | None`` says who may be assigned (live accounts only)."""
        self._store = store
        self._role_of = role_of
        #: SLAs and overdue tiers (replace with :meth:`use_rules`).
        self.rules = rules
        self._watchers: list[OrderWatcher] = []
        with store.transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def use_rules(self, rules: OrderRules) -> None:
        """Run with other SLAs and tiers from now on (orders already open keep their due time)."""
        self.rules = rules

    def watch(self, watcher: OrderWatcher) -> None:
        """Tell ``watcher`` about every change of every order (see :class:`OrderChange`)."""
        self._watchers.append(watcher)

    def _tell(
        self,
        db: Database,
        order_id: int,
        action: str,
        role: Role | None,
        now: int,
        tier: int | None = None,
        audience: str | None = None,
    ) -> None:
        if not self._watchers:
            return
        change = OrderChange(
            self._view(self._row(db, order_id), now), action, role, now, tier, audience
        )
        for watcher in self._watchers:
            watcher(db, change)

    # --- views ------------------------------------------------------------------------------

    def _view(self, row: Mapping[str, Any], now: int, role: Role | None = None) -> dict[str, Any]:
        status = Status(row["status"])
        view = {
            k: row[k]
            for k in (
                "id",
                "home_id",
                "category",
                "title",
                "description",
                "room",
                "status",
                "source",
                "alarm_id",
                "created_at",
                "created_by",
                "assignee",
                "scheduled_at",
                "preferred_time",
                "resolution",
                "rating",
                "comment",
                "due_at",
                "cycle",
                "escalation_tier",
                "updated_at",
                "closed_at",
            )
        }
        view["overdue"] = status in OWED and int(row["due_ms"]) <= now
        if role is not None:
            view["actions"] = allowed_actions(status, role)
        return view

    def _detail(self, db: Database, row: Mapping[str, Any], now: int, role: Role) -> dict[str, Any]:
        order_id = int(row["id"])
        view = self._view(row, now, role)
        view["history"] = list(
            db.query(
                "SELECT at, action, by, role, note FROM work_order_history WHERE order_id = ?"
                " ORDER BY id",
                [order_id],
            )
        )
        view["photos"] = list(
            db.query(
                "SELECT uri, sha256, added_at, by FROM work_order_photos WHERE order_id = ?"
                " ORDER BY id",
                [order_id],
            )
        )
        view["escalations"] = list(
            db.query(
                "SELECT cycle, tier, audience, due_at, fired_at FROM work_order_escalations"
                " WHERE order_id = ? ORDER BY id",
                [order_id],
            )
        )
        if row["alarm_id"] is not None:
            alarm = _one(
                db,
                "SELECT id, kind, severity, status, device_name, room, hub_id, device_id"
                " FROM alarms WHERE id = ?",
                [row["alarm_id"]],
            )
            if alarm is not None:  # sealed at rest: opened in its own context, shown without it
                opened = self._store.open_alarm(alarm)
                alarm = {k: v for k, v in opened.items() if k not in ("hub_id", "device_id")}
            view["alarm"] = alarm
        return view

    def _row(self, db: Database, order_id: int) -> dict[str, Any]:
        row = _one(db, "SELECT * FROM work_orders WHERE id = ?", [order_id])
        if row is None:
            raise OrderNotFoundError(f"no work order {order_id}")
        return row

    @staticmethod
    def _check_scope(row: Mapping[str, Any], who: Principal) -> None:
        scope = ROLE_SCOPE[who.role]
        if scope is Scope.ASSIGNEE and row["assignee"] != who.name:
            raise OrderForbiddenError(f"work order {row['id']} is not assigned to you")
        if scope is Scope.OWN_HOME and row["home_id"] != who.home_id:
            raise OrderForbiddenError(f"work order {row['id']} is not one of your home's")

    def get(self, order_id: int, who: Principal, now: int) -> dict[str, Any]:
        with self._store.transaction() as db:
            row = self._row(db, order_id)
            self._check_scope(row, who)
            return self._detail(db, row, now, who.role)

    def query(
        self, query: OrderQuery, who: Principal, now: int
    ) -> tuple[list[dict[str, Any]], int]:
        where: list[str] = []
        params: list[object] = []
        scope = ROLE_SCOPE[who.role]
        if scope is Scope.ASSIGNEE:
            where.append("assignee = ?")
            params.append(who.name)
        elif scope is Scope.OWN_HOME:
            where.append("home_id = ?")
            params.append(who.home_id)
        for column, value in (
            ("status", query.status),
            ("category", query.category),
            ("home_id", query.home),
            ("assignee", query.assignee),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        if query.overdue is not None:
            owed = f"(status IN ({_STATUS_SQL}) AND due_ms <= ?)"
            where.append(owed if query.overdue else f"NOT {owed}")
            params.append(now)
        if query.q:
            like = _like(query.q)
            where.append(
                "(title LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\'"
                " OR home_id LIKE ? ESCAPE '\\' OR room LIKE ? ESCAPE '\\'"
                " OR coalesce(assignee, '') LIKE ? ESCAPE '\\')"
            )
            params.extend([like] * 5)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = self._store.read(f"SELECT count(*) AS n FROM work_orders{clause}", params)  # noqa: S608
        rows = self._store.read(
            f"SELECT * FROM work_orders{clause} ORDER BY id DESC LIMIT ? OFFSET ?",  # noqa: S608
            [*params, query.limit, query.offset],
        )
        return [self._view(r, now, who.role) for r in rows], int(total[0]["n"])

    def for_alarm(self, alarm_id: int) -> list[dict[str, Any]]:
        """The orders opened from an alarm (for the alarm's detail view)."""
        return self._store.read(
            "SELECT id, status, category, title, assignee, due_at FROM work_orders"
            " WHERE alarm_id = ? ORDER BY id",
            [alarm_id],
        )

    # --- changes ------------------------------------------------------------------------------

    def _history(
        self, db: Database, order_id: int, action: str, who: Principal, now: int, note: str | None
    ) -> None:
        db.execute(
            "INSERT INTO work_order_history (order_id, at, action, by, role, note)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [order_id, iso(now), action, who.name, str(who.role), note],
        )

    def _insert(
        self,
        db: Database,
        new: NewOrder,
        who: Principal,
        source: str,
        alarm_id: int | None,
        now: int,
    ) -> int:
        due = now + self.rules.sla_ms(new.category)
        cursor = db.execute(
            "INSERT INTO work_orders (home_id, category, title, description, room, status,"
            " source, alarm_id, created_ms, created_at, created_by, preferred_time, due_ms,"
            " due_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                new.home_id,
                str(new.category),
                new.title,
                new.description,
                new.room,
                str(Status.OPEN),
                source,
                alarm_id,
                now,
                iso(now),
                who.name,
                None if new.preferred_ms is None else iso(new.preferred_ms),
                due,
                iso(due),
                iso(now),
            ],
        )
        order_id = cursor.lastrowid
        assert order_id is not None
        for uri, digest in new.photos:
            db.execute(
                "INSERT INTO work_order_photos (order_id, uri, sha256, added_at, by)"
                " VALUES (?, ?, ?, ?, ?)",
                [order_id, uri, digest, iso(now), who.name],
            )
        note = f"{new.category}: {new.title}"
        if alarm_id is not None:
            note += f" (from alarm {alarm_id})"
        self._history(db, order_id, "created", who, now, note)
        return int(order_id)

    def create(self, body: Mapping[str, Any], who: Principal, now: int) -> dict[str, Any]:
        """Staff open an order on behalf of a resident; raises :class:`OrderError`."""
        if who.role is Role.RESIDENT:
            raise OrderForbiddenError("residents report through their home hub")
        new = parse_new_order(body, now)
        with self._store.transaction() as db:
            if _one(db, "SELECT 1 FROM hubs WHERE home_id = ?", [new.home_id]) is None:
                raise OrderError(f"no home {new.home_id!r} is enrolled")
            order_id = self._insert(db, new, who, "staff", None, now)
            self._tell(db, order_id, "created", who.role, now)
            return self._detail(db, self._row(db, order_id), now, who.role)

    def from_alarm(self, alarm_id: int, who: Principal, now: int) -> tuple[dict[str, Any], bool]:
        """Open the order an alarm calls for, or return the one still open for it.

        Returns the order and whether it is new. Raises :class:`OrderNotFoundError` for an
        unknown alarm.
        """
        closed = ", ".join(f"'{s}'" for s in sorted(CLOSED))
        with self._store.transaction() as db:
            alarm = _one(db, "SELECT * FROM alarms WHERE id = ?", [alarm_id])
            if alarm is None:
                raise OrderNotFoundError(f"no alarm {alarm_id}")
            # At rest (community.resident_keys): the room is opened for the repair; a resident's
            # own device label, sealed under their key, is not copied into the order.
            opened = self._store.open_alarm(alarm)
            alarm = {**opened, "device_name": ""} if opened != alarm else opened
            existing = _one(
                db,
                f"SELECT * FROM work_orders WHERE alarm_id = ? AND status NOT IN ({closed})"  # noqa: S608
                " ORDER BY id LIMIT 1",
                [alarm_id],
            )
            if existing is not None:
                return self._detail(db, existing, now, who.role), False
            category, title = order_for_alarm(alarm)
            where = ", ".join(p for p in (alarm.get("device_name"), alarm.get("room")) if p)
            description = (
                f"Opened from alarm {alarm_id}: {alarm['kind']} ({alarm['severity']})"
                f" raised {alarm['raised_at']}; {where or alarm['device_id']}."
            )
            new = NewOrder(
                home_id=str(alarm.get("home_id") or "community"),
                category=category,
                title=title[:MAX_TITLE],
                description=description,
                room=str(alarm.get("room") or "")[:64],
            )
            order_id = self._insert(db, new, who, "alarm", alarm_id, now)
            self._tell(db, order_id, "created", who.role, now)
            return self._detail(db, self._row(db, order_id), now, who.role), True

    def act(
        self,
        order_id: int,
        action: OrderAction,
        body: Mapping[str, Any],
        who: Principal,
        now: int,
    ) -> dict[str, Any]:
        """One transition of the state machine, checked against the rule tables."""
        row = find_transition(action, who.role)
        if row is None:
            raise OrderForbiddenError(f"a {who.role} may not {action} work orders")
        values = parse_action_body(row, body, now)
        with self._store.transaction() as db:
            order = self._row(db, order_id)
            self._check_scope(order, who)
            status = Status(order["status"])
            if status not in row.sources:
                raise OrderConflictError(
                    f"work order {order_id} is {status}; {action} needs"
                    f" {' or '.join(sorted(row.sources))}"
                )
            changes, note = self._changes(order, row, values, now)
            changes.update(status=str(row.target), updated_at=iso(now))
            if row.target in CLOSED:
                changes["closed_at"] = iso(now)
            assignments = ", ".join(f"{k} = ?" for k in changes)
            db.execute(
                f"UPDATE work_orders SET {assignments} WHERE id = ?",  # noqa: S608 - fixed names
                [*changes.values(), order_id],
            )
            self._history(db, order_id, str(action), who, now, note)
            self._tell(db, order_id, str(action), who.role, now)
            return self._detail(db, self._row(db, order_id), now, who.role)

    def _changes(
        self,
        order: Mapping[str, Any],
        row: Transition,
        values: dict[Field, str | int],
        now: int,
    ) -> tuple[dict[str, object], str | None]:
        """The column changes and history note of a transition (its values already checked)."""
        changes: dict[str, object] = {}
        note = values.get(Field.NOTE)
        if Field.TO in values:
            name = str(values[Field.TO])
            role = self._role_of(name) if self._role_of is not None else None
            if role not in (Role.TECHNICIAN, Role.DUTY_STAFF, Role.PROPERTY_ADMIN):
                raise OrderError(f"no staff account named {name!r} can take work orders")
            changes["assignee"] = name
            note = f"to {name}" + (f": {note}" if note else "")
        if Field.CATEGORY in values and values[Field.CATEGORY] != order["category"]:
            category = str(values[Field.CATEGORY])
            # The due time moves by the difference of the SLAs (also in a reopened cycle).
            due = (
                int(order["due_ms"])
                - self.rules.sla_ms(str(order["category"]))
                + self.rules.sla_ms(category)
            )
            changes.update(category=category, due_ms=due, due_at=iso(due))
            note = f"category {category}" + (f": {note}" if note else "")
        if Field.AT in values:
            changes["scheduled_at"] = iso(int(values[Field.AT]))
            note = f"for {changes['scheduled_at']}" + (f": {note}" if note else "")
        if Field.RESOLUTION in values:
            changes["resolution"] = values[Field.RESOLUTION]
            note = str(values[Field.RESOLUTION])
        if Field.RATING in values:
            changes["rating"] = values[Field.RATING]
            changes["comment"] = values.get(Field.COMMENT) or None
            comment = values.get(Field.COMMENT)
            note = f"rated {values[Field.RATING]}/5" + (f": {comment}" if comment else "")
        if row.target is Status.REOPENED:
            # A new cycle: the SLA starts again and the overdue tiers may fire again.
            due = now + self.rules.sla_ms(str(order["category"]))
            changes.update(
                cycle=int(order["cycle"]) + 1,
                due_ms=due,
                due_at=iso(due),
                escalation_tier=-1,
                resolution=None,
            )
        return changes, None if note is None else str(note)

    # --- residents, through their home hub -------------------------------------------------------

    def from_resident(self, home_id: str, request: dict[str, Any], now: int) -> dict[str, Any]:
        """A resident's request, arriving through the hub of ``home_id`` (the authority).

        ``request`` is ``{"action": "report", "category", "description", "title"?, "room"?,
        "preferred_time"?, "photos"?: [{"uri", "sha256"}]}`` or ``{"action": "confirm" |
        "reopen" | "cancel", "order_id": n, …the transition's fields}``; ``{"action":
        "list"}`` returns the home's orders. Only ``home_id``'s orders can be seen or touched.
        Raises :class:`OrderError` (and its subclasses), changing nothing.
        """
        home = home_id_of(home_id)
        if not isinstance(request, dict):
            raise OrderError("the request must be an object")
        try:
            size = len(json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        except (TypeError, ValueError, RecursionError):
            raise OrderError("the request must be plain JSON") from None
        if size > MAX_REQUEST:
            raise OrderError(f"the request is larger than {MAX_REQUEST} bytes")
        who = Principal(RESIDENT, Role.RESIDENT, home)
        body = dict(request)
        action = body.pop("action", None)
        if action == "report":
            new = parse_new_order(body, now, home_id=home)
            with self._store.transaction() as db:
                order_id = self._insert(db, new, who, "resident", None, now)
                self._tell(db, order_id, "created", who.role, now)
                return self._detail(db, self._row(db, order_id), now, who.role)
        if action == "list":
            if body:
                raise OrderError("'list' takes no fields")
            orders, total = self.query(OrderQuery(limit=MAX_LIMIT), who, now)
            return {"orders": orders, "total": total}
        if action in ("confirm", "reopen", "cancel"):
            order_id = body.pop("order_id", None)
            if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id < 1:
                raise OrderError("'order_id' must be a positive whole number")
            return self.act(order_id, OrderAction(action), body, who, now)
        if action == "rate":
            order_id = body.pop("order_id", None)
            if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id < 1:
                raise OrderError("'order_id' must be a positive whole number")
            return self._rate(order_id, body, who, now)
        raise OrderError("'action' must be one of: report, list, confirm, reopen, cancel, rate")

    def _rate(
        self, order_id: int, body: Mapping[str, Any], who: Principal, now: int
    ) -> dict[str, Any]:
        """Rate a finished order: confirms a ``done`` one, or changes a confirmed one's rating
        (the same fields as confirming, checked by the same rule row)."""
        row = find_transition(OrderAction.CONFIRM, who.role)
        if row is None:
            raise OrderForbiddenError(f"a {who.role} may not rate work orders")
        values = parse_action_body(row, body, now)
        with self._store.transaction() as db:
            order = self._row(db, order_id)
            self._check_scope(order, who)
            status = Status(order["status"])
            if status is not Status.CONFIRMED:
                return self.act(order_id, OrderAction.CONFIRM, body, who, now)
            changes, note = self._changes(order, row, values, now)
            changes["updated_at"] = iso(now)
            assignments = ", ".join(f"{k} = ?" for k in changes)
            db.execute(
                f"UPDATE work_orders SET {assignments} WHERE id = ?",  # noqa: S608 - fixed names
                [*changes.values(), order_id],
            )
            self._history(db, order_id, "rated", who, now, note)
            self._tell(db, order_id, "rated", who.role, now)
            return self._detail(db, self._row(db, order_id), now, who.role)

    # --- overdue ---------------------------------------------------------------------------------

    def escalate_overdue(self, now: int) -> list[dict[str, Any]]:
        """Fire every overdue tier that came due; each fires once per order and cycle.

        Returns ``{"order": view, "tier": n, "audience": …}`` for each tier fired now.
        """
        fired: list[dict[str, Any]] = []
        with self._store.transaction() as db:
            # Only orders with a tier still to fire (escalation_tier is the last fired in
            # this cycle); the UNIQUE row below is what makes firing exactly once.
            rows = list(
                db.query(
                    f"SELECT * FROM work_orders WHERE status IN ({_STATUS_SQL})"  # noqa: S608
                    " AND due_ms <= ? AND escalation_tier < ? ORDER BY due_ms",
                    [now, len(self.rules.tiers) - 1],
                )
            )
            for row in rows:
                for number, tier in enumerate(self.rules.tiers):
                    if number <= int(row["escalation_tier"]):
                        continue
                    at = self.rules.tier_due_ms(int(row["due_ms"]), str(row["category"]), tier)
                    if at > now:
                        break
                    claimed = db.execute(
                        "INSERT OR IGNORE INTO work_order_escalations"
                        " (order_id, cycle, tier, audience, due_at, fired_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        [row["id"], row["cycle"], number, str(tier.audience), iso(at), iso(now)],
                    )
                    if claimed.rowcount != 1:
                        continue
                    late = math.floor((now - int(row["due_ms"])) / 60_000)
                    db.execute(
                        "INSERT INTO work_order_history (order_id, at, action, by, role, note)"
                        " VALUES (?, ?, 'escalated', 'sla', 'system', ?)",
                        [
                            row["id"],
                            iso(now),
                            f"overdue by {late} min, tier {number}: {tier.audience}",
                        ],
                    )
                    db.execute(
                        "UPDATE work_orders SET escalation_tier = ?, updated_at = ? WHERE id = ?",
                        [number, iso(now), row["id"]],
                    )
                    row = {**row, "escalation_tier": number}
                    self._tell(
                        db, int(row["id"]), "escalated", None, now, number, str(tier.audience)
                    )
                    fired.append(
                        {
                            "order": self._view(row, now),
                            "tier": number,
                            "audience": str(tier.audience),
                        }
                    )
        return fired

    def counts(self, now: int) -> dict[str, int]:
        rows = self._store.read(
            f"SELECT count(*) AS owed, coalesce(sum(due_ms <= ?), 0) AS overdue"  # noqa: S608
            f" FROM work_orders WHERE status IN ({_STATUS_SQL})",
            [now],
        )
        return {"orders_open": int(rows[0]["owed"]), "orders_overdue": int(rows[0]["overdue"])}
