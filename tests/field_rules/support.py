"""A real community store and field engine on a SQLite file, fed records as the pipeline does."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from community.field_engine import FieldEngine
from community.field_rules import FieldRules
from community.store import Store
from devices.catalog import DeviceKind, EventType
from devices.messages import Event, State
from devices.uplink import DeviceInfo, UplinkRecord, encode_record, report

HUB = "hub-f"
T0 = 1_790_000_000_000


@dataclass
class Field:
    path: Path
    rules: FieldRules = field(default_factory=FieldRules)
    now: int = T0
    seqs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.store = Store(self.path)
        self.engine = FieldEngine(self.store, self.rules)

    def reopen(self) -> None:
        """A server restart: a new store and engine on the same file."""
        self.store.close()
        self.__post_init__()

    def _feed(self, record: UplinkRecord) -> tuple[dict[str, Any], ...]:
        digest = hashlib.sha256(encode_record(record)).hexdigest()
        persisted = self.store.persist(record, digest, self.now)
        return (*persisted.alarms, *self.engine.observe(record, self.now))

    def state(self, device_id: str, kind: DeviceKind, **values: Any) -> tuple[dict[str, Any], ...]:
        seq = next(self.seqs)
        info = DeviceInfo(device_id, kind, device_id, "Shed A")
        return self._feed(
            report(HUB, seq, self.now, info, State(device_id, kind, seq, self.now, values))
        )

    def event(self, device_id: str, kind: DeviceKind, event: EventType, active: bool) -> None:
        seq = next(self.seqs)
        info = DeviceInfo(device_id, kind, device_id, "Shed A")
        message = Event(device_id, kind, seq, self.now, event, active, {})
        self._feed(report(HUB, seq, self.now, info, message))

    def advance(self, seconds: float) -> tuple[dict[str, Any], ...]:
        self.now += int(seconds * 1000)
        return self.engine.tick(self.now)

    def alarms(self, kind: str) -> list[dict[str, Any]]:
        return self.store.read("SELECT * FROM alarms WHERE kind = ? ORDER BY id", [kind])

    def cuts(self) -> list[dict[str, Any]]:
        return self.engine.cuts()
