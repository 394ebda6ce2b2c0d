"""Staff accounts, their roles, and what each role may do — least privilege, as data.

Four roles work with the community: the **property admin** (everything, and the only one who
makes accounts), **duty staff** (the alarm desk and the work-order desk), **technicians**
(only the work orders assigned to them) and **residents** (only their own home; they act
through their home hub, never with a staff token).

A staff account is a name, a role and a random token shown once at creation; only the
token's SHA-256 is stored (the token is 256 random bits, so a plain digest is as good as a
slow hash and lets a request be matched in one lookup). The manager token the server makes
at first start stays the property admin's (account ``manager``), so nothing that used it
breaks.

What a role may do is two tables: :data:`PERMISSIONS` (role -> permissions) and
:data:`ROUTES` (HTTP method and path -> the permission it needs). The web middleware asks
:func:`permission_for` and :func:`may` — one place — and a path no row names needs
:attr:`Permission.ADMIN`, so a route added tomorrow is closed until someone opens it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from community.clock import iso
from community.queries import QueryError, clean_text
from community.store import Store

#: The account the manager token belongs to.
MANAGER: Final = "manager"
NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class Role(StrEnum):
    PROPERTY_ADMIN = "property_admin"
    DUTY_STAFF = "duty_staff"
    TECHNICIAN = "technician"
    RESIDENT = "resident"


#: Roles a staff account can have (residents have no staff token).
STAFF_ROLES: Final = frozenset({Role.PROPERTY_ADMIN, Role.DUTY_STAFF, Role.TECHNICIAN})


class Permission(StrEnum):
    #: The dashboard page and its static files.
    PAGE = "page"
    #: Read alarms, hubs, stats and the live feed.
    ALARMS_READ = "alarms.read"
    #: Acknowledge, clear, assign, start, resolve, attach evidence, release a car.
    ALARMS_WORK = "alarms.work"
    #: The charging shed and fire-lane pages.
    FIELD_READ = "field.read"
    #: Read work orders (each role within its scope, see work_order_rules.ROLE_SCOPE).
    ORDERS_READ = "orders.read"
    #: Open a work order for a resident, or from an alarm.
    ORDERS_CREATE = "orders.create"
    #: Move a work order (each transition is checked again against work_order_rules).
    ORDERS_ACT = "orders.act"
    #: Read the manager's notices and their receipts (publishing stays ADMIN).
    NOTICES_READ = "notices.read"
    #: Read the parcel lockers' deliveries, reminders and pickups (never a pickup code).
    PARCELS_READ = "parcels.read"
    #: Everything else: accounts, plates, configuration.
    ADMIN = "admin"


PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.PROPERTY_ADMIN: frozenset(Permission),
    Role.DUTY_STAFF: frozenset(
        {
            Permission.PAGE,
            Permission.ALARMS_READ,
            Permission.ALARMS_WORK,
            Permission.FIELD_READ,
            Permission.ORDERS_READ,
            Permission.ORDERS_CREATE,
            Permission.ORDERS_ACT,
            Permission.NOTICES_READ,  # the manager's notices
            Permission.PARCELS_READ,  # parcels
        }
    ),
    Role.TECHNICIAN: frozenset({Permission.PAGE, Permission.ORDERS_READ, Permission.ORDERS_ACT}),
    Role.RESIDENT: frozenset(),
}

_ID: Final = r"[^/]+"
#: (methods, path pattern, permission); the first row that matches decides. Routes that are
#: no staff's (a family member's ``/api/mailbox/…``) never reach this table: they check their
#: own token first (``community.web.SELF_AUTHENTICATED``).
ROUTES: Final[tuple[tuple[frozenset[str], re.Pattern[str], Permission], ...]] = tuple(
    (frozenset(methods.split()), re.compile(pattern), permission)
    for methods, pattern, permission in (
        ("GET HEAD", r"/|/static/.*", Permission.PAGE),
        ("GET", r"/api/whoami", Permission.PAGE),
        ("GET", r"/api/(alarms|alarms/" + _ID + r"|hubs|stats|ws)", Permission.ALARMS_READ),
        ("POST", rf"/api/alarms/{_ID}/work-order", Permission.ORDERS_CREATE),
        (
            "POST",
            rf"/api/alarms/{_ID}/(ack|clear|assign|start|resolve|evidence|release)",
            Permission.ALARMS_WORK,
        ),
        ("GET", r"/api/field/.*|/api/lanes/report", Permission.FIELD_READ),
        ("GET", r"/api/care|/api/care/bookings", Permission.ALARMS_READ),  # care checks
        ("GET", rf"/api/orders|/api/orders/{_ID}", Permission.ORDERS_READ),
        ("GET", r"/api/estate", Permission.ALARMS_READ),  # the property's hierarchy
        ("POST", r"/api/orders", Permission.ORDERS_CREATE),
        ("POST", rf"/api/orders/{_ID}/{_ID}", Permission.ORDERS_ACT),
        ("GET", rf"/api/notices|/api/notices/{_ID}", Permission.NOTICES_READ),
        ("GET", r"/api/parcels", Permission.PARCELS_READ),
        ("GET", r"/api/visitors/(passes|entries)", Permission.FIELD_READ),  # visitor passes
        ("POST", rf"/api/visitors/passes/{_ID}/revoke", Permission.ALARMS_WORK),  # visitor passes
        ("POST", r"/logout", Permission.PAGE),
    )
)


def permission_for(method: str, path: str) -> Permission:
    """The permission a request needs; unlisted paths need :attr:`Permission.ADMIN`."""
    for methods, pattern, permission in ROUTES:
        if method in methods and pattern.fullmatch(path):
            return permission
    return Permission.ADMIN


def may(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a staff account, or the resident(s) of one home via its hub."""

    name: str
    role: Role
    #: The home a resident acts for; None for staff.
    home_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": str(self.role), "home_id": self.home_id}


