"""A hub killed between acking an alarm and publishing it still delivers it, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from devices.catalog import DeviceKind, EventType
from devices.messages import Event
from tests.hub.support import (
    Community,
    HubProcess,
    connect_device,
    eventually,
    outbox_records,
    read_db,
    write_hub_config,
)
from tests.support.mosquitto import Mosquitto

HUB_PASSWORD = "hub-secret"
TOKEN = "kitchen-alarm-token-from-config"


async def test_alarm_acked_then_hub_killed_is_delivered_exactly_once_after_restart(
    tmp_path: Path, session: aiohttp.ClientSession, mosquitto: Mosquitto
) -> None:
    data_dir = tmp_path / "hub-k"
    config = write_hub_config(
        tmp_path / "hub.json",
        hub_id="hub-k",
        home_id="home-k",
        data_dir=data_dir,
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_password=HUB_PASSWORD,
        ack_timeout_s=0.5,
        heartbeat_s=3600,
        devices=[
            {"device_id": "smoke-1", "kind": "smoke_alarm", "name": "Kitchen", "room": "kitchen"}
            | {"token": TOKEN}
        ],
    )
    db = data_dir / "hub.db"
    # The broker is down: the alarm can be acked to the device but not published.
    await asyncio.to_thread(mosquitto.stop)
    first = HubProcess(config, tmp_path / "first.log")
    second = HubProcess(config, tmp_path / "second.log")
    community: Community | None = None
    try:
        port = await first.start()
        device = await connect_device(session, port, TOKEN, "smoke-1", DeviceKind.SMOKE_ALARM)
        alarm = device.event("smoke_alarm", data={"value": 40.0})
        assert (await device.request(alarm))["type"] == "ack"
        await first.kill()
        await device.close()
        (waiting,) = outbox_records(db)  # on disk, as the ack promised
        assert isinstance(waiting.message, Event) and waiting.message.seq == alarm["seq"]

        # Restart the hub with the broker still down, then bring the broker back (keeping
        # the hub out until the community's subscription is in place).
        port = await second.start()
        mosquitto.users["hub-k"] = "not-yet"
        await asyncio.to_thread(mosquitto.start)
        hub_key = await asyncio.to_thread(_public_key, data_dir)
        community = Community(mosquitto, {"hub-k": hub_key})
        await asyncio.to_thread(community.start)
        await asyncio.to_thread(mosquitto.add_user, "hub-k", HUB_PASSWORD)

        def alarm_keys() -> list[str]:
            assert community is not None
            return [
                r.key
                for r in community.reports()
                if isinstance(r.message, Event) and r.message.seq == alarm["seq"]
            ]

        await eventually(lambda: len(alarm_keys()) == 1, timeout=20, what="alarm delivered")
        # The device never saw its ack (say) and resends: acked, not queued again.
        again = await connect_device(session, port, TOKEN, "smoke-1", DeviceKind.SMOKE_ALARM)
        reply = await again.request(alarm)
        assert reply["type"] == "ack" and reply["ref"] == str(alarm["seq"])
        await eventually(lambda: read_db(db, "SELECT count(*) FROM outbox") == [(0,)])
        await asyncio.sleep(1.5)  # three resend periods: room for any duplicate to show up

        assert alarm_keys() == [waiting.key]
        (record,) = community.reports()
        assert isinstance(record.message, Event)
        assert record.message.event is EventType.SMOKE_ALARM
        assert read_db(db, "SELECT count(*) FROM event_log WHERE origin = 'device'") == [(1,)]
    finally:
        await first.ensure_stopped()
        await second.ensure_stopped()
        if community is not None:
            await asyncio.to_thread(community.stop)


def _public_key(data_dir: Path) -> Ed25519PublicKey:
    """What the community learned at enrollment: the hub's public key."""
    key = load_pem_private_key((data_dir / "hub_key.pem").read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key.public_key()
