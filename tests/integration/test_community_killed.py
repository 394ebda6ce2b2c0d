"""Real hub, real devices, real Mosquitto, and a community server killed with SIGKILL mid-stream.

The community process dies while alarms are flowing; the hub keeps every unacknowledged record
in its outbox and resends it, and the community stores each exactly once after its restart.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devices.catalog import DeviceKind, is_alarm
from firmware_stubs import EmergencyButton, make_device
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key
from privacy.envelope import public_bytes
from tests.support.mosquitto import Mosquitto

BUTTONS = 3
ROUNDS = 12


def _start_community(config_file: Path, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "community", "run", "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=open(log, "ab"),  # noqa: SIM115 - owned by the process
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert "community listening" in line, line + log.read_text()
    return proc


async def _until(predicate: object, within_s: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(120)
async def test_every_alarm_is_stored_exactly_once_across_a_community_kill(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    hub_password = secrets.token_urlsafe(16)
    community_password = secrets.token_urlsafe(16)
    mosquitto.add_user("hub-k", hub_password)
    mosquitto.add_user("community", community_password, superuser=True)

    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    key = load_or_create_hub_key(hub_dir / "hub_key.pem")
    community_dir = tmp_path / "community"
    config_file = tmp_path / "community.json"
    config_file.write_text(
        json.dumps(
            {
                "community_id": "kill-test",
                "data_dir": str(community_dir),
                "mqtt_host": mosquitto.host,
                "mqtt_port": mosquitto.port,
                "mqtt_username": "community",
                "mqtt_password": community_password,
                # No resident here: durability, not consent, is under test.
                "consent": "open",
                "hubs": [
                    {
                        "hub_id": "hub-k",
                        "home_id": "9-901",
                        "public_key_hex": public_bytes(key.public_key()).hex(),
                    }
                ],
            }
        )
    )
    community = _start_community(config_file, tmp_path / "community.log")
    hub = Hub(
        HubConfig(
            hub_id="hub-k",
            home_id="9-901",
            data_dir=hub_dir,
            mqtt_host=mosquitto.host,
            mqtt_port=mosquitto.port,
            mqtt_password=hub_password,
            ack_timeout_s=1.0,
            consent="open",
        )
    )
    await hub.start()
    buttons: list[EmergencyButton] = []
    try:
        url = f"ws://127.0.0.1:{hub.http_port}/api/device/ws"
        for n in range(BUTTONS):
            token = hub.provision_device(
                f"btn-{n}", DeviceKind.EMERGENCY_BUTTON, f"SOS {n}", "hall"
            )
            device = make_device(
                DeviceKind.EMERGENCY_BUTTON,
                f"btn-{n}",
                url,
                token,
                state_file=tmp_path / f"btn-{n}.json",
            )
            assert isinstance(device, EmergencyButton)
            buttons.append(device)
            await device.start()
        for device in buttons:
            await device.wait_connected(10)
        await _until(lambda: hub.uplink_connected, 15, "the hub's uplink")

        for round_ in range(ROUNDS):
            for device in buttons:
                device.press() if round_ % 2 == 0 else device.reset()
            await asyncio.sleep(0.15)
            if round_ == ROUNDS // 2:
                community.kill()
                community.wait()
        await asyncio.sleep(1.0)  # alarms pile up in the hub's outbox while nobody acks
        assert hub.outbox_pending() > 0
        community = _start_community(config_file, tmp_path / "community.log")

        await _until(
            lambda: hub.outbox_pending() == 0 and all(d.pending_events() == 0 for d in buttons),
            60,
            "every record to be acknowledged",
        )
    finally:
        for device in buttons:
            await device.stop()
        await hub.stop()
        community.terminate()
        community.wait(10)

    sent = {
        (e.device_id, e.seq, e.event, e.active)
        for d in buttons
        for e in d.sent_events
        if is_alarm(e.event)
    }
    assert len(sent) >= BUTTONS * ROUNDS
    db = sqlite3.connect(community_dir / "community.db")
    rows = db.execute(
        "SELECT device_id, device_seq, event, active FROM events WHERE message_type = 'event'"
    ).fetchall()
    stored = [(d, s, e, bool(a)) for d, s, e, a in rows]
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert {(d, s, str(e), a) for d, s, e, a in sent} == set(stored)
    # The hub stops before the community does, so a hub_offline trouble alarm is expected too.
    alarms = db.execute(
        "SELECT device_id, kind FROM alarms WHERE kind != 'hub_offline' ORDER BY id"
    ).fetchall()
    assert {d for d, _ in alarms} == {f"btn-{n}" for n in range(BUTTONS)}
    assert {k for _, k in alarms} == {"emergency_call"}
