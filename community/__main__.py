"""``python -m community run --config FILE.json``: one community server until SIGTERM/SIGINT.

The config file holds :class:`~community.config.CommunityConfig`'s fields and a ``hubs`` list
(``hub_id``, ``home_id``, ``public_key_hex``, optional ``building``/``unit``). Listed hubs'
keys are registered at every start without rotating their broker passwords, so restarting
the process never locks a hub out.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from community.config import CommunityConfig, ConfigError, HubEntry, load_config
from community.server import CAP_TOKEN_FILE, TOKEN_FILE, CommunityServer


async def _run(config: CommunityConfig, hubs: list[HubEntry]) -> int:
    server = CommunityServer(config)
    for hub in hubs:
        server.register_hub_key(
            hub.hub_id, hub.home_id, hub.public_key, building=hub.building, unit=hub.unit
        )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await server.start()
    print(f"community listening on {server.http_port}", flush=True)
    print(f"manager token in {config.data_dir / TOKEN_FILE}", flush=True)
    print(f"CAP feed token in {config.data_dir / CAP_TOKEN_FILE}", flush=True)
    try:
        await stopping.wait()
    finally:
        await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m community", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one community server")
    run.add_argument("--config", type=Path, required=True, help="JSON config file")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config, hubs = load_config(args.config)
        return asyncio.run(_run(config, hubs))
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # for example the HTTP port is taken or data_dir is not writable
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
