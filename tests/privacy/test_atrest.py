"""At-rest encryption: per-resident keys, KEK rotation without touching data, and erasure by
crypto-shredding with a signed receipt, checked down to the raw bytes of the SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.atrest import (
    AtRestError,
    DeletionReceipt,
    KeyStatus,
    KeyStore,
    ReceiptError,
    ShreddedError,
    UnknownResidentError,
    WrongKekError,
    kek_id,
    new_kek,
    read_kek_file,
    verify_receipt,
    write_kek_file,
)
from privacy.keys import key_id

RECEIPT_KEY = Ed25519PrivateKey.from_private_bytes(bytes([31]) * 32)
SECRET = b"Grandma Wang fell in the bathroom at 03:12"
OTHER = "Mr Zhao's plate 京A·12345".encode()


def _raw_bytes(db: Path) -> bytes:
    """Everything SQLite has on disk for ``db``: main file, WAL and shared memory."""
    parts = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def _leaks(secret: bytes, raw: bytes, window: int = 8) -> bool:
    """True if any ``window`` consecutive bytes of ``secret`` survive anywhere in ``raw``.

    Stricter than a substring test: a partly overwritten key still counts as a leak.
    """
    return any(secret[i : i + window] in raw for i in range(len(secret) - window + 1))


def _store(db: Path, kek: bytes) -> KeyStore:
    return KeyStore(db, kek, RECEIPT_KEY, store_id="hub-a")


def _save(db: Path, rows: list[tuple[str, bytes]]) -> None:
    """The caller's own table of encrypted columns, in the same file, via its own connection."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (resident TEXT, body BLOB)")
        conn.executemany("INSERT INTO notes VALUES (?, ?)", rows)
    conn.close()


