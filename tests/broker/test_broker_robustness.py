"""Hostile and broken clients must only ever hurt themselves."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import random
import ssl
from pathlib import Path

import pytest
from broker_testkit import (
    PahoClient,
    RawClient,
    assert_broker_healthy,
    connect_packet,
    eventually,
    frame,
    mqtt_str,
    publish_packet,
    running_broker,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courtyard.broker import AllowAllAcl, Broker, PasswordAuthenticator

PROBE = "bystander/probe-7f3a9c"


async def bystander(port: int) -> RawClient:
    client = await RawClient.connected(port, "bystander", username="community")
    assert await client.subscribe([(PROBE, 1)]) == [1]
    return client


async def assert_bystander_receives(client: RawClient, port: int, payload: bytes) -> None:
    publisher = await RawClient.connected(port, "probe-pub", username="bob")
    publisher.send(publish_packet(PROBE, payload, qos=1, packet_id=3))
    assert await publisher.read_packet() == (0x40, b"\x00\x03")
    await publisher.disconnect()
    while True:  # garbage may have produced stray packets; find ours
        message = await client.read_publish()
        if message.topic == PROBE and message.payload == payload:
            return


async def test_oversized_packet_closes_only_that_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_broker(max_packet_size=1024) as broker:
        watcher = await bystander(broker.port)
        big = await RawClient.connected(broker.port, "big")
        with caplog.at_level(logging.WARNING, logger="courtyard.broker"):
            big.send(publish_packet(PROBE, b"x" * 2000, qos=1))
            assert await big.is_closed_by_broker()
        assert any("exceeds limit" in r.getMessage() for r in caplog.records)

        # Announcing a huge packet is refused at once, without waiting for the body.
        liar = await RawClient.connected(broker.port, "liar")
        liar.send(b"\x30\xff\xff\xff\x7f")
        assert await liar.is_closed_by_broker(timeout=1)

        await assert_bystander_receives(watcher, broker.port, b"still here")
        assert broker.stats()["protocol_errors"] == 2
        await watcher.disconnect()


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x30\xff\xff\xff\xff\x01",  # five remaining-length bytes
        b"\x00\x00",  # reserved packet type
        connect_packet("again"),  # second CONNECT
        frame(0x82, b"\x00\x01"),  # SUBSCRIBE without filters
        frame(0x30, b"\x00\x05ab"),  # truncated topic
        frame(0x30, mqtt_str("a/#") + b"x"),  # wildcard topic name
    ],
)
async def test_malformed_packets_close_connection(garbage: bytes) -> None:
    async with running_broker() as broker:
        watcher = await bystander(broker.port)
        will = ("bystander/will", b"w", 0, False)
        bad = await RawClient.connected(broker.port, "bad", will=will)
        bad.send(garbage)
        assert await bad.is_closed_by_broker()
        await assert_bystander_receives(watcher, broker.port, b"ok")
        assert broker.stats()["protocol_errors"] == 1
        assert broker.stats()["wills_published"] == 1  # protocol error is an unclean end
        await watcher.disconnect()


async def test_garbage_instead_of_connect_and_connect_timeout() -> None:
    async with running_broker(connect_timeout=0.5) as broker:
        junk = await RawClient.open(broker.port)
        junk.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await junk.is_closed_by_broker()
        idle = await RawClient.open(broker.port)
        assert await idle.is_closed_by_broker(timeout=2)
        await assert_broker_healthy(broker.port)


VALID_PACKETS = [
    publish_packet("fuzz/a", b"payload", qos=1, packet_id=5),
    publish_packet("fuzz/b", b"", qos=2, packet_id=6, retain=True),
    publish_packet(PROBE, b"not-the-probe-payload", qos=0),
    frame(0x82, b"\x00\x09" + mqtt_str("fuzz/#") + b"\x01"),
    frame(0xA2, b"\x00\x0a" + mqtt_str("fuzz/#")),
    b"\x40\x02\x00\x01",  # PUBACK
    b"\x62\x02\x00\x06",  # PUBREL
    b"\xc0\x00",  # PINGREQ
]


@st.composite
def mutated_packets(draw: st.DrawFn) -> bytes:
    """Valid packets with a few bytes overwritten and maybe truncated: reaches
    deeper into the decoder than uniformly random bytes do."""
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(VALID_PACKETS), min_size=1))))
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    garbage=st.one_of(st.binary(min_size=1, max_size=400), mutated_packets()),
    close_abruptly=st.booleans(),
)
async def test_random_bytes_after_connect_never_hurt_other_clients(
    garbage: bytes, close_abruptly: bool
) -> None:
    async with running_broker(max_packet_size=2048) as broker:
        watcher = await bystander(broker.port)
        fuzz = await RawClient.connected(broker.port, "fuzz", keepalive=0)
        fuzz.send(garbage)
        await fuzz.writer.drain()
        await asyncio.sleep(0.005)
        if close_abruptly:
            fuzz.writer.transport.abort()
        else:
            fuzz.close()
        await assert_bystander_receives(watcher, broker.port, b"alive")
        await assert_broker_healthy(broker.port)
        await watcher.disconnect()


async def test_many_hostile_connections_at_once() -> None:
    rng = random.Random(1234)
    async with running_broker(max_packet_size=4096) as broker:
        watcher = await bystander(broker.port)

        async def attacker(index: int) -> None:
            client = await RawClient.open(broker.port)
            if index % 2:
                await client.connect(f"attacker-{index}")
            for _ in range(rng.randint(1, 5)):
                client.send(rng.randbytes(rng.randint(1, 600)))
                await asyncio.sleep(0)
            client.writer.transport.abort()

        await asyncio.gather(*(attacker(index) for index in range(100)))
        await assert_bystander_receives(watcher, broker.port, b"survived")
        await assert_broker_healthy(broker.port)
        await eventually(lambda: broker.stats()["clients_connected"] == 1)
        await watcher.disconnect()


async def test_stop_closes_clients_without_wills() -> None:
    broker = Broker(authenticator=PasswordAuthenticator({"alice": "pw"}), acl=AllowAllAcl())
    with pytest.raises(RuntimeError):
        _ = broker.port
    await broker.start()
    port = broker.port
    assert port > 0
    first = await RawClient.connected(
        port, "a", username="alice", password=b"pw", will=("w", b"x", 0, False)
    )
    second = await RawClient.connected(port, "b", username="alice", password=b"pw")
    await broker.stop()
    assert await first.is_closed_by_broker()
    assert await second.is_closed_by_broker()
    stats = broker.stats()
    assert stats["wills_published"] == 0
    assert stats["clients_connected"] == 0
    assert not broker.running
    await broker.stop()  # idempotent


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with running_broker(ssl=context) as broker:
        client = PahoClient(broker.port, "tls-client")
        client.client.tls_set(ca_certs=str(cert))
        _, reason = await client.connect()
        assert not reason.is_failure
        await client.subscribe("tls/t", 1)
        await client.publish("tls/t", b"secret", qos=1)
        (message,) = await client.wait_messages(1)
        assert message.payload == b"secret"
        await client.disconnect()
