"""Recipient mailboxes: sealed fields waiting for the family member or carer they are for.

A hub seals a detail the resident shares with a named recipient but not with the community
(``privacy.sealed_fields``); the community cannot read it, only keep it until the recipient's
own app fetches it (``community.web_mailbox``). Each mailbox entry is one sealed field plus
the context the recipient needs to open it — the hub, device, event type, the device
message's sequence and time, the hub's signing key id and the wire version — because that
context is bound into the ciphertext and the recipient never sees the record it came in.

Entries arrive two ways: from every stored event report's ``sealed`` slot
(:meth:`Mailbox.on_record`) and from other services that carry a sealed entry in a request
(:meth:`Mailbox.deposit`, inside their own transaction). Both are idempotent on ``source``.

A recipient id (``family:li``) names a person within one home, not across the estate, so
each entry is filed under the home of the hub that sealed it, and a mailbox shows only the
entries of the home that registered the recipient (``mailbox_recipients``): a same-named
recipient of another home never sees that a fall happened next door. The registration
binds the recipient to the SHA-256 of the mailbox token the hub gave the resident to hand on;
the token itself is never stored here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict
from typing import Any, Final

from sqlite_utils import Database

from community.clock import Clock, now_ms
from community.store import Store
from devices.catalog import EventType
from devices.messages import DEVICE_ID_RE, Event, InteropError
from devices.uplink import RecordKind, SealedEntry, UplinkRecord, parse_sealed_entry
from privacy.sealed_fields import FieldContext

log = logging.getLogger(__name__)

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS mailbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient TEXT NOT NULL,
    home_id TEXT NOT NULL,
    source TEXT NOT NULL UNIQUE,
    entry TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    fetched_ms INTEGER
)""",
    "CREATE INDEX IF NOT EXISTS mailbox_by_recipient ON mailbox (recipient, home_id, id)",
    """CREATE TABLE IF NOT EXISTS mailbox_recipients (
    recipient TEXT PRIMARY KEY,
    home_id TEXT NOT NULL,
    hub_id TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    registered_ms INTEGER NOT NULL
)""",
)

#: The most entries one fetch returns.
MAX_FETCH: Final = 500
#: Largest source id a caller may give.
MAX_SOURCE: Final = 200
_CONTEXT_KEYS: Final = frozenset({"hub", "device", "event_type", "seq", "ts", "key_id", "version"})
_SEALED_KEYS: Final = frozenset(
    {"field", "recipient", "key_id", "suite", "wrapped", "nonce", "ciphertext"}
)
_KEY_ID_RE: Final = re.compile(r"[0-9a-f]{16}")
_VERSION_RE: Final = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}")
_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")
_EVENTS: Final = frozenset(str(e) for e in EventType)
_MAX_INT: Final = 2**53


class MailboxError(ValueError):
    """An entry, recipient or token that cannot be accepted; nothing was stored."""


def token_sha256(token: str) -> str:
    """The digest a registration stores for a mailbox token (256 random bits: no slow hash)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_INT:
        raise MailboxError(f"context.{name} must be a non-negative integer")
    return value


def _text(value: object, name: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise MailboxError(f"context.{name} is not valid")
    return value


def parse_context(raw: object) -> FieldContext:
    """The event a mailbox entry was sealed in, checked field by field."""
    if not isinstance(raw, dict) or set(raw) != _CONTEXT_KEYS:
        raise MailboxError("'context' must have exactly " + ", ".join(sorted(_CONTEXT_KEYS)))
    event_type = raw["event_type"]
    if not isinstance(event_type, str) or event_type not in _EVENTS:
        raise MailboxError("context.event_type is not a known event")
    return FieldContext(
        hub=_text(raw["hub"], "hub", DEVICE_ID_RE),
        device=_text(raw["device"], "device", DEVICE_ID_RE),
        event_type=event_type,
        seq=_int(raw["seq"], "seq"),
        ts=_int(raw["ts"], "ts"),
        key_id=_text(raw["key_id"], "key_id", _KEY_ID_RE),
        version=_text(raw["version"], "version", _VERSION_RE),
    )


def parse_entry(raw: object) -> tuple[SealedEntry, FieldContext]:
    """A mailbox entry: ``SealedEntry.to_dict()`` plus ``context`` (a FieldContext's fields).

    The sealed part goes through the uplink's own checks (the same ones every record's
    ``sealed`` slot passes); MailboxError says what is wrong.
    """
    if not isinstance(raw, dict) or set(raw) != _SEALED_KEYS | {"context"}:
        keys = ", ".join(sorted(_SEALED_KEYS | {"context"}))
        raise MailboxError(f"a mailbox entry must have exactly {keys}")
    try:
        sealed = parse_sealed_entry({k: raw[k] for k in _SEALED_KEYS})
    except InteropError as exc:
        raise MailboxError(exc.reason) from None
    return sealed, parse_context(raw["context"])


def entry_dict(sealed: SealedEntry, context: FieldContext) -> dict[str, Any]:
    """The stored (and fetched) form of one entry."""
    return {**sealed.to_dict(), "context": asdict(context)}


def record_context(record: UplinkRecord, hub_key_id: str) -> FieldContext | None:
    """The context the hub sealed an event report's fields in; None for other records."""
    message = record.message
    if record.kind is not RecordKind.REPORT or not isinstance(message, Event):
        return None
    return FieldContext(
        hub=record.hub_id,
        device=message.device_id,
        event_type=str(message.event),
        seq=message.seq,
        ts=message.ts,
        key_id=hub_key_id,
    )


def _one(db: Database, sql: str, params: list[object]) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = db.execute(sql, params).fetchone()
    return row


