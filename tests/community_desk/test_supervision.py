"""A hub that goes silent becomes a trouble alarm on its own pseudo-device, and clears itself."""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from community.alarms import HUB_OFFLINE
from devices.uplink import topic_status
from tests.community.support import Community, SigningHub, wait_until
from tests.community_desk.conftest import DeskFactory

OFFLINE = b'{"status":"offline"}'
ONLINE = b'{"status":"online"}'


def _hub_alarms(community: Community) -> list[dict[str, Any]]:
    return community.server.alarms(kind=HUB_OFFLINE)


def _crash_with_last_will(community: Community, hub_id: str, password: str) -> None:
    """A hub connection that dies without DISCONNECT, so the broker publishes its will."""
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=hub_id)
    client.username_pw_set(hub_id, password)
    client.will_set(topic_status(hub_id), OFFLINE, qos=1, retain=True)
    client.on_connect = lambda *args: connected.set()
    client.connect(community.broker.host, community.broker.port, keepalive=30)
    client.loop_start()
    assert connected.wait(10)
    client.publish(topic_status(hub_id), ONLINE, qos=1, retain=True).wait_for_publish(10)
    wait_until(lambda: _status(community, hub_id) == "online", what="hub online")
    client.loop_stop()
    sock = client.socket()
    assert sock is not None
    sock.close()  # the power is cut: no DISCONNECT


def _status(community: Community, hub_id: str) -> str:
    return next(h["status"] for h in community.server.hubs() if h["hub_id"] == hub_id)


def test_last_will_raises_hub_offline_after_the_grace_and_online_clears_it(
    desk_factory: DeskFactory,
) -> None:
    community = desk_factory(hub_offline_alarm_after_s=0.4)
    hub = SigningHub("hub-lw")
    password = community.server.enroll_hub(
        hub.hub_id, "home-9", hub.key.public_key(), building="9", unit="3"
    )
    community.broker.add_user(hub.hub_id, password)
    _crash_with_last_will(community, hub.hub_id, password)
    wait_until(lambda: _status(community, hub.hub_id) == "offline", what="last will")
    went_offline = time.monotonic()
    assert _hub_alarms(community) == []  # a reboot is not an alarm

    wait_until(lambda: _hub_alarms(community), what="hub_offline alarm")
    assert time.monotonic() - went_offline >= 0.3
    alarm = _hub_alarms(community)[0]
    assert (alarm["kind"], alarm["severity"], alarm["status"]) == ("hub_offline", "alert", "active")
    assert (alarm["device_id"], alarm["device_kind"], alarm["hub_id"]) == (
        "hub:hub-lw",
        "hub",
        "hub-lw",
    )
    assert (alarm["home_id"], alarm["building"], alarm["unit"]) == ("home-9", "9", "3")

    peer = community.peer(hub.hub_id, password)
    peer.publish(topic_status(hub.hub_id), ONLINE, retain=True)
    wait_until(lambda: _hub_alarms(community)[0]["status"] == "cleared", what="cleared")
    cleared = _hub_alarms(community)[0]
    assert cleared["cleared_by"] == "hub" and len(_hub_alarms(community)) == 1
    history = (community.server.alarm(cleared["id"]) or {})["history"]
    assert [(h["action"], h["by"]) for h in history] == [
        ("raised", "supervision"),
        ("cleared", "hub"),
    ]


def test_a_silent_hub_is_alarmed_once_and_a_record_from_it_clears_the_alarm(
    desk_factory: DeskFactory,
) -> None:
    community = desk_factory(hub_offline_after_s=0.6, hub_offline_alarm_after_s=0.3)
    hub = SigningHub("hub-quiet")
    peer = community.enroll(hub, "home-5")
    community.send(peer, hub, hub.seal(hub.heartbeat_record(3, 3)))
    assert peer.acked() == [hub.seq]
    # No heartbeat for longer than hub_offline_after_s: offline, and (silent since the last
    # heartbeat, longer than the grace) the alarm follows at once.
    wait_until(lambda: _hub_alarms(community), what="hub_offline alarm")
    alarm = _hub_alarms(community)[0]

    # Staff clear it while the hub is still away: it is not raised again for this outage.
    for action in ("ack", "clear"):
        assert community.http("POST", f"/api/alarms/{alarm['id']}/{action}", b"{}")[0] == 200
    time.sleep(1.0)
    assert [a["status"] for a in _hub_alarms(community)] == ["cleared"]

    community.send(peer, hub, hub.seal(hub.heartbeat_record(3, 3)))
    assert peer.acked() == [hub.seq]
    assert _status(community, hub.hub_id) == "online"
    # The next outage is a new alarm; any record from the hub ends it.
    wait_until(lambda: len(_hub_alarms(community)) == 2, what="second outage alarmed")
    community.send(peer, hub, hub.seal(hub.heartbeat_record(3, 3)))
    wait_until(
        lambda: [a["status"] for a in _hub_alarms(community)] == ["cleared", "cleared"],
        what="second alarm cleared",
    )
    newest = max(_hub_alarms(community), key=lambda a: a["id"])
    assert newest["cleared_by"] == "hub"
