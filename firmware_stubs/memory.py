"""The few values a device keeps across power cycles: its sequence counter and battery level.

A hub rejects any report whose ``seq`` is not after the last one it accepted, so a device
that restarts its counter at 1 would be locked out. Like Matter event numbers, the counter
is persisted in blocks: before the first number of a block is used, the start of the *next*
block is written to disk. A crash therefore loses at most the rest of one block of numbers,
and never reuses one. A clean shutdown writes the exact next number, so no block is wasted.

Without a state file the counter starts from the wall clock in milliseconds: a restarted
device still moves forward (unless the clock went back), which is what a device without
flash would do.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.messages import MAX_INT

DEFAULT_BLOCK = 1000


class StateFileError(ValueError):
    """The state file exists but cannot be trusted; the device refuses to guess a counter."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class DeviceMemory:
    """Sequence numbers reserved in blocks, plus the battery level, in one small JSON file."""

    __slots__ = ("_block", "_next", "_path", "_reserved_until", "battery_pct")

    def __init__(
        self,
        path: Path | None,
        *,
        block: int = DEFAULT_BLOCK,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self._path = path
        self._block = block
        self.battery_pct: float | None = None
        stored = _load(path) if path is not None else None
        if stored is None:
            self._next = 1 if path is not None else clock_ms()
        else:
            self._next, self.battery_pct = stored
        #: Numbers below this are covered by what is on disk (nothing yet: reserve on first use).
        self._reserved_until = self._next if path is not None else MAX_INT

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def next_seq(self) -> int:
        """The number the next :meth:`take` returns."""
        return self._next

    def take(self) -> int:
        """A fresh sequence number, reserving (and persisting) a new block first if needed."""
        if self._next >= self._reserved_until:
            self._reserved_until = self._next + self._block
            self._write(self._reserved_until)
        seq = self._next
        self._next += 1
        return seq

    def save(self) -> None:
        """Clean shutdown: persist the exact next number and the battery level."""
        self._write(self._next)
        self._reserved_until = self._next

    def _write(self, next_seq: int) -> None:
        if self._path is None:
            return
        body: dict[str, Any] = {"next_seq": next_seq}
        if self.battery_pct is not None:
            body["battery_pct"] = round(self.battery_pct, 3)
        _atomic_write(self._path, json.dumps(body))


def _load(path: Path) -> tuple[int, float | None] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"cannot read state file {path}: {exc}") from None
    try:
        body = json.loads(text)
    except ValueError:
        raise StateFileError(f"state file {path} is not JSON") from None
    if not isinstance(body, dict):
        raise StateFileError(f"state file {path} must hold a JSON object")
    seq = body.get("next_seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < MAX_INT // 2:
        raise StateFileError(f"state file {path}: 'next_seq' must be a positive integer")
    battery = body.get("battery_pct")
    if battery is not None and (
        isinstance(battery, bool)
        or not isinstance(battery, int | float)
        or not math.isfinite(battery)
        or not 0 <= battery <= 100
    ):
        raise StateFileError(f"state file {path}: 'battery_pct' must be a number in 0..100")
    return seq, None if battery is None else float(battery)


def _atomic_write(path: Path, text: str) -> None:
    """Write-then-rename with fsync, so a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
