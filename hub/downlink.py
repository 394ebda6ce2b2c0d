"""The downlink: commands from the community, verified, executed at most once, and answered.

A command arrives on ``courtyard/v1/hub/<hub>/down`` as an envelope the community signed with
its own Ed25519 key. The hub only trusts the key it was given at enrollment
(``HubConfig.community_public_key_hex``); without one, every downlink is refused. Anyone who
can publish on the topic (the broker's ACL already limits that) still cannot make the hub do
anything without that key.

Each ``command_id`` is executed at most once, ever: it is written to SQLite *before* the
device is asked, so a crash mid-command, a replayed envelope, a broker redelivery or the
community's own retry never runs it twice. A repeat gets the stored result re-reported
instead (the community retries exactly because a result was lost). The result travels up as
a ``command_result`` outbox record, so it has the uplink's at-least-once delivery and
survives a hub restart.

The same topic carries community notices (``"type": "notice"``), verified by the same key and
handed to ``on_notice`` (``hub.notices``), which stores each once and receipts every copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from devices.catalog import CommandName
from devices.messages import Ack, InteropError
from devices.uplink import (
    CommandOutcome,
    DownlinkCommand,
    DownlinkNotice,
    command_result,
    decode_down,
)
from hub.config import HubConfig
from hub.core import now_ms
from hub.outbox import Outbox
from hub.store import Store
from privacy.envelope import EnvelopeError, open_signed

_LOG = logging.getLogger(__name__)

Execute = Callable[[str, CommandName, dict[str, Any]], Awaitable[Ack]]

#: The error a command gets when the hub stopped while it was being executed.
INTERRUPTED: Final = "interrupted: the hub stopped before the device answered"

_TABLE: Final = """CREATE TABLE IF NOT EXISTS downlink_commands (
    command_id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    command TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    ok INTEGER,
    error TEXT
)"""


def community_key(config: HubConfig) -> Ed25519PublicKey | None:
    """The community's enrolled signing key, or None (then every downlink is refused)."""
    if config.community_public_key_hex is None:
        return None
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(config.community_public_key_hex))


class Verdict(StrEnum):
    EXECUTED = "executed"
    REPEATED = "repeated"
    REFUSED = "refused"
    NOTED = "noted"


class Downlink:
    """Verifies, de-duplicates and executes downlink commands; queues their results."""

    def __init__(
        self,
        *,
        hub_id: str,
        community_key: Ed25519PublicKey | None,
        store: Store,
        outbox: Outbox,
        execute: Execute,
        wake_uplink: Callable[[], None],
        on_notice: Callable[[DownlinkNotice], object] | None = None,
    ) -> None:
        self._hub_id = hub_id
        self._key = community_key
        self._store = store
        self._outbox = outbox
        self._execute = execute
        self._wake = wake_uplink
        self._on_notice = on_notice
        self._tasks: set[asyncio.Task[Verdict]] = set()
        db = store.db
        with store.transaction():
            db.execute(_TABLE)
            # Started but never finished: the hub stopped mid-command. Never run it again.
            db.execute(
                "UPDATE downlink_commands SET done = 1, ok = 0, error = ? WHERE done = 0",
                [INTERRUPTED],
            )

    def receive(self, payload: bytes) -> None:
        """Take a payload from the MQTT thread's hand-off; handled in its own task."""
        task = asyncio.get_running_loop().create_task(self.handle(payload), name="downlink")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def handle(self, payload: bytes) -> Verdict:
        """Verify and execute one downlink payload; never raises for bad input."""
        cmd = self._verify(payload)
        if cmd is None:
            return Verdict.REFUSED
        if isinstance(cmd, DownlinkNotice):
            if self._on_notice is None:
                _LOG.warning("notice %s refused: this hub takes no notices", cmd.notice_id)
                return Verdict.REFUSED
            self._on_notice(cmd)
            return Verdict.NOTED
        if not self._claim(cmd):
            self._report_again(cmd.command_id)
            return Verdict.REPEATED
        try:
            ack = await self._execute(cmd.device_id, cmd.command, cmd.args)
            outcome = CommandOutcome(cmd.command_id, ack.ok, ack.error[:256])
        except ValueError as exc:  # a call the hub refuses: unknown device, wrong kind, args
            outcome = CommandOutcome(cmd.command_id, False, f"refused: {exc}"[:256])
        _LOG.info(
            "downlink %s %s -> %s: ok=%s",
            cmd.command_id,
            cmd.command,
            cmd.device_id,
            outcome.ok,
        )
        self._finish(outcome)
        return Verdict.EXECUTED

    def status(self, command_id: str) -> dict[str, Any] | None:
        """The stored row for a command id (None if never received)."""
        rows = self._store.db.execute(
            "SELECT command_id, device_id, command, done, ok, error FROM downlink_commands"
            " WHERE command_id = ?",
            [command_id],
        ).fetchall()
        if not rows:
            return None
        keys = ("command_id", "device_id", "command", "done", "ok", "error")
        return dict(zip(keys, rows[0], strict=True))

    # --- steps -----------------------------------------------------------------------------

    def _verify(self, payload: bytes) -> DownlinkCommand | DownlinkNotice | None:
        if self._key is None:
            _LOG.warning("downlink refused: no community key enrolled")
            return None
        key = self._key
        try:
            opened = open_signed(payload, lambda _sender: key)
            cmd = decode_down(opened.body)
        except (EnvelopeError, InteropError) as exc:
            _LOG.warning("downlink refused: %s", exc)
            return None
        if cmd.community_id != opened.sender:
            _LOG.warning("downlink refused: community_id is not the envelope's sender")
            return None
        return cmd

    def _claim(self, cmd: DownlinkCommand) -> bool:
        """Record the command before executing it; False if its id was seen before."""
        with self._store.transaction():
            cursor = self._store.db.execute(
                "INSERT OR IGNORE INTO downlink_commands"
                " (command_id, community_id, device_id, command, received_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [cmd.command_id, cmd.community_id, cmd.device_id, str(cmd.command), now_ms()],
            )
            return cursor.rowcount == 1

    def _finish(self, outcome: CommandOutcome) -> None:
        with self._store.transaction():
            self._store.db.execute(
                "UPDATE downlink_commands SET done = 1, ok = ?, error = ? WHERE command_id = ?",
                [int(outcome.ok), outcome.error, outcome.command_id],
            )
            self._outbox.add(command_result(self._hub_id, 0, now_ms(), outcome))
        self._wake()

    def _report_again(self, command_id: str) -> None:
        row = self.status(command_id)
        if row is None or not row["done"]:
            return  # still executing: its result is on the way
        outcome = CommandOutcome(command_id, bool(row["ok"]), str(row["error"] or ""))
        with self._store.transaction():
            self._outbox.add(command_result(self._hub_id, 0, now_ms(), outcome))
        self._wake()
