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
from typing import Any

import pytest

from tests.community_desk.support import cap_schema

HOME_ALARM_KINDS = {
    "smoke_alarm",
    "gas_alarm",
    "fall_detected",
    "emergency_call",
    "water_leak",
    "device_offline",
    "care_check_missed",  # the care scene's resident does not answer in time
}
FIELD_ALARM_KINDS = {
    "charger_overtemperature",
    "charging_shed_smoke",
    "elevator_ebike",
    "fire_lane_obstructed",
}
ALERTS = {"device_offline", "elevator_ebike", "fire_lane_obstructed", "care_check_missed"}


def _courtyard(*args: str) -> list[str]:
    return [sys.executable, "-m", "courtyard.cli", *args]


@pytest.mark.timeout(180)
def test_headless_demo_delivers_every_alarm_exactly_once(tmp_path: Path) -> None:
    report_file = tmp_path / "r.json"
    run = subprocess.run(
        _courtyard(
            "demo", "--headless", "--homes", "7", "--duration", "30", "--report", str(report_file)
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
    # The shed (4 ports, smoke), the lift camera, the lane sensor, the gate and the locker.
    assert report["field_hubs"] == 2 and report["field_devices"] == 9
    assert report["alarms_injected"] >= 7
    assert report["alarms_delivered"] == report["alarms_injected"]
    assert report["alarm_events_delivered"] == report["alarm_events_injected"]
    assert report["duplicates"] == 0 and report["lost"] == 0 and report["unexpected"] == 0
    latency = report["latency_ms"]
    assert latency["count"] >= 7
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    alarms = report["alarms"]
    assert {a["kind"] for a in alarms} == HOME_ALARM_KINDS | FIELD_ALARM_KINDS
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
        expected = "alert" if alarm["kind"] in ALERTS else "critical"
        assert alarm["severity"] == expected
    # The scripted staff acknowledged everything; the devices ended every condition but the
    # silent sensor's, whose offline alarm stays active until a person deals with it, and the
    # runaway battery's: cut, it cools for minutes, not seconds.
    assert all(a["acknowledged"] for a in alarms)
    still_active = {a["kind"] for a in alarms if a["status"] == "active"}
    assert still_active == {"device_offline", "charger_overtemperature"}
    cooking = [a for a in alarms if a["home_id"] == "1-401" and a["kind"] == "smoke_alarm"]
    assert cooking and cooking[0]["cleared_by"] == "device"
    # Nobody acknowledged the first alarms for a while: their chains climbed past tier 0.
    assert max(a["escalation_tier"] for a in alarms) >= 1
    _assert_field_story(report)
    _assert_property_story(report["property"])
    # Every CAP message the community published lies beside the report, valid CAP 1.2.
    cap_files = sorted((tmp_path / "r.cap").glob("*.xml"))
    assert len(cap_files) >= len(alarms)
    schema = cap_schema()
    for cap_file in cap_files:
        schema.validate(str(cap_file))


def _one(alarms: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [a for a in alarms if a["kind"] == kind]
    assert len(found) == 1, (kind, found)
    return found[0]


def _assert_field_story(report: dict[str, Any]) -> None:
    """The safety desk's story: every command acknowledged, every threshold respected."""
    alarms, field = report["alarms"], report["field"]
    overheat = _one(alarms, "charger_overtemperature")
    assert overheat["device_id"] == "shed-a-port-2" and overheat["command_status"] == "acked"
    cuts = {(c["device_id"], c["reason"]): c for c in field["cuts"]}
    assert cuts[("shed-a-port-2", "overtemperature")]["command_status"] == "acked"
    shed = _one(alarms, "charging_shed_smoke")
    assert shed["command_status"] == "acked" and shed["status"] == "cleared"
    for port in range(1, 5):
        cut = cuts[(f"shed-a-port-{port}", "shed_smoke")]
        assert cut["alarm_id"] == shed["id"] and cut["command_status"] == "acked"
    lift = _one(alarms, "elevator_ebike")
    assert lift["hold"]["released_by"] == "duty officer (scripted)"
    assert lift["hold"]["command"] == "release_doors" and lift["command_status"] == "acked"
    assert lift["acked_by"] == "duty officer (scripted)"
    lane = _one(alarms, "fire_lane_obstructed")
    assert lane["status"] == "cleared" and lane["cleared_by"] == "rules"
    [story] = field["fire_lanes"]
    assert story["alarm_id"] == lane["id"]
    assert story["blocked_for_s_when_raised"] >= story["dwell_threshold_s"] == 10.0
    # Escalation reached the second tier (index 1) of an alarm nobody acknowledged in time.
    assert any(a["escalation_tier"] >= 1 for a in alarms)


def test_bad_arguments_get_a_clear_error(tmp_path: Path) -> None:
    run = subprocess.run(
        _courtyard("demo", "--headless", "--homes", "0"), capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 2
    assert "--homes" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.timeout(150)
def test_interactive_demo_serves_the_dashboard_and_lets_a_resident_pair(tmp_path: Path) -> None:
    """The dashboard stays up after the timeline; a new smoke alarm is paired with its setup
    code as a resident would (here through ``courtyard hub pair``), and its first alarm reaches
    the community under the name and room the resident gave it."""
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
    login = pair = None
    deadline = time.monotonic() + 90
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if match := re.search(r"dashboard: (http://\S+/login\?token=\S+)", line):
            login = match.group(1)
        if match := re.search(
            r"open (http://\S+)/login\?token=(\S+) and enter setup code (\d{8})", line
        ):
            pair = match.groups()
        if "press Ctrl-C" in line:
            break
    try:
        assert login is not None and pair is not None, "".join(lines)
        base = login.split("/login")[0]
        token = login.split("token=")[1]
        with urllib.request.urlopen(base + "/api/health", timeout=10) as resp:
            assert json.load(resp)["status"] == "ok"
        kinds = {a["kind"] for a in _alarms(base, token)}
        assert "smoke_alarm" in kinds and "gas_alarm" in kinds

        hub_url, hub_token, code = pair
        paired = subprocess.run(
            _courtyard(
                "hub",
                "pair",
                "--hub",
                hub_url,
                "--token",
                hub_token,
                "--device",
                "1-101-new-smoke",
                "--code",
                code,
                "--name",
                "Study smoke alarm",
                "--room",
                "study",
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert paired.returncode == 0, paired.stdout + paired.stderr
        found: list[dict[str, object]] = []
        until = time.monotonic() + 40
        while not found and time.monotonic() < until:
            found = [
                a
                for a in _alarms(base, token)
                if a["device_id"] == "1-101-new-smoke" and a["kind"] == "smoke_alarm"
            ]
            time.sleep(0.5)
        assert found, "the new device's alarm never reached the community"
        assert (found[0]["device_name"], found[0]["room"]) == ("Study smoke alarm", "study")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode in (0, 130)
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def _alarms(base: str, token: str) -> list[dict[str, object]]:
    request = urllib.request.Request(
        base + "/api/alarms?limit=1000", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        alarms: list[dict[str, object]] = json.load(resp)["alarms"]
    return alarms


def _assert_property_story(prop: dict[str, Any]) -> None:
    """What the community recorded of its property services (issue: smart property)."""
    orders = prop["orders"]
    by_source = {o["source"]: o for o in orders["orders"]}
    assert by_source["alarm"]["alarm_id"] is not None and orders["from_alarm"]
    rated = by_source["resident"]
    assert rated["state"] == "confirmed" and rated["rating"] is not None
    assert orders["resident_rated"] and orders["hub_state"] == "confirmed"
    assert any(o["overdue_tiers"] for o in orders["orders"]) and orders["overdue_escalated"]
    notice = prop["notices"]
    assert notice["published"] and notice["urgent"]
    receipts = notice["receipts"]
    assert receipts and set(receipts.values()) <= {"delivered", "read"}
    assert "read" in receipts.values() and notice["counts"]["pending"] == 0
    visitors = prop["visitors"]
    entries = visitors["entries"]
    assert [e["accepted"] for e in entries] == [True, False]
    assert entries[1]["reason"] == "expired"
    assert {e["pass_id"] for e in entries} == {visitors["passes"][0]["pass_id"]}
    parcel = prop["parcels"]
    assert parcel["delivered_at"] and parcel["picked_up_at"] and parcel["reminded"] >= 1
    assert parcel["status"] == "picked_up"
    care = prop["care"]
    assert care["escalated_to"][:1] == ["family"] and care["family_told_at"]
    assert care["staff_alarm_id"] is not None
