"""The local JSON API and the hub's secrets on disk."""

from __future__ import annotations

import stat

import aiohttp

from devices.catalog import DeviceKind
from tests.hub.conftest import MakeHub
from tests.hub.support import connect_device, read_db


async def test_health_is_open_and_devices_need_the_admin_token(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub(heartbeat_s=3600)
    token = hub.provision_device("smoke-1", DeviceKind.SMOKE_ALARM, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", DeviceKind.SMOKE_ALARM)
    await device.request(device.state({"battery_pct": 77}))
    base = f"http://127.0.0.1:{hub.http_port}"

    async with session.get(f"{base}/api/health") as response:
        assert response.status == 200
        assert await response.json() == {"hub_id": "hub-1", "uplink": False, "outbox": 2}

    admin = (hub.config.data_dir / "admin.token").read_text().strip()
    for headers in ({}, {"Authorization": f"Bearer {token}"}, {"Authorization": "Bearer x"}):
        async with session.get(f"{base}/api/devices", headers=headers) as response:
            assert response.status == 401
    async with session.get(
        f"{base}/api/devices", headers={"Authorization": f"Bearer {admin}"}
    ) as response:
        assert response.status == 200
        (listed,) = (await response.json())["devices"]
    assert listed["device_id"] == "smoke-1" and listed["room"] == "kitchen"
    assert listed["online"] is True and listed["connected"] is True
    assert listed["state"] == {"battery_pct": 77}


async def test_secrets_are_private_files_and_tokens_are_stored_hashed(make_hub: MakeHub) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", DeviceKind.SMOKE_ALARM, "Kitchen alarm", "kitchen")
    for name in ("hub_key.pem", "admin.token"):
        mode = stat.S_IMODE((hub.config.data_dir / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    db = hub.config.data_dir / "hub.db"
    raw = db.read_bytes() + (db.with_name("hub.db-wal").read_bytes())
    assert token.encode() not in raw
    assert read_db(db, "SELECT length(token_hash) FROM devices") == [(64,)]
    assert read_db(db, "PRAGMA journal_mode") == [("wal",)]
