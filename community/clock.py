"""Wall-clock time as the community stores it: int milliseconds and ISO-8601 UTC strings.

Every stored time is a string like ``2026-11-21T19:30:01.123Z`` so that it sorts as text,
reads the same in SQL, JSON and logs, and a browser can parse it with ``Date``.

Whatever depends on the passing of time (escalation timers, notification retries, hub
presence) reads it through a :data:`Clock`, so a test can hand the server a clock it moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeAlias

#: A source of "now" in int milliseconds since the Unix epoch.
Clock: TypeAlias = Callable[[], int]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"
