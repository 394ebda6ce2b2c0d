"""The command lines, as processes: a stub device started unpaired, and ``courtyard hub``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from hub import Hub
from tests.hub.support import REPO
from tests.pairing.support import MakeHub, eventually, unique


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "courtyard.hub_cli",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class StubProcess:
    """``python -m firmware_stubs --pairing`` as a child process."""

    def __init__(self, device_id: str, state_file: Path) -> None:
        self.device_id = device_id
        self.state_file = state_file
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "firmware_stubs",
            "--kind",
            "smoke_alarm",
            "--id",
            self.device_id,
            "--pairing",
            "--state-file",
            str(self.state_file),
            "--log-level",
            "WARNING",
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def line(self, prefix: str) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), 20)
            assert raw, f"the stub exited before printing {prefix!r}: {self.lines}"
            text = raw.decode().strip()
            self.lines.append(text)
            if text.startswith(prefix):
                return text[len(prefix) :].strip()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), 20)


def connected(hub: Hub, device_id: str) -> bool:
    record = hub.device(device_id)
    return record is not None and record.connected


async def test_pair_list_and_remove_a_stub_from_the_command_line(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    hub = await make_hub()
    base = [
        "--hub",
        f"http://127.0.0.1:{hub.http_port}",
        "--token-file",
        str(hub.config.data_dir / "admin.token"),
    ]
    device_id = unique("smoke")
    stub = StubProcess(device_id, tmp_path / "smoke.json")
    await stub.start()
    try:
        code = await stub.line("setup code")
        qr = await stub.line("QR")
        assert (
            len(code) == 8 and qr.startswith(f"CY:1/{device_id}/smoke_alarm/") and qr.endswith(code)
        )
        await eventually(
            lambda: any(d.device_id == device_id for d in hub.discovered()), "discovery"
        )

        status, out, err = await run_cli("discovered", *base, "--json")
        assert status == 0 and json.loads(out.splitlines()[0])["device_id"] == device_id

        wrong = "13572468" if code != "13572468" else "24681357"
        status, out, err = await run_cli(
            "pair",
            *base,
            "--device",
            device_id,
            "--code",
            wrong,
            "--name",
            "Kitchen alarm",
            "--room",
            "kitchen",
        )
        assert status == 1 and "wrong setup code" in err and "19 attempts left" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err

        status, out, err = await run_cli(
            "pair",
            *base,
            "--device",
            device_id,
            "--code",
            code,
            "--name",
            "Kitchen alarm",
            "--room",
            "kitchen",
        )
        assert status == 0, err
        assert out.strip() == f"paired {device_id} (smoke_alarm) as 'Kitchen alarm' in kitchen"
        await eventually(lambda: connected(hub, device_id), "the stub to link with its credential")
        identity = tmp_path / "smoke.json.identity"
        assert identity.stat().st_mode & 0o077 == 0
        assert json.loads(identity.read_text())["credentials"]["hub_id"] == hub.hub_id

        # Restarted, it reconnects with what it stored, without pairing again.
        await stub.stop()
        await eventually(lambda: not connected(hub, device_id), "the stub to go")
        stub = StubProcess(device_id, tmp_path / "smoke.json")
        await stub.start()
        assert await stub.line("paired with hub") == hub.hub_id
        await eventually(lambda: connected(hub, device_id), "the restarted stub to link")

        status, out, err = await run_cli("devices", *base)
        assert status == 0 and out.split("\t")[:4] == [
            device_id,
            "smoke_alarm",
            "Kitchen alarm",
            "kitchen",
        ]

        status, out, err = await run_cli("remove", *base, "--device", device_id)
        assert status == 0, err
        await eventually(lambda: hub.device(device_id) is None, "the removal")
        status, out, err = await run_cli("remove", *base, "--device", device_id)
        assert status == 1 and "no device" in err
    finally:
        await stub.stop()


async def test_cli_usage_errors_are_one_line(make_hub: MakeHub) -> None:
    hub = await make_hub()
    url = f"http://127.0.0.1:{hub.http_port}"
    env_free = {k: v for k, v in os.environ.items() if k != "COURTYARD_HUB_TOKEN"}
    cases = [
        (["devices", "--hub", url], 2, "admin token is required"),
        (["devices", "--hub", url, "--token", "wrong"], 1, "HTTP 401"),
        (["devices", "--hub", "ftp://x", "--token", "t"], 2, "http://"),
        (["devices", "--hub", "http://127.0.0.1:1", "--token", "t"], 2, "cannot reach"),
        (["pair", "--hub", url, "--token", "t", "--name", "a", "--room", "b"], 2, "--device"),
    ]
    for args, expected, message in cases:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "courtyard.hub_cli",
            *args,
            cwd=REPO,
            env=env_free,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == expected, (args, err)
        assert message in err.decode() and len(err.decode().strip().splitlines()) == 1
