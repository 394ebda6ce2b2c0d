"""The hub's consent gate with real parts: hub, Mosquitto, community, SQLite files.

Deny by default: with no consent, trouble and telemetry stay in the home and only the four
emergencies reach the duty staff, under the bounded override, with the minimum fields.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from courtyard.demo.consent import Resident
from devices.catalog import DeviceKind, EventType
from privacy.audit import AuditAction, verify_file
from privacy.consent import ConsentError
from tests.consent.support import LinkDevice, site, until
from tests.support.mosquitto import Mosquitto

CONFIDENCE = 0.937251


def _audit_actions(hub_dir: Path) -> list[str]:
    with sqlite3.connect(hub_dir / "audit.db") as db:
        return [str(r[0]) for r in db.execute("SELECT action FROM audit_log ORDER BY seq")]


@pytest.mark.timeout(60)
async def test_without_consent_only_emergencies_leave_the_home_with_minimum_fields(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with site(mosquitto, tmp_path) as s:
        fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Grandma bathroom", "bath")
        smoke = LinkDevice(s.hub, "smoke-1", DeviceKind.SMOKE_ALARM, "Wang kitchen", "kitchen")
        for device in (fall, smoke):
            await device.connect()
        try:
            await fall.event(EventType.FALL_DETECTED, data={"confidence": CONFIDENCE})
            await fall.event(EventType.BATTERY_LOW)
            await smoke.event(EventType.SMOKE_ALARM)
            await smoke.event(EventType.HARDWARE_FAULT)
            await until(lambda: len(s.events_at_community()) >= 2, what="the emergencies")
            await until(lambda: s.hub.outbox_pending() == 0, what="the outbox to drain")
        finally:
            await fall.close()
            await smoke.close()
        stored = s.messages_at_community()
        assert sorted(r["event"] for r in stored) == ["fall_detected", "smoke_alarm"]
        assert all(r["message"]["data"] == {} for r in stored)
        names = {a["kind"]: a["device_name"] for a in s.community.alarms()}
        assert names == {"fall_detected": "fall_detector", "smoke_alarm": "smoke_alarm"}
        counts = s.hub.consent.counts()
        assert counts.overrides == 2
        assert counts.withheld == {"device_health": 2}
        # Withheld is kept at home: the hub's own event log still has every event.
        assert len(s.hub.recent_events("fall-1", 10)) == 2
    assert verify_file(tmp_path / "hub" / "audit.db").ok
    actions = _audit_actions(tmp_path / "hub")
    assert actions.count(AuditAction.OVERRIDE) == 2
    assert actions.count(AuditAction.REFUSE) == 2
    raw = (tmp_path / "community" / "community.db").read_bytes()
    wal = tmp_path / "community" / "community.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert str(CONFIDENCE).encode() not in raw
    assert b"Grandma" not in raw


@pytest.mark.timeout(60)
async def test_a_grant_shares_trouble_and_a_withdrawal_stops_the_very_next_message(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    resident = Resident("r-1", "home-1")
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        s.hub.consent.register_resident("r-1", resident.key.public_key())
        grant = resident.grant()
        s.hub.consent.record(grant)
        smoke = LinkDevice(s.hub, "smoke-1", DeviceKind.SMOKE_ALARM, "Wang kitchen", "kitchen")
        await smoke.connect()
        try:
            await smoke.event(EventType.BATTERY_LOW)
            await smoke.event(EventType.SMOKE_ALARM, data={"value": 3.5})
            await until(lambda: len(s.events_at_community()) == 2, what="shared events")
            s.hub.consent.record(resident.withdraw(grant))
            await smoke.event(EventType.TAMPER)
            await smoke.event(EventType.SMOKE_ALARM, active=False)
            await smoke.event(EventType.SMOKE_ALARM, data={"value": 4.0})
            await until(lambda: len(s.events_at_community()) == 4, what="the emergency")
            await until(lambda: s.hub.outbox_pending() == 0, what="the outbox to drain")
        finally:
            await smoke.close()
        stored = s.messages_at_community()
        # The tamper after the withdrawal stayed home; the alarm's end and the next alarm
        # still reached the duty staff under the override, with its minimum fields only.
        assert [(r["event"], r["message"]["active"]) for r in stored] == [
            ("battery_low", True),
            ("smoke_alarm", True),
            ("smoke_alarm", False),
            ("smoke_alarm", True),
        ]
        assert stored[1]["message"]["data"] == {"value": 3.5}
        assert stored[3]["message"]["data"] == {}
        assert s.hub.consent.counts().withheld == {"device_health": 1}
    actions = _audit_actions(tmp_path / "hub")
    assert actions[:1] == [AuditAction.GRANT]
    assert AuditAction.WITHDRAW in actions and AuditAction.OVERRIDE in actions


@pytest.mark.timeout(60)
async def test_a_forged_or_foreign_consent_is_refused_audited_and_never_allows(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    resident = Resident("r-1", "home-1")
    impostor = Resident("r-1", "home-1")  # same names, a key the hub never registered
    neighbour = Resident("r-2", "home-2")
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        s.hub.consent.register_resident("r-1", resident.key.public_key())
        with pytest.raises(ConsentError):
            s.hub.consent.record(impostor.grant())
        with pytest.raises(ConsentError):
            s.hub.consent.record(neighbour.grant())
        assert s.hub.consent.signed_records() == []
        smoke = LinkDevice(s.hub, "smoke-1", DeviceKind.SMOKE_ALARM, "Wang kitchen", "kitchen")
        await smoke.connect()
        try:
            await smoke.event(EventType.BATTERY_LOW)
        finally:
            await smoke.close()
        assert s.hub.consent.counts().withheld == {"device_health": 1}
        assert s.hub.outbox_pending() == 0
    assert _audit_actions(tmp_path / "hub").count(AuditAction.REFUSE) == 2


@pytest.mark.timeout(60)
async def test_open_mode_uplinks_everything_unchanged(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with site(mosquitto, tmp_path, hub_consent="open") as s:
        fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Grandma bathroom", "bath")
        await fall.connect()
        try:
            await fall.event(EventType.FALL_DETECTED, data={"confidence": CONFIDENCE})
            await fall.event(EventType.BATTERY_LOW)
            await until(lambda: len(s.events_at_community()) == 2, what="both events")
        finally:
            await fall.close()
        assert s.messages_at_community()[0]["message"]["data"] == {"confidence": CONFIDENCE}


@pytest.mark.timeout(60)
async def test_an_expired_consent_shares_nothing_and_a_leak_is_no_emergency(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    resident = Resident("r-1", "home-1")
    long_ago = datetime.now(UTC) - timedelta(days=30)
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        s.hub.consent.register_resident("r-1", resident.key.public_key())
        s.hub.consent.record(resident.grant(now=long_ago, days=7))
        leak = LinkDevice(s.hub, "leak-1", DeviceKind.WATER_LEAK, "Sink", "kitchen")
        await leak.connect()
        try:
            await leak.event(EventType.WATER_LEAK)
            await leak.event(EventType.BATTERY_LOW)
        finally:
            await leak.close()
        assert s.hub.outbox_pending() == 0 and s.events_at_community() == []
        assert s.hub.consent.counts().withheld == {"safety_alarms": 1, "device_health": 1}


@pytest.mark.timeout(60)
async def test_consents_and_withdrawals_survive_a_hub_restart(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    resident = Resident("r-1", "home-1")
    grant = resident.grant()
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        s.hub.consent.register_resident("r-1", resident.key.public_key())
        s.hub.consent.record(grant)
    async with site(mosquitto, tmp_path, resident_id="r-1", fresh=False) as s:
        smoke = LinkDevice(s.hub, "smoke-1", DeviceKind.SMOKE_ALARM, "Wang kitchen", "kitchen")
        await smoke.connect()
        try:
            await smoke.event(EventType.BATTERY_LOW)
            await until(lambda: len(s.events_at_community()) == 1, what="the shared trouble")
            s.hub.consent.record(resident.withdraw(grant))
        finally:
            await smoke.close()
    async with site(mosquitto, tmp_path, resident_id="r-1", fresh=False) as s:
        smoke = LinkDevice(
            s.hub, "smoke-1", DeviceKind.SMOKE_ALARM, "Wang kitchen", "kitchen", seq=1
        )
        await smoke.connect()
        try:
            await smoke.event(EventType.TAMPER)
        finally:
            await smoke.close()
        assert s.hub.consent.counts().withheld == {"device_health": 1}
        assert s.hub.outbox_pending() == 0
