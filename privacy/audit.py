"""The audit log: who read or disclosed whose personal data, why, and on what legal basis.

Residents have a right to know who saw their data, and an operator must be able to show it.
So every read, disclosure, export, erasure, emergency override and refusal is appended here,
and the log is built so that rewriting history shows:

* **Append-only** in the database: triggers abort any UPDATE or DELETE on the table, so a bug
  or a careless query cannot change history.
* **Hash-chained** (``privacy.chain``): an edited, removed or reordered entry breaks the chain,
  and :meth:`AuditLog.verify` names the first sequence number that does not fit and why.
* **Signed checkpoints**: someone with write access to the file could drop the triggers,
  rewrite entries and recompute every hash, or cut off the newest entries. A checkpoint is an
  Ed25519 signature over (seq, head hash); a chain that no longer reaches a checkpoint, or
  reaches it with another hash, fails verification. Checkpoints are worth most when a copy
  also leaves the machine (for example, sent with the hub's heartbeats).

Each entry: ``seq, at, actor, role, purpose, legal_basis, action, record_ids, context_id,
detail, prev_hash, hash`` where ``hash = SHA-256("courtyard-audit-v1\\0" || JCS(entry without
hash))`` and ``record_ids`` is a JSON array of strings.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.chain import GENESIS, Link, VerifyResult, link_hash, verify_links
from privacy.encoding import EncodingError, b64url, canonical_json, iso_ms, unb64url, utc_now
from privacy.keys import key_id

_DOMAIN: Final = b"courtyard-audit-v1\x00"
_CHECKPOINT_DOMAIN: Final = b"courtyard-audit-checkpoint-v1\x00"
_COLUMNS: Final = (
    "seq",
    "at",
    "actor",
    "role",
    "purpose",
    "legal_basis",
    "action",
    "record_ids",
    "context_id",
    "detail",
    "prev_hash",
    "hash",
)
_SELECT: Final = (
    "SELECT seq, at, actor, role, purpose, legal_basis, action, record_ids, context_id, "
    "detail, prev_hash, hash "
    "FROM audit_log WHERE seq > ? ORDER BY seq"
)
_INSERT: Final = (
    "INSERT INTO audit_log (seq, at, actor, role, purpose, legal_basis, action, record_ids, "
    "context_id, detail, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    action TEXT NOT NULL,
    record_ids TEXT NOT NULL,
    context_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq INTEGER NOT NULL,
    head TEXT NOT NULL,
    at TEXT NOT NULL,
    signer TEXT NOT NULL,
    signature TEXT NOT NULL
);
"""
#: Longest text accepted in one entry field; an audit entry is a line, not a document.
MAX_FIELD: Final = 512
MAX_RECORD_IDS: Final = 1000


class AuditError(Exception):
    """The audit log cannot be opened or an entry cannot be written; nothing was appended."""


