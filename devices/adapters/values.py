"""Reading vendor values the way vendors actually write them.

Real payloads spell one boolean five ways (``true``, ``"true"``, ``"ON"``, ``1``, ``"1"``),
send numbers as text, publish ``null`` until a first report and put plain text on topics
that usually carry JSON. These helpers accept every spelling a published format uses and
raise :class:`AdapterError` for anything else, so decoders stay one line each.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from devices.adapters.errors import AdapterError
from devices.catalog import MAX_MESSAGE_BYTES

_TRUE: Final = frozenset({"true", "on", "1", "yes"})
_FALSE: Final = frozenset({"false", "off", "0", "no"})

#: Payload timestamps outside this window around the caller's clock are not trusted: a
#: device without time sync reports seconds since boot, and a retained message may be old.
TS_PAST_MS: Final = 7 * 24 * 3600 * 1000
TS_FUTURE_MS: Final = 5 * 60 * 1000


def preview(value: object) -> str:
    """A short, safe rendering of an untrusted value for an error reason."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def as_bool(value: object, what: str) -> bool | None:
    """A vendor boolean; ``None`` (not reported yet) stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise AdapterError(f"{what}: expected a boolean, got {preview(value)}")


def as_number(value: object, what: str) -> float | None:
    """A finite vendor number, also when sent as text; ``None`` stays ``None``."""
    if value is None:
        return None
    number: float
    if isinstance(value, bool):
        raise AdapterError(f"{what}: expected a number, got {preview(value)}")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise AdapterError(f"{what}: number out of range") from None
    elif isinstance(value, str) and 0 < len(value) <= 32:
        try:
            number = float(value.strip())
        except ValueError:
            raise AdapterError(f"{what}: expected a number, got {preview(value)}") from None
    else:
        raise AdapterError(f"{what}: expected a number, got {preview(value)}")
    if not math.isfinite(number):
        raise AdapterError(f"{what}: expected a finite number, got {preview(value)}")
    return number


def as_enum(value: object, what: str, allowed: Iterable[str]) -> str | None:
    """One of a fixed set of vendor words (case as published); ``None`` stays ``None``."""
    if value is None:
        return None
    allowed = tuple(allowed)
    if isinstance(value, str) and value in allowed:
        return value
    raise AdapterError(f"{what}: {preview(value)} is not one of {', '.join(allowed)}")


def as_text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    raise AdapterError(f"{what}: expected text, got {preview(value)}")


def as_object(value: object, what: str) -> Mapping[str, Any]:
    if isinstance(value, dict):
        return value
    raise AdapterError(f"{what}: expected a JSON object, got {preview(value)}")


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


#: A bridge's device list (Zigbee2MQTT ``bridge/devices``) holds every device with its
#: exposes: hundreds of kilobytes in a large home, so it gets a larger limit than a message.
MAX_INVENTORY_BYTES: Final = 4 * 1024 * 1024


def payload_text(payload: bytes | str, what: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """The payload as text, with a size limit applied first (a device message's by default)."""
    size = len(payload) if isinstance(payload, bytes) else len(payload.encode("utf-8", "replace"))
    if size > limit:
        raise AdapterError(f"{what}: payload of {size} bytes is larger than {limit}")
    if isinstance(payload, str):
        return payload
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise AdapterError(f"{what}: payload is not UTF-8 text") from None


def payload_json(payload: bytes | str, what: str, limit: int = MAX_MESSAGE_BYTES) -> Any:
    """A JSON payload (any JSON value); NaN/Infinity and deep nesting are refused."""
    text = payload_text(payload, what, limit)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise AdapterError(f"{what}: payload nested too deeply") from None
    except ValueError:
        raise AdapterError(f"{what}: payload is not JSON: {preview(text)}") from None


def payload_object(payload: bytes | str, what: str) -> Mapping[str, Any]:
    """A JSON object payload, the common case for state topics."""
    value = payload_json(payload, what)
    if not isinstance(value, dict):
        raise AdapterError(f"{what}: expected a JSON object, got {preview(value)}")
    return value


def timestamp_ms(value: object, now_ms: int) -> int | None:
    """A payload timestamp in ms if it is plausible, else ``None`` (use the caller's clock).

    Accepts epoch milliseconds or seconds (int or float) and ISO-8601 text with a time
    zone; text without a zone is local time of an unknown zone and is ignored.
    """
    millis: float | None = None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if not -1e15 < value < 1e15:  # also keeps float() away from huge integers
            return None
        millis = float(value) * (1000 if abs(value) < 1e11 else 1)
    elif isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        millis = parsed.timestamp() * 1000
    if millis is None or not now_ms - TS_PAST_MS <= millis <= now_ms + TS_FUTURE_MS:
        return None
    return int(millis)


#: Deepest object nesting a vendor payload may have; real formats use two or three levels.
MAX_DEPTH: Final = 16


def flatten(
    obj: Mapping[str, Any], sep: str = "/", prefix: str = "", depth: int = 0
) -> dict[str, Any]:
    """Nested JSON objects as one level of ``a/b`` keys (lists and scalars are leaves)."""
    if depth > MAX_DEPTH:
        raise AdapterError(f"payload nested deeper than {MAX_DEPTH} levels")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, sep, name + sep, depth + 1))
        else:
            out[name] = value
    return out
