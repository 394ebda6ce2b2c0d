"""The long-term public key of every device paired with this hub.

Pairing proves the device holds the key; keeping it lets the hub refuse a different device
that later claims the same id, and gives a later link upgrade (signed hellos) its anchor.
The ``device_keys`` table lives in the hub's one SQLite file, beside ``devices``.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.pairing import fingerprint
from hub.core import now_ms
from hub.store import Store

_SCHEMA = """CREATE TABLE IF NOT EXISTS device_keys (
    device_id TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    paired INTEGER NOT NULL)"""


@dataclass(frozen=True, slots=True)
class DeviceKey:
    device_id: str
    public_key: bytes
    fingerprint: str
    paired: int


class DeviceKeys:
    def __init__(self, store: Store) -> None:
        self._store = store
        with store.transaction():
            store.db.execute(_SCHEMA)

    def get(self, device_id: str) -> DeviceKey | None:
        row = self._store.db.execute(
            "SELECT device_id, public_key, fingerprint, paired FROM device_keys"
            " WHERE device_id = ?",
            [device_id],
        ).fetchone()
        return None if row is None else DeviceKey(row[0], bytes(row[1]), row[2], row[3])

    def put(self, device_id: str, public_key: bytes) -> None:
        """Record a device's key; call inside the transaction that registers the device."""
        self._store.db.execute(
            """INSERT INTO device_keys (device_id, public_key, fingerprint, paired)
               VALUES (?, ?, ?, ?)
               ON CONFLICT(device_id) DO UPDATE SET public_key = excluded.public_key,
                 fingerprint = excluded.fingerprint, paired = excluded.paired""",
            [device_id, public_key, fingerprint(public_key), now_ms()],
        )

    def delete(self, device_id: str) -> None:
        self._store.db.execute("DELETE FROM device_keys WHERE device_id = ?", [device_id])
