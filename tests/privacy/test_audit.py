"""The audit log detects any edited, removed or reordered entry, says where, and with signed
checkpoints also a cut-off tail or a fully recomputed chain."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from privacy.audit import AuditAction, AuditError, AuditLog, verify_file
from privacy.chain import GENESIS, link_hash
from privacy.keys import key_id
from tests.privacy.support import FAST

CHECKPOINT_KEY = Ed25519PrivateKey.from_private_bytes(bytes([41]) * 32)
CP_KEYS = {key_id(CHECKPOINT_KEY.public_key()): CHECKPOINT_KEY.public_key()}
N = 6


def _fill(db: Path, n: int = N) -> None:
    with AuditLog(db) as log:
        for i in range(1, n + 1):
            log.append(
                actor=f"staff-{i}",
                role="property_duty",
                purpose="emergency_response",
                legal_basis="consent",
                action=AuditAction.READ if i % 2 else AuditAction.DISCLOSE,
                record_ids=[f"alarm-{i}", f"home-{i}"],
                context_id=f"ctx-{i}",
            )


def _attack(db: Path, *statements: str) -> None:
    """Write to the file as an attacker would: past the append-only triggers."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("DROP TRIGGER audit_log_no_delete")
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_a_clean_log_verifies_and_chains_from_genesis(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _fill(db)
    with AuditLog(db) as log:
        entries = log.entries()
        result = log.verify()
    assert result.ok and result.entries == N and result.head == entries[-1].hash
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[0].hash == link_hash(b"courtyard-audit-v1\x00", entries[0].body())
    assert entries[2].record_ids == ("alarm-3", "home-3")
    assert verify_file(db).describe().startswith(f"OK: {N} entries")


def test_the_table_refuses_updates_and_deletes(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _fill(db)
    conn = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_log WHERE seq = 2")
    finally:
        conn.close()
    assert verify_file(db).ok


@FAST
@given(
    st.integers(1, N),
    st.sampled_from(
        [
            "at",
            "actor",
            "role",
            "purpose",
            "legal_basis",
            "action",
            "record_ids",
            "context_id",
            "detail",
        ]
    ),
)
def test_an_edited_field_of_any_entry_is_located(
    tmp_path_factory: pytest.TempPathFactory, seq: int, column: str
) -> None:
    db = tmp_path_factory.mktemp("audit") / "audit.db"
    _fill(db)
    _attack(db, f"UPDATE audit_log SET {column} = {column} || 'x' WHERE seq = {seq}")
    result = verify_file(db)
    assert not result.ok and result.first_bad_seq == seq
    assert "edited" in result.reason


@pytest.mark.parametrize("seq", [1, 3, N - 1])
def test_a_removed_entry_is_located(tmp_path: Path, seq: int) -> None:
    db = tmp_path / "audit.db"
    _fill(db)
    _attack(db, f"DELETE FROM audit_log WHERE seq = {seq}")
    result = verify_file(db)
    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert f"entry {seq} is missing" in result.reason


def test_a_removed_and_renumbered_entry_is_located(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _fill(db)
    _attack(
        db,
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3",
    )
    result = verify_file(db)
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_reordered_entries_are_located(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _fill(db)
    _attack(
        db,
        "UPDATE audit_log SET seq = 100 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 100",
    )
    result = verify_file(db)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "reordered" in result.reason or "removed" in result.reason


def test_a_cut_off_tail_needs_and_gets_a_checkpoint(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _fill(db)
    with AuditLog(db) as log:
        checkpoint = log.checkpoint(CHECKPOINT_KEY)
    assert checkpoint.seq == N
    _attack(db, f"DELETE FROM audit_log WHERE seq >= {N - 1}")
    assert verify_file(db).ok  # the bare chain cannot see it...
    result = verify_file(db, CP_KEYS)  # ...the signed checkpoint can
    assert (result.ok, result.first_bad_seq) == (False, N - 1)
    assert "were removed" in result.reason


def test_a_recomputed_chain_is_caught_by_the_checkpoint(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _fill(db, 3)
    with AuditLog(db) as log:
        log.checkpoint(CHECKPOINT_KEY)
    _fill(db, 3)
    with AuditLog(db) as log:
        log.checkpoint(CHECKPOINT_KEY)
        entries = log.entries()
    # Rewrite entry 5 and recompute every hash from there on, as a careful attacker would.
    statements, prev = [], entries[3].hash
    for entry in entries[4:]:
        body = entry.body() | {"prev_hash": prev}
        if entry.seq == 5:
            body["actor"] = "someone-else"
        new_hash = link_hash(b"courtyard-audit-v1\x00", body)
        statements.append(
            f"UPDATE audit_log SET actor = '{body['actor']}', prev_hash = '{prev}', "
            f"hash = '{new_hash}' WHERE seq = {entry.seq}"
        )
        prev = new_hash
    _attack(db, *statements)
    assert verify_file(db).ok
    result = verify_file(db, CP_KEYS)
    assert (result.ok, result.first_bad_seq) == (False, 4)  # somewhere in 4..6, after cp at 3
    assert "rewritten" in result.reason


def test_a_forged_checkpoint_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _fill(db)
    with AuditLog(db) as log:
        log.checkpoint(Ed25519PrivateKey.generate())
    result = verify_file(db, CP_KEYS)
    assert not result.ok and "unknown key" in result.reason
    db2 = tmp_path / "audit2.db"
    _fill(db2)
    with AuditLog(db2) as log:
        log.checkpoint(CHECKPOINT_KEY)
    conn = sqlite3.connect(db2)
    conn.execute("UPDATE audit_checkpoints SET seq = seq + 5")
    conn.commit()
    conn.close()
    assert "invalid signature" in verify_file(db2, CP_KEYS).reason


def test_bad_entries_are_refused_and_nothing_is_appended(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        common: dict[str, Any] = {
            "actor": "a",
            "role": "r",
            "purpose": "p",
            "legal_basis": "consent",
        }
        with pytest.raises(AuditError, match="unknown audit action"):
            log.append(action="delete-everything", **common)  # type: ignore[arg-type]
        with pytest.raises(AuditError, match="at most"):
            log.append(action=AuditAction.READ, detail="x" * 10_000, **common)
        with pytest.raises(AuditError, match="list"):
            log.append(action=AuditAction.READ, record_ids="abc", **common)
        with pytest.raises(AuditError, match="encoded"):
            log.append(action=AuditAction.READ, context_id="\ud800", **common)
        assert log.entries() == [] and log.head() == (0, GENESIS)


def test_verifying_a_file_never_creates_or_changes_it(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no such file"):
        verify_file(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(AuditError):
        verify_file(junk)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(AuditError, match="not an audit log"):
        verify_file(empty)
