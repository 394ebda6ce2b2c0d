"""The one console command, ``courtyard``, with a subcommand per role.

Each subcommand is a thin front over a package's own entry point, so the CLI mirrors the
Python API and never grows logic of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from courtyard import adapter_cli, hub_cli, privacy_cli


def _demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo",
        help="run a whole community on this machine (embedded broker, no services needed)",
        description="Start an embedded MQTT broker, a community server with its dashboard, and N "
        "simulated homes with a hub and six life-safety devices each, then play a scripted "
        "incident timeline.",
    )
    demo.add_argument("--homes", type=int, default=20, help="number of homes (default 20)")
    demo.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds the timeline takes (default 30 headless, 90 interactive)",
    )
    demo.add_argument(
        "--headless", action="store_true", help="no waiting for a person; exit at the end"
    )
    demo.add_argument("--report", type=Path, default=None, help="write a JSON report here")
    demo.add_argument(
        "--data-dir", type=Path, default=None, help="keep databases here (default: temporary)"
    )
    demo.add_argument(
        "--port",
        type=int,
        default=None,
        help="dashboard port (default 8600, or any free port when headless; 0 = any free port)",
    )
    demo.add_argument("--seed", type=int, default=7, help="seed of the simulated physics")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="courtyard", description="Courtyard: safe homes, a safe community."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _demo_parser(sub)
    adapter_cli.add_parser(sub)
    privacy_cli.add_parser(sub)
    hub_cli.add_parser(sub)
    broker = sub.add_parser("broker", help="run the embedded MQTT broker (development only)")
    broker.add_argument("--port", type=int, default=1883)
    broker.add_argument(
        "--passwords",
        type=Path,
        required=True,
        help="JSON file {username: password}; there is no anonymous access",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The demo's own output is its live table; library warnings stay out of it unless asked.
    quiet = logging.ERROR if args.command == "demo" else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else quiet,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "adapter":
            return adapter_cli.run(args)
        if args.command in hub_cli.COMMANDS:
            return hub_cli.run(args)
        if args.command in privacy_cli.COMMANDS:
            return privacy_cli.run(args)
        if args.command == "demo":
            from courtyard.demo.runner import DemoOptions, run_demo

            headless = bool(args.headless)
            duration = args.duration if args.duration is not None else (30.0 if headless else 90.0)
            if args.homes < 1 or duration <= 0:
                print(
                    "courtyard demo: --homes must be at least 1 and --duration positive",
                    file=sys.stderr,
                )
                return 2
            options = DemoOptions(
                homes=args.homes,
                duration=duration,
                headless=headless,
                report=args.report,
                data_dir=args.data_dir,
                port=args.port if args.port is not None else (0 if headless else 8600),
                seed=args.seed,
            )
            try:
                return asyncio.run(run_demo(options))
            except OSError as exc:
                print(f"courtyard demo: {exc.strerror or exc} (try --port 0)", file=sys.stderr)
                return 1
        if args.command == "broker":
            from courtyard.broker_main import run_broker

            return asyncio.run(run_broker(args.port, args.passwords))
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
