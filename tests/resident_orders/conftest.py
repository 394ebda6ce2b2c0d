"""Residents' repair orders: a real community store (SQLite file) with two enrolled homes for
the request rules. (The round trips over Mosquitto and the browser test use the ``site`` of
tests/notices, imported where they are used.)"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from community import CommunityConfig, CommunityServer
from community.accounts import Principal, Role
from community.work_order_rules import OrderAction
from devices.service import ServiceRequest
from devices.uplink import service_request
from tests.community.support import Community, make_config, wait_until
from tests.community_desk.support import DeskServer, FakeClock, Receiver
from tests.support.mosquitto import Mosquitto

__all__ = ["DeskFactory", "Homes", "desk_factory", "homes", "receiver"]

HUBS = {"hub-a": "home-a", "hub-b": "home-b"}
MANAGER = Principal("manager", Role.PROPERTY_ADMIN)


@dataclass
class Homes:
    """A community (not serving: requests are handed to its service desk as the pipeline
    would, after their envelope is checked) and a clock the test moves."""

    server: CommunityServer
    now: int = 1_790_000_000_000
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def ask(self, hub_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send one request from ``hub_id``; the answer notice the community wrote for it."""
        request = ServiceRequest("work_order", action, secrets.token_hex(8), body)
        record = service_request(hub_id, next(self.seq), self.now, request)
        self.server.services.on_record(record, self.now)
        rows = self.server._store.read(
            "SELECT n.code, n.params, n.data FROM notices n JOIN notice_deliveries d"
            " USING (notice_id) WHERE d.hub_id = ? ORDER BY n.rowid",
            [hub_id],
        )
        for row in reversed(rows):
            params = json.loads(row["params"])
            if params.get("request_id") == request.request_id:
                return {"code": row["code"], "params": params, "data": json.loads(row["data"])}
        raise AssertionError(f"no answer to {action}")

    def staff(self, order_id: int, action: OrderAction, body: dict[str, Any]) -> dict[str, Any]:
        return self.server.work_orders.act(order_id, action, body, MANAGER, self.now)

    def snapshot(self) -> list[list[dict[str, Any]]]:
        """Everything an order request could change (not the request log and its answer)."""
        return [
            self.server._store.read(f"SELECT * FROM {table} ORDER BY id")
            for table in ("work_orders", "work_order_history", "work_order_photos")
        ]

    def updates(self, hub_id: str) -> list[dict[str, Any]]:
        """The ``order_updated`` notices written for ``hub_id``, oldest first."""
        return [
            {"params": d["params"], "data": d["data"]}
            for d in self.server.notices.deliveries()
            if d["hub_id"] == hub_id and d["code"] == "order_updated"
        ]


@pytest.fixture
def homes(tmp_path: Path) -> Iterator[Homes]:
    server = CommunityServer(
        CommunityConfig(
            community_id="estate-1",
            data_dir=tmp_path / "community",
            mqtt_host="127.0.0.1",
            mqtt_port=1,
            mqtt_username="community",
            mqtt_password="unused-the-broker-is-never-dialled",
            consent="open",
        )
    )
    for hub_id, home_id in HUBS.items():
        server.enroll_hub(hub_id, home_id, Ed25519PrivateKey.generate().public_key())
    server.accounts.create("wang", "technician", "manager", 1_790_000_000_000)
    yield Homes(server)


class DeskFactory:
    """Communities on one data folder and one clock; every one still running is stopped."""

    def __init__(self, broker: Mosquitto, data_dir: Path) -> None:
        self.broker, self.data_dir = broker, data_dir
        self.running: list[Community] = []

    def __call__(self, clock: FakeClock, **config: Any) -> Community:
        runner = DeskServer(
            make_config(self.broker, self.data_dir, escalation_poll_s=0.05, **config), clock
        )
        bundle = Community(self.broker, runner.start())
        self.running.append(bundle)
        wait_until(lambda: runner.server.health()["ingesting"], what="community subscribed")
        return bundle

    def stop(self, bundle: Community) -> None:
        self.running.remove(bundle)
        bundle.close()


@pytest.fixture
def desk_factory(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[DeskFactory]:
    mosquitto.add_user("community", "community-secret", superuser=True)
    factory = DeskFactory(mosquitto, tmp_path / "community")
    try:
        yield factory
    finally:
        for bundle in list(factory.running):
            factory.stop(bundle)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    try:
        yield running
    finally:
        running.stop()
