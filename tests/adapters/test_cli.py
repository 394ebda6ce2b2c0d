"""``courtyard adapter`` through a real subprocess, as a developer runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str, cwd: Path = ROOT, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "courtyard.adapter_cli", "adapter", *args],
        cwd=cwd,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_decode_prints_one_json_object_per_message() -> None:
    result = cli(
        "decode",
        "--topic",
        "zigbee/smoke_detector",
        "--payload",
        '{"smoke":true,"battery_low":false,"linkquality":26,"last_seen":"2019-06-24T15:30:53.312Z"}',
        "--param",
        "zigbee2mqtt.base=zigbee",
        "--now",
        "1561390260000",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [m["type"] for m in lines] == ["state", "event"]
    assert all(m["device_kind"] == "smoke_alarm" for m in lines)
    assert (lines[1]["event"], lines[1]["priority"], lines[1]["ts"]) == (
        "smoke_alarm",
        "critical",
        1561390253312,
    )


def test_decode_with_adapter_and_before() -> None:
    devices = '[{"friendly_name": "btn", "definition": {"model": "HS1EB/HS1EB-E"}}]'
    result = cli(
        "decode",
        "--adapter",
        "zigbee2mqtt",
        "--before",
        "zigbee2mqtt/bridge/devices",
        devices,
        "--topic",
        "zigbee2mqtt/btn",
        "--payload",
        "-",
        stdin=b'{"action":"single"}',
    )
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert (line["device_kind"], line["event"], line["priority"]) == (
        "emergency_button",
        "emergency_call",
        "critical",
    )


def test_undecodable_payload_is_one_line_on_stderr() -> None:
    for args in (
        ("--topic", "shellies/shellygas-1/sensor/gas", "--payload", "explosion"),
        ("--topic", "zigbee2mqtt/hall", "--payload", "not json"),
        ("--topic", "nobody/knows", "--payload", "{}"),
    ):
        result = cli("decode", *args)
        assert result.returncode == 1
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("courtyard adapter: cannot decode:")


def test_bad_options_exit_2() -> None:
    result = cli("decode", "--topic", "a", "--payload", "b", "--adapter", "nope")
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr
    result = cli("decode", "--topic", "a", "--payload", "b", "--param", "base=zigbee")
    assert result.returncode == 2 and "PROTOCOL.KEY=VALUE" in result.stderr


def test_list_shows_protocols_and_definitions() -> None:
    result = cli("list")
    assert result.returncode == 0, result.stderr
    for name in ("zigbee2mqtt", "z2m_smoke", "shelly_gas", "shelly_plus_smoke", "tasmota_mq_gas"):
        assert name in result.stdout


def test_new_scaffolds_a_package_whose_tests_pass(tmp_path: Path) -> None:
    result = cli("new", "acme-smoke", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    root = Path(result.stdout.strip())
    assert root == tmp_path / "courtyard-adapter-acme-smoke"
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."courtyard.adapters"]' in pyproject
    assert 'acme_smoke = "courtyard_adapter_acme_smoke:ADAPTERS"' in pyproject
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "passed" in run.stdout and "failed" not in run.stdout
    # The scaffolded adapter also decodes through the CLI once its folder is loaded.
    result = cli(
        "decode",
        "--folder",
        str(root / "src"),
        "--topic",
        "acme-smoke/kitchen/state",
        "--payload",
        '{"smoke": true}',
    )
    assert result.returncode == 0, result.stderr


def test_new_refuses_bad_names_and_existing_folders(tmp_path: Path) -> None:
    assert cli("new", "Bad Name", "--dir", str(tmp_path)).returncode == 1
    assert cli("new", "ok", "--dir", str(tmp_path)).returncode == 0
    again = cli("new", "ok", "--dir", str(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr
