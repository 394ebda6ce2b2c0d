"""A resident's erasure reaching the community: the ``privacy``/``erase`` property service.

When a resident erases their data at home, their hub forwards the resident-signed request
(``privacy.erasure``) to the community, which holds a copy of what the hub uplinked. The
community trusts it only if it is signed by a resident registered for the home of the hub that
sent it (the home comes from the enrolled hub, never from the request), then destroys that
resident's community data key and answers with a deletion receipt signed by the community key.
Anything else is refused (``ServiceRefusedError``: nothing changes) and the refusal audited.

Asking again is harmless: the key is already gone and the same receipt comes back.
"""

from __future__ import annotations

import logging
from typing import Final, NoReturn

from sqlite_utils import Database

from community.consent_check import ConsentCheck
from community.resident_keys import ResidentKeys, data_key_name
from community.services import Asked, Reply, ServiceDesk, ServiceRefusedError
from privacy.audit import MAX_FIELD, AuditAction
from privacy.erasure import ErasureRequest, ErasureRequestError, verify_erasure

_LOG = logging.getLogger(__name__)
SERVICE: Final = "privacy"
ACTION: Final = "erase"
#: The community actor in its audit log for erasure decisions.
_ACTOR: Final = "community"


class ErasureDesk:
    """Verifies erasure requests and shreds the resident's community data key."""

    def __init__(self, keys: ResidentKeys, consent: ConsentCheck) -> None:
        self._keys = keys
        self._consent = consent

    def register(self, services: ServiceDesk) -> None:
        services.register(SERVICE, ACTION, self.handle)

    def handle(self, db: Database, asked: Asked) -> Reply:
        """Writer thread: shred and answer with the signed receipt, or refuse."""
        try:
            request = ErasureRequest.from_dict(asked.request.body)
        except ErasureRequestError as exc:
            self._refuse(asked, "malformed", str(exc))
        if request.home != asked.home_id:
            self._refuse(asked, "other_home", "the request names another home than its hub's")
        found = self._consent.resident_key(asked.home_id, request.signer)
        if found is None:
            self._refuse(asked, "unknown_resident", "no resident of this home has that key")
        subject, public_key = found
        try:
            verify_erasure(request, public_key)
        except ErasureRequestError as exc:
            self._refuse(asked, "bad_signature", str(exc))
        receipt = self._keys.shred(data_key_name(asked.home_id, subject))
        self._consent.audit.append(
            actor=_ACTOR,
            role="controller",
            purpose="erasure",
            legal_basis="consent",
            action=AuditAction.ERASE,
            record_ids=[receipt.key_id_hash],
            detail=f"home {asked.home_id}: data key destroyed at {receipt.shredded_at}"[:MAX_FIELD],
        )
        _LOG.info("erased the community copy of a resident of %s", asked.home_id)
        return Reply(
            "erased",
            params={"shredded_at": receipt.shredded_at},
            data={"receipt": receipt.to_dict()},
            title="Your data at the community was erased",
            body="The community destroyed the key your data was stored under.",
        )

    def _refuse(self, asked: Asked, reason: str, detail: str) -> NoReturn:
        self._consent.audit.append(
            actor=_ACTOR,
            role="controller",
            purpose="erasure",
            legal_basis="none",
            action=AuditAction.REFUSE,
            record_ids=[asked.key],
            detail=f"erasure refused for hub {asked.hub_id}: {detail}"[:MAX_FIELD],
        )
        _LOG.warning("erasure request from %s refused: %s", asked.hub_id, reason)
        raise ServiceRefusedError(reason, detail)
