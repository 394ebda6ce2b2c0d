"""Run one reference device from the command line until SIGINT or SIGTERM.

    python -m firmware_stubs --kind smoke_alarm --id smoke-1 \
        --hub ws://127.0.0.1:8123/api/device/ws --token TOKEN --state-file smoke-1.json

The token may come from ``COURTYARD_DEVICE_TOKEN`` instead of ``--token`` (so it is not
visible in the process list). It is never printed or logged.

With ``--pairing`` instead of ``--hub``/``--token`` the device starts unpaired, as one out of
the box: it prints its setup code and QR payload, advertises itself over mDNS and waits for a
hub to pair it, then connects with the credential it received. The key, code and credential
are kept in ``STATE_FILE.identity`` (owner-only), so a restarted device reconnects directly.
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
from firmware_stubs.device_secrets import HubCredentials, identity_path, load_or_create, save
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.kinds import make_device
from firmware_stubs.memory import StateFileError
from firmware_stubs.pairing import PairingServer, PairingWindow

TOKEN_ENV = "COURTYARD_DEVICE_TOKEN"  # noqa: S105 - the variable name, not a secret


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m firmware_stubs", description=__doc__.split("\n")[0])
    p.add_argument("--kind", required=True, choices=[str(k) for k in DeviceKind])
    p.add_argument("--id", required=True, dest="device_id", help="device id")
    p.add_argument("--hub", help="ws://host:port/api/device/ws (token mode)")
    p.add_argument("--token", help=f"device token (default: ${TOKEN_ENV})")
    p.add_argument("--state-file", type=Path, help="persists the seq counter and battery")
    p.add_argument("--heartbeat-s", type=float, default=60.0)
    p.add_argument("--telemetry-s", type=float, default=30.0)
    p.add_argument(
        "--pairing", action="store_true", help="start unpaired and wait for a hub to pair it"
    )
    p.add_argument("--listen", default="127.0.0.1", help="pairing endpoint address")
    p.add_argument("--pairing-port", type=int, default=0, help="pairing endpoint port (0: any)")
    p.add_argument(
        "--window-s", type=float, default=600.0, help="pairing window, seconds (at most 600)"
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


async def _pair(args: argparse.Namespace, stop: asyncio.Event) -> HubCredentials | None:
    """Wait for a hub to pair this device; None if stopped first."""
    path = identity_path(args.state_file) if args.state_file else None
    secrets = load_or_create(path)
    if secrets.credentials is not None:
        print(f"paired with hub {secrets.credentials.hub_id}", flush=True)
        return secrets.credentials

    def persist(credentials: HubCredentials) -> None:
        if path is not None:
            save(path, secrets.paired(credentials))

    identity = DeviceIdentity.default(DeviceKind(args.kind), args.device_id)
    server = PairingServer(
        identity,
        secrets,
        window=PairingWindow(duration_s=args.window_s),
        host=args.listen,
        port=args.pairing_port,
        on_paired=persist,
    )
    await server.start()
    print(f"setup code {server.setup_code}", flush=True)
    print(f"QR {server.qr_payload}", flush=True)
    print(f"pairing on port {server.port} for {args.window_s:.0f} s", flush=True)
    try:
        paired = asyncio.ensure_future(server.wait_paired())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([paired, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not paired.done():
            paired.cancel()
            return None
        credentials = paired.result()
    finally:
        await server.stop()
    print(f"paired with hub {credentials.hub_id}", flush=True)
    return credentials


async def _run(args: argparse.Namespace, token: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hub_url = args.hub
    if args.pairing:
        credentials = await _pair(args, stop)
        if credentials is None:
            return
        hub_url, token = credentials.hub_url, credentials.token
    device = make_device(
        DeviceKind(args.kind),
        args.device_id,
        hub_url,
        token,
        heartbeat_s=args.heartbeat_s,
        telemetry_s=args.telemetry_s,
        state_file=args.state_file,
    )
    print(device.identity.describe(), flush=True)
    await device.start()
    try:
        await stop.wait()
    finally:
        await device.stop()
    print(f"stopped {device.device_id} (next seq {device.next_seq})", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not args.pairing and not (token and args.hub):
        print(
            f"give --pairing, or --hub and a device token (--token or ${TOKEN_ENV})",
            file=sys.stderr,
        )
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
