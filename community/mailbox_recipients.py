"""The ``recipients`` property service: a home's hub registers who may fetch its sealed fields.

When a resident registers a family member or carer on their hub, the hub makes a random
mailbox token, shows it once to the resident to hand on, and asks here
(``recipients/register`` ``{"recipient": "family:li", "token_sha256": "<hex>"}``) to bind the
recipient to that token's digest and to the home of the asking hub (``Asked.home_id``, never
the body). Only that home may re-key or revoke it (``recipients/revoke`` ``{"recipient"}``);
an id another home already registered is refused with ``recipient_taken``.
"""

from __future__ import annotations

import re
from typing import Final

from sqlite_utils import Database

from community.mailbox import Mailbox, MailboxError
from community.services import Asked, Reply, ServiceDesk, ServiceRefusedError

SERVICE: Final = "recipients"
#: Mirrors ``privacy.sealing.RECIPIENT_RE`` (the ids a sealed entry may name).
_RECIPIENT_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")


def _recipient(asked: Asked, keys: frozenset[str]) -> str:
    body = asked.request.body
    if set(body) != keys:
        raise ServiceRefusedError("bad_request", "body must be exactly " + ", ".join(sorted(keys)))
    recipient = body["recipient"]
    if not isinstance(recipient, str) or not _RECIPIENT_RE.fullmatch(recipient):
        raise ServiceRefusedError("bad_recipient")
    if not asked.home_id:
        raise ServiceRefusedError("no_home")
    return recipient


def add_recipient_services(desk: ServiceDesk, mailbox: Mailbox) -> None:
    """Register ``recipients/register`` and ``recipients/revoke`` on the service desk."""

    def register(db: Database, asked: Asked) -> Reply:
        recipient = _recipient(asked, frozenset({"recipient", "token_sha256"}))
        digest = asked.request.body["token_sha256"]
        try:
            mailbox.bind(db, recipient, asked.home_id, asked.hub_id, str(digest))
        except MailboxError as exc:
            raise ServiceRefusedError(str(exc)) from None
        return Reply("registered", params={"recipient": recipient})

    def revoke(db: Database, asked: Asked) -> Reply:
        recipient = _recipient(asked, frozenset({"recipient"}))
        try:
            mailbox.unbind(db, recipient, asked.home_id)
        except MailboxError as exc:
            raise ServiceRefusedError(str(exc)) from None
        return Reply("revoked", params={"recipient": recipient})

    desk.register(SERVICE, "register", register)
    desk.register(SERVICE, "revoke", revoke)
