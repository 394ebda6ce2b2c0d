"""Ingest over a real Mosquitto: alarms from signed records, exactly-once storage, rejections."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from devices.catalog import EventType
from devices.uplink import encode_record, topic_ack, topic_status, topic_up
from privacy.envelope import seal
from tests.community.conftest import CommunityFactory
from tests.community.support import Community, SigningHub, wait_until


def _alarm_rows(community: Community) -> list[sqlite3.Row]:
    return community.rows("SELECT * FROM alarms ORDER BY id")


def _table_counts(community: Community) -> dict[str, int]:
    tables = ("received", "events", "alarms", "alarm_history")
    return {t: community.count(t) for t in tables}


def test_alarm_is_raised_repeated_and_cleared_by_the_device(community: Community) -> None:
    hub = SigningHub("hub-a")
    peer = community.enroll(hub, "home-101", building="3", unit="502")
    seq, payload = hub.event("smoke-1", EventType.SMOKE_ALARM, room="Kitchen")
    community.send(peer, hub, payload)
    assert peer.acked() == [seq]

    [alarm] = community.server.alarms()
    assert alarm["kind"] == "smoke_alarm"
    assert alarm["severity"] == "critical"
    assert alarm["status"] == "active"
    assert alarm["acknowledged"] is False
    assert alarm["count"] == 1
    assert (alarm["home_id"], alarm["building"], alarm["unit"]) == ("home-101", "3", "502")
    assert (alarm["device_id"], alarm["room"]) == ("smoke-1", "Kitchen")
    assert alarm["key"] == f"hub-a:{seq}"
    assert alarm["raised_at"].endswith("Z") and len(alarm["raised_at"]) == 24

    community.send(peer, hub, hub.event("smoke-1", EventType.SMOKE_ALARM)[1])
    peer.acked()
    [alarm] = community.server.alarms()
    assert alarm["count"] == 2
    assert alarm["status"] == "active"

    community.send(peer, hub, hub.event("smoke-1", EventType.SMOKE_ALARM, active=False)[1])
    peer.acked()
    [alarm] = community.server.alarms()
    assert alarm["status"] == "cleared"
    assert alarm["cleared_by"] == "device"
    assert alarm["count"] == 2

    # The condition comes back: a new alarm, the old one stays cleared.
    community.send(peer, hub, hub.event("smoke-1", EventType.SMOKE_ALARM)[1])
    peer.acked()
    alarms = community.server.alarms(status="active")
    assert len(alarms) == 1 and alarms[0]["id"] != alarm["id"]
    actions = [r["action"] for r in community.rows("SELECT action FROM alarm_history ORDER BY id")]
    assert actions == ["raised", "repeated", "cleared", "raised"]
    assert community.count("events") == 4


def test_only_stateful_events_make_alarms_and_every_record_is_stored(
    community: Community,
) -> None:
    hub = SigningHub("hub-b")
    peer = community.enroll(hub)
    sent = [
        hub.seal(hub.state_record("smoke-2", {"smoke_state": "normal"})),
        hub.event("smoke-2", EventType.SELF_TEST)[1],
        hub.seal(hub.heartbeat_record(devices=3, online=2)),
        hub.event("smoke-2", EventType.BATTERY_LOW)[1],
        hub.event("smoke-2", EventType.TAMPER)[1],
    ]
    for payload in sent:
        community.send(peer, hub, payload)
    community.wait_stats(stored=5, acked=5)
    assert community.count("events") == 5
    severities = {a["kind"]: a["severity"] for a in community.server.alarms()}
    assert severities == {"battery_low": "info", "tamper": "alert"}
    [hub_row] = community.rows("SELECT * FROM hubs")
    assert (hub_row["status"], hub_row["devices"], hub_row["devices_online"]) == ("online", 3, 2)


def test_same_envelope_twice_is_stored_once_and_acked_twice(community: Community) -> None:
    hub = SigningHub("hub-c")
    peer = community.enroll(hub)
    seq, payload = hub.event("gas-1", EventType.GAS_ALARM)
    community.send(peer, hub, payload)
    community.send(peer, hub, payload)
    assert peer.acked() == [seq]
    assert peer.acked() == [seq]
    community.wait_stats(stored=1, duplicates=1, acked=2)
    assert community.count("events") == 1
    [alarm] = community.server.alarms()
    assert alarm["count"] == 1


def test_app_ack_arrives_only_after_the_record_is_committed(community: Community) -> None:
    hub = SigningHub("hub-d")
    seen_on_ack: list[tuple[list[int], int]] = []
    done = threading.Event()

    def check_db(msg: mqtt.MQTTMessage) -> None:
        acked = json.loads(msg.payload)["acked"]
        conn = sqlite3.connect(community.runner.db)
        try:
            keys = [f"hub-d:{s}" for s in acked]
            marks = ",".join("?" * len(keys))
            n = conn.execute(f"SELECT count(*) FROM events WHERE key IN ({marks})", keys)
            seen_on_ack.append((acked, n.fetchone()[0]))
        finally:
            conn.close()
        if len(seen_on_ack) == 10:
            done.set()

    password = community.server.enroll_hub(hub.hub_id, "home-4", hub.key.public_key())
    community.broker.add_user(hub.hub_id, password)
    peer = community.peer(
        hub.hub_id, password, subscribe=(topic_ack(hub.hub_id),), on_message=check_db
    )
    for i in range(10):
        community.send(peer, hub, hub.event(f"btn-{i}", EventType.EMERGENCY_CALL)[1])
    assert done.wait(15)
    assert [n for _, n in seen_on_ack] == [1] * 10


def test_forged_unknown_and_mismatched_records_are_rejected(community: Community) -> None:
    hub = SigningHub("hub-e")
    peer = community.enroll(hub)
    other = SigningHub("hub-f")
    other_peer = community.enroll(other)
    stranger = SigningHub("hub-x")  # has a broker account but was never enrolled
    community.broker.add_user("hub-x", "pw-x")
    stranger_peer = community.peer("hub-x", "pw-x")
    community.broker.add_user("intruder", "pw-i", superuser=True)
    intruder = community.peer("intruder", "pw-i")
    before = _table_counts(community)

    # Signed with a key that is not the one enrolled for hub-e.
    forger = SigningHub("hub-e", key=Ed25519PrivateKey.generate())
    community.send(peer, hub, forger.event("smoke-9", EventType.SMOKE_ALARM)[1])
    # A correctly signed envelope with a flipped signature byte.
    good = json.loads(hub.event("smoke-9", EventType.SMOKE_ALARM)[1])
    good["sig"] = ("A" if good["sig"][0] != "A" else "B") + good["sig"][1:]
    community.send(peer, hub, json.dumps(good).encode())
    # A hub that is not enrolled.
    stranger_peer.publish(topic_up("hub-x"), stranger.event("smoke-9", EventType.SMOKE_ALARM)[1])
    # hub-f's genuine envelope published on hub-e's topic (only a superuser can do that).
    intruder.publish(topic_up("hub-e"), other.event("smoke-9", EventType.SMOKE_ALARM)[1])
    # hub-e signs a record that claims to come from hub-f.
    lying = hub.event_record("smoke-9", EventType.SMOKE_ALARM, hub_id="hub-f")
    community.send(peer, hub, hub.seal(lying))
    # A valid envelope around a body that is not an uplink record.
    community.send(peer, hub, seal("hub-e", hub.key, b'{"v":"1.0","hub_id":"hub-e"}'))
    community.send(peer, hub, seal("hub-e", hub.key, b"\xff\xfe not json"))

    community.wait_stats(rejected=7)
    assert _table_counts(community) == before
    assert community.server.stats()["acked"] == 0
    assert peer.messages.empty() and other_peer.messages.empty()

    # The server keeps working for honest records afterwards.
    seq, payload = hub.event("smoke-9", EventType.SMOKE_ALARM)
    community.send(peer, hub, payload)
    assert peer.acked() == [seq]


@st.composite
def _junk(draw: st.DrawFn) -> bytes:
    """Bytes, JSON values and envelope-shaped objects that must all be refused."""
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return draw(st.binary(max_size=300))
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
    if choice == 1:
        return json.dumps(draw(json_values)).encode()
    envelope = {
        "v": draw(st.sampled_from([1, 2, "1", None])),
        "alg": draw(st.sampled_from(["Ed25519", "none", 5])),
        "from": draw(st.sampled_from(["hub-z", "hub-q", "", 7])),
        "kid": draw(st.text(max_size=20)),
        "body": draw(st.text(max_size=60)),
        "sig": draw(st.text(max_size=90)),
    }
    return json.dumps(envelope).encode()


def test_arbitrary_payloads_are_rejected_and_change_nothing(community: Community) -> None:
    hub = SigningHub("hub-z")
    peer = community.enroll(hub)
    community.send(peer, hub, hub.event("leak-1", EventType.WATER_LEAK)[1])
    peer.acked()
    before = _table_counts(community)
    sent = 0

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(payload=_junk())
    def publish_junk(payload: bytes) -> None:
        nonlocal sent
        community.send(peer, hub, payload)
        sent += 1
        community.wait_stats(rejected=sent)

    publish_junk()
    assert _table_counts(community) == before
    assert community.server.stats()["stored"] == 1
    seq, payload = hub.event("leak-1", EventType.WATER_LEAK, active=False)
    community.send(peer, hub, payload)
    assert peer.acked() == [seq]
    assert community.server.alarms()[0]["status"] == "cleared"


def test_hub_status_follows_last_will_and_silence(community_factory: CommunityFactory) -> None:
    community = community_factory(hub_offline_after_s=1.5)
    hub = SigningHub("hub-s")
    password = community.server.enroll_hub(hub.hub_id, "home-9", hub.key.public_key())
    community.broker.add_user(hub.hub_id, password)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=hub.hub_id)
    client.username_pw_set(hub.hub_id, password)
    client.will_set(topic_status(hub.hub_id), b'{"status":"offline"}', qos=1, retain=True)
    client.connect(community.broker.host, community.broker.port)
    client.loop_start()
    try:
        client.publish(topic_status(hub.hub_id), b'{"status":"online"}', 1, True).wait_for_publish(
            5
        )

        def status() -> str:
            return str(community.rows("SELECT status FROM hubs")[0]["status"])

        wait_until(lambda: status() == "online", what="hub online")
        # Heartbeats keep it online past the silence limit …
        for _ in range(6):
            record = hub.heartbeat_record(1, 1)
            payload = seal(hub.hub_id, hub.key, encode_record(record))
            client.publish(topic_up(hub.hub_id), payload, 1).wait_for_publish(5)
            time.sleep(0.3)
            assert status() == "online"
        # … silence marks it offline …
        wait_until(lambda: status() == "offline", timeout=10, what="silent hub offline")
        client.publish(topic_status(hub.hub_id), b'{"status":"online"}', 1, True).wait_for_publish(
            5
        )
        wait_until(lambda: status() == "online", what="hub back online")
    finally:
        client.loop_stop()
        sock = client.socket()
        assert sock is not None
        sock.close()  # an unclean drop: the broker publishes the last will
    wait_until(lambda: status() == "offline", what="last will marks the hub offline")