class Mailbox:
    """Sealed entries per recipient, and which home's recipient each mailbox is."""

    def __init__(self, store: Store, clock: Clock = now_ms) -> None:
        self._store = store
        self._clock = clock
        with store.transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    # --- entries -------------------------------------------------------------------------

    def deposit(self, db: Database, recipient: str, entry: dict[str, Any], *, source: str) -> bool:
        """File ``entry`` for ``recipient`` inside the caller's transaction.

        True if stored, False if ``source`` was already deposited (a retry). MailboxError for
        an entry that is malformed, sealed for someone else, or from a hub not enrolled here.
        """
        if not isinstance(source, str) or not 0 < len(source) <= MAX_SOURCE:
            raise MailboxError(f"source must be 1..{MAX_SOURCE} characters")
        sealed, context = parse_entry(entry)
        if sealed.recipient != recipient:
            raise MailboxError("the entry is sealed for another recipient")
        hub = _one(db, "SELECT home_id FROM hubs WHERE hub_id = ?", [context.hub])
        if hub is None or not hub[0]:
            raise MailboxError("the entry's hub is not enrolled here")
        cursor = db.execute(
            "INSERT OR IGNORE INTO mailbox (recipient, home_id, source, entry, created_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                recipient,
                str(hub[0]),
                source,
                json.dumps(entry_dict(sealed, context), sort_keys=True),
                self._clock(),
            ],
        )
        return bool(cursor.rowcount)

    def on_record(self, record: UplinkRecord, now: int) -> None:
        """Deposit every sealed field of an event report (idempotent; writer thread)."""
        if not record.sealed:
            return
        with self._store.transaction() as db:
            hub = _one(db, "SELECT key_id FROM hubs WHERE hub_id = ?", [record.hub_id])
            context = record_context(record, str(hub[0]) if hub else "")
            if hub is None or context is None:
                return
            for sealed in record.sealed:
                try:
                    self.deposit(
                        db,
                        sealed.recipient,
                        entry_dict(sealed, context),
                        source=f"record:{record.key}:{sealed.field}:{sealed.recipient}",
                    )
                except MailboxError as exc:  # never blocks the record behind it
                    log.error("sealed %s of %s not filed: %s", sealed.field, record.key, exc)

    def fetch(self, recipient: str, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Entries after ``after_id`` for the registered ``recipient``, oldest first.

        Each is ``{"id", "created_ms", "entry"}``; the first fetch of an entry is recorded.
        An unregistered recipient has an empty mailbox.
        """
        limit = max(1, min(int(limit), MAX_FETCH))
        with self._store.transaction() as db:
            rows = db.execute(
                "SELECT m.id, m.created_ms, m.entry FROM mailbox m JOIN mailbox_recipients r"
                " ON r.recipient = m.recipient AND r.home_id = m.home_id"
                " WHERE m.recipient = ? AND m.id > ? ORDER BY m.id LIMIT ?",
                [recipient, max(0, int(after_id)), limit],
            ).fetchall()
            if rows:
                db.execute(
                    "UPDATE mailbox SET fetched_ms = ? WHERE fetched_ms IS NULL"
                    " AND recipient = ? AND id BETWEEN ? AND ?",
                    [self._clock(), recipient, rows[0][0], rows[-1][0]],
                )
        return [
            {"id": int(row[0]), "created_ms": int(row[1]), "entry": json.loads(row[2])}
            for row in rows
        ]

    # --- recipients ----------------------------------------------------------------------

    def bind(self, db: Database, recipient: str, home_id: str, hub_id: str, digest: str) -> None:
        """Register (or re-key) ``recipient`` for ``home_id``; MailboxError if another home
        has it, or the token digest is malformed or already in use."""
        if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest):
            raise MailboxError("token_sha256 must be 64 lowercase hex digits")
        owner = _one(db, "SELECT home_id FROM mailbox_recipients WHERE recipient = ?", [recipient])
        if owner is not None and owner[0] != home_id:
            raise MailboxError("recipient_taken")
        taken = _one(
            db, "SELECT recipient FROM mailbox_recipients WHERE token_sha256 = ?", [digest]
        )
        if taken is not None and taken[0] != recipient:
            raise MailboxError("token_reused")
        db.execute(
            "INSERT INTO mailbox_recipients (recipient, home_id, hub_id, token_sha256,"
            " registered_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (recipient) DO UPDATE SET"
            " hub_id = excluded.hub_id, token_sha256 = excluded.token_sha256,"
            " registered_ms = excluded.registered_ms",
            [recipient, home_id, hub_id, digest, self._clock()],
        )

    def unbind(self, db: Database, recipient: str, home_id: str) -> bool:
        """Revoke ``recipient``'s token and drop its entries; False if it was not registered.
        MailboxError if another home registered it."""
        owner = _one(db, "SELECT home_id FROM mailbox_recipients WHERE recipient = ?", [recipient])
        if owner is None:
            return False
        if owner[0] != home_id:
            raise MailboxError("not_yours")
        db.execute("DELETE FROM mailbox_recipients WHERE recipient = ?", [recipient])
        db.execute("DELETE FROM mailbox WHERE recipient = ? AND home_id = ?", [recipient, home_id])
        return True

    def forget_home(self, db: Database, home_id: str) -> int:
        """Drop every entry and registration of ``home_id`` (a resident's erasure); how many
        entries went."""
        db.execute("DELETE FROM mailbox_recipients WHERE home_id = ?", [home_id])
        return int(db.execute("DELETE FROM mailbox WHERE home_id = ?", [home_id]).rowcount)

    def recipient_of(self, token: str) -> str | None:
        """The recipient a mailbox token opens, if any (looked up by its digest)."""
        rows = self._store.read(
            "SELECT recipient FROM mailbox_recipients WHERE token_sha256 = ?",
            [token_sha256(token)],
        )
        return str(rows[0]["recipient"]) if rows else None
