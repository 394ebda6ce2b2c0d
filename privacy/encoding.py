"""Byte-exact encodings shared by every signed, sealed or hashed structure in ``privacy``.

A signature or a hash is only as good as the agreement on which bytes were signed. Every
structure here is therefore reduced to one canonical form before it is signed or hashed:

* **Canonical JSON**: keys sorted, no whitespace, UTF-8, only strings, integers, booleans,
  null, arrays and objects with ASCII keys. For that subset this is exactly RFC 8785 (JCS), so
  a device maker can reproduce it with any JCS library.
* **base64url without padding**, decoded *strictly*: a text that does not re-encode to itself
  (wrong alphabet, stray padding, non-zero trailing bits) is refused, so no two texts decode
  to the same bytes and a flipped character is always noticed.
* **Times** as ISO-8601 UTC with milliseconds (``2026-11-21T19:30:01.123Z``), the project's
  stored form.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any, Final

_B64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]*")
_ISO_MS_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


class EncodingError(ValueError):
    """Bytes or text that are not in the one canonical form this package accepts."""


def canonical_json(value: Any) -> bytes:
    """The one byte string for ``value`` that is signed or hashed (RFC 8785 for our subset)."""
    _check_jcs_subset(value)
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingError("text is not valid Unicode (unpaired surrogate)") from None


def _check_jcs_subset(value: Any) -> None:
    """Refuse floats and non-ASCII keys: outside that subset sorted JSON and JCS disagree."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise EncodingError("object keys must be ASCII strings")
            _check_jcs_subset(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_jcs_subset(item)
    elif value is None or isinstance(value, bool | int | str):
        return
    else:
        raise EncodingError(f"{type(value).__name__} has no canonical encoding here")


def loads_strict(raw: bytes | str) -> Any:
    """Parse JSON refusing duplicate keys, NaN and Infinity, which parsers resolve differently."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in items:
            if key in out:
                raise EncodingError(f"duplicate key {key!r}")
            out[key] = item
        return out

    def no_constants(name: str) -> Any:
        raise EncodingError(f"{name} is not allowed")

    try:
        return json.loads(raw, object_pairs_hook=pairs, parse_constant=no_constants)
    except EncodingError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise EncodingError("not valid UTF-8 JSON") from None


def b64url(data: bytes) -> str:
    """base64url without padding: the form every binary field takes in JSON."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Strict inverse of :func:`b64url`; raise :class:`EncodingError` on any other text."""
    if not isinstance(text, str) or not _B64URL_RE.fullmatch(text):
        raise EncodingError("not base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise EncodingError("not base64url text") from None
    if b64url(data) != text:
        raise EncodingError("base64url text is not in canonical form")
    return data


def iso_ms(moment: datetime) -> str:
    """``2026-11-21T19:30:01.123Z``; naive datetimes are refused, not guessed."""
    if moment.tzinfo is None:
        raise EncodingError("time must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_iso_ms(text: str) -> datetime:
    """Strict inverse of :func:`iso_ms`."""
    if not isinstance(text, str) or not _ISO_MS_RE.fullmatch(text):
        raise EncodingError("time must look like 2026-11-21T19:30:01.123Z")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise EncodingError(f"not a valid time: {text!r}") from None


def to_ms_precision(moment: datetime) -> datetime:
    """The same instant in UTC with the sub-millisecond part dropped (what encodings keep)."""
    if moment.tzinfo is None:
        raise EncodingError("time must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def utc_now() -> datetime:
    """Now, at the precision the encodings keep."""
    return to_ms_precision(datetime.now(UTC))
