"""Persistent sessions: offline queueing, redelivery, takeover, queue bound."""

from __future__ import annotations

import asyncio
import logging

import pytest
from broker_testkit import PahoClient, RawClient, eventually, publish_packet, running_broker


async def test_offline_queue_delivered_exactly_once_in_order_on_reconnect() -> None:
    count = 1000
    async with running_broker() as broker:
        sub = PahoClient(broker.port, "persistent-sub", username="community", clean_session=False)
        flags, _ = await sub.connect()
        assert not flags.session_present
        await sub.subscribe("alarms/#", 1)
        await sub.disconnect()
        await eventually(lambda: broker.stats()["clients_connected"] == 0)

        pub = PahoClient(broker.port, "pub", username="alice")
        await pub.connect()
        payloads = [str(index).encode() for index in range(count)]
        await pub.publish_many("alarms/smoke", payloads)
        await pub.publish("alarms/smoke", b"qos0-while-offline", qos=0)
        await eventually(lambda: broker.stats()["messages_dropped_offline_qos0"] == 1)
        assert broker.stats()["messages_queued"] == count

        again = PahoClient(broker.port, "persistent-sub", username="community", clean_session=False)
        flags, _ = await again.connect()
        assert flags.session_present
        await again.wait_messages(count)
        await asyncio.sleep(0.2)
        received = again.messages
        assert [m.payload for m in received] == payloads
        assert not any(m.dup for m in received)
        assert broker.stats()["messages_dropped_queue_full"] == 0

        # Live traffic flows on the resumed subscription without resubscribing.
        await pub.publish("alarms/co", b"live", qos=1)
        await eventually(lambda: len(again.messages) == count + 1)
        await again.disconnect()
        await pub.disconnect()


async def test_clean_session_discards_state() -> None:
    async with running_broker() as broker:
        sub = PahoClient(broker.port, "cleaner", clean_session=False)
        await sub.connect()
        await sub.subscribe("x/#", 1)
        await sub.disconnect()
        fresh = PahoClient(broker.port, "cleaner", clean_session=True)
        flags, _ = await fresh.connect()
        assert not flags.session_present
        await fresh.disconnect()
        await eventually(lambda: broker.stats()["sessions"] == 0)
        assert broker.stats()["subscriptions"] == 0


async def test_unacked_inflight_is_redelivered_with_dup_after_socket_loss() -> None:
    window, total = 100, 150
    async with running_broker(max_inflight=window) as broker:
        sub = PahoClient(
            broker.port, "slow-hub", username="community", clean_session=False, manual_ack=True
        )
        await sub.connect()
        await sub.subscribe("cmd/#", 1)
        pub = PahoClient(broker.port, "cmd-pub", username="bob")
        await pub.connect()
        payloads = [f"m{index}".encode() for index in range(total)]
        await pub.publish_many("cmd/go", payloads)

        first = await sub.wait_messages(window)
        await asyncio.sleep(0.2)
        # Never acknowledged: the window is full and the rest waits in the queue.
        assert [m.payload for m in sub.messages] == payloads[:window]
        assert not any(m.dup for m in first)
        stats = broker.stats()
        assert (stats["messages_inflight"], stats["messages_queued"]) == (window, total - window)

        await sub.kill()
        await eventually(lambda: broker.stats()["clients_connected"] == 1)

        again = PahoClient(broker.port, "slow-hub", username="community", clean_session=False)
        flags, _ = await again.connect()
        assert flags.session_present
        await again.wait_messages(total)
        await asyncio.sleep(0.2)
        received = again.messages
        assert [m.payload for m in received] == payloads  # same order, nothing twice
        assert [m.dup for m in received] == [True] * window + [False] * (total - window)
        assert broker.stats()["messages_redelivered"] == window
        await eventually(lambda: broker.stats()["messages_inflight"] == 0)
        await again.disconnect()
        await pub.disconnect()


async def test_second_connect_takes_over_and_publishes_old_will() -> None:
    async with running_broker() as broker:
        watcher = await RawClient.connected(broker.port, "watcher", username="community")
        assert await watcher.subscribe([("wills/#", 1), ("data", 1)]) == [1, 1]
        old = await RawClient.connected(
            broker.port, "hub-7", clean=False, will=("wills/hub-7", b"gone", 1, False)
        )
        assert await old.subscribe([("data", 1)]) == [1]

        new = await RawClient.open(broker.port)
        present, code = await new.connect("hub-7", clean=False)
        assert (present, code) == (True, 0)
        assert await old.is_closed_by_broker()
        will = await watcher.read_publish()
        assert (will.topic, will.payload, will.qos) == ("wills/hub-7", b"gone", 1)

        # The subscription moved to the new connection.
        watcher.send(publish_packet("data", b"d", qos=0))
        assert (await watcher.read_publish()).payload == b"d"
        assert (await new.read_publish()).payload == b"d"
        await new.disconnect()
        await watcher.disconnect()
        assert broker.stats()["wills_published"] == 1


async def test_queue_bound_keeps_newest_and_counts_drops(caplog: pytest.LogCaptureFixture) -> None:
    async with running_broker(session_queue_limit=50) as broker:
        sub = PahoClient(broker.port, "bounded", clean_session=False)
        await sub.connect()
        await sub.subscribe("burst", 1)
        await sub.disconnect()
        pub = PahoClient(broker.port, "burster", username="bob")
        await pub.connect()
        payloads = [str(index).encode() for index in range(80)]
        with caplog.at_level(logging.WARNING, logger="courtyard.broker"):
            await pub.publish_many("burst", payloads)
        assert broker.stats()["messages_dropped_queue_full"] == 30
        assert any("queue full" in r.getMessage() for r in caplog.records)

        again = PahoClient(broker.port, "bounded", clean_session=False)
        await again.connect()
        await again.wait_messages(50)
        await asyncio.sleep(0.1)
        assert [m.payload for m in again.messages] == payloads[30:]
        await again.disconnect()
        await pub.disconnect()
