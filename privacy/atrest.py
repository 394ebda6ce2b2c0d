"""Encryption at rest with per-resident data keys, and erasure by crypto-shredding.

Every resident gets their own random 256-bit data key (DEK). Sensitive columns hold only
ciphertext made with it. The DEK itself is stored only *wrapped* (AES-256-GCM) under a
key-encryption key (KEK) that lives outside the database, so a copied database file is
useless on its own.

* **Rotating the KEK** rewraps each DEK in one transaction and touches no data: a leaked or
  retired KEK is replaced in milliseconds, however much data there is.
* **Erasure is crypto-shredding**: destroying a resident's DEK makes every copy of their data
  unreadable at once, wherever it went (other tables, backups of the data, exports of
  ciphertext), without hunting for each copy. A signed :class:`DeletionReceipt` records it.

The database runs with ``PRAGMA secure_delete=ON`` and after a shred or rotation the WAL is
checkpointed and truncated, so the destroyed (or previously wrapped) key bytes are overwritten
in the file rather than left in free space. What storage hardware does underneath (flash
remapping) is out of reach of any program; that is why the DEK is also wrapped: an old copy
of a wrapped DEK is only dangerous together with a KEK that rotation has retired.

Data ciphertext format (bytes): ``0x01 | key id (8) | nonce (12) | AES-256-GCM ciphertext+tag``
with associated data binding the resident id, key id and a caller-chosen context (for example
``"alarms.note:42"``), so a ciphertext moved to another row, column or resident fails.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.encoding import (
    EncodingError,
    b64url,
    canonical_json,
    iso_ms,
    parse_iso_ms,
    unb64url,
    utc_now,
)
from privacy.keys import KeyFileError, key_id, write_new_file

KEY_BYTES: Final = 32
_TOKEN_VERSION: Final = 1
_KEY_ID_BYTES: Final = 8
_NONCE: Final = 12
_DEK_DOMAIN: Final = b"courtyard-atrest-v1\x00dek\x00"
_DATA_DOMAIN: Final = b"courtyard-atrest-v1\x00data\x00"
_RECEIPT_DOMAIN: Final = b"courtyard-deletion-receipt-v1\x00"
_KEK_ID_DOMAIN: Final = b"courtyard-kek-id-v1\x00"
_RESIDENT_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS resident_keys (
    resident_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    wrapped BLOB,
    kek_id TEXT,
    created_at TEXT NOT NULL,
    shredded_at TEXT
)
"""


class AtRestError(Exception):
    """Data that cannot be encrypted or decrypted; the message never contains key material."""


class UnknownResidentError(AtRestError):
    """No data key was ever made for this resident."""


class ShreddedError(AtRestError):
    """The resident's data key was destroyed: their data is gone for good."""


class WrongKekError(AtRestError):
    """The key-encryption key given is not the one the store's data keys are wrapped under."""


class ReceiptError(ValueError):
    """A deletion receipt that is malformed or not signed by the expected key."""


class KeyStatus(StrEnum):
    """Where a resident's data key stands."""

    NONE = "none"
    ACTIVE = "active"
    SHREDDED = "shredded"


def new_kek() -> bytes:
    """A fresh random 256-bit key-encryption key."""
    return os.urandom(KEY_BYTES)


def write_kek_file(path: Path, kek: bytes) -> None:
    """Store a KEK in a new owner-only file (never overwrites one)."""
    _check_kek(kek)
    try:
        write_new_file(path, kek, 0o600)
    except KeyFileError as exc:
        raise AtRestError(str(exc)) from None


