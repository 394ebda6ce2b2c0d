"""End-to-end delivery with real paho-mqtt clients."""

from __future__ import annotations

import asyncio

from broker_testkit import (
    PahoClient,
    RawClient,
    ack_packet,
    eventually,
    publish_packet,
    running_broker,
)


async def test_qos1_5000_messages_no_loss_no_duplicates() -> None:
    count = 5000
    async with running_broker() as broker:
        sub = PahoClient(broker.port, "sub-5000", username="community")
        pub = PahoClient(broker.port, "pub-5000", username="alice")
        _, reason = await sub.connect()
        assert not reason.is_failure
        assert await sub.subscribe("load/+", 1) == [1]
        await pub.connect()
        payloads = [f"{index:05d}".encode() for index in range(count)]
        await pub.publish_many("load/test", payloads)
        received = await sub.wait_messages(count, timeout=30)
        await asyncio.sleep(0.2)  # give any duplicate a chance to show up
        received = sub.messages
        assert len(received) == count
        assert [m.payload for m in received] == payloads  # exactly once, in order
        assert all(m.qos == 1 and not m.dup for m in received)
        await eventually(lambda: broker.stats()["messages_inflight"] == 0)
        stats = broker.stats()
        assert stats["messages_received"] == count
        assert stats["messages_delivered"] == count
        assert stats["messages_dropped"] == 0
        await pub.disconnect()
        await sub.disconnect()


async def test_wildcards_overlap_and_dollar_topics() -> None:
    async with running_broker() as broker:
        sub = PahoClient(broker.port, "wild-sub")
        await sub.connect()
        assert await sub.subscribe("home/+/temp", 0) == [0]
        assert await sub.subscribe("home/#", 1) == [1]
        dollar = PahoClient(broker.port, "dollar-sub")
        await dollar.connect()
        assert await dollar.subscribe("$SYS/#", 1) == [1]
        pub = PahoClient(broker.port, "wild-pub", username="bob")
        await pub.connect()

        await pub.publish("home/kitchen/temp", b"21", qos=1)  # matches both filters
        await pub.publish("home", b"root", qos=0)  # "#" also matches the parent level
        await pub.publish("garden/temp", b"nope", qos=1)  # matches neither
        await pub.publish("$SYS/uptime", b"1", qos=1)  # only the explicit $SYS filter
        received = await sub.wait_messages(2)
        await dollar.wait_messages(1)
        await asyncio.sleep(0.1)
        received = sub.messages
        assert [(m.topic, m.payload, m.qos) for m in received] == [
            ("home/kitchen/temp", b"21", 1),  # once, at the higher QoS
            ("home", b"root", 0),
        ]
        assert [(m.topic, m.payload) for m in dollar.messages] == [("$SYS/uptime", b"1")]

        await sub.unsubscribe("home/#")
        await pub.publish("home/hall/light", b"on", qos=1)
        await pub.publish("home/hall/temp", b"19", qos=1)
        await eventually(lambda: len(sub.messages) == 3)
        assert sub.messages[-1].payload == b"19"
        for client in (sub, dollar, pub):
            await client.disconnect()


async def test_retained_messages() -> None:
    async with running_broker() as broker:
        live = PahoClient(broker.port, "live")
        await live.connect()
        await live.subscribe("status/#", 1)
        pub = PahoClient(broker.port, "ret-pub", username="bob")
        await pub.connect()
        await pub.publish("status/hub-1", b"online", qos=1, retain=True)
        await pub.publish("status/hub-2", b"online", qos=0, retain=True)
        await pub.publish("status/hub-3", b"gone", qos=1, retain=True)
        await pub.publish("status/hub-3", b"", qos=1, retain=True)  # deletes
        received = await live.wait_messages(4)
        # Forwarded to an established subscription: retain flag cleared.
        assert [m.retain for m in received] == [False] * 4
        assert broker.stats()["retained_messages"] == 2

        late = PahoClient(broker.port, "late")
        await late.connect()
        await late.subscribe("status/+", 1)
        replay = await late.wait_messages(2)
        await asyncio.sleep(0.1)
        assert sorted((m.topic, m.payload, m.qos, m.retain) for m in late.messages) == [
            ("status/hub-1", b"online", 1, True),
            ("status/hub-2", b"online", 0, True),
        ]
        assert len(replay) == 2
        for client in (live, pub, late):
            await client.disconnect()


async def test_qos2_from_client_is_completed_and_delivered_once_at_qos1() -> None:
    async with running_broker() as broker:
        sub = PahoClient(broker.port, "q2-sub")
        await sub.connect()
        assert await sub.subscribe("q2/#", 2) == [1]  # granted QoS is capped at 1
        pub = PahoClient(broker.port, "q2-pub", username="bob")
        await pub.connect()
        await pub.publish("q2/a", b"exactly", qos=2)  # waits for PUBCOMP
        (message,) = await sub.wait_messages(1)
        assert (message.payload, message.qos) == (b"exactly", 1)

        # A raw client retransmits the QoS 2 PUBLISH before PUBREL: one delivery.
        raw = await RawClient.connected(broker.port, "q2-raw", username="bob")
        for dup in (False, True, True):
            raw.send(publish_packet("q2/b", b"once", qos=2, packet_id=42, dup=dup))
            assert await raw.read_packet() == (0x50, b"\x00\x2a")  # PUBREC
        raw.send(ack_packet(0x62, 42))
        assert await raw.read_packet() == (0x70, b"\x00\x2a")  # PUBCOMP
        # The identifier is free again: a new message with it is delivered.
        raw.send(publish_packet("q2/b", b"again", qos=2, packet_id=42))
        assert await raw.read_packet() == (0x50, b"\x00\x2a")
        await sub.wait_messages(3)
        await asyncio.sleep(0.1)
        assert [m.payload for m in sub.messages] == [b"exactly", b"once", b"again"]
        await raw.disconnect()
        await sub.disconnect()
        await pub.disconnect()


async def test_qos0_round_trip_and_ping() -> None:
    async with running_broker() as broker:
        sub = await RawClient.connected(broker.port, "raw-sub")
        assert await sub.subscribe([("q0/t", 0)]) == [0]
        sub.send(publish_packet("q0/t", b"hello"))
        message = await sub.read_publish()
        assert (message.topic, message.payload, message.qos, message.retain) == (
            "q0/t",
            b"hello",
            0,
            False,
        )
        await sub.ping()
        await sub.disconnect()
