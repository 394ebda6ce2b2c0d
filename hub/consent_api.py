"""The resident's privacy API on the hub: what is shared, grant or withdraw, export, erase.

Everything here needs the hub's admin token (the resident's own login, see ``hub.api``).
Granting and withdrawing are the same single step, ``POST /api/privacy/consent`` with a
consent record the resident signed on their own device: the hub never signs on a resident's
behalf. Refusals are a 400 with a one-line reason; nothing changes.

- ``GET  /api/privacy``          consents in force, what was withheld, emergency overrides used,
  and the data categories a consent may name (for the resident page)
- ``POST /api/privacy/resident`` ``{"subject", "public_key_pem"}``: trust a resident's key
- ``POST /api/privacy/consent``  a signed grant or withdrawal (``SignedConsent`` JSON)
- ``GET  /api/privacy/export``   everything the hub holds about the resident, as JSON
- ``POST /api/privacy/erase``    crypto-shred the resident's data; the signed deletion receipt.
  With ``{"request": <erasure request the resident signed>}`` (``privacy.erasure``) the request
  also goes on to the community, which erases its copy; the answer then carries
  ``community_request_id`` (its signed receipt arrives as the request's answer, ``hub.services``)
- ``GET  /api/privacy/recipients`` who sealed fields may be for (family, care providers)
- ``POST /api/privacy/recipients`` ``{"recipient": "family:li", "public_key": PEM|b64url|hex}``:
  register (or replace) a recipient's X25519 key; fields a consent shares with them but not
  with the community then travel sealed for them. The answer carries ``mailbox_token``, shown
  only this once: the recipient fetches their sealed fields from the community's mailbox with
  it (``hub.recipients.open_mailbox``); registering again issues a new one
- ``DELETE /api/privacy/recipients/{recipient}`` forget a recipient's key and revoke its mailbox
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.api import Handler
from hub.consent_gate import ConsentGate
from hub.erasure import erase_everywhere
from hub.recipients import Ask, RecipientError, close_mailbox, open_mailbox, parse_public_key
from hub.registry import DeviceRecord
from hub.services import ServiceRequests
from hub.web.auth import is_admin
from privacy.audit import AuditAction
from privacy.consent import ConsentError, SignedConsent
from privacy.encoding import EncodingError, loads_strict
from privacy.erasure import ErasureRequest
from privacy.vocabulary import CATEGORY_FIELDS, SENSITIVE, Category

MAX_BODY = 64 * 1024


class HubData(Protocol):
    def devices(self) -> list[DeviceRecord]: ...

    def recent_events(self, device_id: str, limit: int = 5) -> list[dict[str, Any]]: ...


def _bad(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=400)


async def _json(request: web.Request) -> Any:
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ValueError("body too large")
    try:
        return loads_strict(raw.decode("utf-8"))
    except (UnicodeDecodeError, EncodingError, ValueError):
        raise ValueError("body is not JSON") from None


def add_privacy_routes(
    app: web.Application,
    gate: ConsentGate,
    hub: HubData,
    admin_token: Callable[[], str],
    ask: Ask | None = None,
) -> None:
    def require_admin(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not is_admin(request, admin_token()):
                raise web.HTTPUnauthorized(
                    text="admin token required", headers={"WWW-Authenticate": "Bearer"}
                )
            return await handler(request)

        return guarded

    def overrides() -> list[dict[str, Any]]:
        return [
            {"at": e.at, "to": e.actor, "what": e.detail, "event_ref": e.context_id}
            for e in gate.audit.entries()
            if e.action == AuditAction.OVERRIDE
        ]

    async def summary(request: web.Request) -> web.StreamResponse:
        policy = gate.policy()
        counts = gate.counts()
        return web.json_response(
            {
                "mode": str(gate.mode),
                "resident": gate.subject,
                "home": gate.home_id,
                "categories": {
                    str(c): {"sensitive": c in SENSITIVE, "fields": sorted(CATEGORY_FIELDS[c])}
                    for c in Category
                },
                "consents": [r.to_dict() for r in policy.current()],
                "rejected": [
                    {"consent_id": r.consent_id, "reason": r.reason} for r in policy.rejected
                ],
                "withheld": counts.withheld,
                "shared_by_consent": counts.disclosed,
                "sealed_for_recipients": counts.sealed,
                "recipients": [r.to_dict() for r in gate.recipients.all()],
                "overrides": overrides(),
            }
        )

    async def resident(request: web.Request) -> web.StreamResponse:
        try:
            body = await _json(request)
            subject, pem = body["subject"], body["public_key_pem"]
            key = serialization.load_pem_public_key(str(pem).encode())
            if not isinstance(key, Ed25519PublicKey):
                return _bad("a resident key must be an Ed25519 public key")
            key_id = gate.register_resident(str(subject), key)
        except (ValueError, KeyError, TypeError) as exc:
            return _bad(f"cannot register the resident: {exc}")
        return web.json_response({"subject": subject, "key_id": key_id})

    async def consent(request: web.Request) -> web.StreamResponse:
        try:
            signed = SignedConsent.from_dict(await _json(request))
            seq = gate.record(signed)
        except ConsentError as exc:
            return _bad(str(exc))
        except ValueError as exc:
            return _bad(str(exc))
        record = signed.record
        return web.json_response(
            {"seq": seq, "consent_id": record.consent_id, "status": str(record.status)}
        )

    async def export(request: web.Request) -> web.StreamResponse:
        events = {d.device_id: hub.recent_events(d.device_id, 1000) for d in hub.devices()}
        body = {
            "resident": gate.subject,
            "home": gate.home_id,
            "consents": [s.to_dict() for s in gate.signed_records()],
            "events": events,
            "audit": [e.body() for e in gate.audit.entries()],
        }
        return web.Response(
            text=json.dumps(body, ensure_ascii=False, indent=1),
            content_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="my-data.json"'},
        )

    async def erase(request: web.Request) -> web.StreamResponse:
        try:
            body = await _json(request) if request.can_read_body else None
            if body is None or body == {}:  # no request: erase at the hub only
                return web.json_response(gate.erase().to_dict())
            if not isinstance(body, dict) or set(body) != {"request"}:
                return _bad("body must be exactly {request} (a signed erasure request)")
            services = getattr(hub, "services", None)
            if not isinstance(services, ServiceRequests):
                return _bad("this hub cannot reach the community's services")
            erasure = ErasureRequest.from_dict(body["request"])
            receipt, request_id = erase_everywhere(gate, services, erasure)
        except ValueError as exc:
            return _bad(str(exc))
        return web.json_response({**receipt.to_dict(), "community_request_id": request_id})

    async def recipients(request: web.Request) -> web.StreamResponse:
        return web.json_response({"recipients": [r.to_dict() for r in gate.recipients.all()]})

    async def add_recipient(request: web.Request) -> web.StreamResponse:
        try:
            body = await _json(request)
            if not isinstance(body, dict) or set(body) != {"recipient", "public_key"}:
                return _bad("body must be exactly {recipient, public_key}")
            key = parse_public_key(body["public_key"])
            entry = gate.recipients.register(body["recipient"], key)
        except (RecipientError, ValueError) as exc:
            return _bad(f"cannot register the recipient: {exc}")
        answer: dict[str, Any] = entry.to_dict()
        if ask is not None:  # the recipient's mailbox at the community (shown once)
            try:
                answer["mailbox_token"] = open_mailbox(ask, entry.recipient.id)
            except ValueError as exc:
                answer["mailbox_error"] = str(exc)
        return web.json_response(answer)

    async def remove_recipient(request: web.Request) -> web.StreamResponse:
        try:
            removed = gate.recipients.remove(request.match_info["recipient"])
        except RecipientError as exc:
            return _bad(str(exc))
        if not removed:
            return web.json_response({"error": "no such recipient"}, status=404)
        if ask is not None:
            try:
                close_mailbox(ask, request.match_info["recipient"])
            except ValueError as exc:
                return web.json_response(
                    {"removed": request.match_info["recipient"], "mailbox_error": str(exc)}
                )
        return web.json_response({"removed": request.match_info["recipient"]})

    app.router.add_get("/api/privacy", require_admin(summary))
    app.router.add_get("/api/privacy/recipients", require_admin(recipients))
    app.router.add_post("/api/privacy/recipients", require_admin(add_recipient))
    app.router.add_delete("/api/privacy/recipients/{recipient}", require_admin(remove_recipient))
    app.router.add_post("/api/privacy/resident", require_admin(resident))
    app.router.add_post("/api/privacy/consent", require_admin(consent))
    app.router.add_get("/api/privacy/export", require_admin(export))
    app.router.add_post("/api/privacy/erase", require_admin(erase))