class AuditAction(StrEnum):
    """What happened to personal data."""

    READ = "read"
    DISCLOSE = "disclose"
    EXPORT = "export"
    ERASE = "erase"
    OVERRIDE = "override"
    REFUSE = "refuse"
    GRANT = "grant"
    WITHDRAW = "withdraw"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the log, as stored."""

    seq: int
    at: str
    actor: str
    role: str
    purpose: str
    legal_basis: str
    action: str
    record_ids: tuple[str, ...]
    context_id: str
    detail: str
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """Everything the hash covers (all but ``hash``)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "role": self.role,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "action": self.action,
            "record_ids": list(self.record_ids),
            "context_id": self.context_id,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
        }


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: "entry ``seq`` of this log had hash ``head``"."""

    seq: int
    head: str
    at: str
    signer: str
    signature: bytes

    def body(self) -> dict[str, Any]:
        return {
            "v": 1,
            "type": "audit_checkpoint",
            "seq": self.seq,
            "head": self.head,
            "at": self.at,
            "signer": self.signer,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": b64url(self.signature)}


def _text(name: str, value: object) -> str:
    text = str(value) if isinstance(value, StrEnum) else value
    if not isinstance(text, str) or len(text) > MAX_FIELD:
        raise AuditError(f"audit field {name} must be text of at most {MAX_FIELD} characters")
    return text


class AuditLog:
    """An append-only, hash-chained audit log in a SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        try:
            self._db = sqlite3.connect(self._path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise AuditError(f"cannot open audit log {self._path}: {exc}") from None

    def __repr__(self) -> str:
        return f"AuditLog({self._path!r})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(
        self,
        *,
        actor: str,
        role: str,
        purpose: str,
        legal_basis: str,
        action: AuditAction,
        record_ids: Sequence[str] = (),
        context_id: str = "",
        detail: str = "",
        at: datetime | None = None,
    ) -> AuditEntry:
        """Append one entry, chained to the current head, in one transaction."""
        if isinstance(record_ids, str) or len(record_ids) > MAX_RECORD_IDS:
            raise AuditError(f"record_ids must be a list of at most {MAX_RECORD_IDS} ids")
        try:
            action_name = str(AuditAction(action))
        except ValueError:
            raise AuditError(f"unknown audit action {action!r}") from None
        unchained = AuditEntry(
            seq=0,
            at=iso_ms(at) if at is not None else iso_ms(utc_now()),
            actor=_text("actor", actor),
            role=_text("role", role),
            purpose=_text("purpose", purpose),
            legal_basis=_text("legal_basis", legal_basis),
            action=action_name,
            record_ids=tuple(_text("record_ids", r) for r in record_ids),
            context_id=_text("context_id", context_id),
            detail=_text("detail", detail),
            prev_hash="",
            hash="",
        )
        try:
            canonical_json(unchained.body())
        except EncodingError as exc:
            raise AuditError(f"audit entry cannot be encoded: {exc}") from None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            seq, prev = self._head()
            chained = replace(unchained, seq=seq + 1, prev_hash=prev)
            entry = replace(chained, hash=link_hash(_DOMAIN, chained.body()))
            self._db.execute(_INSERT, _row_values(entry))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return entry

    def _head(self) -> tuple[int, str]:
        row = self._db.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry; (0, GENESIS) when empty."""
        return self._head()

    def entries(self, *, since: int = 0) -> list[AuditEntry]:
        """Entries with seq > ``since``, oldest first."""
        return [_entry(row) for row in _rows(self._db, since)]

    def checkpoint(self, signing_key: Ed25519PrivateKey) -> Checkpoint:
        """Sign the current head and store the checkpoint next to the log."""
        seq, head = self._head()
        draft = Checkpoint(seq, head, iso_ms(utc_now()), key_id(signing_key.public_key()), b"")
        signature = signing_key.sign(_CHECKPOINT_DOMAIN + canonical_json(draft.body()))
        self._db.execute(
            "INSERT INTO audit_checkpoints (seq, head, at, signer, signature) VALUES (?,?,?,?,?)",
            (seq, head, draft.at, draft.signer, b64url(signature)),
        )
        return Checkpoint(seq, head, draft.at, draft.signer, signature)

    def verify(self, checkpoint_keys: Mapping[str, Ed25519PublicKey] | None = None) -> VerifyResult:
        """Walk the chain (and, given trusted keys by key id, every checkpoint)."""
        return _verify(self._db, checkpoint_keys)


def verify_file(
    path: Path, checkpoint_keys: Mapping[str, Ed25519PublicKey] | None = None
) -> VerifyResult:
    """Verify a log file opened read-only: checking a log never changes (or creates) it."""
    if not path.is_file():
        raise AuditError(f"{path}: no such file")
    try:
        db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        raise AuditError(f"cannot open {path}: {exc}") from None
    try:
        return _verify(db, checkpoint_keys)
    except sqlite3.DatabaseError as exc:
        raise AuditError(f"{path} is not an audit log: {exc}") from None
    finally:
        db.close()


def _rows(db: sqlite3.Connection, since: int = 0) -> Iterator[tuple[Any, ...]]:
    cursor = db.execute(_SELECT, (since,))
    yield from cursor


def _row_values(entry: AuditEntry) -> tuple[Any, ...]:
    body = entry.body()
    body["record_ids"] = json.dumps(list(entry.record_ids), separators=(",", ":"))
    return (*(body[c] for c in _COLUMNS[:-1]), entry.hash)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    values = dict(zip(_COLUMNS, row, strict=True))
    ids = values["record_ids"]
    try:
        parsed = json.loads(ids)
        values["record_ids"] = tuple(parsed) if isinstance(parsed, list) else (ids,)
    except (TypeError, ValueError):
        values["record_ids"] = (str(ids),)
    return AuditEntry(**values)


def _link(row: tuple[Any, ...]) -> Link:
    entry = _entry(row)
    return Link(seq=row[0], body=entry.body(), hash=entry.hash)


def _verify(
    db: sqlite3.Connection, checkpoint_keys: Mapping[str, Ed25519PublicKey] | None
) -> VerifyResult:
    heads: dict[int, str] = {}

    def remembering() -> Iterator[Link]:
        for row in _rows(db):
            link = _link(row)
            heads[link.seq] = link.hash
            yield link

    result = verify_links(_DOMAIN, remembering())
    if not result.ok or checkpoint_keys is None:
        return result
    rows = db.execute(
        "SELECT seq, head, at, signer, signature FROM audit_checkpoints ORDER BY seq"
    ).fetchall()
    covered = 0
    for seq, head, at, signer, signature in rows:
        problem = _checkpoint_problem(seq, head, at, signer, signature, checkpoint_keys)
        if problem is not None:
            return VerifyResult(False, result.entries, result.head, seq, problem)
        if seq > result.entries:
            return VerifyResult(
                False,
                result.entries,
                result.head,
                result.entries + 1,
                f"entries {result.entries + 1}..{seq} were removed "
                f"(a checkpoint signed at {at} covers seq {seq})",
            )
        if seq > 0 and heads.get(seq) != head:
            return VerifyResult(
                False,
                result.entries,
                result.head,
                covered + 1,
                f"entries {covered + 1}..{seq} were rewritten "
                f"(hash at seq {seq} differs from the checkpoint signed at {at})",
            )
        covered = seq
    return result


def _checkpoint_problem(
    seq: object,
    head: object,
    at: object,
    signer: object,
    signature: object,
    keys: Mapping[str, Ed25519PublicKey],
) -> str | None:
    public = keys.get(signer) if isinstance(signer, str) else None
    if public is None:
        return f"checkpoint at seq {seq} is signed by an unknown key"
    if not (isinstance(seq, int) and isinstance(head, str) and isinstance(at, str)):
        return f"checkpoint at seq {seq} is malformed"
    try:
        sig = unb64url(signature) if isinstance(signature, str) else b""
        body = Checkpoint(seq, head, at, str(signer), b"").body()
        public.verify(sig, _CHECKPOINT_DOMAIN + canonical_json(body))
    except (EncodingError, InvalidSignature):
        return f"checkpoint at seq {seq} has an invalid signature"
    return None
