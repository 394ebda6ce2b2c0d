"""Sequence numbers keep increasing across restarts and crashes (blocks reserved before use)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from devices.catalog import DeviceKind
from firmware_stubs import StateFileError, WaterLeak
from firmware_stubs.memory import DeviceMemory, now_ms
from tests.firmware_stubs.conftest import MakeDevice
from tests.firmware_stubs.fakehub import FakeHub

REPO = Path(__file__).resolve().parents[2]


def _stored(path: Path) -> dict[str, object]:
    body = json.loads(path.read_text())
    assert isinstance(body, dict)
    return body


def test_block_is_written_before_its_first_number_is_used(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    memory = DeviceMemory(path, block=10)
    assert not path.exists()
    assert memory.take() == 1
    assert _stored(path)["next_seq"] == 11
    assert [memory.take() for _ in range(9)] == list(range(2, 11))
    assert _stored(path)["next_seq"] == 11
    assert memory.take() == 11  # first of the next block: reserved first
    assert _stored(path)["next_seq"] == 21


def test_crash_without_save_starts_a_new_block(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    first = DeviceMemory(path, block=10)
    used = [first.take() for _ in range(4)]
    del first  # power cut: no save
    second = DeviceMemory(path, block=10)
    assert second.take() == 11 > max(used)


def test_clean_save_resumes_at_the_next_number(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    first = DeviceMemory(path, block=10)
    first.battery_pct = 42.5
    used = [first.take() for _ in range(4)]
    first.save()
    second = DeviceMemory(path, block=10)
    assert second.take() == max(used) + 1
    assert second.battery_pct == 42.5


def test_without_a_state_file_the_counter_starts_from_the_clock() -> None:
    before = now_ms()
    assert DeviceMemory(None).take() >= before


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[1]",
        '{"next_seq": "12"}',
        '{"next_seq": 0}',
        '{"next_seq": true}',
        '{"next_seq": 5, "battery_pct": 101}',
        '{"next_seq": 5, "battery_pct": NaN}',
        b"\xff\xfe",
    ],
)
def test_untrustworthy_state_file_is_refused_and_left_alone(
    tmp_path: Path, content: str | bytes
) -> None:
    path = tmp_path / "dev.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    before = path.read_bytes()
    with pytest.raises(StateFileError):
        DeviceMemory(path)
    assert path.read_bytes() == before


async def test_clean_restart_continues_the_sequence(
    hub: FakeHub, make_device: MakeDevice, tmp_path: Path
) -> None:
    state_file = tmp_path / "leak.json"
    token = hub.provision("leak-reboot", DeviceKind.WATER_LEAK)
    first = await make_device(WaterLeak, "leak-reboot", token=token, state_file=state_file)
    first.start_leak()
    first.set_battery(42)
    await hub.wait_for(lambda: first.pending_events() == 0)
    await first.stop()
    last = max(hub.devices["leak-reboot"].first_seen)
    assert _stored(state_file) == {"next_seq": last + 1, "battery_pct": 42}

    second = await make_device(WaterLeak, "leak-reboot", token=token, state_file=state_file)
    second.start_leak()
    await hub.wait_for(lambda: second.pending_events() == 0 and len(second.sent_events) == 1)
    assert second.sent_events[0].seq > last
    assert second.battery_pct == 42
    assert hub.devices["leak-reboot"].regressions == []


async def _spawn(hub: FakeHub, *args: str, token: str | None = None) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if token is not None:
        env["COURTYARD_DEVICE_TOKEN"] = token
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "firmware_stubs",
        "--hub",
        hub.url,
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_crash_of_a_real_process_never_reuses_a_seq(
    hub: FakeHub, make_device: MakeDevice, tmp_path: Path
) -> None:
    state_file = tmp_path / "leak.json"
    token = hub.provision("leak-crash", DeviceKind.WATER_LEAK)
    proc = await _spawn(
        hub,
        "--kind=water_leak",
        "--id=leak-crash",
        f"--state-file={state_file}",
        "--heartbeat-s=0.02",
        token=token,
    )
    try:
        await hub.wait_for(lambda: len(hub.heartbeats("leak-crash")) >= 3, timeout=20)
    finally:
        proc.kill()  # SIGKILL: no chance to save
        await proc.wait()
    seen = list(hub.devices["leak-crash"].first_seen)
    assert seen[0] == 1
    assert _stored(state_file)["next_seq"] == 1001  # the block reserved before seq 1 was used

    after = await make_device(WaterLeak, "leak-crash", token=token, state_file=state_file)
    after.start_leak()
    await hub.wait_for(lambda: after.pending_events() == 0)
    new = hub.devices["leak-crash"].first_seen[len(seen) :]
    assert new[0] == 1001 > max(seen)
    assert hub.devices["leak-crash"].regressions == []


async def test_cli_prints_identity_and_stops_cleanly_on_sigint(
    hub: FakeHub, tmp_path: Path
) -> None:
    state_file = tmp_path / "smoke.json"
    token = hub.provision("smoke-cli", DeviceKind.SMOKE_ALARM)
    proc = await _spawn(
        hub,
        "--kind",
        "smoke_alarm",
        "--id",
        "smoke-cli",
        "--token",
        token,
        "--state-file",
        str(state_file),
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert "device_id=smoke-cli" in line
        assert "kind=smoke_alarm" in line
        assert "model=" in line and "firmware=1.0.0" in line
        await hub.wait_for(lambda: len(hub.states("smoke-cli")) >= 1, timeout=20)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"stopped smoke-cli" in out
    assert token.encode() not in out + err  # the token is never printed or logged
    # A clean stop saves the exact counter, not the reserved block's end (1001), and never one
    # the hub has seen. (Not "== max + 1": a heartbeat numbered as SIGINT arrived may never
    # have reached the hub, which is fine: sequence numbers must grow, not be contiguous.)
    assert max(hub.devices["smoke-cli"].first_seen) < _stored(state_file)["next_seq"] < 1001


async def test_cli_refuses_a_corrupt_state_file(hub: FakeHub, tmp_path: Path) -> None:
    state_file = tmp_path / "bad.json"
    state_file.write_text("{broken")
    proc = await _spawn(
        hub,
        "--kind=gas_detector",
        "--id=gas-cli",
        f"--state-file={state_file}",
        token="some-token",
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert b"not JSON" in err
    assert state_file.read_text() == "{broken"
    assert hub.attempts == 0
