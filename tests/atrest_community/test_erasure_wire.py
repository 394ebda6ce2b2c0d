"""Erasure reaching the community, over a real Mosquitto: a real hub and a real community.

The resident signs "erase my data"; the hub shreds its own key and forwards the request as a
``privacy``/``erase`` property-service request; the community checks the signature against the
resident it registered for that hub's home, shreds its copy's key and answers with its own
signed receipt. Forged, other-home and altered requests are refused and change nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from community.resident_keys import SEALED_PREFIX, data_key_name
from courtyard.demo.consent import Resident
from devices.catalog import DeviceKind, EventType
from hub import Hub
from hub.erasure import erase_everywhere
from privacy.atrest import DeletionReceipt, KeyStatus, ShreddedError, verify_receipt
from privacy.audit import AuditAction, AuditEntry, AuditLog, verify_file
from privacy.erasure import ErasureRequestError, sign_erasure
from tests.consent.support import LinkDevice, Site, site, until
from tests.support.mosquitto import Mosquitto

NAME, ROOM = "Zephyrine night lamp", "Quokka study"


async def _answer(hub: Hub, request_id: str) -> dict[str, Any]:
    await until(
        lambda: (hub.services.get(request_id) or {}).get("answer") is not None,
        20,
        "the community's answer",
    )
    answer = hub.services.get(request_id)
    assert answer is not None
    return answer


async def _alarms(s: Site) -> list[dict[str, Any]]:
    port = s.community.http_port
    headers = {"Authorization": f"Bearer {s.community.manager_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/api/alarms", headers=headers) as response,
    ):
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return list(body["alarms"])


async def _erase_via_api(hub: Hub, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    token = Path(hub.admin_token_path).read_text().strip()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{hub.http_port}/api/privacy/erase",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        return response.status, await response.json()


def _audit(s: Site) -> list[AuditEntry]:
    """The community's audit log, read from its file (its own connection is the writer's)."""
    with AuditLog(s.community_dir / "audit.db") as audit:
        return audit.entries()


def _raw(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.glob("community.db*")))


async def _enrolled(s: Site) -> Resident:
    resident = Resident("r-1", s.home_id)
    s.hub.consent.register_resident(resident.subject, resident.key.public_key())
    await s.community.register_resident(s.home_id, resident.subject, resident.key.public_key())
    grant = resident.grant()
    s.hub.consent.record(grant)
    await s.community.record_consent(grant)
    device = LinkDevice(s.hub, "smoke-1", DeviceKind.SMOKE_ALARM, NAME, ROOM)
    await device.connect()
    try:
        await device.event(EventType.SMOKE_ALARM)
    finally:
        await device.close()
    await until(lambda: s.community.events(), 20, "the alarm at the community")
    return resident


@pytest.mark.timeout(90)
async def test_erasure_reaches_the_community_and_forgeries_change_nothing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        resident = await _enrolled(s)
        keys = s.community.resident_keys
        name = data_key_name(s.home_id, resident.subject)
        (alarm,) = await _alarms(s)
        assert (alarm["device_name"], alarm["room"]) == (NAME, ROOM)
        raw = _raw(s.community_dir)
        assert NAME.encode() not in raw and ROOM.encode() not in raw
        (stored,) = s.community._store.read(
            "SELECT key, message FROM events WHERE event = 'smoke_alarm'"
        )
        assert stored["message"].startswith(SEALED_PREFIX)

        # Forged (a key no resident registered), for another home, and altered after signing:
        # sent straight to the community as a compromised hub would; each is refused.
        forger = Ed25519PrivateKey.generate()
        genuine = sign_erasure(s.home_id, resident.key)
        for request, reason in (
            (sign_erasure(s.home_id, forger), "unknown_resident"),
            (sign_erasure("home-2", resident.key), "other_home"),
            (dataclasses.replace(genuine, asked_at="2020-01-01T00:00:00.000Z"), "bad_signature"),
        ):
            asked = s.hub.services.request("privacy", "erase", request.to_dict())
            answer = await _answer(s.hub, asked)
            assert (answer["answer"], answer["params"]["reason"]) == ("refused", reason)
        malformed = s.hub.services.request("privacy", "erase", {"type": "erasure_request"})
        assert (await _answer(s.hub, malformed))["params"]["reason"] == "malformed"
        assert keys.status(name) is KeyStatus.ACTIVE
        assert (await _alarms(s))[0]["device_name"] == NAME
        refusals = [e for e in _audit(s) if "erasure" in e.detail]
        assert len(refusals) == 4 and {e.action for e in refusals} == {AuditAction.REFUSE}
        # The hub checks the resident's signature too, before erasing anything.
        with pytest.raises(ErasureRequestError):
            erase_everywhere(s.hub.consent, s.hub.services, sign_erasure(s.home_id, forger))
        status, _ = await _erase_via_api(
            s.hub, {"request": sign_erasure(s.home_id, forger).to_dict()}
        )
        assert status == 400 and s.hub.recent_events("smoke-1")[0]["event"] == "smoke_alarm"
        assert keys.status(name) is KeyStatus.ACTIVE

        # The resident's own request, through the hub's privacy API: both copies are erased,
        # each with its signed receipt.
        status, body = await _erase_via_api(s.hub, {"request": genuine.to_dict()})
        assert status == 200, body
        hub_receipt, asked = DeletionReceipt.from_dict(body), body["community_request_id"]
        verify_receipt(hub_receipt, s.hub.public_key)
        answer = await _answer(s.hub, asked)
        assert answer["answer"] == "erased"
        receipt = DeletionReceipt.from_dict(answer["data"]["receipt"])
        community_key = Ed25519PublicKey.from_public_bytes(
            bytes.fromhex(s.community.community_public_key_hex)
        )
        verify_receipt(receipt, community_key)
        assert receipt.resident_id == name and receipt.store == "community"
        assert keys.status(name) is KeyStatus.SHREDDED
        with pytest.raises(ShreddedError):
            keys.decrypt(stored["message"], f"events.message:{stored['key']}")
        (alarm,) = await _alarms(s)
        assert (alarm["device_name"], alarm["room"], alarm["kind"]) == ("", "", "smoke_alarm")
        assert AuditAction.ERASE in [e.action for e in _audit(s)]

        # Asking again is harmless: the same receipt comes back.
        again = s.hub.services.request("privacy", "erase", genuine.to_dict())
        assert (await _answer(s.hub, again))["data"]["receipt"] == receipt.to_dict()
    assert verify_file(tmp_path / "community" / "audit.db").ok
