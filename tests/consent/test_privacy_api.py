"""The resident's privacy API on a real hub: grant and withdraw in one step each, see what
is shared and the overrides used, export everything, erase with a receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from courtyard.demo.consent import Resident
from devices.catalog import DeviceKind, EventType
from privacy.atrest import DeletionReceipt, verify_receipt
from tests.consent.support import LinkDevice, site, until
from tests.support.mosquitto import Mosquitto


@pytest.mark.timeout(60)
async def test_grant_withdraw_view_export_and_erase_over_http(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    resident = Resident("r-1", "home-1")
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        token = Path(s.hub.admin_token_path).read_text().strip()
        base = f"http://127.0.0.1:{s.hub.http_port}/api/privacy"
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=auth) as http:

            async def post(path: str, body: Any) -> tuple[int, Any]:
                async with http.post(base + path, json=body) as resp:
                    return resp.status, await resp.json()

            async with aiohttp.ClientSession() as anonymous, anonymous.get(base) as resp:
                assert resp.status == 401
            pem = resident.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            status, _ = await post("/resident", {"subject": "r-1", "public_key_pem": pem.decode()})
            assert status == 200
            grant = resident.grant()
            status, body = await post("/consent", grant.to_dict())
            assert (status, body["status"]) == (200, "granted")
            forged = grant.to_dict() | {"sig": resident.withdraw(grant).to_dict()["sig"]}
            status, body = await post("/consent", forged)
            assert status == 400 and "signature" in body["error"]

            fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Bath sensor", "bath")
            await fall.connect()
            try:
                await fall.event(EventType.FALL_DETECTED, data={"confidence": 0.9})
                await fall.event(EventType.BATTERY_LOW)
                status, body = await post("/consent", resident.withdraw(grant).to_dict())
                assert (status, body["status"]) == (200, "withdrawn")
                await fall.event(EventType.TAMPER)
            finally:
                await fall.close()
            await until(lambda: len(s.events_at_community()) == 2, what="fall and trouble")

            async with http.get(base) as resp:
                view = await resp.json()
            assert [c["status"] for c in view["consents"]] == ["withdrawn"]
            assert view["withheld"] == {"device_health": 1}
            assert len(view["overrides"]) == 1 and "fall_detected" in view["overrides"][0]["what"]

            async with http.get(base + "/export") as resp:
                exported = await resp.json()
            assert len(exported["consents"]) == 2
            assert exported["events"]["fall-1"][-1]["data"] == {"confidence": 0.9}

            status, body = await post("/erase", {})
            assert status == 200
            verify_receipt(DeletionReceipt.from_dict(body), s.hub.public_key)
            async with http.get(base + "/export") as resp:
                exported = await resp.json()
            assert exported["events"]["fall-1"][-1]["data"] == {"erased": True}
