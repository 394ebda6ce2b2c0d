"""The store on a real SQLite file: durable settings, and one record = one transaction."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from community.store import Store
from devices.catalog import EventType
from privacy.envelope import key_id, public_bytes
from tests.community.support import SigningHub


def _store_with_hub(path: Path, hub: SigningHub) -> Store:
    store = Store(path)
    public = hub.key.public_key()
    store.upsert_hub(
        hub_id=hub.hub_id,
        home_id="home-1",
        building="",
        unit="",
        public_key_hex=public_bytes(public).hex(),
        key_id=key_id(public),
        password_hash=None,
        now=int(time.time() * 1000),
    )
    return store


def _counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("received", "events", "alarms", "alarm_history")
        }
    finally:
        conn.close()


def test_database_is_wal_with_full_sync(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    try:
        conn = sqlite3.connect(tmp_path / "c.db")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
        settings = {
            p: next(iter(store._db.query(f"PRAGMA {p}")))[p]
            for p in ("synchronous", "foreign_keys")
        }
        assert settings == {"synchronous": 2, "foreign_keys": 1}  # 2 = FULL
    finally:
        store.close()


def test_a_failing_write_leaves_no_trace_of_the_record(tmp_path: Path) -> None:
    hub = SigningHub("hub-t")
    path = tmp_path / "c.db"
    store = _store_with_hub(path, hub)
    # The events row is written last; make it fail after the key, alarm and history rows.
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TRIGGER refuse AFTER INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    conn.commit()
    record = hub.event_record("smoke-1", EventType.SMOKE_ALARM)
    with pytest.raises(sqlite3.Error):
        store.persist(record, "digest", int(time.time() * 1000))
    assert _counts(path) == {"received": 0, "events": 0, "alarms": 0, "alarm_history": 0}

    conn.execute("DROP TRIGGER refuse")
    conn.commit()
    conn.close()
    # The key was never marked as received, so the retry is stored, not taken as a duplicate.
    result = store.persist(record, "digest", int(time.time() * 1000))
    assert not result.duplicate and len(result.alarms) == 1
    assert _counts(path) == {"received": 1, "events": 1, "alarms": 1, "alarm_history": 1}
    store.close()
