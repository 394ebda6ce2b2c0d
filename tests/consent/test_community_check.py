"""The community's own consent check at ingest, against a real hub over real Mosquitto.

The community does not trust the hub to have filtered: a hub in ``open`` mode (or a faulty
one) sends everything, and the community stores only what a consent it was shown, or the
bounded override with its minimum fields, covers. Refused records are acknowledged (the hub
stops resending), counted and audited, and never stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from courtyard.demo.consent import Resident
from devices.catalog import DeviceKind, EventType
from privacy.audit import AuditAction, AuditLog, verify_file
from tests.consent.support import LinkDevice, site, until
from tests.support.mosquitto import Mosquitto

CONFIDENCE = 0.811723


@pytest.mark.timeout(60)
async def test_what_no_consent_covers_is_refused_at_ingest_and_audited(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with site(mosquitto, tmp_path, hub_consent="open", community_consent="enforce") as s:
        fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Grandma bathroom", "bath")
        await fall.connect()
        try:
            await fall.event(EventType.FALL_DETECTED, data={"confidence": CONFIDENCE})
            await fall.event(EventType.BATTERY_LOW)
            await fall.state({"battery_pct": 80})
            # Refused records are acknowledged, so the hub's outbox drains.
            await until(lambda: s.hub.outbox_pending() == 0, what="refusals to be acked")
        finally:
            await fall.close()
        assert s.events_at_community() == []
        assert s.community.alarms() == []
        assert sum(s.community.consent.refused.values()) == 3
    assert verify_file(tmp_path / "community" / "audit.db").ok
    with AuditLog(tmp_path / "community" / "audit.db") as audit:
        refusals = [e for e in audit.entries() if e.action == AuditAction.REFUSE]
    assert len(refusals) == 3
    assert any("confidence" in e.detail for e in refusals)
    raw = (tmp_path / "community" / "community.db").read_bytes()
    assert str(CONFIDENCE).encode() not in raw


@pytest.mark.timeout(60)
async def test_both_ends_enforcing_deliver_emergencies_and_consented_trouble_only(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    resident = Resident("r-1", "home-1")
    async with site(
        mosquitto, tmp_path, hub_consent="enforce", community_consent="enforce", resident_id="r-1"
    ) as s:
        s.hub.consent.register_resident("r-1", resident.key.public_key())
        await s.community.register_resident("home-1", "r-1", resident.key.public_key())
        grant = resident.grant()
        s.hub.consent.record(grant)
        await s.community.record_consent(grant)
        fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Grandma bathroom", "bath")
        await fall.connect()
        try:
            await fall.event(EventType.FALL_DETECTED, data={"confidence": CONFIDENCE})
            await fall.event(EventType.BATTERY_LOW)
            await until(lambda: len(s.events_at_community()) == 2, what="both records")
            # The community learns of a withdrawal the hub has not yet applied: it refuses.
            await s.community.record_consent(resident.withdraw(grant))
            await fall.event(EventType.TAMPER)
            await until(lambda: s.hub.outbox_pending() == 0, what="the refusal to be acked")
        finally:
            await fall.close()
        assert [e["event"] for e in s.events_at_community()] == ["fall_detected", "battery_low"]
        assert s.community.consent.overrides == 1
        assert sum(s.community.consent.refused.values()) == 1
    with AuditLog(tmp_path / "community" / "audit.db") as audit:
        actions = [e.action for e in audit.entries()]
    assert actions.count(AuditAction.GRANT) == 1
    assert actions.count(AuditAction.WITHDRAW) == 1
    assert actions.count(AuditAction.OVERRIDE) == 1
    assert actions.count(AuditAction.REFUSE) == 1