def read_kek_file(path: Path) -> bytes:
    """Read a KEK written by :func:`write_kek_file`; refuse files others can read."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise AtRestError(f"{path} can be read by others; run: chmod 600 {path}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise AtRestError(f"{path} does not exist") from None
    except OSError as exc:
        raise AtRestError(f"cannot read {path}: {exc.strerror}") from None
    _check_kek(data)
    return data


def kek_id(kek: bytes) -> str:
    """Public name of a KEK (a domain-separated hash prefix; reveals nothing about the key)."""
    return hashlib.sha256(_KEK_ID_DOMAIN + kek).hexdigest()[:16]


def _check_kek(kek: bytes) -> None:
    if not isinstance(kek, bytes) or len(kek) != KEY_BYTES:
        raise AtRestError(f"a key-encryption key must be {KEY_BYTES} bytes")


def _check_resident(resident_id: str) -> None:
    if not isinstance(resident_id, str) or not _RESIDENT_RE.fullmatch(resident_id):
        raise AtRestError(f"resident id {resident_id!r} is not valid")


@dataclass(frozen=True, slots=True)
class DeletionReceipt:
    """Signed proof that a resident's data key was destroyed, and when.

    ``key_id_hash`` (SHA-256 of the destroyed key's id) lets an auditor match the receipt to
    ciphertexts without the receipt naming the key.
    """

    resident_id: str
    shredded_at: str
    key_id_hash: str
    store: str
    signer: str
    signature: bytes

    def body(self) -> dict[str, Any]:
        """The signed part."""
        return {
            "v": 1,
            "type": "deletion_receipt",
            "resident_id": self.resident_id,
            "shredded_at": self.shredded_at,
            "key_id_hash": self.key_id_hash,
            "store": self.store,
            "signer": self.signer,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": b64url(self.signature)}

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any) -> DeletionReceipt:
        """Read the JSON form; structure only (use :func:`verify_receipt` for trust)."""
        fields = ("resident_id", "shredded_at", "key_id_hash", "store", "signer", "signature")
        if not isinstance(data, dict) or data.get("type") != "deletion_receipt":
            raise ReceiptError("not a deletion receipt")
        if data.get("v") != 1 or not all(isinstance(data.get(f), str) for f in fields):
            raise ReceiptError("deletion receipt is malformed")
        try:
            signature = unb64url(data["signature"])
        except EncodingError:
            raise ReceiptError("deletion receipt signature is not base64url") from None
        return cls(
            resident_id=data["resident_id"],
            shredded_at=data["shredded_at"],
            key_id_hash=data["key_id_hash"],
            store=data["store"],
            signer=data["signer"],
            signature=signature,
        )


def verify_receipt(receipt: DeletionReceipt, public_key: Ed25519PublicKey) -> None:
    """Raise :class:`ReceiptError` unless ``public_key`` signed exactly this receipt."""
    if key_id(public_key) != receipt.signer:
        raise ReceiptError("receipt was signed by a different key")
    try:
        public_key.verify(receipt.signature, _RECEIPT_DOMAIN + canonical_json(receipt.body()))
    except InvalidSignature:
        raise ReceiptError("receipt signature does not verify (altered or forged)") from None


class KeyStore:
    """Per-resident data keys in a SQLite table, wrapped under one KEK held in memory only."""

    def __init__(
        self,
        path: Path | str,
        kek: bytes,
        receipt_key: Ed25519PrivateKey,
        *,
        store_id: str = "courtyard",
    ) -> None:
        _check_kek(kek)
        self._path = str(path)
        self._kek = kek
        self._receipt_key = receipt_key
        self.store_id = store_id
        self._db = sqlite3.connect(self._path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute(_SCHEMA)
        foreign = self._db.execute(
            "SELECT DISTINCT kek_id FROM resident_keys WHERE wrapped IS NOT NULL AND kek_id != ?",
            (kek_id(kek),),
        ).fetchall()
        if foreign:
            self._db.close()
            raise WrongKekError(
                f"this key-encryption key (id {kek_id(kek)}) is not the one the data keys "
                f"in {self._path} are wrapped under (id {foreign[0][0]})"
            )

    def __repr__(self) -> str:
        return f"KeyStore({self._path!r}, kek_id={kek_id(self._kek)!r})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- wrapping -------------------------------------------------------------------------

    def _wrap(self, kek: bytes, resident_id: str, kid: str, dek: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(kek).encrypt(nonce, dek, _dek_aad(resident_id, kid))

    def _unwrap(self, kek: bytes, resident_id: str, kid: str, wrapped: bytes) -> bytes:
        try:
            return AESGCM(kek).decrypt(
                wrapped[:_NONCE], wrapped[_NONCE:], _dek_aad(resident_id, kid)
            )
        except (InvalidTag, ValueError):
            raise AtRestError(
                f"the data key of {resident_id!r} does not unwrap (altered row or wrong KEK)"
            ) from None

    def _row(self, resident_id: str) -> tuple[str, bytes | None, str | None] | None:
        row = self._db.execute(
            "SELECT key_id, wrapped, shredded_at FROM resident_keys WHERE resident_id = ?",
            (resident_id,),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def _dek(self, resident_id: str, *, create: bool) -> tuple[str, bytes]:
        _check_resident(resident_id)
        row = self._row(resident_id)
        if row is None:
            if not create:
                raise UnknownResidentError(f"no data key exists for resident {resident_id!r}")
            return self._create(resident_id)
        kid, wrapped, shredded_at = row
        if wrapped is None:
            raise ShreddedError(
                f"the data of resident {resident_id!r} was erased at {shredded_at}; "
                "it can no longer be decrypted"
            )
        return kid, self._unwrap(self._kek, resident_id, kid, wrapped)

    def _create(self, resident_id: str) -> tuple[str, bytes]:
        """Make a data key; if another writer made one first, use theirs."""
        kid, dek = os.urandom(_KEY_ID_BYTES).hex(), AESGCM.generate_key(bit_length=256)
        wrapped = self._wrap(self._kek, resident_id, kid, dek)
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO resident_keys (resident_id, key_id, wrapped, kek_id, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (resident_id, kid, wrapped, kek_id(self._kek), iso_ms(utc_now())),
        ).rowcount
        return (kid, dek) if inserted else self._dek(resident_id, create=False)

    # -- public API -----------------------------------------------------------------------

    def status(self, resident_id: str) -> KeyStatus:
        _check_resident(resident_id)
        row = self._row(resident_id)
        if row is None:
            return KeyStatus.NONE
        return KeyStatus.ACTIVE if row[1] is not None else KeyStatus.SHREDDED

    def encrypt(self, resident_id: str, plaintext: bytes, context: str) -> bytes:
        """Ciphertext of ``plaintext`` for ``resident_id``; makes their data key on first use."""
        kid, dek = self._dek(resident_id, create=True)
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(dek).encrypt(nonce, bytes(plaintext), _data_aad(resident_id, kid, context))
        return bytes([_TOKEN_VERSION]) + bytes.fromhex(kid) + nonce + sealed

    def decrypt(self, resident_id: str, token: bytes, context: str) -> bytes:
        """Plaintext of ``token``; :class:`ShreddedError` once the resident was erased."""
        kid, dek = self._dek(resident_id, create=False)
        header = 1 + _KEY_ID_BYTES + _NONCE
        if not isinstance(token, bytes) or len(token) < header + 16 or token[0] != _TOKEN_VERSION:
            raise AtRestError("ciphertext is malformed or of an unknown version")
        if token[1 : 1 + _KEY_ID_BYTES].hex() != kid:
            raise AtRestError(f"ciphertext was not made with the data key of {resident_id!r}")
        nonce = token[1 + _KEY_ID_BYTES : header]
        try:
            return AESGCM(dek).decrypt(nonce, token[header:], _data_aad(resident_id, kid, context))
        except InvalidTag:
            raise AtRestError(
                "ciphertext does not decrypt: it was altered, or belongs to another context"
            ) from None

    def rotate_kek(self, new_kek: bytes) -> int:
        """Rewrap every live data key under ``new_kek`` in one transaction; data is untouched."""
        _check_kek(new_kek)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(
                "SELECT resident_id, key_id, wrapped FROM resident_keys WHERE wrapped IS NOT NULL"
            ).fetchall()
            for resident_id, kid, wrapped in rows:
                dek = self._unwrap(self._kek, resident_id, kid, wrapped)
                self._db.execute(
                    "UPDATE resident_keys SET wrapped = ?, kek_id = ? WHERE resident_id = ?",
                    (self._wrap(new_kek, resident_id, kid, dek), kek_id(new_kek), resident_id),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._kek = new_kek
        self._scrub()
        return len(rows)

    def shred(self, resident_id: str) -> DeletionReceipt:
        """Destroy the resident's data key (idempotent) and return a signed receipt."""
        _check_resident(resident_id)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._row(resident_id)
            if row is None:
                raise UnknownResidentError(f"no data key exists for resident {resident_id!r}")
            kid, _, shredded_at = row
            if shredded_at is None:
                shredded_at = iso_ms(utc_now())
                self._db.execute(
                    "UPDATE resident_keys SET wrapped = NULL, kek_id = NULL, shredded_at = ? "
                    "WHERE resident_id = ?",
                    (shredded_at, resident_id),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._scrub()
        return self._receipt(resident_id, kid, shredded_at)

    def erased_at(self, resident_id: str) -> datetime | None:
        """When the resident's key was shredded, if it was (for the resident's own view)."""
        row = self._row(resident_id)
        return parse_iso_ms(row[2]) if row is not None and row[2] is not None else None

    # -- internals ------------------------------------------------------------------------

    def _scrub(self) -> None:
        """Push the overwritten pages into the main file and empty the WAL."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _receipt(self, resident_id: str, kid: str, shredded_at: str) -> DeletionReceipt:
        unsigned = DeletionReceipt(
            resident_id=resident_id,
            shredded_at=shredded_at,
            key_id_hash=hashlib.sha256(kid.encode()).hexdigest(),
            store=self.store_id,
            signer=key_id(self._receipt_key.public_key()),
            signature=b"",
        )
        signature = self._receipt_key.sign(_RECEIPT_DOMAIN + canonical_json(unsigned.body()))
        return replace(unsigned, signature=signature)


def _dek_aad(resident_id: str, kid: str) -> bytes:
    return _DEK_DOMAIN + canonical_json({"resident": resident_id, "key_id": kid})


def _data_aad(resident_id: str, kid: str, context: str) -> bytes:
    if not isinstance(context, str):
        raise AtRestError("context must be text")
    try:
        return _DATA_DOMAIN + canonical_json(
            {"resident": resident_id, "key_id": kid, "context": context}
        )
    except EncodingError as exc:
        raise AtRestError(f"context cannot be encoded: {exc}") from None
