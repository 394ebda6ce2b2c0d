"""``courtyard hub …``: pair, list and remove a hub's devices from a shell.

For gateways without a screen. A thin client of the hub's resident API; the admin token is
``data_dir/admin.token`` and can come from ``--token``, ``--token-file`` or the
``COURTYARD_HUB_TOKEN`` environment variable (so it stays out of the process list).

    courtyard hub discovered --hub http://127.0.0.1:8123 --token-file data/admin.token
    courtyard hub pair --hub URL --token T --device smoke-1 --code 48203917 \\
        --name "Kitchen alarm" --room kitchen
    courtyard hub pair --hub URL --token T --qr 'CY:1/smoke-1/smoke_alarm/…' --name … --room …
    courtyard hub devices --hub URL --token T [--json]
    courtyard hub remove --hub URL --token T --device smoke-1

Exit status: 0 done; 1 the hub refused (wrong code, unknown device …: one line on stderr);
2 bad usage, no token, or the hub cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

#: Top-level subcommands this module adds to ``courtyard``.
COMMANDS: Final = ("hub",)
TOKEN_ENV: Final = "COURTYARD_HUB_TOKEN"  # noqa: S105 - the variable's name, not a secret
#: Pairing waits for the device; give it longer than the hub's own per-step timeouts.
TIMEOUT_S: Final = 60.0


class CliError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hub", required=True, metavar="URL", help="e.g. http://gateway:8123")
    parser.add_argument("--token", help=f"admin token (default: ${TOKEN_ENV})")
    parser.add_argument("--token-file", type=Path, help="read the token from this file")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``hub`` with ``pair``, ``devices``, ``discovered`` and ``remove``."""
    hub = sub.add_parser("hub", help="pair, list and remove a home hub's devices")
    commands = hub.add_subparsers(dest="hub_command", required=True)

    pair = commands.add_parser(
        "pair",
        help="pair a discovered device with its setup code (or QR payload)",
        description="The device must be in pairing mode on the hub's network. Its 8-digit "
        "setup code is on its label; a scanned QR payload (CY:1/…) also proves its key.",
    )
    _common(pair)
    pair.add_argument("--device", metavar="ID", help="device id (with --code)")
    pair.add_argument("--code", help="8-digit setup code (with --device)")
    pair.add_argument("--qr", help="QR payload instead of --device/--code")
    pair.add_argument("--fingerprint", help="expected key fingerprint (16 hex digits)")
    pair.add_argument("--name", required=True, help='what to call it, e.g. "Kitchen alarm"')
    pair.add_argument("--room", required=True, help="e.g. kitchen")

    devices = commands.add_parser("devices", help="list paired devices")
    _common(devices)
    devices.add_argument("--json", action="store_true", help="one JSON object per line")

    discovered = commands.add_parser("discovered", help="list devices waiting to be paired")
    _common(discovered)
    discovered.add_argument("--json", action="store_true", help="one JSON object per line")

    remove = commands.add_parser(
        "remove", help="unpair a device: its credential is revoked and its link closed"
    )
    _common(remove)
    remove.add_argument("--device", metavar="ID", required=True)


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token).strip()
    if args.token_file is not None:
        try:
            return Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CliError(f"cannot read {args.token_file}: {exc.strerror}", 2) from None
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise CliError(f"the hub's admin token is required (--token or ${TOKEN_ENV})", 2)
    return token


def _request(
    args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    base = str(args.hub).rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise CliError("--hub must be an http:// or https:// URL", 2)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {_token(args)}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise CliError(_refusal(exc), 1) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"cannot reach the hub at {base}: {reason}", 2) from None
    except ValueError:
        raise CliError("the hub answered with something that is not JSON", 2) from None


def _refusal(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        message = str(body.get("error", exc.reason))
        left = body.get("attempts_left")
    except (ValueError, AttributeError, OSError):
        message, left = str(exc.reason), None
    suffix = f" ({left} attempts left)" if isinstance(left, int) else ""
    return f"hub refused (HTTP {exc.code}): {message}{suffix}"


def _pair(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name, "room": args.room}
    if args.qr:
        if args.device or args.code:
            raise CliError("give either --qr or --device and --code", 2)
        body["qr"] = args.qr
    else:
        if not (args.device and args.code):
            raise CliError("give --device and --code (or --qr)", 2)
        body |= {"device_id": args.device, "code": args.code}
        if args.fingerprint:
            body["fingerprint"] = args.fingerprint
    device = _request(args, "POST", "/api/pairing/pair", body)["device"]
    print(
        f"paired {device['device_id']} ({device['kind']}) as {device['name']!r} in {device['room']}"
    )
    return 0


def _list(args: argparse.Namespace, path: str, key: str, columns: Sequence[str]) -> int:
    rows = _request(args, "GET", path)[key]
    for row in rows:
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print("\t".join(str(row.get(c, "")) for c in columns))
    return 0


def _remove(args: argparse.Namespace) -> int:
    device = urllib.parse.quote(args.device, safe="")
    _request(args, "DELETE", f"/api/devices/{device}")
    print(f"removed {args.device}; its credential no longer works")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``courtyard hub …`` command; returns the exit status."""
    try:
        match args.hub_command:
            case "pair":
                return _pair(args)
            case "devices":
                return _list(
                    args, "/api/devices", "devices", ("device_id", "kind", "name", "room", "online")
                )
            case "discovered":
                return _list(
                    args,
                    "/api/pairing/discovered",
                    "discovered",
                    ("device_id", "kind", "model", "fingerprint"),
                )
            case "remove":
                return _remove(args)
    except CliError as exc:
        print(f"courtyard hub: {exc}", file=sys.stderr)
        return exc.status
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m courtyard.hub_cli pair …`` (the leading ``hub`` may be left out)."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] != ["hub"]:
        words.insert(0, "hub")
    parser = argparse.ArgumentParser(prog="courtyard")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(words))


if __name__ == "__main__":
    sys.exit(main())
