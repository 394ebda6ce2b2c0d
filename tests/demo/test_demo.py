"""``courtyard demo`` as a user runs it: one real process with broker, hubs, community, devices."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.community_desk.support import cap_schema

ALARM_KINDS = {
    "smoke_alarm",
    "gas_alarm",
    "fall_detected",
    "emergency_call",
    "water_leak",
    "device_offline",
}


def _courtyard(*args: str) -> list[str]:
    return [sys.executable, "-m", "courtyard.cli", *args]


@pytest.mark.timeout(180)
def test_headless_demo_delivers_every_alarm_exactly_once(tmp_path: Path) -> None:
    report_file = tmp_path / "r.json"
    run = subprocess.run(
        _courtyard(
            "demo", "--headless", "--homes", "7", "--duration", "14", "--report", str(report_file)
        ),
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert "time is compressed" in run.stdout
    report = json.loads(report_file.read_text())
    assert report["homes"] == 7 and report["devices"] == 7 * 6
    assert report["alarms_injected"] >= 7
    assert report["alarms_delivered"] == report["alarms_injected"]
    assert report["alarm_events_delivered"] == report["alarm_events_injected"]
    assert report["duplicates"] == 0 and report["lost"] == 0 and report["unexpected"] == 0
    latency = report["latency_ms"]
    assert latency["count"] >= 7
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    alarms = report["alarms"]
    assert {a["kind"] for a in alarms} == ALARM_KINDS
    for alarm in alarms:
        assert set(alarm) >= {
            "id",
            "home_id",
            "device_id",
            "kind",
            "severity",
            "status",
            "raised_at",
        }
        expected = "alert" if alarm["kind"] == "device_offline" else "critical"
        assert alarm["severity"] == expected
    # The scripted staff acknowledged everything; the devices ended every condition but the
    # silent sensor's, whose offline alarm stays active until a person deals with it.
    assert all(a["acknowledged"] for a in alarms)
    still_active = {a["kind"] for a in alarms if a["status"] == "active"}
    assert still_active == {"device_offline"}
    cooking = [a for a in alarms if a["home_id"] == "1-401" and a["kind"] == "smoke_alarm"]
    assert cooking and cooking[0]["cleared_by"] == "device"
    # Nobody acknowledged the first alarms for a while: their chains climbed past tier 0.
    assert max(a["escalation_tier"] for a in alarms) >= 1
    # Every CAP message the community published lies beside the report, valid CAP 1.2.
    cap_files = sorted((tmp_path / "r.cap").glob("*.xml"))
    assert len(cap_files) >= len(alarms)
    schema = cap_schema()
    for cap_file in cap_files:
        schema.validate(str(cap_file))


def test_bad_arguments_get_a_clear_error(tmp_path: Path) -> None:
    run = subprocess.run(
        _courtyard("demo", "--headless", "--homes", "0"), capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 2
    assert "--homes" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.timeout(120)
def test_interactive_demo_serves_the_dashboard_until_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        _courtyard(
            "demo",
            "--homes",
            "2",
            "--duration",
            "4",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    login = None
    deadline = time.monotonic() + 90
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if match := re.search(r"dashboard: (http://\S+/login\?token=\S+)", line):
            login = match.group(1)
        if "press Ctrl-C" in line:
            break
    try:
        assert login is not None, "".join(lines)
        base = login.split("/login")[0]
        token = login.split("token=")[1]
        with urllib.request.urlopen(base + "/api/health", timeout=10) as resp:
            assert json.load(resp)["status"] == "ok"
        request = urllib.request.Request(
            base + "/api/alarms?limit=1000", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            kinds = {a["kind"] for a in json.load(resp)["alarms"]}
        assert "smoke_alarm" in kinds and "gas_alarm" in kinds
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode in (0, 130)
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()
