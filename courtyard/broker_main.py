"""``courtyard broker``: the embedded broker as a stand-alone process, for development.

Production runs Mosquitto; this exists so a developer can point a real device or MQTT tool at
a broker without installing anything. Accounts come from a JSON file; nobody is anonymous.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from courtyard.broker import Broker
from courtyard.demo.accounts import BrokerAccounts


def _read_accounts(passwords: Path) -> object:
    return json.loads(passwords.read_text(encoding="utf-8"))


async def run_broker(port: int, passwords: Path) -> int:
    try:
        table = _read_accounts(passwords)
    except (OSError, ValueError) as exc:
        print(f"courtyard broker: cannot read {passwords}: {exc}")
        return 2
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in table.items()
    ):
        print("courtyard broker: the passwords file must be a JSON object of non-empty strings")
        return 2
    accounts = BrokerAccounts()
    for user, password in table.items():
        accounts.add(user, password, superuser=user == "community")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Broker(port=port, authenticator=accounts, acl=accounts) as broker:
        print(f"courtyard broker listening on 127.0.0.1:{broker.port}", flush=True)
        await stop.wait()
    return 0
