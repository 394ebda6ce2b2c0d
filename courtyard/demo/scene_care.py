"""The care scene: a resident who opted in to the daily "I'm fine" check does not answer.

One home whose resident already shares fall details with family (``FAMILY_FALL_HOMES``) opts
in: check time 09:00, one-minute grace periods, the same family member told, and the two
consents (family notification to the family member; care service to the duty staff) signed
with the resident's own key. The hub's care clock is compressed: at the scene's first step it
reads 08:59:30 and runs fast enough that the ask, the family message and the duty-staff alarm
all fall inside the run. Nobody moves in that home, so the check asks, then tells the family
(sealed, into their mailbox), then the duty staff (a ``care_check_missed`` alarm); late in the
run the resident presses "I'm fine" and the alarm clears.

The report reads the community's ``care_checks`` back: the home, when it was asked, when the
family was told, the staff alarm and the tiers reached.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from courtyard.demo.consent import ERASED_HOME, FAMILY_FALL_HOMES, family_of
from privacy.vocabulary import Category, Purpose, Recipient, RecipientRole

if TYPE_CHECKING:
    from courtyard.demo.layout import Home
    from courtyard.demo.property import PropertyStep
    from courtyard.demo.runner import Community

CHECK_TIME: Final = "09:00"
#: Virtual seconds before the check time when the clock starts running.
LEAD_S: Final = 30
#: The shortest grace a resident may choose; the clock's speed makes it fit the run.
GRACE_S: Final = 60
#: Each grace lasts this fraction of the run (real time).
GRACE_FRACTION: Final = 0.15
START_AT: Final = 0.05
#: When the resident finally answers (after both graces have run out).
FINE_AT: Final = 0.75
DUTY: Final = Recipient(RecipientRole.PROPERTY_DUTY, "duty")


class DemoClock:
    """The hub's local time: still at 08:00 until started, then fast from 08:59:30."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        today = datetime.now().astimezone()
        self._base = today.replace(hour=8, minute=0, second=0, microsecond=0)
        self._started: float | None = None

    def start(self) -> None:
        self._base = self._base.replace(hour=9, minute=0) - timedelta(seconds=LEAD_S)
        self._started = time.monotonic()

    def __call__(self) -> datetime:
        if self._started is None:
            return self._base
        return self._base + timedelta(seconds=(time.monotonic() - self._started) * self.speed)


def _home(community: Community) -> Home:
    """A family-fall home (their family member has a key), not the one erased at the end."""
    for number in sorted(FAMILY_FALL_HOMES - {ERASED_HOME}) + sorted(FAMILY_FALL_HOMES):
        for home in community.homes:
            if home.index == number:
                return home
    return community.homes[0]


class CareScene:
    """Opt in, stay still, and let the check escalate to the family and the duty staff."""

    name = "care"

    def __init__(self) -> None:
        self._home: Home | None = None
        self._clock: DemoClock | None = None

    async def setup(self, community: Community, duration: float) -> None:
        home = self._home = _home(community)
        hub = community.hubs[home.hub_id]
        family = family_of(home.home_id)
        if family.id not in {r.recipient.id for r in hub.consent.recipients.all()}:
            # Not registered by the consent setup: the family member gets a key of their own.
            hub.consent.recipients.register(family.id, X25519PrivateKey.generate().public_key())
        resident = community.consents.residents[home.home_id]
        for who, purpose in ((family, Purpose.FAMILY_NOTIFICATION), (DUTY, Purpose.CARE_SERVICE)):
            hub.consent.record(
                resident.grant((Category.DAILY_CHECK,), recipients=(who,), purpose=purpose)
            )
        self._clock = DemoClock(speed=GRACE_S / max(0.5, GRACE_FRACTION * duration))
        hub.care.set_clock(self._clock, tick_s=0.2)
        hub.care.configure(
            {
                "enabled": True,
                "check_time": CHECK_TIME,
                "ask_grace_s": GRACE_S,
                "family_grace_s": GRACE_S,
                "family": family.id,
            }
        )

    def steps(self) -> Sequence[PropertyStep]:
        from courtyard.demo.property import PropertyStep

        return (
            PropertyStep(
                START_AT,
                "care: a resident who opted in to the daily check does not stir by 09:00; the"
                " hub asks, then tells the family, then the duty staff",
                self._start,
            ),
            PropertyStep(
                FINE_AT,
                "care: the resident presses I'm fine; the duty staff's alarm clears",
                self._fine,
            ),
        )

    async def _start(self, community: Community, duration: float) -> None:
        if self._clock is not None:
            self._clock.start()

    async def _fine(self, community: Community, duration: float) -> None:
        if self._home is not None:
            community.hubs[self._home.hub_id].care.fine()

    async def report(self, community: Community) -> dict[str, Any]:
        if self._home is None:
            return {}
        checks = community.server.care.checks(self._home.home_id)
        if not checks:
            return {"home": self._home.home_id, "escalated_to": []}
        check = checks[-1]
        return {
            "home": check["home"],
            "asked_at": check["asked_at"],
            "family_told_at": check["family_told_at"],
            "staff_alarm_id": check["staff_alarm_id"],
            "escalated_to": check["escalated_to"],
            "status": check["status"],
        }
