"""Run one reference device from the command line until SIGINT or SIGTERM.

    python -m firmware_stubs --kind smoke_alarm --id smoke-1 \
        --hub ws://127.0.0.1:8123/api/device/ws --token TOKEN --state-file smoke-1.json

The token may come from ``COURTYARD_DEVICE_TOKEN`` instead of ``--token`` (so it is not
visible in the process list). It is never printed or logged.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from devices.catalog import DeviceKind
from firmware_stubs.kinds import make_device
from firmware_stubs.memory import StateFileError

TOKEN_ENV = "COURTYARD_DEVICE_TOKEN"  # noqa: S105 - the variable name, not a secret


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m firmware_stubs", description=__doc__.split("\n")[0])
    p.add_argument("--kind", required=True, choices=[str(k) for k in DeviceKind])
    p.add_argument("--id", required=True, dest="device_id", help="device id")
    p.add_argument("--hub", required=True, help="ws://host:port/api/device/ws")
    p.add_argument("--token", help=f"device token (default: ${TOKEN_ENV})")
    p.add_argument("--state-file", type=Path, help="persists the seq counter and battery")
    p.add_argument("--heartbeat-s", type=float, default=60.0)
    p.add_argument("--telemetry-s", type=float, default=30.0)
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


async def _run(args: argparse.Namespace, token: str) -> None:
    device = make_device(
        DeviceKind(args.kind),
        args.device_id,
        args.hub,
        token,
        heartbeat_s=args.heartbeat_s,
        telemetry_s=args.telemetry_s,
        state_file=args.state_file,
    )
    print(device.identity.describe(), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await device.start()
    try:
        await stop.wait()
    finally:
        await device.stop()
    print(f"stopped {device.device_id} (next seq {device.next_seq})", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"a device token is required (--token or ${TOKEN_ENV})", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_run(args, token))
    except (StateFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
