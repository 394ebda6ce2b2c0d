"""Last will and keepalive."""

from __future__ import annotations

import asyncio
import time

from broker_testkit import PahoClient, RawClient, eventually, running_broker


async def test_will_published_on_abrupt_close_not_on_disconnect() -> None:
    async with running_broker() as broker:
        watcher = PahoClient(broker.port, "will-watcher", username="community")
        await watcher.connect()
        await watcher.subscribe("hub/+/status", 1)

        polite = PahoClient(broker.port, "polite-hub")
        polite.client.will_set("hub/polite/status", b"lost", qos=1)
        await polite.connect()
        await polite.disconnect()

        crashed = PahoClient(broker.port, "crashed-hub")
        crashed.client.will_set("hub/crashed/status", b"lost", qos=1)
        await crashed.connect()
        await crashed.kill()

        await watcher.wait_messages(1)
        await asyncio.sleep(0.2)
        assert [(m.topic, m.payload, m.qos) for m in watcher.messages] == [
            ("hub/crashed/status", b"lost", 1)
        ]
        assert broker.stats()["wills_published"] == 1
        await watcher.disconnect()


async def test_retained_will() -> None:
    async with running_broker() as broker:
        hub = PahoClient(broker.port, "retaining-hub")
        hub.client.will_set("hub/r/status", b"offline", qos=1, retain=True)
        await hub.connect()
        await hub.kill()
        await eventually(lambda: broker.stats()["retained_messages"] == 1)
        late = PahoClient(broker.port, "late-watcher", username="community")
        await late.connect()
        await late.subscribe("hub/+/status", 1)
        (message,) = await late.wait_messages(1)
        assert (message.payload, message.retain, message.qos) == (b"offline", True, 1)
        await late.disconnect()


async def test_keepalive_timeout_closes_and_publishes_will() -> None:
    async with running_broker() as broker:
        watcher = await RawClient.connected(broker.port, "ka-watcher", username="community")
        await watcher.subscribe([("ka/#", 0)])
        silent = await RawClient.connected(
            broker.port, "silent", keepalive=1, will=("ka/silent", b"timeout", 0, False)
        )
        started = time.monotonic()
        assert await silent.is_closed_by_broker(timeout=4)
        elapsed = time.monotonic() - started
        assert 1.3 <= elapsed <= 3.5, elapsed  # 1.5 x keepalive
        message = await watcher.read_publish()
        assert (message.topic, message.payload) == ("ka/silent", b"timeout")
        assert broker.stats()["keepalive_timeouts"] == 1
        await watcher.disconnect()


async def test_pingreq_keeps_connection_alive() -> None:
    async with running_broker() as broker:
        client = await RawClient.connected(broker.port, "pinger", keepalive=1)
        for _ in range(5):
            await asyncio.sleep(0.5)
            await client.ping()
        assert broker.stats()["keepalive_timeouts"] == 0
        await client.disconnect()
