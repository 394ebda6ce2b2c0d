"""Event payloads rest encrypted under the resident's key; erasure shreds that key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from devices.catalog import DeviceKind, EventType
from privacy.atrest import verify_receipt
from privacy.audit import AuditAction, AuditLog
from tests.consent.support import LinkDevice, site
from tests.support.mosquitto import Mosquitto

CONFIDENCE = 0.774411


def _raw(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.glob("*.db*")))


@pytest.mark.timeout(60)
async def test_payloads_are_ciphertext_at_rest_and_erasure_makes_them_unreadable(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Grandma bathroom", "bath")
        await fall.connect()
        try:
            await fall.event(EventType.FALL_DETECTED, data={"confidence": CONFIDENCE})
        finally:
            await fall.close()
        # The resident's own view decrypts; the file holds only ciphertext.
        assert s.hub.recent_events("fall-1")[0]["data"] == {"confidence": CONFIDENCE}
        with sqlite3.connect(s.hub_dir / "hub.db") as db:
            (stored,) = db.execute("SELECT data FROM event_log").fetchone()
        assert "sealed_at_rest" in stored and str(CONFIDENCE) not in stored
        assert str(CONFIDENCE).encode() not in _raw(s.hub_dir)

        receipt = s.hub.consent.erase()
        verify_receipt(receipt, s.hub.public_key)
        assert receipt.resident_id == "r-1"
        assert s.hub.recent_events("fall-1")[0]["data"] == {"erased": True}
        assert s.hub.consent.erase() == receipt  # asking again returns the same receipt
    with AuditLog(tmp_path / "hub" / "audit.db") as audit:
        assert AuditAction.ERASE in [e.action for e in audit.entries()]
        assert audit.verify().ok
