"""The Mosquitto fixture itself: auth is enforced and the hub ACL confines a hub to its topics."""

from __future__ import annotations

import queue

import paho.mqtt.client as mqtt

from tests.support.mosquitto import Mosquitto


def _connect(
    broker: Mosquitto, user: str, password: str
) -> tuple[mqtt.Client, queue.Queue[object]]:
    events: queue.Queue[object] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}")
    client.username_pw_set(user, password)
    client.on_connect = lambda c, u, f, rc, p: events.put(("connect", rc.value))
    client.on_message = lambda c, u, m: events.put((m.topic, m.payload))
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client, events


def test_wrong_password_is_refused(mosquitto: Mosquitto) -> None:
    mosquitto.add_user("hub-a", "right-secret")
    client, events = _connect(mosquitto, "hub-a", "wrong")
    try:
        kind, rc = events.get(timeout=5)  # type: ignore[misc]
        assert kind == "connect" and rc != 0
    finally:
        client.loop_stop()


def test_hub_cannot_read_another_hubs_topics(mosquitto: Mosquitto) -> None:
    mosquitto.add_user("hub-a", "secret-a")
    mosquitto.add_user("hub-b", "secret-b")
    a, a_events = _connect(mosquitto, "hub-a", "secret-a")
    b, b_events = _connect(mosquitto, "hub-b", "secret-b")
    try:
        assert a_events.get(timeout=5) == ("connect", 0)
        assert b_events.get(timeout=5) == ("connect", 0)
        a.subscribe("courtyard/v1/hub/#", qos=1)
        a.subscribe("courtyard/v1/hub/hub-a/#", qos=1)
        import time

        time.sleep(0.3)
        b.publish("courtyard/v1/hub/hub-b/up", b"for-b", qos=1).wait_for_publish(5)
        b.publish("courtyard/v1/hub/hub-a/up", b"forged", qos=1).wait_for_publish(5)
        a.publish("courtyard/v1/hub/hub-a/up", b"own", qos=1).wait_for_publish(5)
        got = a_events.get(timeout=5)
        assert got == ("courtyard/v1/hub/hub-a/up", b"own")
        assert a_events.empty()
    finally:
        a.loop_stop()
        b.loop_stop()
