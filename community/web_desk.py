"""The safety desk's HTTP side: working an alarm, attaching evidence, and the CAP feed.

``POST /api/alarms/{id}/assign`` ``{"to", "by"}``, ``/start`` ``{"by"}``, ``/resolve``
``{"note", "by"}`` and ``/evidence`` ``{"uri", "sha256", "kind", "by"}`` answer
``{"alarm": …, "changed": bool}`` like ack and clear; ``/release`` ``{"by"}`` releases an
elevator car held for an e-bike and answers ``{"alarm": …, "command_id": …}``;
``GET /api/cap/feed.atom`` and ``GET /api/cap/{identifier}.xml`` serve the published CAP
messages. Bodies are checked field
by field against small tables; anything else is a 400 that says what is wrong, a state the
action does not fit is a 409, and nothing here can turn bad input into a 500.

Evidence is a *reference* — where the photo or clip is kept and its SHA-256 — never the file:
the community never holds residents' media, and the digest proves later that what is shown
is what was recorded.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

from aiohttp import web

from community.alarms import TransitionError, WorkAction
from community.queries import QueryError, clean_text
from community.store import AlarmNotFoundError
from community.web import (
    BACKEND,
    DEFAULT_PERSON,
    MAX_NAME,
    MAX_NOTE,
    BadRequestError,
    _alarm_id,
    _error,
)

MAX_URI: Final = 2000
EVIDENCE_SCHEMES: Final = frozenset({"https", "http", "s3", "urn"})
_SHA256: Final = re.compile(r"^[0-9a-fA-F]{64}$")
_CAP_FILE: Final = re.compile(r"^([A-Za-z0-9._-]{1,200})\.xml$")
FEED_FILE: Final = "feed.atom"


class EvidenceKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    LOG = "log"
    OTHER = "other"


def _reject_constant(token: str) -> Any:
    raise ValueError(token)


def _name(value: object, field: str) -> str:
    text = clean_text(value, field, MAX_NAME).strip()
    if not text:
        raise QueryError(f"'{field}' must name a person")
    return text


def _note(value: object, field: str) -> str:
    text = clean_text(value, field, MAX_NOTE).strip()
    if not text:
        raise QueryError(f"'{field}' must not be empty")
    return text


def _uri(value: object, field: str) -> str:
    text = clean_text(value, field, MAX_URI).strip()
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in EVIDENCE_SCHEMES or any(ch.isspace() for ch in text):
        raise QueryError(f"'{field}' must be a {'/'.join(sorted(EVIDENCE_SCHEMES))} URI")
    if parts.scheme.lower() != "urn" and not parts.netloc:
        raise QueryError(f"'{field}' must name the host or bucket that keeps the evidence")
    return text


def _digest(value: object, field: str) -> str:
    text = clean_text(value, field, 64)
    if not _SHA256.fullmatch(text):
        raise QueryError(f"'{field}' must be 64 hex digits (a SHA-256)")
    return text.lower()


def _kind(value: object, field: str) -> str:
    text = clean_text(value, field, 20)
    if text not in {str(k) for k in EvidenceKind}:
        raise QueryError(f"'{field}' must be one of: {', '.join(EvidenceKind)}")
    return text


Parser = Callable[[object, str], str]
#: Per action: field -> (parser, required). ``by`` is optional everywhere.
_BODIES: Final[dict[str, dict[str, tuple[Parser, bool]]]] = {
    "assign": {"by": (_name, False), "to": (_name, True), "note": (_note, False)},
    "start": {"by": (_name, False), "note": (_note, False)},
    "release": {"by": (_name, False)},
    "resolve": {"by": (_name, False), "note": (_note, True)},
    "evidence": {
        "by": (_name, False),
        "uri": (_uri, True),
        "sha256": (_digest, True),
        "kind": (_kind, True),
    },
}


async def _body(request: web.Request, action: str) -> dict[str, str]:
    """The JSON body of ``action``, every field checked; raises :class:`BadRequestError`."""
    spec = _BODIES[action]
    raw = await request.read()
    body: object = {}
    if raw.strip():
        try:
            body = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise BadRequestError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    unknown = sorted(str(k)[:40] for k in body if k not in spec)
    if unknown:
        raise BadRequestError(f"unknown field(s): {', '.join(unknown)}")
    values = {"by": DEFAULT_PERSON}
    try:
        for field, (parse, required) in spec.items():
            if body.get(field) is not None:
                values[field] = parse(body[field], field)
            elif required:
                raise QueryError(f"'{field}' is required")
    except QueryError as exc:
        raise BadRequestError(str(exc)) from None
    return values


async def work_on_alarm(request: web.Request) -> web.StreamResponse:
    alarm_id = _alarm_id(request)
    action = WorkAction(request.match_info["action"])
    body = await _body(request, str(action))
    try:
        alarm, changed = await request.app[BACKEND].work(
            alarm_id, action, body["by"], body.get("to"), body.get("note")
        )
    except AlarmNotFoundError:
        return _error(404, f"no alarm {alarm_id}")
    except TransitionError as exc:
        return _error(409, f"alarm {alarm_id}: {exc}")
    return web.json_response({"alarm": alarm, "changed": changed})


async def add_evidence(request: web.Request) -> web.StreamResponse:
    alarm_id = _alarm_id(request)
    body = await _body(request, "evidence")
    try:
        alarm, entry, added = await request.app[BACKEND].add_evidence(
            alarm_id, body["uri"], body["sha256"], body["kind"], body["by"]
        )
    except AlarmNotFoundError:
        return _error(404, f"no alarm {alarm_id}")
    except TransitionError as exc:
        return _error(409, f"alarm {alarm_id}: {exc}")
    return web.json_response({"alarm": alarm, "evidence": entry, "changed": added})


async def release_car(request: web.Request) -> web.StreamResponse:
    """Staff release an elevator car held for an e-bike (a false alarm, or dealt with)."""
    alarm_id = _alarm_id(request)
    body = await _body(request, "release")
    try:
        alarm = await request.app[BACKEND].release_elevator(alarm_id, body["by"])
    except AlarmNotFoundError:
        return _error(404, f"no alarm {alarm_id}")
    except TransitionError as exc:
        return _error(409, f"alarm {alarm_id}: {exc}")
    return web.json_response({"alarm": alarm, "command_id": alarm["hold"]["command_id"]})


async def cap(request: web.Request) -> web.StreamResponse:
    """The Atom feed of CAP messages, or one message by its identifier."""
    name = request.match_info["name"]
    backend = request.app[BACKEND]
    if name == FEED_FILE:
        feed = await backend.cap_feed(f"{request.scheme}://{request.host}")
        return web.Response(body=feed, content_type="application/atom+xml", charset="utf-8")
    match = _CAP_FILE.fullmatch(name)
    message = None if match is None else await backend.cap_message(match.group(1))
    if message is None:
        return _error(404, "no such CAP message")
    return web.Response(body=message, content_type="application/cap+xml", charset="utf-8")


def add_desk_routes(app: web.Application) -> None:
    app.router.add_post("/api/alarms/{alarm_id}/{action:assign|start|resolve}", work_on_alarm)
    app.router.add_post("/api/alarms/{alarm_id}/evidence", add_evidence)
    app.router.add_post("/api/alarms/{alarm_id}/release", release_car)
    app.router.add_get("/api/cap/{name}", cap)