def _checkpoint(db: Path) -> None:
    """Move everything from the WAL into the main file, as SQLite does on its own over time."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


def _wrapped(db: Path, resident: str) -> tuple[str, bytes | None]:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT key_id, wrapped FROM resident_keys WHERE resident_id = ?", (resident,)
        ).fetchone()
    finally:
        conn.close()
    return row[0], row[1]


def _dek(kek: bytes, db: Path, resident: str) -> bytes:
    """Unwrap a DEK the way an attacker holding the KEK and a copy of the file would."""
    from privacy.atrest import _dek_aad

    kid, wrapped = _wrapped(db, resident)
    assert wrapped is not None
    return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], _dek_aad(resident, kid))


def test_round_trip_and_binding_to_resident_and_context(tmp_path: Path) -> None:
    kek = new_kek()
    with _store(tmp_path / "hub.db", kek) as store:
        token = store.encrypt("res-1", SECRET, "alarms.note:42")
        store.encrypt("res-2", OTHER, "alarms.note:43")
        assert store.decrypt("res-1", token, "alarms.note:42") == SECRET
        with pytest.raises(AtRestError, match="another context"):
            store.decrypt("res-1", token, "alarms.note:43")
        with pytest.raises(AtRestError, match="not made with the data key"):
            store.decrypt("res-2", token, "alarms.note:42")
        for i in range(len(token)):
            damaged = bytearray(token)
            damaged[i] ^= 0x01
            with pytest.raises(AtRestError):
                store.decrypt("res-1", bytes(damaged), "alarms.note:42")
        assert store.encrypt("res-1", SECRET, "c") != store.encrypt("res-1", SECRET, "c")
        assert store.status("res-1") is KeyStatus.ACTIVE
        assert store.status("res-9") is KeyStatus.NONE
        with pytest.raises(UnknownResidentError):
            store.decrypt("res-9", token, "alarms.note:42")
        with pytest.raises(AtRestError, match="not valid"):
            store.encrypt("bad id", b"x", "c")
        assert kek.hex() not in repr(store)


def test_no_plaintext_reaches_the_database_files(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    kek = new_kek()
    with _store(db, kek) as store:
        rows = [
            ("res-1", store.encrypt("res-1", SECRET, "notes")),
            ("res-2", store.encrypt("res-2", OTHER, "notes")),
        ]
        _save(db, rows)
        raw = _raw_bytes(db)
        assert rows[0][1] in raw  # the scan does see the stored bytes
        _checkpoint(db)
        raw += _raw_bytes(db)
        for needle in (SECRET, OTHER, b"Grandma", "京A".encode()):
            assert needle not in raw
        for key in (kek, _dek(kek, db, "res-1"), _dek(kek, db, "res-2")):
            assert not _leaks(key, raw)


def test_kek_rotation_rewraps_keys_without_touching_data(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    old, new = new_kek(), new_kek()
    with _store(db, old) as store:
        token = store.encrypt("res-1", SECRET, "notes")
        store.encrypt("res-2", OTHER, "notes")
        _save(db, [("res-1", token)])
        dek_before = _dek(old, db, "res-1")
        _, wrapped_before = _wrapped(db, "res-1")
        _checkpoint(db)
        assert wrapped_before is not None and wrapped_before in db.read_bytes()
        assert store.rotate_kek(new) == 2
        assert store.decrypt("res-1", token, "notes") == SECRET
    assert _dek(new, db, "res-1") == dek_before  # same data key, new wrapping
    assert not _leaks(wrapped_before, _raw_bytes(db))
    with pytest.raises(WrongKekError, match=kek_id(new)):
        _store(db, old)
    with _store(db, new) as reopened:
        assert reopened.decrypt("res-1", token, "notes") == SECRET


def test_shredding_makes_every_copy_unreadable_and_leaves_no_key_bytes(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    kek = new_kek()
    with _store(db, kek) as store:
        token = store.encrypt("res-1", SECRET, "notes")
        kept = store.encrypt("res-2", OTHER, "notes")
        _save(db, [("res-1", token), ("res-1", token), ("res-2", kept)])
        dek = _dek(kek, db, "res-1")
        _, wrapped = _wrapped(db, "res-1")
        _checkpoint(db)
        assert wrapped is not None and wrapped in db.read_bytes()  # in the main file itself

        receipt = store.shred("res-1")

        with pytest.raises(ShreddedError, match="was erased at"):
            store.decrypt("res-1", token, "notes")
        with pytest.raises(ShreddedError):
            store.encrypt("res-1", b"new data", "notes")
        assert store.status("res-1") is KeyStatus.SHREDDED
        assert store.erased_at("res-1") is not None
        assert store.decrypt("res-2", kept, "notes") == OTHER  # others are untouched
        raw = _raw_bytes(db)
        assert not _leaks(dek, raw) and not _leaks(wrapped, raw)
        assert token in raw  # the ciphertext may linger anywhere; it is now noise
        assert store.shred("res-1") == receipt  # erasure requests are idempotent
        with pytest.raises(UnknownResidentError):
            store.shred("res-never")
    with _store(db, kek) as reopened, pytest.raises(ShreddedError):
        reopened.decrypt("res-1", token, "notes")


def test_deletion_receipts_are_signed_and_tamper_evident(tmp_path: Path) -> None:
    with _store(tmp_path / "hub.db", new_kek()) as store:
        store.encrypt("res-1", SECRET, "notes")
        receipt = store.shred("res-1")
    assert receipt.resident_id == "res-1" and receipt.store == "hub-a"
    assert receipt.signer == key_id(RECEIPT_KEY.public_key())
    assert len(receipt.key_id_hash) == 64
    verify_receipt(receipt, RECEIPT_KEY.public_key())
    parsed = DeletionReceipt.from_dict(receipt.to_dict())
    verify_receipt(parsed, RECEIPT_KEY.public_key())
    for name, value in (
        ("resident_id", "res-2"),
        ("shredded_at", "2020-01-01T00:00:00.000Z"),
        ("key_id_hash", "0" * 64),
        ("store", "hub-b"),
    ):
        forged = DeletionReceipt.from_dict({**receipt.to_dict(), name: value})
        with pytest.raises(ReceiptError, match="does not verify"):
            verify_receipt(forged, RECEIPT_KEY.public_key())
    with pytest.raises(ReceiptError, match="different key"):
        verify_receipt(receipt, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(ReceiptError):
        DeletionReceipt.from_dict({"type": "something else"})


def test_kek_files_are_owner_only_and_checked(tmp_path: Path) -> None:
    kek = new_kek()
    path = tmp_path / "kek.bin"
    write_kek_file(path, kek)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_kek_file(path) == kek
    with pytest.raises(AtRestError):
        write_kek_file(path, kek)
    path.chmod(0o644)
    with pytest.raises(AtRestError, match="read by others"):
        read_kek_file(path)
    with pytest.raises(AtRestError, match="32 bytes"):
        KeyStore(tmp_path / "x.db", b"short", RECEIPT_KEY)
