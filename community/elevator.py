"""Elevator e-bike holds: hold the car and tell the rider, then release it when it is over.

Fire codes forbid taking e-bikes upstairs: a battery fire in a corridor or a flat blocks the
only way out. When an elevator camera raises ``elevator_ebike``, the community *holds* that
car (``hold_doors``) and plays the ``ebike_not_allowed`` announcement; the duty staff see the
alarm on the board. The hold ends in one of two ways:

- staff *release* the car from the dashboard (a false alarm, or the rider has been spoken
  to): ``release_doors`` and the ``doors_released`` announcement, the alarm is acknowledged
  by that person and the release is written into its history;
- the camera reports the e-bike gone (the alarm clears): the car is released by the rules.

Each hold is a row of ``elevator_holds`` keyed by the alarm, written before any command is
sent, so a restart between "decided" and "sent" sends it after the restart (holding a held
car twice changes nothing). The commands go through the command desk, which signs, retries
and settles them; the alarm's ``command_status`` is the status of the latest of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlite_utils import Database

from community import command_book
from community.alarms import HistoryAction, TransitionError
from community.store import AlarmNotFoundError, Store
from devices.catalog import CommandName, EventType

KIND: Final = str(EventType.ELEVATOR_EBIKE)
RULES_BY: Final = "rules"

_SCHEMA: Final = """CREATE TABLE IF NOT EXISTS elevator_holds (
    alarm_id INTEGER PRIMARY KEY,
    hub_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    held_ms INTEGER NOT NULL,
    hold_command_id TEXT,
    released_ms INTEGER,
    released_by TEXT,
    release_command_id TEXT
)"""


class Phase(StrEnum):
    """Which commands a hold row still needs sent."""

    HOLD = "hold"
    RELEASE = "release"


#: What each phase sends, in order; the first command's id is the one recorded.
_COMMANDS: Final[dict[Phase, tuple[tuple[CommandName, dict[str, Any]], ...]]] = {
    Phase.HOLD: (
        (CommandName.HOLD_DOORS, {}),
        (CommandName.PLAY_VOICE_PROMPT, {"prompt": "ebike_not_allowed"}),
    ),
    Phase.RELEASE: (
        (CommandName.RELEASE_DOORS, {}),
        (CommandName.PLAY_VOICE_PROMPT, {"prompt": "doors_released"}),
    ),
}


class ReleaseError(TransitionError):
    """The alarm is not a car the community holds (409 at the API)."""


@dataclass(frozen=True, slots=True)
class Pending:
    """Commands to send for one hold: ``phase`` says which."""

    alarm_id: int
    hub_id: str
    device_id: str
    phase: Phase

    @property
    def commands(self) -> tuple[tuple[CommandName, dict[str, Any]], ...]:
        return _COMMANDS[self.phase]


class ElevatorDesk:
    """Decides holds and releases in the store's transactions; the server sends them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        with store.transaction() as db:
            command_book.ensure_table(db)
            db.execute(_SCHEMA)

    def scan(self, now: int) -> None:
        """Hold every car with an active e-bike alarm not yet held; release those cleared.

        Runs on the writer thread; cheap when nothing changed (two indexed lookups).
        """
        with self._store.transaction() as db:
            for alarm in list(
                db.query(
                    "SELECT a.id, a.hub_id, a.device_id FROM alarms a WHERE a.kind = ?"
                    " AND a.status = 'active' AND NOT EXISTS"
                    " (SELECT 1 FROM elevator_holds h WHERE h.alarm_id = a.id)",
                    [KIND],
                )
            ):
                db.execute(
                    "INSERT INTO elevator_holds (alarm_id, hub_id, device_id, held_ms)"
                    " VALUES (?, ?, ?, ?)",
                    [alarm["id"], alarm["hub_id"], alarm["device_id"], now],
                )
            for hold in list(
                db.query(
                    "SELECT h.alarm_id FROM elevator_holds h JOIN alarms a ON a.id = h.alarm_id"
                    " WHERE h.released_ms IS NULL AND a.status != 'active'"
                )
            ):
                self._mark_released(db, int(hold["alarm_id"]), RULES_BY, now)

    def pending(self) -> list[Pending]:
        """Holds and releases decided but not yet sent (also after a restart)."""
        rows = self._store.read(
            "SELECT * FROM elevator_holds WHERE (released_ms IS NULL AND hold_command_id IS NULL)"
            " OR (released_ms IS NOT NULL AND release_command_id IS NULL) ORDER BY held_ms"
        )
        out = []
        for row in rows:
            # A car released before its hold went out is only released.
            phase = Phase.HOLD if row["released_ms"] is None else Phase.RELEASE
            out.append(Pending(int(row["alarm_id"]), row["hub_id"], row["device_id"], phase))
        return out

    def sent(self, pending: Pending, command_id: str) -> None:
        column = "hold_command_id" if pending.phase is Phase.HOLD else "release_command_id"
        with self._store.transaction() as db:
            db.execute(
                f"UPDATE elevator_holds SET {column} = ? WHERE alarm_id = ?",  # noqa: S608 - fixed
                [command_id, pending.alarm_id],
            )

    def release(self, alarm_id: int, by: str, now: int) -> dict[str, Any]:
        """A person releases a held car: recorded, acknowledged; the server sends the commands.

        Raises :class:`AlarmNotFoundError`, or :class:`ReleaseError` when the alarm is not a
        held car (another kind, never held, already released).
        """
        with self._store.transaction() as db:
            row = self._store.alarm_row(alarm_id)
            if row is None:
                raise AlarmNotFoundError(alarm_id)
            if row["kind"] != KIND:
                raise ReleaseError(f"a {row['kind']} alarm holds no elevator car")
            hold = _one(db, "SELECT * FROM elevator_holds WHERE alarm_id = ?", [alarm_id])
            if hold is None:
                raise ReleaseError("the car has not been held")
            if hold["released_ms"] is not None:
                raise ReleaseError(f"the car was already released by {hold['released_by']}")
            self._mark_released(db, alarm_id, by, now)
            if not row["acknowledged"]:
                self._store.acknowledge_in(db, row, by, now, "car released")
        alarm = self._store.alarm(alarm_id)
        assert alarm is not None
        return alarm

    def _mark_released(self, db: Database, alarm_id: int, by: str, now: int) -> None:
        db.execute(
            "UPDATE elevator_holds SET released_ms = ?, released_by = ? WHERE alarm_id = ?",
            [now, by, alarm_id],
        )
        self._store.add_history(
            db, alarm_id, HistoryAction.COMMANDED, by, now, "release_doors, doors_released"
        )

    # --- views -----------------------------------------------------------------------------

    def hold(self, alarm_id: int) -> dict[str, Any] | None:
        """The hold of an alarm with its commands' status, for the alarm's view."""
        rows = self._store.read(
            "SELECT h.*, coalesce(r.status, hc.status, 'pending') AS command_status"
            " FROM elevator_holds h"
            " LEFT JOIN downlink_commands hc ON hc.command_id = h.hold_command_id"
            " LEFT JOIN downlink_commands r ON r.command_id = h.release_command_id"
            " WHERE h.alarm_id = ?",
            [alarm_id],
        )
        if not rows:
            return None
        row = rows[0]
        return {
            "held_ms": row["held_ms"],
            "released": row["released_ms"] is not None,
            "released_by": row["released_by"],
            "released_ms": row["released_ms"],
            "command": "release_doors" if row["released_ms"] is not None else "hold_doors",
            "command_id": row["release_command_id"]
            if row["released_ms"] is not None
            else row["hold_command_id"],
            "command_status": str(row["command_status"]),
        }


def _one(db: Database, sql: str, params: list[object]) -> Mapping[str, Any] | None:
    return next(iter(db.query(sql, params)), None)
