"""Through the real stack: a fire-lane sensor stub reports a plate over the hub, the uplink
and the community's ingest; the community keeps only its keyed hash and finds the owner."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from community.clock import now_ms
from community.lane_report import iso_week
from privacy.consent import sign_consent
from tests.e2e_field.conftest import ZONE, FieldStack
from tests.fire_lanes.support import OWNER_HOME, SUBJECT, plate_consent

PLATE = "粤B67890"


async def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 40
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
    return found


async def test_a_registered_plate_is_hashed_at_ingest_and_its_owner_is_found(
    field_stack: FieldStack,
) -> None:
    community = field_stack.community
    community.enroll_hub("hub-101", OWNER_HOME, Ed25519PrivateKey.generate().public_key())
    resident = Ed25519PrivateKey.generate()
    await community.register_resident(OWNER_HOME, SUBJECT, resident.public_key())
    consent = plate_consent(resident, granted_at=now_ms() - 60_000)
    await community.record_consent(sign_consent(consent, resident))
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{field_stack.base_url}/api/lanes/plates/register",
            json={"home_id": OWNER_HOME, "subject": SUBJECT, "plate": PLATE},
            headers={"Authorization": f"Bearer {community.manager_token}"},
        ) as response,
    ):
        assert response.status == 201, await response.text()

    field_stack.lane.vehicle_arrives(plate=PLATE)
    [alarm] = await _until(lambda: field_stack.alarms("fire_lane_obstructed"), "the alarm")
    detail = await field_stack.api(f"/api/alarms/{alarm['id']}")
    # Found (the consent and the mapping hold), but this community has no target for the
    # owner's home: the tier is skipped with that reason — never the home or the plate.
    notes = [h["note"] or "" for h in detail["history"]]
    assert "tier 0: resident of the vehicle owner: no notification target; skipped" in notes
    assert [s["state"] for s in detail["escalation"]][:2] == ["skipped", "fired"]
    [evidence] = detail["evidence"]
    assert evidence["uri"].startswith(f"urn:courtyard:fire-lane:{ZONE}:")

    field_stack.lane.vehicle_leaves()
    await _until(
        lambda: field_stack.alarms("fire_lane_obstructed")[0]["status"] == "cleared", "clear"
    )
    report = await field_stack.api("/api/lanes/report?week=" + _week())
    [zone] = report["zones"]
    assert zone["zone_id"] == ZONE and zone["obstructions"] == 1
    data = community._config.data_dir
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file())
    assert PLATE.encode("utf-8") not in raw and b"B67890" not in raw


def _week() -> str:
    return iso_week(now_ms())
