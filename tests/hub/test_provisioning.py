"""Provisioning and configuration refuse bad input with a clear error and change nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devices.catalog import DeviceKind
from hub.config import ConfigError, load_config
from tests.hub.conftest import MakeHub
from tests.hub.support import REPO

SMOKE = DeviceKind.SMOKE_ALARM


async def test_bad_provisioning_is_refused(make_hub: MakeHub) -> None:
    hub = await make_hub(start=False)
    token = hub.provision_device("smoke-1", SMOKE, "Kitchen", "kitchen")
    bad_calls = [
        ("smoke/1", SMOKE, "Kitchen", "kitchen", None),  # '/' would be a topic level
        ("smoke-2", SMOKE, "", "kitchen", None),
        ("smoke-2", SMOKE, "x" * 65, "kitchen", None),
        ("smoke-2", SMOKE, "Kitchen\udc80", "kitchen", None),
        ("smoke-2", SMOKE, "Hall", "hall", "short"),
        ("smoke-2", SMOKE, "Hall", "hall", token),  # another device's token
        ("smoke-1", DeviceKind.GAS_DETECTOR, "Kitchen", "kitchen", None),  # kind change
    ]
    for device_id, kind, name, room, chosen in bad_calls:
        with pytest.raises(ValueError):
            hub.provision_device(device_id, kind, name, room, token=chosen)
    assert [d.device_id for d in hub.devices()] == ["smoke-1"]
    chosen = "a-long-enough-token-from-a-file"
    assert hub.provision_device("smoke-2", SMOKE, "Hall", "hall", token=chosen) == chosen


def test_config_file_errors_name_the_problem(tmp_path: Path) -> None:
    base = {
        "hub_id": "hub-1",
        "home_id": "home-1",
        "data_dir": str(tmp_path / "data"),
        "mqtt_host": "127.0.0.1",
        "mqtt_port": 1883,
        "mqtt_password": "s3cret-config-password",
    }
    cases = [
        (base | {"hub_id": "hub/1"}, "hub_id"),
        (base | {"mqtt_port": 70000}, "mqtt_port"),
        (base | {"heartbeat_s": 0}, "heartbeat_s"),
        (base | {"colour": "red"}, "unknown configuration fields"),
        (base | {"devices": [{"device_id": "x"}]}, "a device needs exactly"),
        ({k: v for k, v in base.items() if k != "home_id"}, "home_id"),
    ]
    path = tmp_path / "hub.json"
    for raw, message in cases:
        path.write_text(json.dumps(raw))
        with pytest.raises(ConfigError, match=message):
            load_config(path)
    path.write_text(json.dumps(base | {"hub_id": "hub/1"}))
    ran = subprocess.run(
        [sys.executable, "-m", "hub", "run", "--config", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 2 and "hub_id" in ran.stderr and ran.stdout == ""
    assert "s3cret-config-password" not in ran.stderr
