"""Visitor passes: issued to residents, checked offline at the gate, revoked, every entry logged.

A resident asks from their hub (``visitor_pass``/``issue``, see :mod:`community.visitor_rules`
for what may be asked); the community gives the pass an id and signs its claims with its own
pass-signing key (``pass.key``, Ed25519, 0600, separate from the community key so a gate
trusts it for passes and nothing else). The answer carries the pass text for the QR code
(:mod:`devices.visitor_pass`). Gates verify passes on their own and report each one shown as
a ``visitor_entry`` event through their common-area hub; this desk logs those entries.

Revoking (by the issuing home, ``visitor_pass``/``revoke``, or by staff) marks the pass and a
background round sends a signed ``revoke_pass`` command to every gate the community has heard
from, until each has one; a gate first seen later is sent every still-valid revocation.

Personal data: the visitor's name stays at the issuing home. The community keeps only a keyed
hash of it (HMAC-SHA256 under a key derived from ``pass.key``), enough to confirm a name a
visitor gives, never to read one, and staff pages never show it. A plate is kept only as the
pass's plate tag (a per-pass hash, as in the QR code).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlite_utils import Database

from community.clock import Clock, iso
from community.community_key import load_or_create_community_key
from community.notices import NoticeDesk
from community.rounds import Rounds
from community.services import Asked, Reply, ServiceDesk, ServiceRefusedError
from community.store import Store
from community.visitor_rules import PassLimits, PassRefusedError, Refusal, check_ask
from devices.catalog import CommandName, DeviceKind, EventType
from devices.messages import Event
from devices.uplink import NoticeCategory, RecordKind, UplinkRecord
from devices.visitor_pass import PASS_ID_RE, PassClaims, key_id, plate_tag, sign_pass
from privacy.envelope import public_bytes

log = logging.getLogger(__name__)

SERVICE: Final = "visitor_pass"
KEY_FILE: Final = "pass.key"
_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS visitor_passes (
    pass_id TEXT PRIMARY KEY,
    home_id TEXT NOT NULL,
    hub_id TEXT NOT NULL,
    request_key TEXT NOT NULL,
    name_hash TEXT NOT NULL,
    plate_tag TEXT NOT NULL DEFAULT '',
    valid_from_ms INTEGER NOT NULL,
    valid_to_ms INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    issued_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    revoked_by TEXT
)""",
    """CREATE TABLE IF NOT EXISTS visitor_entries (
    key TEXT PRIMARY KEY,
    pass_id TEXT NOT NULL,
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    reason TEXT NOT NULL,
    entry INTEGER NOT NULL,
    at_ms INTEGER NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS visitor_entries_pass ON visitor_entries (pass_id, at_ms)",
    """CREATE TABLE IF NOT EXISTS visitor_gates (
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (hub_id, device_id)
)""",
    """CREATE TABLE IF NOT EXISTS visitor_revocations_sent (
    pass_id TEXT NOT NULL,
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    command_id TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    PRIMARY KEY (pass_id, hub_id, device_id)
)""",
)
_ROWS_SQL: Final = (
    "SELECT "
    "pass_id, home_id, valid_from_ms, valid_to_ms, entries, issued_ms, revoked_ms, revoked_by,"
    " plate_tag != '' AS has_plate,"
    " (SELECT count(*) FROM visitor_entries e WHERE e.pass_id = p.pass_id AND e.accepted = 1)"
    " AS used FROM visitor_passes p"
)
#: How many rows a list returns at most.
LIST_MAX: Final = 500

Writer = Callable[..., Awaitable[Any]]
Send = Callable[[str, str, str, dict[str, Any]], Awaitable[str]]


class VisitorDesk:
    """Issues, revokes and logs visitor passes (tables ``visitor_*`` of community.db)."""

    def __init__(
        self,
        *,
        community_id: str,
        data_dir: Path,
        store: Store,
        services: ServiceDesk,
        notices: NoticeDesk,
        send: Send,
        write: Writer,
        clock: Clock,
        limits: PassLimits | None = None,
        poll_s: float = 5.0,
    ) -> None:
        self._community_id = community_id
        self._key = load_or_create_community_key(data_dir / KEY_FILE)
        raw = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        self._name_key = hashlib.sha256(b"courtyard visitor names|" + raw).digest()
        self._store = store
        self._notices = notices
        self._send = send
        self._write = write
        self._clock = clock
        self.limits = limits or PassLimits()
        self.poll_s = poll_s
        self._rounds = Rounds("community-visitors", self._round, lambda: self.poll_s)
        with store.transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)
        services.register(SERVICE, "issue", self._issue)
        services.register(SERVICE, "revoke", self._revoke_for_home)

    def __repr__(self) -> str:
        return f"VisitorDesk(community={self._community_id!r}, key=<hidden>)"

    @property
    def key(self) -> Ed25519PrivateKey:
        """The pass-signing key (for tests that forge nothing but need a signer)."""
        return self._key

    @property
    def public_key_hex(self) -> str:
        """What a gate is installed with to verify passes."""
        return public_bytes(self._key.public_key()).hex()

    @property
    def key_id(self) -> str:
        return key_id(self._key.public_key())

    @property
    def community_id(self) -> str:
        return self._community_id

    async def start(self) -> None:
        await self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    # --- residents' requests (writer thread, inside the service desk's transaction) -------

    def _issue(self, db: Database, asked: Asked) -> Reply:
        try:
            ask = check_ask(asked.request.body, asked.now_ms, self.limits)
        except PassRefusedError as refused:
            raise ServiceRefusedError(str(refused.reason)) from None
        live = db.execute(
            "SELECT count(*) FROM visitor_passes WHERE home_id = ? AND revoked_ms IS NULL"
            " AND valid_to_ms > ?",
            [asked.home_id, asked.now_ms],
        ).fetchone()[0]
        if live >= self.limits.max_live_per_home:
            raise ServiceRefusedError(str(Refusal.TOO_MANY_PASSES))
        pass_id = "vp" + secrets.token_hex(8)
        tag = plate_tag(pass_id, ask.plate) if ask.plate else ""
        claims = PassClaims(
            pass_id, self._community_id, ask.valid_from_ms, ask.valid_to_ms, ask.entries, tag
        )
        qr = sign_pass(claims, self._key)
        db.execute(
            "INSERT INTO visitor_passes (pass_id, home_id, hub_id, request_key, name_hash,"
            " plate_tag, valid_from_ms, valid_to_ms, entries, issued_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                pass_id,
                asked.home_id,
                asked.hub_id,
                asked.key,
                self.name_hash(ask.name),
                tag,
                ask.valid_from_ms,
                ask.valid_to_ms,
                ask.entries,
                asked.now_ms,
            ],
        )
        log.info("visitor pass %s issued to %s", pass_id, asked.home_id)
        return Reply(
            "issued",
            {"pass_id": pass_id},
            {
                "pass_id": pass_id,
                "qr": qr,
                "valid_from": iso(ask.valid_from_ms),
                "valid_to": iso(ask.valid_to_ms),
                "entries": ask.entries,
            },
        )

    def _revoke_for_home(self, db: Database, asked: Asked) -> Reply:
        body = asked.request.body
        pass_id = body.get("pass_id") if set(body) == {"pass_id"} else None
        if not isinstance(pass_id, str) or not PASS_ID_RE.fullmatch(pass_id):
            raise ServiceRefusedError(str(Refusal.BAD_REQUEST))
        row = db.execute(
            "SELECT home_id FROM visitor_passes WHERE pass_id = ?", [pass_id]
        ).fetchone()
        if row is None:
            raise ServiceRefusedError(str(Refusal.UNKNOWN_PASS))
        if row[0] != asked.home_id:
            raise ServiceRefusedError(str(Refusal.NOT_YOUR_PASS))
        self._mark_revoked(db, pass_id, "resident", asked.now_ms)
        self._rounds.wake()
        return Reply("revoked", {"pass_id": pass_id}, {"pass_id": pass_id})

    @staticmethod
    def _mark_revoked(db: Database, pass_id: str, by: str, now: int) -> bool:
        """Revoke once; False if it already was (a repeat changes nothing)."""
        cursor = db.execute(
            "UPDATE visitor_passes SET revoked_ms = ?, revoked_by = ?"
            " WHERE pass_id = ? AND revoked_ms IS NULL",
            [now, by, pass_id],
        )
        return cursor.rowcount == 1

    def name_hash(self, name: str) -> str:
        """The keyed hash a name is kept as (case and spacing do not matter)."""
        normal = " ".join(name.split()).casefold()
        return hmac.new(self._name_key, normal.encode("utf-8"), hashlib.sha256).hexdigest()

    # --- staff ----------------------------------------------------------------------------

    async def revoke(self, pass_id: str, by: str) -> dict[str, Any] | None:
        """Staff revoke a pass (the home is told); the pass, or None if there is no such pass."""
        found: dict[str, Any] | None = await self._write(self._revoke_by_staff, pass_id, by)
        if found is not None:
            self._notices.wake()
            self._rounds.wake()
        return found

    def _revoke_by_staff(self, pass_id: str, by: str) -> dict[str, Any] | None:
        now = self._clock()
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT hub_id FROM visitor_passes WHERE pass_id = ?", [pass_id]
            ).fetchone()
            if row is None:
                return None
            if self._mark_revoked(db, pass_id, f"staff:{by}", now):
                self._notices.add(
                    db,
                    hub_ids=[str(row[0])],
                    category=NoticeCategory.SERVICE,
                    code="revoked",
                    params={"service": SERVICE, "pass_id": pass_id},
                    data={"pass_id": pass_id},
                    title="Visitor pass revoked by the property",
                    source=f"visitor-revoke:{pass_id}",
                )
        return self._pass(pass_id, now)

    # --- gates' reports (writer thread, from the pipeline) --------------------------------

    def on_record(self, record: UplinkRecord, now: int) -> None:
        """Log a gate's ``visitor_entry`` once and remember the gate; only common-area hubs
        (gateways the community runs) are believed, so a home hub cannot fake an entry."""
        device = record.device
        if record.kind is not RecordKind.REPORT or device is None:
            return
        if device.kind is not DeviceKind.VISITOR_GATE:
            return
        with self._store.transaction() as db:
            hub = db.execute(
                "SELECT common_area FROM hubs WHERE hub_id = ?", [record.hub_id]
            ).fetchone()
            if hub is None or not hub[0]:
                log.warning("ignored a visitor gate report from home hub %s", record.hub_id)
                return
            db.execute(
                "INSERT INTO visitor_gates (hub_id, device_id, last_seen_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (hub_id, device_id)"
                " DO UPDATE SET last_seen_ms = excluded.last_seen_ms",
                [record.hub_id, device.device_id, now],
            )
            message = record.message
            if isinstance(message, Event) and message.event is EventType.VISITOR_ENTRY:
                data = message.data
                db.execute(
                    "INSERT OR IGNORE INTO visitor_entries (key, pass_id, hub_id, device_id,"
                    " accepted, reason, entry, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        record.key,
                        str(data.get("pass_id", "")),
                        record.hub_id,
                        device.device_id,
                        int(bool(data.get("accepted", False))),
                        str(data.get("reason", "")),
                        int(data.get("entry", 0)),
                        message.ts,
                    ],
                )
        self._rounds.wake()

    # --- revocations to the gates (event loop) --------------------------------------------

    async def _round(self) -> None:
        due: list[tuple[str, str, str]] = await self._write(self._due)
        for pass_id, hub_id, device_id in due:
            try:
                command_id = await self._send(
                    hub_id, device_id, str(CommandName.REVOKE_PASS), {"pass_id": pass_id}
                )
            except ValueError as exc:
                log.warning("revocation of %s not sent to %s: %s", pass_id, device_id, exc)
                continue
            await self._write(self._sent, pass_id, hub_id, device_id, command_id)

    def _due(self) -> list[tuple[str, str, str]]:
        rows = self._store.read(
            "SELECT p.pass_id, g.hub_id, g.device_id FROM visitor_passes p, visitor_gates g"
            " WHERE p.revoked_ms IS NOT NULL AND p.valid_to_ms > ? AND NOT EXISTS ("
            " SELECT 1 FROM visitor_revocations_sent s WHERE s.pass_id = p.pass_id"
            " AND s.hub_id = g.hub_id AND s.device_id = g.device_id)"
            " ORDER BY p.revoked_ms LIMIT 100",
            [self._clock()],
        )
        return [(r["pass_id"], r["hub_id"], r["device_id"]) for r in rows]

    def _sent(self, pass_id: str, hub_id: str, device_id: str, command_id: str) -> None:
        with self._store.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO visitor_revocations_sent (pass_id, hub_id, device_id,"
                " command_id, sent_ms) VALUES (?, ?, ?, ?, ?)",
                [pass_id, hub_id, device_id, command_id, self._clock()],
            )

    # --- views ----------------------------------------------------------------------------

    def passes(
        self, *, home_id: str | None = None, limit: int = 100, now: int | None = None
    ) -> list[dict[str, Any]]:
        """Newest first; never a name or a plate (``has_plate`` says whether one was given)."""
        sql = _ROWS_SQL
        params: list[object] = []
        if home_id is not None:
            sql += " WHERE home_id = ?"
            params.append(home_id)
        rows = self._store.read(
            sql + " ORDER BY issued_ms DESC, pass_id LIMIT ?", [*params, min(limit, LIST_MAX)]
        )
        at = self._clock() if now is None else now
        return [_pass_view(row, at) for row in rows]

    def _pass(self, pass_id: str, now: int) -> dict[str, Any] | None:
        rows = self._store.read(_ROWS_SQL + " WHERE pass_id = ?", [pass_id])
        return _pass_view(rows[0], now) if rows else None

    def get(self, pass_id: str) -> dict[str, Any] | None:
        return self._pass(pass_id, self._clock())

    def entries(self, *, pass_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first: each pass shown at a gate, accepted or not, and why."""
        sql = (
            "SELECT e.pass_id, p.home_id, e.hub_id, e.device_id, e.accepted, e.reason, e.entry,"
            " e.at_ms FROM visitor_entries e LEFT JOIN visitor_passes p USING (pass_id)"
        )
        params: list[object] = []
        if pass_id is not None:
            sql += " WHERE e.pass_id = ?"
            params.append(pass_id)
        rows = self._store.read(
            sql + " ORDER BY e.at_ms DESC, e.key LIMIT ?", [*params, min(limit, LIST_MAX)]
        )
        return [
            {
                "pass_id": r["pass_id"],
                "home_id": r["home_id"],
                "hub_id": r["hub_id"],
                "device_id": r["device_id"],
                "accepted": bool(r["accepted"]),
                "reason": r["reason"],
                "entry": r["entry"],
                "at": iso(int(r["at_ms"])),
            }
            for r in rows
        ]

    def gates(self) -> list[dict[str, Any]]:
        rows = self._store.read(
            "SELECT hub_id, device_id, last_seen_ms FROM visitor_gates ORDER BY hub_id, device_id"
        )
        return [
            {
                "hub_id": r["hub_id"],
                "device_id": r["device_id"],
                "last_seen": iso(r["last_seen_ms"]),
            }
            for r in rows
        ]

    def revocations_sent(self, pass_id: str) -> list[dict[str, Any]]:
        return self._store.read(
            "SELECT hub_id, device_id, command_id FROM visitor_revocations_sent"
            " WHERE pass_id = ? ORDER BY hub_id, device_id",
            [pass_id],
        )


def _pass_view(row: dict[str, Any], now: int) -> dict[str, Any]:
    used, entries = int(row["used"]), int(row["entries"])
    if row["revoked_ms"] is not None:
        status = "revoked"
    elif now >= row["valid_to_ms"]:
        status = "expired"
    elif used >= entries:
        status = "used_up"
    elif now < row["valid_from_ms"]:
        status = "upcoming"
    else:
        status = "active"
    return {
        "pass_id": row["pass_id"],
        "home_id": row["home_id"],
        "valid_from": iso(int(row["valid_from_ms"])),
        "valid_to": iso(int(row["valid_to_ms"])),
        "entries": entries,
        "used": used,
        "has_plate": bool(row["has_plate"]),
        "status": status,
        "issued_at": iso(int(row["issued_ms"])),
        "revoked_at": None if row["revoked_ms"] is None else iso(int(row["revoked_ms"])),
        "revoked_by": row["revoked_by"],
    }
