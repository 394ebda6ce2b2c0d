"""The native device link against a real hub: a real aiohttp server and real WebSockets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from devices.catalog import CommandName, DeviceKind, EventType
from devices.messages import Event, State
from hub import Hub
from hub.core import BusEvent
from hub.events import DeviceEventFired
from tests.hub.conftest import MakeHub
from tests.hub.support import (
    connect_device,
    eventually,
    outbox_records,
    read_db,
    snapshot,
)

SMOKE = DeviceKind.SMOKE_ALARM


def db_path(hub: Hub) -> Path:
    return hub.config.data_dir / "hub.db"


async def test_unknown_or_missing_token_is_refused_with_401(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    url = f"http://127.0.0.1:{hub.http_port}/api/device/ws"
    for headers in ({"Authorization": "Bearer not-a-token-at-all"}, {}, {"Authorization": "x"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url, headers=headers)
        assert refused.value.status == 401


async def test_hello_for_another_device_gets_wrong_device_and_is_closed(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    hub.provision_device("smoke-2", SMOKE, "Hall alarm", "hall")
    for device_id, kind in (("smoke-2", SMOKE), ("smoke-1", DeviceKind.GAS_DETECTOR)):
        device = await connect_device(session, hub.http_port, token, device_id, kind, hello=False)
        reply = await device.request(device.hello())
        assert reply["type"] == "error" and reply["code"] == "wrong_device"
        assert reply["ref"] == "hello"
        closing = await device.ws.receive(5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert not hub.devices()[0].connected


async def test_event_is_acked_only_after_its_outbox_row_is_on_disk(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    message = device.event("smoke_alarm", data={"value": 12.5})
    await device.send(message)
    reply = await device.recv()
    # The ack has arrived; look at the file through a separate connection right now.
    on_disk = outbox_records(db_path(hub))
    logged = read_db(db_path(hub), "SELECT seq, event, active, outbox_seq FROM event_log")
    assert reply == {"v": "1.0", "type": "ack", "ref": str(message["seq"]), "ok": True, "error": ""}
    assert len(on_disk) == 1
    record = on_disk[0]
    assert isinstance(record.message, Event)
    assert (record.message.event, record.message.seq) == (EventType.SMOKE_ALARM, message["seq"])
    assert record.priority == "critical" and record.device is not None
    assert (record.device.name, record.device.room) == ("Kitchen alarm", "kitchen")
    assert logged == [(message["seq"], "smoke_alarm", 1, record.seq)]


async def test_resent_event_is_acked_again_but_not_processed_again(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    fired: list[BusEvent[DeviceEventFired]] = []
    hub.bus.subscribe(DeviceEventFired, fired.append)
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    event = device.event("smoke_alarm")
    assert (await device.request(event))["type"] == "ack"
    later = device.heartbeat()
    assert (await device.request(later))["type"] == "ack"
    await device.close()
    # The device did not see the ack (say), reconnects and resends the same event.
    again = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE, seq=device.seq)
    for resent in (event, later):
        reply = await again.request(resent)
        assert reply["type"] == "ack" and reply["ref"] == str(resent["seq"])
    assert len(outbox_records(db_path(hub))) == 1
    assert read_db(db_path(hub), "SELECT count(*) FROM event_log") == [(1,)]
    assert len(fired) == 1


async def test_unseen_old_seq_is_a_sequence_regression(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    assert (await device.request(device.heartbeat(seq=10)))["type"] == "ack"
    before = snapshot(db_path(hub))
    reply = await device.request(device.event("smoke_alarm", seq=7))
    assert reply["type"] == "error" and reply["code"] == "sequence_regression"
    assert reply["ref"] == "7"
    assert snapshot(db_path(hub)) == before
    assert (await device.request(device.heartbeat(seq=11)))["type"] == "ack"


async def test_a_different_event_under_an_accepted_seq_is_refused_not_dropped(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    assert (await device.request(device.event("tamper", seq=3)))["type"] == "ack"
    assert (await device.request(device.heartbeat(seq=4)))["type"] == "ack"
    reused = await device.request(device.event("smoke_alarm", seq=3))
    assert (reused["type"], reused["code"], reused["ref"]) == ("error", "sequence_regression", "3")
    last_reused = await device.request(device.event("smoke_alarm", seq=4))
    assert (last_reused["type"], last_reused["code"]) == ("error", "sequence_regression")
    assert read_db(db_path(hub), "SELECT event FROM event_log") == [("tamper",)]


async def test_bad_messages_get_error_replies_and_the_hub_keeps_serving(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    other_token = hub.provision_device("leak-1", DeviceKind.WATER_LEAK, "Sink", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    other = await connect_device(
        session, hub.http_port, other_token, "leak-1", DeviceKind.WATER_LEAK
    )
    before = snapshot(db_path(hub))

    unknown_kind = device.event("smoke_alarm", seq=5) | {"kind": "toaster"}
    too_large = device.event("smoke_alarm", seq=6) | {"pad": "x" * 20_000}
    wrong_event = device.event("gas_alarm", seq=8)
    cases = [
        ("{not json", "malformed", ""),
        (json.dumps(unknown_kind), "unknown_kind", "5"),
        (json.dumps(too_large), "too_large", "6"),
        (json.dumps(wrong_event), "unknown_event", "8"),
        (json.dumps(device.heartbeat(seq=9) | {"device_id": "leak-1"}), "wrong_device", "9"),
        (json.dumps({"v": "1.0", "type": "command"}), "bad_field", ""),
    ]
    for frame, code, ref in cases:
        reply = await device.request(frame)
        assert (reply["type"], reply["code"], reply["ref"]) == ("error", code, ref), reply
    await device.ws.send_bytes(b"\x00\x01binary")
    reply = await device.recv()
    assert (reply["type"], reply["code"]) == ("error", "malformed")
    assert snapshot(db_path(hub)) == before

    # The other device was never disturbed, and this one still works.
    assert (await other.request(other.event("water_leak")))["type"] == "ack"
    assert (await device.request(device.heartbeat(seq=10)))["type"] == "ack"


async def test_twenty_errors_in_a_row_close_the_link(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    for _ in range(19):
        assert (await device.request("[]"))["code"] == "malformed"
    assert (await device.request(device.heartbeat()))["type"] == "ack"  # resets the count
    for _ in range(20):
        assert (await device.request("[]"))["code"] == "malformed"
    closing = await device.ws.receive(5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_a_newer_link_replaces_the_older_one(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    old = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    new = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    closing = await old.ws.receive(5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert old.ws.close_code == 4000

    async def reply_to_command() -> None:
        command = await new.recv()
        assert command["type"] == "command" and command["command"] == "self_test"
        await new.send({"v": "1.0", "type": "ack", "ref": command["command_id"], "ok": True})

    responder = asyncio.create_task(reply_to_command())
    ack = await hub.send_command("smoke-1", CommandName.SELF_TEST)
    await responder
    assert ack.ok
    assert [d.connected for d in hub.devices()] == [True]


async def test_state_is_uplinked_only_when_a_field_changes_and_heartbeats_never(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    await device.request(device.state({"battery_pct": 90, "smoke_state": "normal"}))
    await device.request(device.state({"battery_pct": 90, "smoke_state": "normal"}))
    await device.request(device.state({"battery_pct": 89, "smoke_state": "normal"}))
    await device.request(device.heartbeat())
    states = [r.message for r in outbox_records(db_path(hub)) if isinstance(r.message, State)]
    assert [s.state for s in states] == [
        {"battery_pct": 90, "smoke_state": "normal"},
        {"battery_pct": 89},
    ]
    (record,) = hub.devices()
    assert record.state == {"battery_pct": 89, "smoke_state": "normal"}
    assert record.online and record.connected and record.last_seen is not None
    assert read_db(db_path(hub), "SELECT last_seq, online FROM states") == [(device.seq, 1)]


async def test_commands_report_timeouts_and_absent_devices(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    hub.provision_device("gas-1", DeviceKind.GAS_DETECTOR, "Stove", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    silent = await hub.send_command("smoke-1", CommandName.SILENCE, wait_s=0.3)
    assert (silent.ok, silent.error) == (False, "timeout")
    command = await device.recv()
    assert command["command"] == "silence" and command["device_id"] == "smoke-1"
    absent = await hub.send_command("gas-1", CommandName.CLOSE_VALVE)
    assert (absent.ok, absent.error) == (False, "not_connected")
    with pytest.raises(ValueError):
        await hub.send_command("smoke-1", CommandName.CLOSE_VALVE)
    with pytest.raises(ValueError):
        await hub.send_command("smoke-1", CommandName.INTERCONNECT_START, {"source_device": ""})
    with pytest.raises(ValueError):
        await hub.send_command("nobody", CommandName.SELF_TEST)


async def test_reprovisioning_rotates_the_token_and_drops_the_old_link(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    hub = await make_hub()
    first = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, first, "smoke-1", SMOKE)
    second = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    assert second != first
    closing = await device.ws.receive(5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await connect_device(session, hub.http_port, first, "smoke-1", SMOKE)
    await connect_device(session, hub.http_port, second, "smoke-1", SMOKE)
    await eventually(lambda: hub.devices()[0].connected, what="new link registered")
    stored = read_db(db_path(hub), "SELECT token_hash FROM devices")
    assert stored and all(first not in row[0] and second not in row[0] for row in stored)


async def test_an_alarm_the_full_outbox_refuses_is_not_acknowledged(
    make_hub: MakeHub, session: aiohttp.ClientSession
) -> None:
    """With the uplink down and the outbox full of alarms, the device keeps the next one."""
    hub = await make_hub(outbox_limit=2)
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen alarm", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", SMOKE)
    raised = device.event("smoke_alarm")
    assert (await device.request(raised))["type"] == "ack"
    cleared = device.event("smoke_alarm", active=False)
    assert (await device.request(cleared))["type"] == "ack"
    before = snapshot(db_path(hub))
    refused = device.event("smoke_alarm")
    await device.send(refused)
    closing = await device.ws.receive(5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert snapshot(db_path(hub))["event_log"] == before["event_log"]
    assert hub.outbox_pending() == 2
