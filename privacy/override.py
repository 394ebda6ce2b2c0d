"""The bounded emergency override: what may be shared without consent to save a life.

When a home is on fire or someone has fallen, responders must learn of it even if nobody
consented in advance (``vital_interests``; PIPL Art. 13(4)). That power is dangerous, so it is
declared here as a closed table, not decided by code paths:

* only four events (``smoke_alarm``, ``gas_alarm``, ``fall_detected``, ``emergency_call``),
  each tied to exactly one data category;
* only for the purpose ``emergency_response``;
* only to responder roles (property duty staff, community emergency team), never family,
  care providers or anyone else;
* only the minimum fields a responder needs to act: what happened, when, which device, where
  (no device names the resident chose, no readings, no confidence scores);
* only within :data:`OVERRIDE_WINDOW` of the emergency event;
* every use produces an :class:`OverrideUse`, written to the audit log by the policy and
  shown to the resident afterwards.

Nothing else can be unlocked by it; ``tests/privacy/test_override.py`` checks that with
property tests over every category, event, purpose and recipient.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from privacy.encoding import iso_ms
from privacy.vocabulary import (
    CATEGORY_FIELDS,
    EVENT_CATEGORY,
    RESPONDERS,
    Category,
    Purpose,
    Recipient,
)

#: What a responder needs to act, and nothing more.
MINIMUM_FIELDS: Final = frozenset({"event", "active", "ts", "device_id", "kind", "room"})
#: How long after the emergency event the override may still disclose it.
OVERRIDE_WINDOW: Final = timedelta(hours=1)
#: An emergency event may be stamped this far in the future (device clocks drift).
MAX_CLOCK_SKEW: Final = timedelta(seconds=60)
OVERRIDE_PURPOSE: Final = Purpose.EMERGENCY_RESPONSE


@dataclass(frozen=True, slots=True)
class OverrideRule:
    """One row of the override table."""

    event_type: str
    category: Category
    fields: frozenset[str]
    window: timedelta = OVERRIDE_WINDOW


OVERRIDE_RULES: Final[dict[str, OverrideRule]] = {
    event: OverrideRule(event, EVENT_CATEGORY[event], MINIMUM_FIELDS)
    for event in ("smoke_alarm", "gas_alarm", "fall_detected", "emergency_call")
}


def _check_table() -> None:
    """Refuse to load a table whose fields reach beyond the category they belong to."""
    for rule in OVERRIDE_RULES.values():
        if not rule.fields <= CATEGORY_FIELDS[rule.category]:
            raise RuntimeError(f"override rule {rule.event_type} exceeds {rule.category}")


_check_table()


@dataclass(frozen=True, slots=True)
class OverrideUse:
    """One disclosure under the emergency override: auditable, and shown to the resident."""

    event_type: str
    category: Category
    recipient: Recipient
    purpose: Purpose
    fields: frozenset[str]
    event_at: datetime
    decided_at: datetime
    expires_at: datetime
    use_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def describe(self) -> str:
        """For the resident's own view: what was shared, with whom, why, until when."""
        return (
            f"Emergency override: {self.event_type} shared with {self.recipient.id} "
            f"({', '.join(sorted(self.fields))}) at {iso_ms(self.decided_at)} "
            f"to save life; valid until {iso_ms(self.expires_at)}"
        )


def check_override(
    category: Category,
    purpose: Purpose,
    recipient: Recipient,
    event_type: str | None,
    now: datetime,
    event_at: datetime,
) -> OverrideUse | str:
    """An :class:`OverrideUse` if the override covers this disclosure, else the reason not."""
    rule = OVERRIDE_RULES.get(event_type) if event_type is not None else None
    if rule is None:
        return f"the emergency override covers only {', '.join(sorted(OVERRIDE_RULES))}"
    if category != rule.category:
        return f"the override for {rule.event_type} covers only {rule.category}"
    if purpose != OVERRIDE_PURPOSE:
        return f"the override is only for {OVERRIDE_PURPOSE}"
    if recipient.role not in RESPONDERS:
        return f"the override reaches only responders, not {recipient.role}"
    if event_at > now + MAX_CLOCK_SKEW:
        return "the emergency event is stamped in the future"
    expires_at = event_at + rule.window
    if now >= expires_at:
        return f"the override for this event ended at {iso_ms(expires_at)}"
    return OverrideUse(
        event_type=rule.event_type,
        category=rule.category,
        recipient=recipient,
        purpose=purpose,
        fields=rule.fields,
        event_at=event_at,
        decided_at=now,
        expires_at=expires_at,
    )
