"""Supervision with a compressed clock: silence raises device_offline, speaking clears it."""

from __future__ import annotations

import asyncio

import aiohttp

from devices.catalog import KINDS, DeviceKind, EventType
from devices.messages import Event, parse_message, to_dict
from hub.core import BusEvent
from hub.events import DeviceEventFired, Origin
from tests.hub.conftest import MakeHub
from tests.hub.support import connect_device, eventually, outbox_records, read_db

SMOKE = DeviceKind.SMOKE_ALARM
#: The smoke alarm's 600 s interval becomes 0.6 s.
SCALE = 0.6 / KINDS[SMOKE].supervision_s


async def test_a_silent_device_goes_offline_and_comes_back(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub(supervision_scale=SCALE, heartbeat_s=3600)
    offline: asyncio.Queue[BusEvent[DeviceEventFired]] = asyncio.Queue()
    hub.bus.subscribe(
        DeviceEventFired,
        lambda e: offline.put_nowait(e) if e.data.event.event is EventType.DEVICE_OFFLINE else None,
    )
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    hub.provision_device("smoke-2", SMOKE, "Never installed", "attic")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    await device.request(device.heartbeat(seq=41))

    raised = await asyncio.wait_for(offline.get(), 2.0)
    event = raised.data.event
    assert (event.device_id, event.active, event.seq) == ("smoke-1", True, 41)
    assert raised.data.origin is Origin.HUB
    assert event.data["silent_s"] >= 0.6
    assert parse_message(to_dict(event)) == event  # a valid interop event for the community
    (record,) = hub.devices()[:1]
    assert record.online is False and record.connected is True

    # Still silent: raised once, not on every check.
    await asyncio.sleep(0.5)
    assert offline.empty()

    assert (await device.request(device.heartbeat(seq=42)))["type"] == "ack"
    cleared = await asyncio.wait_for(offline.get(), 2.0)
    assert (cleared.data.event.active, cleared.data.event.seq) == (False, 41)
    assert cleared.context.parent_id is not None
    assert hub.devices()[0].online

    # Both went through the device-event path: event log and outbox (as alert trouble).
    db = hub.config.data_dir / "hub.db"
    logged = read_db(db, "SELECT event, active, origin, seq FROM event_log ORDER BY id")
    assert logged == [("device_offline", 1, "hub", 41), ("device_offline", 0, "hub", 41)]
    queued = [r for r in outbox_records(db) if isinstance(r.message, Event)]
    assert [(r.message.active, str(r.priority)) for r in queued] == [  # type: ignore[union-attr]
        (True, "alert"),
        (False, "alert"),
    ]
    assert len({r.key for r in queued}) == 2  # distinct idempotency keys, same device seq
    # A device never heard from is not flagged.
    assert all(r.device is not None and r.device.device_id == "smoke-1" for r in queued)


async def test_offline_verdict_survives_a_hub_restart_and_clears_on_hello(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub(supervision_scale=SCALE, heartbeat_s=3600)
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    await device.close()
    await eventually(lambda: not hub.devices()[0].online, what="offline")
    data_dir = hub.config.data_dir
    await hub.stop()

    again = await make_hub(supervision_scale=SCALE, heartbeat_s=3600, data_dir=data_dir)
    assert again.devices()[0].online is False
    await connect_device(session, again.http_port, token, "smoke-1", SMOKE)
    await eventually(lambda: again.devices()[0].online, what="cleared by the hello")
    logged = read_db(data_dir / "hub.db", "SELECT active FROM event_log ORDER BY id")
    assert logged == [(1,), (0,)]
