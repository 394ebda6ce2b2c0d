"""Kill -9 the community mid-stream: every record ends up stored exactly once.

A test hub behaves like the real one: it publishes a stream of alarm records, keeps every
record until the community's application ack for it arrives, and republishes the unacked
ones every 2 s. The community process is SIGKILLed while records are in flight and started
again on the same data folder and broker session.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.catalog import EventType
from devices.uplink import topic_ack, topic_up
from privacy.envelope import public_bytes
from tests.community.support import SigningHub, wait_until
from tests.support.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
DEVICES = 12
RAISES = 3
RETRY_S = 2.0


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "community", "run", "--config", str(config)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def listening() -> bool:
        assert proc.poll() is None, log.read_text()
        return b"community listening on" in log.read_bytes()[offset:]

    wait_until(listening, 20, "the community process to listen")
    return proc


def _plan(hub: SigningHub) -> list[tuple[int, bytes]]:
    """Each device raises three times; every second device then clears."""
    stream = [
        hub.event(f"smoke-{d}", EventType.SMOKE_ALARM)
        for _ in range(RAISES)
        for d in range(DEVICES)
    ]
    stream += [
        hub.event(f"smoke-{d}", EventType.SMOKE_ALARM, active=False) for d in range(0, DEVICES, 2)
    ]
    return stream


def test_sigkill_midway_stores_each_record_exactly_once(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    mosquitto.add_user("community", "community-secret", superuser=True)
    mosquitto.add_user("hub-k", "hub-k-secret")
    hub = SigningHub("hub-k")
    config = tmp_path / "community.json"
    config.write_text(
        json.dumps(
            {
                "community_id": "crash",
                "data_dir": str(tmp_path / "data"),
                "mqtt_host": mosquitto.host,
                "mqtt_port": mosquitto.port,
                "mqtt_username": "community",
                "mqtt_password": "community-secret",
                # No resident here: durability, not consent, is under test.
                "consent": "open",
                "hubs": [
                    {
                        "hub_id": "hub-k",
                        "home_id": "home-k",
                        "public_key_hex": public_bytes(hub.key.public_key()).hex(),
                    }
                ],
            }
        )
    )
    log = tmp_path / "community.log"
    stream = _plan(hub)
    by_seq = dict(stream)
    acked: set[int] = set()
    lock = threading.Lock()

    def on_ack(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            acked.update(json.loads(msg.payload)["acked"])

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hub-k")
    client.username_pw_set("hub-k", "hub-k-secret")
    client.on_message = on_ack
    client.on_connect = lambda c, *a: c.subscribe(topic_ack("hub-k"), 1)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    stop = threading.Event()

    def hub_loop() -> None:
        sent: list[int] = []
        last_retry = time.monotonic()
        for seq, payload in stream:
            client.publish(topic_up("hub-k"), payload, qos=1)
            sent.append(seq)
            time.sleep(0.02)
        while not stop.is_set():
            if time.monotonic() - last_retry >= RETRY_S:
                last_retry = time.monotonic()
                with lock:
                    pending = [s for s in sent if s not in acked]
                for seq in pending:
                    client.publish(topic_up("hub-k"), by_seq[seq], qos=1)
            time.sleep(0.05)

    proc = _start(config, log)
    publisher = threading.Thread(target=hub_loop, daemon=True)
    try:
        publisher.start()
        wait_until(lambda: len(acked) >= len(stream) // 3, 30, "a third of the stream acked")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = len(acked)
        assert killed_at < len(stream), "the kill must land mid-stream"
        time.sleep(1.0)
        proc = _start(config, log)
        wait_until(lambda: len(acked) == len(stream), 60, "every record acked")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        stop.set()
        publisher.join(10)
        client.loop_stop()
        if proc.poll() is None:
            proc.kill()

    db = sqlite3.connect(tmp_path / "data" / "community.db")
    try:
        keys = [row[0] for row in db.execute("SELECT key FROM events")]
        assert len(keys) == len(set(keys)) == len(stream)
        assert set(keys) == {f"hub-k:{seq}" for seq, _ in stream}
        assert db.execute("SELECT count(*) FROM received").fetchone()[0] == len(stream)
        alarms = db.execute(
            "SELECT device_id, count, status, cleared_by FROM alarms ORDER BY device_id"
        ).fetchall()
        expected = sorted(
            (f"smoke-{d}", RAISES, "cleared" if d % 2 == 0 else "active", None)
            for d in range(DEVICES)
        )
        got = sorted((d, c, s, None) for d, c, s, _ in alarms)
        assert got == expected
        assert {cb for _, _, s, cb in alarms if s == "cleared"} == {"device"}
        history = db.execute("SELECT count(*) FROM alarm_history").fetchone()[0]
        assert history == DEVICES * RAISES + DEVICES // 2
    finally:
        db.close()
