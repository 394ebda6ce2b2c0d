"""Alarm filters, parsed once from untrusted input for both the HTTP API and Python callers.

The same parser serves ``GET /api/alarms?…`` (every value a string) and
``CommunityServer.alarms(**filters)`` (native values allowed), so both accept and refuse the
same things. Unknown or repeated filters are refused rather than ignored: a typo in a filter
must not silently show the duty staff a different list than they asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Final, TypeVar

from community.alarms import ALARM_KINDS, AlarmStatus
from devices.catalog import Priority

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
MAX_OFFSET: Final = 1_000_000
MAX_TEXT: Final = 100
_T = TypeVar("_T")


class QueryError(ValueError):
    """A filter that cannot be used; the message is safe to return to the caller."""


@dataclass(frozen=True, slots=True)
class AlarmQuery:
    status: AlarmStatus | None = None
    acknowledged: bool | None = None
    severity: Priority | None = None
    #: An alarm kind: a device event or a community-raised kind such as ``hub_offline``.
    kind: str | None = None
    home: str | None = None
    hub: str | None = None
    #: Free text matched against home, building, unit, device id and name, room and kind.
    q: str | None = None
    #: Raised at or after this time (ISO-8601 UTC with milliseconds, as alarms store it).
    since: str | None = None
    #: Raised before this time (exclusive), same form.
    until: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def clean_text(value: object, name: str, max_length: int = MAX_TEXT) -> str:
    """A string that is safe to store and show: valid UTF-8, no control characters."""
    if not isinstance(value, str):
        raise QueryError(f"'{name}' must be a string")
    if len(value) > max_length:
        raise QueryError(f"'{name}' must be at most {max_length} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(f"'{name}' is not valid text") from None
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise QueryError(f"'{name}' must not contain control characters")
    return value


def _choice(value: object, name: str, allowed: Mapping[str, _T]) -> _T:
    text = clean_text(value, name)
    if text not in allowed:
        raise QueryError(f"'{name}' must be one of: {', '.join(allowed)}")
    return allowed[text]


def _integer(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise QueryError(f"'{name}' must be an integer")
    if isinstance(value, str):
        text = clean_text(value, name, 12)
        if not text.isascii() or not text.isdigit():
            raise QueryError(f"'{name}' must be a whole number")
        value = int(text)
    if not isinstance(value, int) or not low <= value <= high:
        raise QueryError(f"'{name}' must be an integer in {low}..{high}")
    return value


def _flag(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    return _choice(value, name, {"true": True, "false": False})


def _text_or_none(value: object, name: str) -> str | None:
    text = clean_text(value, name).strip()
    return text or None


def _instant(value: object, name: str) -> str:
    """An ISO-8601 date or date-time, normalised to the alarms' stored UTC form.

    A date alone means midnight UTC; a date-time without an offset is refused, because
    guessing the caller's time zone would silently move the range by hours.
    """
    text = clean_text(value, name, 40).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"'{name}' must be an ISO-8601 date (2026-11-21) or date-time with a zone"
            " (2026-11-21T08:00:00Z)"
        ) from None
    if len(text) > 10 and moment.tzinfo is None:
        raise QueryError(f"'{name}' needs a time zone (Z or +08:00) after the time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


_STATUSES: Final = {str(s): s for s in AlarmStatus}
_SEVERITIES: Final = {str(p): p for p in Priority}
_KINDS: Final = {kind: kind for kind in sorted(ALARM_KINDS)}
_NAMES: Final = frozenset(f.name for f in fields(AlarmQuery))


def _get(params: Mapping[str, object], name: str, parse: Callable[[object, str], _T]) -> _T | None:
    value = params.get(name)
    return None if value is None else parse(value, name)


def parse_alarm_query(params: Mapping[str, object]) -> AlarmQuery:
    """Build an :class:`AlarmQuery`; raise :class:`QueryError` for anything unusable."""
    unknown = sorted(str(k)[:40] for k in params if k not in _NAMES)
    if unknown:
        raise QueryError(f"unknown filter(s): {', '.join(unknown)}")
    limit = _get(params, "limit", lambda v, n: _integer(v, n, 1, MAX_LIMIT))
    offset = _get(params, "offset", lambda v, n: _integer(v, n, 0, MAX_OFFSET))
    since = _get(params, "since", _instant)
    until = _get(params, "until", _instant)
    if since is not None and until is not None and since >= until:
        raise QueryError("'since' must be before 'until'")
    return AlarmQuery(
        status=_get(params, "status", lambda v, n: _choice(v, n, _STATUSES)),
        acknowledged=_get(params, "acknowledged", _flag),
        severity=_get(params, "severity", lambda v, n: _choice(v, n, _SEVERITIES)),
        kind=_get(params, "kind", lambda v, n: _choice(v, n, _KINDS)),
        home=_get(params, "home", _text_or_none),
        hub=_get(params, "hub", _text_or_none),
        q=_get(params, "q", _text_or_none),
        since=since,
        until=until,
        limit=DEFAULT_LIMIT if limit is None else limit,
        offset=offset or 0,
    )


def parse_query_string(pairs: list[tuple[str, str]]) -> AlarmQuery:
    """Like :func:`parse_alarm_query` for URL query pairs, refusing repeated names."""
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name in seen:
            raise QueryError(f"filter '{str(name)[:40]}' is given more than once")
        seen[name] = value
    return parse_alarm_query(seen)
