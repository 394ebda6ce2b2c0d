"""Small helpers for driving a session in tests."""

from __future__ import annotations

import json
from typing import Any

from devices.adapters import AdapterSession, SequenceCounter, builtin_adapters
from devices.adapters.conformance import DEFAULT_NOW_MS, check_message

T0 = DEFAULT_NOW_MS


def payload(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


class Driver:
    """A session with its own clock and sequence counter; every output is schema-checked."""

    def __init__(self, session: AdapterSession | None = None, now_ms: int = T0) -> None:
        self.session = session or AdapterSession(builtin_adapters())
        self.now_ms = now_ms
        self.seq = SequenceCounter()

    def send(self, topic: str, value: Any, *, after_ms: int = 0) -> list[dict[str, Any]]:
        self.now_ms += after_ms
        out = self.session.decode(topic, payload(value), now_ms=self.now_ms, seq=self.seq)
        return [check_message(m) for m in out]


def events(out: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    return [(m["event"], m["active"]) for m in out if m["type"] == "event"]


def states(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["state"] for m in out if m["type"] == "state"]
