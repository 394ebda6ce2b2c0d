"""Authentication and topic ACLs against real clients."""

from __future__ import annotations

import asyncio

import paho.mqtt.client as mqtt
from broker_testkit import PahoClient, RawClient, connect_packet, running_broker

from courtyard.broker import PatternAcl


class ExplodingAuthenticator:
    def authenticate(self, client_id: str, username: str | None, password: bytes | None) -> bool:
        raise RuntimeError("backend down")


async def test_authentication_success_and_failures() -> None:
    async with running_broker() as broker:
        good = PahoClient(broker.port, "good", username="alice")
        _, reason = await good.connect()
        assert not reason.is_failure

        wrong = PahoClient(broker.port, "wrong", username="alice", password="guess")
        _, reason = await wrong.connect()
        assert reason.getName() == "Bad user name or password"  # CONNACK 4

        unknown = PahoClient(broker.port, "unknown", username="mallory", password="x")
        _, reason = await unknown.connect()
        assert reason.getName() == "Bad user name or password"

        anonymous = PahoClient(broker.port, "anon", username=None)
        _, reason = await anonymous.connect()
        assert reason.getName() == "Not authorized"  # CONNACK 5

        for client in (good, wrong, unknown, anonymous):
            await client.disconnect()
        assert broker.stats()["connections_refused"] == 3


async def test_allow_anonymous_still_checks_supplied_credentials() -> None:
    async with running_broker(allow_anonymous=True) as broker:
        raw = await RawClient.open(broker.port)
        assert await raw.connect("anon", username=None) == (False, 0)
        await raw.disconnect()
        raw = await RawClient.open(broker.port)
        assert await raw.connect("liar", username="alice", password=b"nope") == (False, 4)
        assert await raw.is_closed_by_broker()


async def test_authenticator_exception_refuses() -> None:
    async with running_broker(authenticator=ExplodingAuthenticator()) as broker:
        raw = await RawClient.open(broker.port)
        assert await raw.connect("c") == (False, 5)
        assert await raw.is_closed_by_broker()


async def test_client_id_and_protocol_level_rules() -> None:
    async with running_broker() as broker:
        raw = await RawClient.open(broker.port)
        assert await raw.connect("", clean=False) == (False, 2)
        raw = await RawClient.open(broker.port)
        assert await raw.connect("", clean=True) == (False, 0)  # broker assigns an id
        await raw.disconnect()
        raw = await RawClient.open(broker.port)
        assert await raw.connect("v5", protocol=("MQTT", 5)) == (False, 1)
        assert await raw.is_closed_by_broker()
        legacy = PahoClient(broker.port, "legacy", protocol=mqtt.MQTTv31)
        _, reason = await legacy.connect()
        assert not reason.is_failure
        await legacy.disconnect()


HUB_ACL = PatternAcl(
    [
        "pattern readwrite courtyard/v1/hub/%u/#",
        "user community",
        "topic read courtyard/v1/hub/+/alarm",
    ]
)


async def test_acl_denies_subscribe_and_drops_denied_publish() -> None:
    async with running_broker(acl=HUB_ACL) as broker:
        community = PahoClient(broker.port, "community", username="community")
        await community.connect()
        assert await community.subscribe("courtyard/v1/hub/+/alarm", 1) == [1]
        assert await community.subscribe("courtyard/#", 1) == [0x80]

        alice = PahoClient(broker.port, "alice-hub", username="alice")
        await alice.connect()
        assert await alice.subscribe("courtyard/v1/hub/bob/#", 1) == [0x80]
        assert await alice.subscribe("courtyard/v1/hub/alice/cmd", 1) == [1]

        # Denied publish is still acknowledged (publish() waits for the PUBACK) ...
        await alice.publish("courtyard/v1/hub/bob/alarm", b"forged", qos=1)
        # ... but never delivered; the allowed one is.
        await alice.publish("courtyard/v1/hub/alice/alarm", b"fire", qos=1)
        await community.wait_messages(1)
        await asyncio.sleep(0.1)
        assert [(m.topic, m.payload) for m in community.messages] == [
            ("courtyard/v1/hub/alice/alarm", b"fire")
        ]
        stats = broker.stats()
        assert stats["publishes_denied"] == 1
        assert stats["subscriptions_denied"] == 2
        await alice.disconnect()
        await community.disconnect()


async def test_will_on_forbidden_topic_refuses_connect() -> None:
    async with running_broker(acl=HUB_ACL) as broker:
        raw = await RawClient.open(broker.port)
        raw.send(connect_packet("alice-hub", will=("courtyard/v1/hub/bob/alarm", b"x", 1, False)))
        assert await raw.read_packet() == (0x20, b"\x00\x05")
        assert await raw.is_closed_by_broker()
