"""Residents and their consents, as the demo (and the consent tests) set them up.

A resident holds an Ed25519 key of their own. The hub and the community are told the public
half (enrollment), and every consent the resident gives or withdraws is signed with it, so
neither the hub operator nor the community can invent a consent on the resident's behalf.

The usual consent in the demo is the one most residents give: "the property duty staff may
see my safety alarms and device trouble, to keep the building safe". Fall events and
emergency calls are sensitive (PIPL Art. 28) and are never part of it; without a separate
consent they reach responders only under the bounded emergency override.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from courtyard.demo.family import FamilyMember, family_member
from hub.erasure import erase_everywhere
from privacy.atrest import DeletionReceipt, verify_receipt
from privacy.consent import (
    CollectionMethod,
    ConsentRecord,
    SignedConsent,
    category_grant,
    new_consent_id,
    notice_hash,
    sign_consent,
)
from privacy.erasure import sign_erasure
from privacy.vocabulary import (
    CATEGORY_FIELDS,
    Category,
    LegalBasis,
    Purpose,
    Recipient,
    RecipientRole,
)

if TYPE_CHECKING:
    from courtyard.demo.runner import Community

DUTY: Final = Recipient(RecipientRole.PROPERTY_DUTY, "duty")
NOTICE_VERSION: Final = "2026-11"
NOTICE: Final = (
    "Courtyard shares the data you choose with the people you choose, for the reason shown, "
    "until the date shown. You can withdraw at any time; emergencies (fire, gas, a fall, a "
    "call for help) still reach responders, with only what they need to act."
)
#: What most demo residents share with the duty staff.
SAFETY_AND_TROUBLE: Final = (Category.SAFETY_ALARMS, Category.DEVICE_HEALTH)


@dataclass(slots=True)
class Resident:
    """A pseudonymous resident of one home and their own signing key."""

    subject: str
    home: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate, repr=False)

    def grant(
        self,
        categories: Iterable[Category] = SAFETY_AND_TROUBLE,
        *,
        recipients: Iterable[Recipient] = (DUTY,),
        purpose: Purpose = Purpose.SAFETY_MONITORING,
        fields: dict[Category, frozenset[str]] | None = None,
        now: datetime | None = None,
        days: int = 365,
    ) -> SignedConsent:
        """A signed consent: these categories (all their fields unless ``fields`` narrows
        them) to these recipients for this purpose, from now for ``days``."""
        start = (now or datetime.now(UTC)) - timedelta(minutes=1)
        chosen = fields or {}
        record = ConsentRecord(
            consent_id=new_consent_id(),
            revision=0,
            subject=self.subject,
            home=self.home,
            purpose=purpose,
            legal_basis=LegalBasis.CONSENT,
            categories=tuple(
                category_grant(c, chosen.get(c, CATEGORY_FIELDS[c]), days) for c in categories
            ),
            recipients=tuple(recipients),
            granted_at=start,
            expires_at=start + timedelta(days=days),
            collection_method=CollectionMethod.HUB_UI,
            notice_version=NOTICE_VERSION,
            notice_hash=notice_hash(NOTICE),
        )
        return sign_consent(record, self.key)

    def withdraw(self, signed: SignedConsent, *, at: datetime | None = None) -> SignedConsent:
        """The signed withdrawal of ``signed`` (one step, as granting is)."""
        return sign_consent(signed.record.withdraw(at or datetime.now(UTC)), self.key)


# --- the demo's residents ----------------------------------------------------------------

#: Homes (by number, wrapping) whose resident also shares fall events, with family only: the
#: community sees their falls under the emergency override alone, with the minimum fields.
FAMILY_FALL_HOMES: Final = frozenset({2, 5})


@dataclass(frozen=True, slots=True)
class ConsentStep:
    """A resident's consent action in the timeline (``withdraw``)."""

    at: float
    home: int
    action: str
    says: str


#: The home whose resident asks, at the end of the run, for their data to be erased.
ERASED_HOME: Final = 2


def receipt_id(receipt: DeletionReceipt) -> str:
    """A short, stable name for a deletion receipt (SHA-256 of its canonical JSON)."""
    return hashlib.sha256(receipt.to_json()).hexdigest()[:32]


CONSENT_STEPS: Final[tuple[ConsentStep, ...]] = (
    ConsentStep(
        0.20,
        3,
        "withdraw",
        "the resident withdraws consent: trouble and telemetry stay home, emergencies still "
        "reach responders",
    ),
)


def resident_id(home_id: str) -> str:
    """The pseudonymous resident id of a demo home (no name, no flat number's owner)."""
    return f"r-{home_id}"


def family_of(home_id: str) -> Recipient:
    return Recipient(RecipientRole.FAMILY, f"family-{home_id}")


