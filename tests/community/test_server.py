"""Lifecycle and enrollment: secrets, restarts, a broker that is down, out-of-order records."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from community import CommunityServer
from community.config import ConfigError, parse_config
from devices.catalog import EventType
from devices.uplink import topic_up
from tests.community.conftest import CommunityFactory
from tests.community.support import Community, ServerThread, SigningHub, make_config, wait_until
from tests.support.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[2]


def test_token_and_hub_passwords_are_secret_and_persistent(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(mosquitto, tmp_path / "data")
    server = CommunityServer(config)
    token_file = tmp_path / "data" / "manager.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert len(server.manager_token) >= 40
    key = Ed25519PrivateKey.generate().public_key()
    first = server.enroll_hub("hub-p", "home-1", key)
    second = server.enroll_hub("hub-p", "home-1", key)  # re-enrolling rotates
    assert first != second and len(second) >= 30
    assert not server.verify_hub_password("hub-p", first)
    assert server.verify_hub_password("hub-p", second)
    server.register_hub_key("hub-p", "home-1", key, building="9")  # keeps the password
    assert server.verify_hub_password("hub-p", second)
    assert not server.verify_hub_password("hub-unknown", second)
    raw = (tmp_path / "data" / "community.db").read_bytes()
    assert second.encode() not in raw
    for bad in ("", "hub/x", "hub+", "-hub", "x" * 65):
        with pytest.raises(ValueError):
            server.enroll_hub(bad, "home-1", key)
    with pytest.raises(ValueError):
        server.enroll_hub("hub-q", "  ", key)
    again = CommunityServer(config)
    assert again.manager_token == server.manager_token
    assert again.verify_hub_password("hub-p", second)


def test_starts_with_the_broker_down_and_connects_later(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    mosquitto.add_user("community", "community-secret", superuser=True)
    mosquitto.stop()
    runner = ServerThread(make_config(mosquitto, tmp_path / "data")).start()
    community = Community(mosquitto, runner)
    try:
        status, body = community.http("GET", "/api/health", token=None)
        assert status == 200 and body["mqtt_connected"] is False
        mosquitto.start()
        wait_until(lambda: runner.server.health()["ingesting"], 20, "late connection")
        hub = SigningHub("hub-late")
        peer = community.enroll(hub)
        seq, payload = hub.event("smoke-1", EventType.SMOKE_ALARM)
        community.send(peer, hub, payload)
        assert peer.acked() == [seq]
    finally:
        community.close()


def test_records_arriving_out_of_order(community_factory: CommunityFactory) -> None:
    community = community_factory()
    hub = SigningHub("hub-o")
    peer = community.enroll(hub)
    raise_ = hub.event_record("leak-1", EventType.WATER_LEAK)
    clear = hub.event_record("leak-1", EventType.WATER_LEAK, active=False)
    # The clear overtakes its raise (the raise was retried later).
    community.send(peer, hub, hub.seal(clear))
    community.wait_stats(stored=1)
    assert community.server.alarms() == []
    community.send(peer, hub, hub.seal(raise_))
    community.wait_stats(stored=2)
    [alarm] = community.server.alarms()
    assert (alarm["status"], alarm["cleared_by"], alarm["acknowledged"]) == (
        "cleared",
        "device",
        False,
    )

    # The first raise of an incident arrives last: it joins the incident, not a new alarm.
    late = hub.event_record("gas-1", EventType.GAS_ALARM)
    rest = [hub.event_record("gas-1", EventType.GAS_ALARM) for _ in range(2)]
    rest.append(hub.event_record("gas-1", EventType.GAS_ALARM, active=False))
    for record in [*rest, late]:
        community.send(peer, hub, hub.seal(record))
    community.wait_stats(stored=6)
    [gas] = community.server.alarms(kind="gas_alarm")
    assert (gas["status"], gas["count"]) == ("cleared", 3)
    detail = community.http("GET", f"/api/alarms/{gas['id']}")[1]
    assert [h["action"] for h in detail["history"]] == ["raised", "repeated", "cleared", "repeated"]
    assert "newer records" in detail["history"][-1]["note"]

    # A stale clear never closes an alarm that a newer raise reopened.
    first = hub.event_record("smoke-1", EventType.SMOKE_ALARM)
    stale_clear = hub.event_record("smoke-1", EventType.SMOKE_ALARM, active=False)
    newer = hub.event_record("smoke-1", EventType.SMOKE_ALARM)
    for record in (first, newer, stale_clear):
        community.send(peer, hub, hub.seal(record))
    community.wait_stats(stored=9)
    [smoke] = community.server.alarms(kind="smoke_alarm")
    assert (smoke["status"], smoke["count"]) == ("active", 2)


def test_config_file_errors_are_clear(tmp_path: Path) -> None:
    base = {
        "community_id": "c",
        "data_dir": str(tmp_path),
        "mqtt_host": "127.0.0.1",
        "mqtt_port": 1883,
        "mqtt_username": "u",
        "mqtt_password": "p",
    }
    config, hubs = parse_config({**base, "http_port": 8080, "hubs": []})
    assert config.http_port == 8080 and config.data_dir == tmp_path and hubs == []
    for broken, message in (
        ([], "object"),
        ({**base, "mqtt_port": "1883"}, "mqtt_port"),
        ({**base, "colour": 1}, "unknown"),
        ({k: v for k, v in base.items() if k != "mqtt_host"}, "missing"),
        ({**base, "hubs": [{"hub_id": "h", "home_id": "x", "public_key_hex": "zz"}]}, "key"),
        ({**base, "hubs": "no"}, "list"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_config(broken)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**base, "mqtt_port": True}))
    done = subprocess.run(
        [sys.executable, "-m", "community", "run", "--config", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "mqtt_port" in done.stderr


def test_status_for_unknown_hubs_and_junk_status_is_ignored(community: Community) -> None:
    community.broker.add_user("stray", "pw-s", superuser=True)
    stray = community.peer("stray", "pw-s")
    stray.publish("courtyard/v1/hub/hub-ghost/status", b'{"status":"online"}')
    stray.publish("courtyard/v1/hub/hub-ghost/status", b"\x00\xff")
    hub = SigningHub("hub-real")
    peer = community.enroll(hub)
    peer.publish("courtyard/v1/hub/hub-real/status", b'{"status":"sleeping"}')
    peer.publish(topic_up("hub-real"), hub.event("smoke-1", EventType.SMOKE_ALARM)[1])
    community.wait_stats(stored=1)
    assert [h["hub_id"] for h in community.http("GET", "/api/hubs")[1]["hubs"]] == ["hub-real"]
