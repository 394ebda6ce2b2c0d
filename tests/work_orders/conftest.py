"""A real community (Mosquitto, SQLite file, HTTP on port 0) on a clock the test moves, two
enrolled homes, and helpers to act as the property admin, duty staff or a technician.

Alarms arrive the real way: a signing "hub" publishes sealed uplink records to the broker.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from community.clock import now_ms
from devices.catalog import EventType
from tests.community.support import Community, MqttPeer, SigningHub, wait_until
from tests.community_desk.conftest import DeskFactory, desk_factory
from tests.community_desk.support import FakeClock

__all__ = ["Desk", "desk", "desk_factory"]

HOME_A = "302"
HOME_B = "401"


@dataclass
class Desk:
    """The running community, its clock, its two homes, and tokens by staff name."""

    factory: DeskFactory
    community: Community
    clock: FakeClock
    hub_a: SigningHub
    peer_a: MqttPeer
    tokens: dict[str, str] = field(default_factory=dict)
    #: An order the fuzz tests act on (made by their first example).
    order_id: int = 0

    def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        who: str = "manager",
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        token = self.community.token if who == "manager" else self.tokens.get(who, who)
        payload = raw
        if payload is None and body is not None:
            payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        return self.community.http(method, path, payload, token=token, headers=headers)

    def ok(self, method: str, path: str, body: Any = None, *, who: str = "manager") -> Any:
        status, answer = self.http(method, path, body, who=who)
        assert 200 <= status < 300, f"{method} {path} as {who}: {status} {answer}"
        return answer

    def account(self, name: str, role: str) -> str:
        answer = self.ok("POST", "/api/accounts", {"name": name, "role": role})
        self.tokens[name] = answer["token"]
        return str(answer["token"])

    def smoke_end_of_service(self, device_id: str = "smoke-1", room: str = "Kitchen") -> int:
        _seq, payload = self.hub_a.event(device_id, EventType.END_OF_SERVICE, room=room)
        self.community.send(self.peer_a, self.hub_a, payload)
        found: list[int] = []

        def raised() -> bool:
            found[:] = [
                a["id"]
                for a in self.community.server.alarms()
                if a["device_id"] == device_id and a["kind"] == "end_of_service"
            ]
            return bool(found)

        wait_until(raised, 15, "the end-of-service alarm")
        return found[0]

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every work-order row of the database (to prove a refusal changed nothing)."""
        conn = sqlite3.connect(self.community.runner.db)
        try:
            out: list[tuple[Any, ...]] = []
            for table in (
                "work_orders",
                "work_order_history",
                "work_order_photos",
                "work_order_escalations",
                "staff_accounts",
            ):
                out.extend((table, *row) for row in conn.execute(f"SELECT * FROM {table}"))
            return out
        finally:
            conn.close()

    def restart(self) -> None:
        self.factory.stop(self.community)
        self.community = self.factory(clock=self.clock)


HOME_A_HUB = "hub-302"


@pytest.fixture
def desk(desk_factory: DeskFactory) -> Iterator[Desk]:
    clock = FakeClock(now_ms())
    community = desk_factory(clock=clock)
    hub_a = SigningHub(HOME_A_HUB)
    peer_a = community.enroll(hub_a, HOME_A, building="3")
    hub_b = SigningHub("hub-401")
    community.enroll(hub_b, HOME_B, building="4")
    yield Desk(desk_factory, community, clock, hub_a, peer_a)
