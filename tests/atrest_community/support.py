"""A community store on real SQLite files with per-resident keys, and records to feed it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from community.resident_keys import ResidentKeys, data_key_name
from community.store import Store
from devices.catalog import DeviceKind, EventType
from devices.messages import Event, State
from devices.uplink import DeviceInfo, UplinkRecord, report

HOME_HUB, HOME = "hub-home", "home-7"
COMMON_HUB, COMMON = "hub-shed", "shed"
SUBJECT = "r-home-7"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class AtRest:
    """One store, its key store, a resident home and a common-area gateway."""

    directory: Path
    store: Store
    keys: ResidentKeys
    community_key: Ed25519PrivateKey
    seqs: dict[str, int] = field(default_factory=dict)

    @property
    def key_name(self) -> str:
        return data_key_name(HOME, SUBJECT)

    def send(
        self,
        hub_id: str,
        device_id: str,
        kind: DeviceKind,
        name: str,
        room: str,
        event: EventType | None = None,
        *,
        active: bool = True,
        data: dict[str, object] | None = None,
        state: dict[str, object] | None = None,
    ) -> UplinkRecord:
        seq = self.seqs[hub_id] = self.seqs.get(hub_id, 0) + 1
        ts = now_ms()
        message: Event | State
        if event is None:
            message = State(device_id, kind, seq, ts, state or {})
        else:
            message = Event(device_id, kind, seq, ts, event, active, dict(data or {}))
        record = report(hub_id, seq, ts, DeviceInfo(device_id, kind, name, room), message)
        self.store.persist(record, f"digest-{hub_id}-{seq}", ts)
        return record

    def raw(self) -> bytes:
        """Every byte of community.db, its WAL and shared memory."""
        return b"".join(p.read_bytes() for p in sorted(self.directory.glob("community.db*")))

    def close(self) -> None:
        self.store.close()
        self.keys.close()


def open_at_rest(directory: Path, key: Ed25519PrivateKey | None = None) -> AtRest:
    directory.mkdir(parents=True, exist_ok=True)
    community_key = key or Ed25519PrivateKey.generate()
    keys = ResidentKeys(directory, community_key)
    store = Store(directory / "community.db", keys=keys)
    for hub_id, home, common in ((HOME_HUB, HOME, False), (COMMON_HUB, COMMON, True)):
        store.upsert_hub(
            hub_id=hub_id,
            home_id=home,
            building="B1",
            unit="1-01" if not common else "",
            public_key_hex="00" * 32,
            key_id=f"key-{hub_id}",
            password_hash=None,
            now=now_ms(),
            common_area=common,
        )
    keys.register(HOME, SUBJECT)
    return AtRest(directory, store, keys, community_key)
