"""Property-service messages on the uplink: one record form for every service a resident uses.

Repairs, visitor passes, care checks, erasure requests and recipient registrations all go
from a hub to its community the same way: a ``service_request`` record naming the *service*,
the *action*, a ``request_id`` the answer comes back with, and a small JSON *body*. This
module checks only the shape every service shares (names are identifiers, the body is a
small, shallow JSON object of plain values); each service validates its own body where it is
handled, from a declarative schema, so a new service adds no branch here.

The answer travels down as a signed notice (``devices.uplink.DownlinkNotice``) whose
``params.request_id`` names the request and whose ``data`` carries any structured result
(for example a signed visitor pass).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from devices.messages import ErrorCode, InteropError, is_unicode

#: Largest body, as compact UTF-8 JSON.
MAX_BODY_BYTES: Final = 4096
#: Deepest nesting of objects and arrays inside a body (the body itself is depth 1).
MAX_DEPTH: Final = 4
#: Longest string anywhere in a body, and most members of any object or array.
MAX_STRING: Final = 2048
MAX_MEMBERS: Final = 64
#: Services and actions are lower-case identifiers (``work_order``, ``visitor_pass``).
NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: Request ids as device ids are spelled (letters, digits, ``-_.:``).
REQUEST_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_KEY_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """A resident's (or their hub's) request to one of the community's services."""

    service: str
    action: str
    request_id: str
    body: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "action": self.action,
            "request_id": self.request_id,
            "body": self.body,
        }


def _bad(reason: str) -> InteropError:
    return InteropError(ErrorCode.BAD_FIELD, reason)


def check_value(value: object, where: str, depth: int = 1) -> None:
    """Raise :class:`InteropError` unless ``value`` is plain JSON within the limits."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -(2**53) < value < 2**53:
            raise _bad(f"'{where}' is out of range")
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _bad(f"'{where}' must be a finite number")
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING or not is_unicode(value):
            raise _bad(f"'{where}' must be a string of at most {MAX_STRING} characters")
        return
    if depth >= MAX_DEPTH:
        raise _bad(f"'{where}' is nested too deeply (at most {MAX_DEPTH} levels)")
    if isinstance(value, list):
        if len(value) > MAX_MEMBERS:
            raise _bad(f"'{where}' has more than {MAX_MEMBERS} items")
        for n, item in enumerate(value):
            check_value(item, f"{where}[{n}]", depth + 1)
        return
    if isinstance(value, dict):
        check_object(value, where, depth + 1)
        return
    raise _bad(f"'{where}' must be plain JSON")


def check_object(value: object, where: str, depth: int = 1) -> dict[str, Any]:
    """``value`` as a JSON object within the limits, or :class:`InteropError`."""
    if not isinstance(value, dict):
        raise _bad(f"'{where}' must be an object")
    if len(value) > MAX_MEMBERS:
        raise _bad(f"'{where}' has more than {MAX_MEMBERS} members")
    for key, item in value.items():
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            raise _bad(f"'{where}' keys must be identifiers")
        check_value(item, f"{where}.{key}", depth)
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_BODY_BYTES:
        raise _bad(f"'{where}' is larger than {MAX_BODY_BYTES} bytes")
    return value


def parse_service_request(raw: object) -> ServiceRequest:
    """Validate the ``service`` member of an uplink record; raises :class:`InteropError` only."""
    if not isinstance(raw, dict):
        raise _bad("'service' must be an object")
    names: dict[str, str] = {}
    for key, pattern in (("service", NAME_RE), ("action", NAME_RE), ("request_id", REQUEST_ID_RE)):
        value = raw.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise _bad(f"'service.{key}' must match {pattern.pattern}")
        names[key] = value
    body = check_object(raw.get("body", {}), "service.body")
    return ServiceRequest(names["service"], names["action"], names["request_id"], body)