@dataclass
class DemoConsents:
    """Every demo resident, the duty-staff consent each gave, and what was withdrawn."""

    residents: dict[str, Resident] = field(default_factory=dict)
    duty_grants: dict[str, SignedConsent] = field(default_factory=dict)
    withdrawn: list[str] = field(default_factory=list)
    erasure: dict[str, Any] | None = None
    #: Family members with a key pair and a mailbox token (recipient id -> files).
    family: dict[str, FamilyMember] = field(default_factory=dict)
    #: What each family member's app fetched from the community and could open.
    family_mailbox: dict[str, Any] = field(default_factory=dict)

    async def enroll(self, community: Community, family_dir: Path | None = None) -> None:
        """Each resident registers their key with their hub and the community, and grants
        the duty staff safety alarms and device trouble; some share falls with family.

        With ``family_dir``, each of those family members has a key pair of their own there
        (``<recipient>/private.key``, owner-only) that the resident registers on the hub, so
        the fall's family-only details travel sealed for them instead of being dropped; the
        mailbox token the hub issues is kept beside it (``mailbox.token``, owner-only), as the
        family member's app would keep it."""
        for home in community.homes:
            hub = community.hubs[home.hub_id]
            resident = Resident(resident_id(home.home_id), home.home_id)
            self.residents[home.home_id] = resident
            hub.consent.register_resident(resident.subject, resident.key.public_key())
            await community.server.register_resident(
                home.home_id, resident.subject, resident.key.public_key()
            )
            grant = resident.grant()
            self.duty_grants[home.home_id] = grant
            hub.consent.record(grant)
            await community.server.record_consent(grant)
            if home.index in FAMILY_FALL_HOMES:
                family = resident.grant(
                    (Category.FALL_EVENTS,),
                    recipients=(family_of(home.home_id),),
                    purpose=Purpose.FAMILY_NOTIFICATION,
                )
                hub.consent.record(family)
                if family_dir is not None:  # the family member's own key and mailbox token
                    self.family[family_of(home.home_id).id] = family_member(
                        hub, family_of(home.home_id).id, family_dir
                    )

    async def apply(self, community: Community, step: ConsentStep) -> str:
        """Carry out one consent step; returns the home it happened in."""
        home = community.homes[step.home % len(community.homes)]
        if step.action != "withdraw":
            raise ValueError(f"unknown consent step {step.action!r}")
        withdrawal = self.residents[home.home_id].withdraw(self.duty_grants[home.home_id])
        # The hub first: from its very next message on, nothing more leaves the home.
        community.hubs[home.hub_id].consent.record(withdrawal)
        await community.server.record_consent(withdrawal)
        self.withdrawn.append(home.home_id)
        return home.home_id

    async def erase(
        self, community: Community, home_number: int = ERASED_HOME, *, within_s: float = 10.0
    ) -> DeletionReceipt:
        """The resident of one home signs "erase my data": their hub crypto-shreds its copy and
        forwards the request to the community, whose own signed receipt is awaited (bounded)."""
        # A small community erases its last home rather than wrap round to the first, where
        # the interactive demo invites a person to pair a new device after the timeline.
        home = community.homes[min(home_number, len(community.homes) - 1)]
        hub = community.hubs[home.hub_id]
        request = sign_erasure(home.home_id, self.residents[home.home_id].key)
        receipt, request_id = erase_everywhere(hub.consent, hub.services, request)
        self.erasure = {
            "home": home.home_id,
            "receipt_id": receipt_id(receipt),
            "receipt": receipt.to_dict(),
            "community_request_id": request_id,
            "community_receipt": None,
        }
        deadline = asyncio.get_running_loop().time() + within_s
        answer = hub.services.get(request_id)
        while (answer is None or answer["answer"] is None) and (
            asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(0.1)
            answer = hub.services.get(request_id)
        if answer is not None and answer["answer"] is not None:
            self.erasure["community_answer"] = answer["answer"]
            found = (answer.get("data") or {}).get("receipt")
            if found is not None:
                community_receipt = DeletionReceipt.from_dict(found)
                public = Ed25519PublicKey.from_public_bytes(
                    bytes.fromhex(community.server.community_public_key_hex)
                )
                verify_receipt(community_receipt, public)  # ReceiptError if it is not genuine
                self.erasure["community_receipt"] = community_receipt.to_dict()
                self.erasure["community_receipt_id"] = receipt_id(community_receipt)
        return receipt

    def report(self, community: Community) -> dict[str, Any]:
        """The demo report's ``privacy`` section."""
        homes: dict[str, Any] = {}
        overrides = 0
        for home in community.homes:
            counts = community.hubs[home.hub_id].consent.counts()
            overrides += counts.overrides
            homes[home.home_id] = {
                "withheld": counts.withheld,
                "overrides": counts.overrides,
                "shared_by_consent": counts.disclosed,
            }
        check = community.server.consent
        return {
            "hub_consent": "enforce",
            "community_consent": str(check.mode),
            "family_only_falls": sorted(
                h.home_id for h in community.homes if h.index in FAMILY_FALL_HOMES
            ),
            "withdrawn": list(self.withdrawn),
            "overrides_used": overrides,
            "community_refused": sum(check.refused.values()),
            "community_overrides": check.overrides,
            "erasure": self.erasure,
            "family_mailbox": self.family_mailbox,
            "homes": homes,
        }


def withheld_events(community: Community) -> set[tuple[str, str, int, bool]]:
    """Every device event a hub kept at home for lack of consent."""
    out: set[tuple[str, str, int, bool]] = set()
    for hub in community.hubs.values():
        out.update(hub.consent.withheld_events)
    return out
