"""A recipient's mailbox over HTTP: the family member's app fetches its sealed fields.

``GET /api/mailbox/{recipient}?after=N&limit=M`` with ``Authorization: Bearer <mailbox
token>`` returns the entries after id ``N`` (oldest first), each ``{"id", "created_ms",
"entry"}``; ``entry`` is what ``courtyard envelope open-field`` opens with the recipient's own
X25519 key. The community cannot read them, and this is no staff route: only the token the
home's hub issued for that recipient opens it (``community.mailbox``), checked before any
staff rule (``community.web.SELF_AUTHENTICATED``), so a staff token is refused here too. A
missing, unknown, revoked or other recipient's token is the same 401, which says nothing
about whether the mailbox exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from community import openapi
from community.mailbox import MAX_FETCH, Mailbox
from community.web import SELF_AUTHENTICATED, BadRequestError

PREFIX: Final = "/api/mailbox/"
MAX_TOKEN: Final = 256
MAX_AFTER: Final = 2**53 - 1
DEFAULT_LIMIT: Final = 100
Writer = Callable[..., Awaitable[Any]]

_ENTRY: Final[openapi.Schema] = {
    "type": "object",
    "required": ["id", "created_ms", "entry"],
    "properties": {
        "id": openapi.integer(1),
        "created_ms": openapi.integer(0),
        "entry": {
            "type": "object",
            "description": "A sealed field (field, recipient, key_id, suite, wrapped, nonce,"
            " ciphertext) and the context it was sealed in (hub, device, event_type, seq,"
            " ts, key_id, version).",
            "additionalProperties": True,
        },
    },
}
_RECIPIENT: Final = openapi.path_param(
    "recipient",
    openapi.text(128, 1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"),
    "The recipient id the home registered (e.g. family:li).",
)

PATHS: Final[dict[str, Any]] = {
    "/api/mailbox/{recipient}": {
        "get": {
            **openapi.op(
                "Fetch the sealed fields waiting for a recipient",
                "fetchMailbox",
                "mailbox",
                parameters=[
                    _RECIPIENT,
                    openapi.query_param(
                        "after", openapi.integer(0, MAX_AFTER), "Entries after this id."
                    ),
                    openapi.query_param(
                        "limit", openapi.integer(1, MAX_FETCH), "At most this many entries."
                    ),
                ],
                response=openapi.obj(
                    {
                        "recipient": openapi.text(128, 1),
                        "entries": {"type": "array", "items": _ENTRY},
                        "next_after": openapi.integer(0),
                    },
                    ["recipient", "entries", "next_after"],
                ),
                errors=(400, 401),
            ),
            "security": [{"bearer": []}],
            "description": "Needs the recipient's mailbox token (Authorization: Bearer), which"
            " the home's hub issued; a staff token is refused.",
        }
    }
}


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    return token if 0 < len(token) <= MAX_TOKEN else ""


def _number(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 16 or not low <= int(text) <= high:
        raise BadRequestError(f"'{name}' must be an integer from {low} to {high}")
    return int(text)


def add_mailbox_routes(app: web.Application, mailbox: Mailbox, write: Writer) -> None:
    """Serve the mailboxes; each request must carry its recipient's mailbox token."""

    def token_opens(request: web.Request) -> bool:
        token = _bearer(request)
        recipient = request.match_info.get("recipient", "")
        return bool(token and recipient) and mailbox.recipient_of(token) == recipient

    async def fetch(request: web.Request) -> web.StreamResponse:
        if not token_opens(request):  # also checked before routing reaches here
            raise web.HTTPUnauthorized(reason="token refused")
        unknown = sorted(k[:40] for k in request.query if k not in ("after", "limit"))
        if unknown:
            raise BadRequestError(f"unknown parameter(s): {', '.join(unknown)}")
        after = _number(request, "after", 0, 0, MAX_AFTER)
        limit = _number(request, "limit", DEFAULT_LIMIT, 1, MAX_FETCH)
        recipient = request.match_info["recipient"]
        entries = await write(mailbox.fetch, recipient, after, limit)
        next_after = entries[-1]["id"] if entries else after
        return web.json_response(
            {"recipient": recipient, "entries": entries, "next_after": next_after}
        )

    app[SELF_AUTHENTICATED][PREFIX] = token_opens
    app.router.add_get(PREFIX + "{recipient}", fetch)
