"""A compressed clock, a resident who opts in to the daily care check, and the site of
tests/notices (a real community and two home hubs over a real Mosquitto)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from community.mailbox import parse_entry
from courtyard.demo.consent import Resident
from hub import Hub
from privacy.consent import SignedConsent
from privacy.sealed_fields import open_field
from privacy.vocabulary import Category, Purpose, Recipient, RecipientRole
from tests.hub_ui.conftest import browser
from tests.notices.conftest import site

__all__ = ["CHINA", "FAMILY", "Clock", "OptedIn", "browser", "open_sealed", "opt_in", "site"]

CHINA = timezone(timedelta(hours=8))
FAMILY = Recipient(RecipientRole.FAMILY, "li")
DUTY = Recipient(RecipientRole.PROPERTY_DUTY, "duty")


@dataclass
class Clock:
    """The hub's local time, moved by the test."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 21, 8, 0, tzinfo=CHINA))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def at(self, hours: int, minutes: int, seconds: int = 0) -> None:
        self.now = self.now.replace(hour=hours, minute=minutes, second=seconds)


@dataclass
class OptedIn:
    resident: Resident
    family_key: X25519PrivateKey
    grants: list[SignedConsent]


def opt_in(
    hub: Hub,
    *,
    family: bool = True,
    staff: bool = True,
    check_time: str = "09:00",
    ask_grace_s: int = 600,
    family_grace_s: int = 900,
) -> OptedIn:
    """The resident registers their key and the family member's, signs the consents chosen,
    and switches the daily check on."""
    resident = Resident(hub.consent.subject, hub.consent.home_id)
    hub.consent.register_resident(resident.subject, resident.key.public_key())
    family_key = X25519PrivateKey.generate()
    hub.consent.recipients.register(FAMILY.id, family_key.public_key())
    grants = []
    chosen = [(family, FAMILY, Purpose.FAMILY_NOTIFICATION), (staff, DUTY, Purpose.CARE_SERVICE)]
    for wanted, who, purpose in chosen:
        if wanted:
            grant = resident.grant((Category.DAILY_CHECK,), recipients=(who,), purpose=purpose)
            hub.consent.record(grant)
            grants.append(grant)
    hub.care.configure(
        {
            "enabled": True,
            "check_time": check_time,
            "ask_grace_s": ask_grace_s,
            "family_grace_s": family_grace_s,
            "family": FAMILY.id,
        }
    )
    return OptedIn(resident, family_key, grants)


def open_sealed(entry: dict[str, Any] | str, key: X25519PrivateKey) -> Any:
    """What the family member reads: the sealed message opened with their private key."""
    raw = json.loads(entry) if isinstance(entry, str) else entry
    sealed, context = parse_entry(raw)
    return open_field(sealed, key, context)
