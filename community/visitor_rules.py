"""What a resident may ask for in a visitor pass, as data, and the checks that enforce it.

A request is refused with a reason identifier the hub translates; nothing is written. Times
arrive as ISO-8601 with a zone (``2026-11-21T19:30:00Z``) or as Unix milliseconds; a time
with no zone is refused rather than guessed, because a pass valid in the wrong zone opens the
gate at the wrong hours.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from devices.visitor_pass import MAX_ENTRIES, normalise_plate

NAME_MAX: Final = 64
_BODY_KEYS: Final = frozenset({"name", "plate", "valid_from", "valid_to", "entries"})
_MIN_MS: Final = 946_684_800_000  # 2000-01-01: anything earlier is a typo, not a visit
_MAX_MS: Final = 253_402_300_799_000  # 9999-12-31T23:59:59Z


class Refusal(StrEnum):
    """Why a pass request is refused (``params.reason`` of the ``refused`` answer)."""

    BAD_REQUEST = "bad_request"
    BAD_NAME = "bad_name"
    BAD_PLATE = "bad_plate"
    BAD_TIME = "bad_time"
    BAD_ENTRIES = "bad_entries"
    WINDOW_BACKWARDS = "window_backwards"
    WINDOW_TOO_LONG = "window_too_long"
    STARTS_IN_PAST = "starts_in_past"
    STARTS_TOO_LATE = "starts_too_late"
    TOO_MANY_PASSES = "too_many_passes"
    UNKNOWN_PASS = "unknown_pass"  # noqa: S105 - a reason, not a secret
    NOT_YOUR_PASS = "not_your_pass"  # noqa: S105 - a reason, not a secret


@dataclass(frozen=True, slots=True)
class PassLimits:
    """The community's rules for visitor passes."""

    #: Longest validity window (a week: a longer stay is a tenancy, not a visit).
    max_window_ms: int = 7 * 24 * 3600 * 1000
    #: How far ahead a pass may start.
    max_ahead_ms: int = 90 * 24 * 3600 * 1000
    #: How far in the past a pass may start (a browser clock a little behind; "from now").
    past_grace_ms: int = 10 * 60 * 1000
    min_entries: int = 1
    max_entries: int = MAX_ENTRIES
    #: Passes a home may hold that have not ended yet.
    max_live_per_home: int = 20


@dataclass(frozen=True, slots=True)
class PassAsk:
    """A checked request for a pass."""

    name: str
    plate: str
    valid_from_ms: int
    valid_to_ms: int
    entries: int


class PassRefusedError(ValueError):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(str(reason))
        self.reason = reason


def check_ask(body: dict[str, Any], now_ms: int, limits: PassLimits) -> PassAsk:
    """The request as a :class:`PassAsk`; :class:`PassRefusedError` with the first problem."""
    if not {"name", "valid_from", "valid_to", "entries"} <= set(body) <= _BODY_KEYS:
        raise PassRefusedError(Refusal.BAD_REQUEST)
    name = _name(body["name"])
    plate = _plate(body.get("plate"))
    start, end = _time(body["valid_from"]), _time(body["valid_to"])
    entries = body["entries"]
    if type(entries) is not int or not limits.min_entries <= entries <= limits.max_entries:
        raise PassRefusedError(Refusal.BAD_ENTRIES)
    if end <= start:
        raise PassRefusedError(Refusal.WINDOW_BACKWARDS)
    if end - start > limits.max_window_ms:
        raise PassRefusedError(Refusal.WINDOW_TOO_LONG)
    if start < now_ms - limits.past_grace_ms or end <= now_ms:
        raise PassRefusedError(Refusal.STARTS_IN_PAST)
    if start > now_ms + limits.max_ahead_ms:
        raise PassRefusedError(Refusal.STARTS_TOO_LATE)
    return PassAsk(name, plate, start, end, entries)


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise PassRefusedError(Refusal.BAD_NAME)
    name = " ".join(value.split())
    if not 0 < len(name) <= NAME_MAX or any(
        unicodedata.category(ch).startswith("C") for ch in name
    ):
        raise PassRefusedError(Refusal.BAD_NAME)
    return name


def _plate(value: object) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 32:
        raise PassRefusedError(Refusal.BAD_PLATE)
    try:
        return normalise_plate(value)
    except ValueError:
        raise PassRefusedError(Refusal.BAD_PLATE) from None


def _time(value: object) -> int:
    if type(value) is int:
        ms = value
    elif isinstance(value, str) and 0 < len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError("no zone")
            ms = int(parsed.timestamp() * 1000)
        except (ValueError, OverflowError):
            raise PassRefusedError(Refusal.BAD_TIME) from None
    else:
        raise PassRefusedError(Refusal.BAD_TIME)
    if not _MIN_MS <= ms <= _MAX_MS:
        raise PassRefusedError(Refusal.BAD_TIME)
    return ms
