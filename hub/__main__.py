"""``python -m hub run --config FILE.json``: run one hub until SIGTERM or SIGINT.

The file holds :class:`~hub.config.HubConfig` fields plus ``devices``, each provisioned with
the token given there. One line ``hub <id> listening on <port>`` goes to stdout once the hub
accepts connections, so a supervisor (or a test) knows where to find it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from hub.config import ConfigError, load_config
from hub.keys import KeyFileError
from hub.runtime import Hub
from hub.store import StoreError


async def _run(config_path: Path) -> None:
    config, seeds = load_config(config_path)
    hub = Hub(config)
    for seed in seeds:
        hub.provision_device(seed.device_id, seed.kind, seed.name, seed.room, token=seed.token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await hub.start()
        print(f"hub {config.hub_id} listening on {hub.http_port}", flush=True)
        await stop.wait()
    finally:
        await hub.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub", description="Run a Courtyard home hub.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one hub from a JSON configuration file")
    run.add_argument("--config", type=Path, required=True, help="JSON file of HubConfig fields")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_run(args.config))
    except (ConfigError, KeyFileError, StoreError, ValueError) as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
