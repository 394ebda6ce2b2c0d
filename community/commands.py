"""Commands from the community to a device behind a hub: signed, booked, retried, settled.

``send`` validates a command against the interop catalog, books it as ``pending`` in the
community database, and publishes it to the hub's downlink topic as an envelope signed with
the community's key. Until the hub's ``command_result`` record settles it (``acked`` or
``failed``), the command is published again every ``retry_s`` (same ``command_id``: the hub
executes it once and re-reports the result). The book survives a restart, so a cut the
server was still waiting on is retried after it comes back.

A command with no result after ``unacknowledged_after_s`` is reported once to
``on_unacknowledged`` (a safety cut nobody confirmed is an alarm of its own:
``charger_command_unacknowledged``); one with none after ``expire_after_s`` becomes failed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from community import command_book as book
from community.clock import Clock
from community.rounds import Rounds
from community.store import Store
from devices.catalog import CommandName
from devices.messages import InteropError
from devices.uplink import DownlinkCommand, decode_downlink, encode_downlink, topic_down
from privacy.envelope import seal

log = logging.getLogger(__name__)

Writer = Callable[..., Awaitable[Any]]
Publish = Callable[[str, bytes], bool]


class CommandDesk:
    def __init__(
        self,
        *,
        community_id: str,
        key: Ed25519PrivateKey,
        store: Store,
        write: Writer,
        publish: Publish,
        clock: Clock,
        retry_s: float = 5.0,
        unacknowledged_after_s: float = 30.0,
        expire_after_s: float = 3600.0,
        on_unacknowledged: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if not 0 < retry_s <= unacknowledged_after_s <= expire_after_s:
            raise ValueError("need 0 < retry_s <= unacknowledged_after_s <= expire_after_s")
        self._community_id = community_id
        self._key = key
        self._store = store
        self._write = write
        self._publish = publish
        self._clock = clock
        self.retry_s = retry_s
        self.unacknowledged_after_s = unacknowledged_after_s
        self.expire_after_s = expire_after_s
        self.on_unacknowledged = on_unacknowledged
        self._rounds = Rounds("community-commands", self._round, lambda: min(1.0, self.retry_s / 2))
        with store.transaction() as db:
            book.ensure_table(db)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    # --- the API ---------------------------------------------------------------------------

    async def send(
        self, hub_id: str, device_id: str, command: str, args: dict[str, Any] | None = None
    ) -> str:
        """Book and publish a command; returns its ``command_id``. ValueError if invalid."""
        known = self._store.read("SELECT 1 FROM hubs WHERE hub_id = ?", [hub_id])
        if not known:
            raise ValueError(f"hub {hub_id!r} is not enrolled")
        command_id = uuid.uuid4().hex
        draft = DownlinkCommand(
            self._community_id, 1, 0, command_id, device_id, _name(command), dict(args or {})
        )
        try:
            checked = decode_downlink(encode_downlink(draft))
        except InteropError as exc:
            raise ValueError(f"invalid command: {exc.reason}") from None
        await self._write(self._book, hub_id, checked)
        self._rounds.wake()
        return command_id

    def status(self, command_id: str) -> dict[str, Any] | None:
        """The booked command: status (pending/acked/failed), overdue, attempts, error."""
        rows = self._store.read(
            "SELECT command_id, hub_id, device_id, command, status, overdue, attempts, error,"
            " issued_ms, result_ms FROM downlink_commands WHERE command_id = ?",
            [command_id],
        )
        return rows[0] if rows else None

    # --- work on the writer thread ---------------------------------------------------------

    def _book(self, hub_id: str, cmd: DownlinkCommand) -> None:
        with self._store.transaction() as db:
            book.add(
                db,
                command_id=cmd.command_id,
                hub_id=hub_id,
                device_id=cmd.device_id,
                command=str(cmd.command),
                args=cmd.args,
                now=self._clock(),
            )

    def _chores(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        now = self._clock()
        with self._store.transaction() as db:
            expired = book.expire(db, now, int(self.expire_after_s * 1000))
            overdue = book.newly_overdue(db, now, int(self.unacknowledged_after_s * 1000))
            due = book.due(db, now, int(self.retry_s * 1000))
        if expired:
            log.warning("%d downlink command(s) expired without a result", expired)
        return due, overdue

    def _sent(self, command_ids: list[str]) -> None:
        now = self._clock()
        with self._store.transaction() as db:
            for command_id in command_ids:
                book.mark_sent(db, command_id, now)

    # --- the loop --------------------------------------------------------------------------

    async def _round(self) -> None:
        due, overdue = await self._write(self._chores)
        sent = [row["command_id"] for row in due if self._publish_row(row)]
        if sent:
            await self._write(self._sent, sent)
        for row in overdue:
            log.warning(
                "downlink %s (%s to %s) has no result yet",
                row["command_id"],
                row["command"],
                row["device_id"],
            )
            if self.on_unacknowledged is not None:
                try:
                    self.on_unacknowledged(row)
                except Exception:
                    log.exception("on_unacknowledged hook failed")

    def _publish_row(self, row: dict[str, Any]) -> bool:
        cmd = DownlinkCommand(
            community_id=self._community_id,
            seq=int(row["seq"]),
            ts=int(row["issued_ms"]),
            command_id=str(row["command_id"]),
            device_id=str(row["device_id"]),
            command=CommandName(row["command"]),
            args=dict(row["args"]),
        )
        envelope = seal(self._community_id, self._key, encode_downlink(cmd))
        return self._publish(topic_down(str(row["hub_id"])), envelope)


def _name(command: str) -> CommandName:
    try:
        return CommandName(command)
    except ValueError:
        raise ValueError(f"unknown command {command!r}") from None
