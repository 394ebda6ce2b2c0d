"""``courtyard adapter``: decode a vendor message, scaffold an adapter package, list adapters.

A thin front over :mod:`devices.adapters`, so what the CLI prints is exactly what a hub
would get. Errors are one line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from devices.adapters import (
    AdapterDefinition,
    AdapterError,
    AdapterSession,
    AdapterSet,
    LoadReport,
    Protocol,
    SequenceCounter,
    load_adapters,
)
from devices.adapters.scaffold import scaffold
from devices.messages import to_dict

_PROG = "courtyard adapter"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``adapter`` and its subcommands on the ``courtyard`` parser."""
    adapter = sub.add_parser(
        "adapter",
        help="decode vendor messages, scaffold and list device adapters",
        description="Tools for device adapters: decode a vendor MQTT message into interop "
        "messages, scaffold a new adapter package, list the adapters that load.",
    )
    actions = adapter.add_subparsers(dest="adapter_command", required=True)

    decode = actions.add_parser(
        "decode",
        help="decode one vendor MQTT message",
        description="Print the interop messages one vendor message yields, one JSON object "
        "per line.",
    )
    decode.add_argument("--topic", required=True, help="MQTT topic the message came on")
    decode.add_argument(
        "--payload", required=True, help="the payload as text ('-' reads it from stdin)"
    )
    decode.add_argument("--adapter", default="", help="use only this protocol or definition")
    decode.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="PROTOCOL.KEY=VALUE",
        help="a protocol parameter, e.g. zigbee2mqtt.base=zigbee (repeatable)",
    )
    decode.add_argument(
        "--before",
        action="append",
        default=[],
        nargs=2,
        metavar=("TOPIC", "PAYLOAD"),
        help="decode this message first (a bridge's device list, an earlier state)",
    )
    decode.add_argument("--now", type=int, default=None, help="clock in ms (default: now)")
    decode.add_argument("--folder", type=Path, default=None, help="also load adapters here")

    new = actions.add_parser(
        "new",
        help="scaffold an adapter package with a passing conformance test",
        description="Create courtyard-adapter-NAME with a definition, fixtures and tests.",
    )
    new.add_argument("name", help="lower-case name, e.g. acme-smoke")
    new.add_argument("--dir", type=Path, default=Path("."), help="parent folder (default .)")

    listing = actions.add_parser("list", help="list the adapters that load")
    listing.add_argument("--folder", type=Path, default=None, help="also load adapters here")


def _fail(message: str, code: int = 1) -> int:
    print(f"{_PROG}: {' '.join(message.split())}", file=sys.stderr)
    return code


def _params(adapters: AdapterSet, specs: Sequence[str]) -> AdapterSet:
    for spec in specs:
        target, sep, value = spec.partition("=")
        protocol, dot, key = target.partition(".")
        if not sep or not dot or not key:
            raise ValueError(f"--param {spec!r} must look like PROTOCOL.KEY=VALUE")
        adapters = adapters.with_params(protocol, **{key: value})
    return adapters


def _warn(report: LoadReport) -> None:
    for problem in report.problems:
        print(f"{_PROG}: skipped {problem.source}: {problem.reason}", file=sys.stderr)


def _decode(args: argparse.Namespace) -> int:
    adapters, report = load_adapters(folder=args.folder)
    _warn(report)
    try:
        adapters = _params(adapters, args.param)
        session = AdapterSession(adapters, only=args.adapter)
    except ValueError as exc:
        return _fail(str(exc), 2)
    payload: bytes | str = sys.stdin.buffer.read() if args.payload == "-" else args.payload
    now = args.now if args.now is not None else int(time.time() * 1000)
    seq = SequenceCounter()
    try:
        for topic, earlier in args.before:
            session.decode(topic, earlier, now_ms=now, seq=seq)
        messages = session.decode(args.topic, payload, now_ms=now, seq=seq)
    except AdapterError as exc:
        return _fail(f"cannot decode: {exc.reason}")
    for msg in messages:
        print(json.dumps({"device_kind": str(msg.kind), **to_dict(msg)}, ensure_ascii=False))
    if not messages:
        print(
            f"{_PROG}: nothing to report (a topic with no device data, or a device no"
            " definition matches yet)",
            file=sys.stderr,
        )
    return 0


def _new(args: argparse.Namespace) -> int:
    try:
        root = scaffold(args.name, args.dir)
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    print(root)
    return 0


def _list(args: argparse.Namespace) -> int:
    adapters, report = load_adapters(folder=args.folder)
    for item in adapters:
        if isinstance(item, Protocol):
            params = " ".join(f"{k}={v}" for k, v in item.params.items())
            print(
                f"{item.name}  protocol  {item.description}" + (f"  [{params}]" if params else "")
            )
        elif isinstance(item, AdapterDefinition):
            exposes = ", ".join(str(c) for c in item.exposes)
            print(f"  {item.name}  {item.kind}  {item.vendor}  {exposes}")
    _warn(report)
    return 0 if report.ok else 1


def run(args: argparse.Namespace) -> int:
    """Carry out a parsed ``courtyard adapter ...`` command; returns the exit code."""
    handlers = {"decode": _decode, "new": _new, "list": _list}
    return handlers[args.adapter_command](args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="courtyard")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