class AccountError(ValueError):
    """An account request that cannot be done; the message is safe to show."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


_SCHEMA: Final = """CREATE TABLE IF NOT EXISTS staff_accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    disabled_at TEXT
)"""


def _clean_name(value: object) -> str:
    try:
        name = clean_text(value, "name", 64).strip()
    except QueryError as exc:
        raise AccountError(str(exc)) from None
    if not NAME_RE.fullmatch(name):
        raise AccountError("'name' must be 1-64 letters, digits or ._@- and start with one")
    return name


def parse_role(value: object) -> Role:
    if not isinstance(value, str) or value not in {str(r) for r in STAFF_ROLES}:
        roles = ", ".join(sorted(str(r) for r in STAFF_ROLES))
        raise AccountError(f"'role' must be one of: {roles}")
    return Role(value)


class Accounts:
    """The ``staff_accounts`` table and an in-memory index of live token digests.

    Requests are matched against the index (no database read on the event loop); every
    change goes through the store's transaction on the writer thread and then replaces the
    index in one assignment.
    """

    def __init__(self, store: Store, manager_token: str, now: int) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._by_digest: dict[str, Principal] = {}
        with store.transaction() as db:
            db.execute(_SCHEMA)
            digest = token_digest(manager_token)
            # The manager token may have been replaced on disk: the account follows the file.
            db.execute(
                "INSERT INTO staff_accounts (name, role, token_sha256, created_at, created_by)"
                " VALUES (?, ?, ?, ?, 'server') ON CONFLICT(name) DO UPDATE SET"
                " token_sha256 = excluded.token_sha256, role = excluded.role,"
                " disabled_at = NULL",
                [MANAGER, str(Role.PROPERTY_ADMIN), digest, iso(now)],
            )
        self._reload()

    def _reload(self) -> None:
        rows = self._store.read(
            "SELECT name, role, token_sha256 FROM staff_accounts WHERE disabled_at IS NULL"
        )
        index = {r["token_sha256"]: Principal(r["name"], Role(r["role"])) for r in rows}
        with self._lock:
            self._by_digest = index

    def authenticate(self, token: str) -> Principal | None:
        """The staff account a token belongs to, if it is live."""
        if not token or len(token) > 512:
            return None
        with self._lock:
            return self._by_digest.get(token_digest(token))

    def create(self, name: object, role: object, by: str, now: int) -> tuple[dict[str, Any], str]:
        """Make an account; returns it and its token (shown once, stored only as a digest).

        Raises :class:`AccountError` for a bad name or role or a name already taken.
        """
        clean, parsed = _clean_name(name), parse_role(role)
        token = secrets.token_urlsafe(32)
        with self._store.transaction() as db:
            taken = list(db.query("SELECT 1 FROM staff_accounts WHERE name = ?", [clean]))
            if taken:
                raise AccountError(f"an account named {clean!r} already exists")
            db.execute(
                "INSERT INTO staff_accounts (name, role, token_sha256, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?)",
                [clean, str(parsed), token_digest(token), iso(now), by],
            )
        self._reload()
        account = self.get(clean)
        assert account is not None
        return account, token

    def disable(self, name: str, now: int) -> dict[str, Any]:
        """Revoke an account's token at once; the manager account cannot be disabled here."""
        if name == MANAGER:
            raise AccountError("the manager account follows the manager token file")
        with self._store.transaction() as db:
            changed = db.execute(
                "UPDATE staff_accounts SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL",
                [iso(now), name],
            )
        self._reload()
        account = self.get(name)
        if account is None:
            raise LookupError(name)
        return {**account, "changed": changed.rowcount == 1}

    def get(self, name: str) -> dict[str, Any] | None:
        rows = self._store.read(
            "SELECT name, role, created_at, created_by, disabled_at FROM staff_accounts"
            " WHERE name = ?",
            [name],
        )
        return rows[0] if rows else None

    def list(self) -> list[dict[str, Any]]:
        return self._store.read(
            "SELECT name, role, created_at, created_by, disabled_at FROM staff_accounts"
            " ORDER BY name"
        )

    def role_of(self, name: str) -> Role | None:
        """The role of a live account (work orders are assigned only to live accounts)."""
        rows = self._store.read(
            "SELECT role FROM staff_accounts WHERE name = ? AND disabled_at IS NULL", [name]
        )
        return Role(rows[0]["role"]) if rows else None
