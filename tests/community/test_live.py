"""The live WebSocket: a snapshot on connect, then every change right after its commit."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiohttp
import pytest

from devices.catalog import EventType
from devices.uplink import topic_status
from tests.community.support import Community, SigningHub


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped)."""
    while True:
        message: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), timeout=10)
        if message["type"] == kind:
            return message


def _stored(community: Community, alarm_id: int) -> sqlite3.Row:
    [row] = community.rows("SELECT * FROM alarms WHERE id = ?", (alarm_id,))
    return row


async def test_snapshot_then_pushes_that_follow_the_commit(community: Community) -> None:
    hub = SigningHub("hub-w")
    peer = community.enroll(hub, "home-7")
    community.send(peer, hub, hub.event("smoke-old", EventType.SMOKE_ALARM)[1])
    community.wait_stats(stored=1)
    headers = {"Authorization": f"Bearer {community.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{community.url}/api/ws", headers=headers) as ws,
    ):
        snapshot = await _next(ws, "snapshot")
        assert [a["device_id"] for a in snapshot["alarms"]] == ["smoke-old"]
        assert [h["hub_id"] for h in snapshot["hubs"]] == ["hub-w"]
        assert snapshot["server_time"].endswith("Z")

        community.send(peer, hub, hub.event("gas-2", EventType.GAS_ALARM, room="Kitchen")[1])
        pushed = (await _next(ws, "alarm"))["alarm"]
        assert (pushed["device_id"], pushed["kind"], pushed["count"]) == ("gas-2", "gas_alarm", 1)
        assert pushed["severity"] == "critical" and pushed["room"] == "Kitchen"
        row = _stored(community, pushed["id"])  # already committed when the push arrives
        assert (row["status"], row["count"], row["key"]) == ("active", 1, pushed["key"])

        community.send(peer, hub, hub.event("gas-2", EventType.GAS_ALARM)[1])
        repeat = (await _next(ws, "alarm"))["alarm"]
        assert repeat["id"] == pushed["id"] and repeat["count"] == 2
        assert _stored(community, pushed["id"])["count"] == 2

        status, _ = community.http("POST", f"/api/alarms/{pushed['id']}/ack", b'{"by":"Zhao"}')
        assert status == 200
        acked = (await _next(ws, "alarm"))["alarm"]
        assert acked["acknowledged"] is True and acked["acked_by"] == "Zhao"

        community.send(peer, hub, hub.event("gas-2", EventType.GAS_ALARM, active=False)[1])
        cleared = (await _next(ws, "alarm"))["alarm"]
        assert cleared["status"] == "cleared" and cleared["cleared_by"] == "device"

        peer.publish(topic_status("hub-w"), b'{"status":"offline"}', retain=True)
        hub_msg = (await _next(ws, "hub"))["hub"]
        assert (hub_msg["hub_id"], hub_msg["status"]) == ("hub-w", "offline")

    # A new connection's snapshot leaves out what is fully handled (cleared and acknowledged).
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{community.url}/api/ws", headers=headers) as ws,
    ):
        snapshot = await _next(ws, "snapshot")
        assert [a["device_id"] for a in snapshot["alarms"]] == ["smoke-old"]
        assert snapshot["hubs"][0]["status"] == "offline"


async def test_every_open_screen_gets_the_push(community: Community) -> None:
    hub = SigningHub("hub-m")
    peer = community.enroll(hub)
    headers = {"Authorization": f"Bearer {community.token}"}
    async with aiohttp.ClientSession() as session:
        screens = [
            await session.ws_connect(f"{community.url}/api/ws", headers=headers) for _ in range(3)
        ]
        for ws in screens:
            assert (await _next(ws, "snapshot"))["alarms"] == []
        community.send(peer, hub, hub.event("btn-1", EventType.EMERGENCY_CALL)[1])
        for ws in screens:
            assert (await _next(ws, "alarm"))["alarm"]["kind"] == "emergency_call"
            await ws.close()


async def test_cross_origin_websocket_with_cookie_is_refused(community: Community) -> None:
    cookie = {"Cookie": f"courtyard_manager={community.token}"}
    async with aiohttp.ClientSession() as session:
        evil = {**cookie, "Origin": "http://evil.example"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{community.url}/api/ws", headers=evil)
        assert refused.value.status == 403
        same = {**cookie, "Origin": community.url}
        async with session.ws_connect(f"{community.url}/api/ws", headers=same) as ws:
            assert (await _next(ws, "snapshot"))["type"] == "snapshot"
