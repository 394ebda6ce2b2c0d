"""A real community over a real Mosquitto with homes in two buildings, a common-area gateway
with a parcel-locker stub, and helpers to call the community's HTTP API as staff."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from community import CommunityConfig, CommunityServer
from community.clock import now_ms
from devices.catalog import DeviceKind
from firmware_stubs import ParcelLocker, make_device
from hub import Hub, HubConfig
from tests.notices.conftest import _enrolled_dir, _hub_config, wait_for
from tests.support.mosquitto import Mosquitto

#: hub id -> (home id, building)
HOMES = {
    "hub-1-101": ("1-101", "1"),
    "hub-1-102": ("1-102", "1"),
    "hub-2-101": ("2-101", "2"),
}
COMMON = "hub-common-1"
LOCKER = "locker-gate"

__all__ = ["COMMON", "HOMES", "LOCKER", "Estate", "estate", "wait_for"]


@dataclass
class Estate:
    tmp: Path
    broker: Mosquitto
    community: CommunityServer
    common: Hub
    locker: ParcelLocker
    homes: dict[str, Hub]
    configs: dict[str, HubConfig]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.community.http_port}"

    async def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        who: str = "manager",
    ) -> tuple[int, Any]:
        token = self.community.manager_token if who == "manager" else self.tokens[who]
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, data=payload, headers=headers) as res,
        ):
            text = await res.text()
            try:
                return res.status, json.loads(text)
            except ValueError:
                return res.status, text

    async def ok(self, method: str, path: str, body: Any = None, *, who: str = "manager") -> Any:
        status, answer = await self.http(method, path, body, who=who)
        assert 200 <= status < 300, f"{method} {path}: {status} {answer}"
        return answer

    async def stop_home(self, hub_id: str) -> None:
        hub = self.homes[hub_id]
        self.configs[hub_id] = dataclasses.replace(self.configs[hub_id], http_port=hub.http_port)
        await hub.stop()

    async def start_home(self, hub_id: str) -> Hub:
        hub = Hub(self.configs[hub_id])
        self.homes[hub_id] = hub
        await hub.start()
        await wait_for(lambda: hub.uplink_connected, f"{hub_id}'s uplink")
        return hub

    def table(self, sql: str, params: list[object] | None = None) -> list[dict[str, Any]]:
        return self.community._store.read(sql, params or [])


@pytest.fixture
async def estate(mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[Estate]:
    password = secrets.token_urlsafe(16)
    mosquitto.add_user("community", password, superuser=True)
    community = CommunityServer(
        CommunityConfig(
            community_id="estate-1",
            data_dir=tmp_path / "community",
            mqtt_host=mosquitto.host,
            mqtt_port=mosquitto.port,
            mqtt_username="community",
            mqtt_password=password,
            consent="open",
        )
    )
    community.notices.retry_s = 1.0
    community.parcels.poll_s = 0.2
    key_hex = community.community_public_key_hex
    configs: dict[str, HubConfig] = {}
    for hub_id, (home_id, building) in HOMES.items():
        data_dir, key = _enrolled_dir(tmp_path, hub_id)
        hub_password = community.enroll_hub(hub_id, home_id, key, building=building, unit="1")
        mosquitto.add_user(hub_id, hub_password)
        configs[hub_id] = _hub_config(hub_id, home_id, data_dir, mosquitto, hub_password, key_hex)
    common_dir, common_key = _enrolled_dir(tmp_path, COMMON)
    common_password = community.enroll_hub(
        COMMON, "common-1", common_key, building="1", common_area=True
    )
    mosquitto.add_user(COMMON, common_password)
    common_config = _hub_config(COMMON, "common-1", common_dir, mosquitto, common_password, key_hex)
    _, duty_token = community.accounts.create("dora", "duty_staff", "manager", now_ms())
    _, tech_token = community.accounts.create("tom", "technician", "manager", now_ms())
    await community.start()
    common = Hub(common_config)
    await common.start()
    homes = {hub_id: Hub(config) for hub_id, config in configs.items()}
    for hub in homes.values():
        await hub.start()
    token = common.provision_device(LOCKER, DeviceKind.PARCEL_LOCKER, "Gate locker", "Gate")
    locker = make_device(
        DeviceKind.PARCEL_LOCKER,
        LOCKER,
        f"ws://127.0.0.1:{common.http_port}/api/device/ws",
        token,
        tick_s=0.05,
        state_file=tmp_path / "locker.json",
        locker_id="gate",
        compartments=12,
    )
    assert isinstance(locker, ParcelLocker)
    await locker.start()
    built = Estate(
        tmp_path,
        mosquitto,
        community,
        common,
        locker,
        homes,
        configs,
        {"dora": duty_token, "tom": tech_token},
    )
    try:
        await locker.wait_connected(20)
        await wait_for(lambda: community.health()["ingesting"], "the community to subscribe")
        for hub in (common, *homes.values()):
            await wait_for(lambda hub=hub: hub.uplink_connected, f"{hub.hub_id}'s uplink")
        yield built
    finally:
        with contextlib.suppress(Exception):
            await built.locker.stop()
        for hub in (built.common, *built.homes.values()):
            with contextlib.suppress(Exception):
                await hub.stop()
        with contextlib.suppress(Exception):
            await built.community.stop()
