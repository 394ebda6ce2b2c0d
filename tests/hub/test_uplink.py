"""The uplink against a real Mosquitto, with a subscriber doing what the community does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from devices.catalog import PRIORITY_RANK, DeviceKind, EventType
from devices.messages import Event
from hub.uplink import STATUS_OFFLINE, STATUS_ONLINE
from tests.hub.conftest import MakeHub
from tests.hub.support import (
    Community,
    HubProcess,
    connect_device,
    eventually,
    read_db,
    write_hub_config,
)
from tests.support.mosquitto import Mosquitto

HUB_PASSWORD = "hub-secret"
SMOKE = DeviceKind.SMOKE_ALARM


@pytest.fixture
async def communities() -> AsyncIterator[list[Community]]:
    started: list[Community] = []
    yield started
    for community in started:
        await asyncio.to_thread(community.stop)


async def start_community(
    started: list[Community],
    broker: Mosquitto,
    keys: dict[str, Ed25519PublicKey],
    **kwargs: Any,
) -> Community:
    community = Community(broker, keys, **kwargs)
    await asyncio.to_thread(community.start)
    started.append(community)
    return community


def event_keys(community: Community, device_id: str, seq: int) -> list[str]:
    return [
        r.key
        for r in community.reports()
        if isinstance(r.message, Event) and (r.message.device_id, r.message.seq) == (device_id, seq)
    ]


async def test_records_arrive_signed_and_the_app_ack_deletes_them(
    make_hub: MakeHub,
    session: aiohttp.ClientSession,
    mosquitto: Mosquitto,
    communities: list[Community],
) -> None:
    mosquitto.add_user("hub-1", HUB_PASSWORD)
    hub = await make_hub(start=False, mqtt_port=mosquitto.port)
    community = await start_community(communities, mosquitto, {"hub-1": hub.public_key})
    await hub.start()
    await eventually(lambda: hub.uplink_connected, what="uplink up")
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    sent = device.event("smoke_alarm", data={"value": 31.0})
    assert (await device.request(sent))["type"] == "ack"

    await eventually(lambda: len(event_keys(community, "smoke-1", sent["seq"])) == 1)
    await eventually(lambda: hub.outbox_pending() == 0, what="outbox drained by app acks")
    (record,) = community.reports()
    assert isinstance(record.message, Event)
    assert record.message.event is EventType.SMOKE_ALARM and record.message.data == {"value": 31.0}
    assert record.device is not None and record.device.room == "kitchen"
    assert community.rejected == []
    assert STATUS_ONLINE in community.statuses_of("hub-1")


async def test_an_unacknowledged_record_is_published_again(
    make_hub: MakeHub,
    session: aiohttp.ClientSession,
    mosquitto: Mosquitto,
    communities: list[Community],
) -> None:
    mosquitto.add_user("hub-1", HUB_PASSWORD)
    hub = await make_hub(start=False, mqtt_port=mosquitto.port, ack_timeout_s=0.4, heartbeat_s=3600)
    community = await start_community(
        communities, mosquitto, {"hub-1": hub.public_key}, auto_ack=False
    )
    await hub.start()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    sent = device.event("smoke_alarm")
    await device.request(sent)

    def deliveries() -> list[int]:
        return [
            r.seq
            for r in list(community.arrivals)
            if isinstance(r.message, Event) and r.message.seq == sent["seq"]
        ]

    await eventually(lambda: len(deliveries()) >= 2, what="a resend")
    assert len(set(deliveries())) == 1  # the same record, under the same key
    (seq,) = set(deliveries())
    db = hub.config.data_dir / "hub.db"
    assert read_db(db, "SELECT attempts >= 2 FROM outbox WHERE seq = ?", (seq,)) == [(1,)]
    community.ack("hub-1", [seq])
    await eventually(
        lambda: read_db(db, "SELECT count(*) FROM outbox WHERE seq = ?", (seq,)) == [(0,)]
    )


async def test_after_a_broker_outage_everything_arrives_alarms_first(
    make_hub: MakeHub,
    session: aiohttp.ClientSession,
    mosquitto: Mosquitto,
    communities: list[Community],
) -> None:
    mosquitto.add_user("hub-1", HUB_PASSWORD)
    hub = await make_hub(start=False, mqtt_port=mosquitto.port, heartbeat_s=3600)
    keys = {"hub-1": hub.public_key}
    before = await start_community(communities, mosquitto, keys)
    await hub.start()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    await device.request(device.state({"battery_pct": 100}))
    await eventually(lambda: len(before.reports()) == 1 and hub.outbox_pending() == 0)
    await asyncio.to_thread(before.stop)

    await asyncio.to_thread(mosquitto.stop)
    await eventually(lambda: not hub.uplink_connected, what="uplink noticed the outage")
    produced = [
        device.state({"battery_pct": 99}),
        device.event("smoke_alarm", data={"value": 20.0}),
        device.event("battery_low"),
        device.state({"battery_pct": 98}),
        device.event("tamper"),
        device.state({"smoke_state": "critical"}),
        device.event("smoke_alarm", active=False),
    ]
    for message in produced:
        assert (await device.request(message))["type"] == "ack"  # acked with the uplink down
    assert hub.outbox_pending() == len(produced)

    # Bring the broker back but keep the hub out until the community has subscribed again
    # (the test broker keeps no sessions across restarts), so it sees the hub's first publish.
    mosquitto.users["hub-1"] = "not-yet"
    await asyncio.to_thread(mosquitto.start)
    after = await start_community(communities, mosquitto, keys)
    await asyncio.to_thread(mosquitto.add_user, "hub-1", HUB_PASSWORD)

    await eventually(lambda: len(after.reports()) == len(produced), timeout=20, what="delivery")
    await eventually(lambda: hub.outbox_pending() == 0, what="outbox drained")
    arrived = after.reports()
    assert sorted(r.message.seq for r in arrived if r.message) == [m["seq"] for m in produced]
    ranks = [PRIORITY_RANK[r.priority] for r in arrived]
    assert ranks == sorted(ranks), [(r.priority, r.seq) for r in arrived]
    for rank in set(ranks):
        same = [r.seq for r in arrived if PRIORITY_RANK[r.priority] == rank]
        assert same == sorted(same)
    assert [str(r.message.event) for r in arrived[:2] if isinstance(r.message, Event)] == [
        "smoke_alarm",
        "smoke_alarm",
    ]


async def test_the_last_will_says_offline_when_the_hub_process_is_killed(
    tmp_path: Path, mosquitto: Mosquitto, communities: list[Community]
) -> None:
    mosquitto.add_user("hub-9", HUB_PASSWORD)
    config = write_hub_config(
        tmp_path / "hub.json",
        hub_id="hub-9",
        home_id="home-9",
        data_dir=tmp_path / "hub-9",
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_password=HUB_PASSWORD,
    )
    community = await start_community(communities, mosquitto, {})
    process = HubProcess(config, tmp_path / "hub-9.log")
    try:
        await process.start()
        await eventually(lambda: community.statuses_of("hub-9")[-1:] == [STATUS_ONLINE])
        await process.kill()
        await eventually(lambda: community.statuses_of("hub-9")[-1:] == [STATUS_OFFLINE])
    finally:
        await process.ensure_stopped()
    # Retained: whoever looks later still learns the hub is offline.
    late = await start_community(communities, mosquitto, {}, user="late", password="late-pw")
    await eventually(lambda: late.statuses_of("hub-9") == [STATUS_OFFLINE])


async def test_sigterm_stops_the_hub_gracefully(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    mosquitto: Mosquitto,
    communities: list[Community],
) -> None:
    mosquitto.add_user("hub-8", HUB_PASSWORD)
    token = "a-token-chosen-by-the-config-file"
    config = write_hub_config(
        tmp_path / "hub.json",
        hub_id="hub-8",
        home_id="home-8",
        data_dir=tmp_path / "hub-8",
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_password=HUB_PASSWORD,
        devices=[
            {"device_id": "sos-1", "kind": "emergency_button", "name": "SOS", "room": "bath"}
            | {"token": token}
        ],
    )
    community = await start_community(communities, mosquitto, {})
    process = HubProcess(config, tmp_path / "hub-8.log")
    try:
        port = await process.start()
        device = await connect_device(session, port, token, "sos-1", DeviceKind.EMERGENCY_BUTTON)
        await eventually(lambda: community.statuses_of("hub-8")[-1:] == [STATUS_ONLINE])
        assert await process.terminate() == 0
    finally:
        await process.ensure_stopped()
    closing = await device.ws.receive(5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await eventually(lambda: community.statuses_of("hub-8")[-1:] == [STATUS_OFFLINE])
    assert "Traceback" not in process.log()
