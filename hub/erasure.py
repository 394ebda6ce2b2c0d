"""Erasure that reaches every copy: the hub's own, then the community's.

The resident signs "erase my data" with their own key (``privacy.erasure``). The hub checks
the signature against the resident's registered key, destroys its own data key at once (the
resident's data at home is gone the moment they ask), and forwards the same signed request to
the community as a ``privacy``/``erase`` property-service request, through the outbox, so it
survives a restart or a community that is away. The community answers with its own signed
deletion receipt in the answer's ``data.receipt``, which the hub files with the request
(``hub.services.get(request_id)``).
"""

from __future__ import annotations

from typing import Final

from hub.consent_gate import ConsentGate
from hub.services import ServiceRequests
from privacy.atrest import DeletionReceipt
from privacy.erasure import ErasureRequest, ErasureRequestError, verify_erasure

SERVICE: Final = "privacy"
ACTION: Final = "erase"


def erase_everywhere(
    gate: ConsentGate, services: ServiceRequests, request: ErasureRequest
) -> tuple[DeletionReceipt, str]:
    """Erase at the hub and ask the community to erase its copy.

    Returns the hub's signed receipt and the id of the request to the community. Raises
    ValueError (``ErasureRequestError`` for a request not signed by a registered resident of
    this home; nothing changes) or if the request cannot be queued (the hub's copy is then
    already erased, and asking again is harmless).
    """
    if request.home != gate.home_id:
        raise ErasureRequestError("the request is for another home")
    key = gate.resident_key(request.signer)
    if key is None:
        raise ErasureRequestError("no resident of this hub has the key that signed the request")
    verify_erasure(request, key)
    receipt = gate.erase()
    return receipt, services.request(SERVICE, ACTION, request.to_dict())
