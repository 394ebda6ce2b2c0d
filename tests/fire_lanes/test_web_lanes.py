"""The fire-lane HTTP API on a real community server (real Mosquitto, real aiohttp)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from community import CommunityServer
from community.clock import now_ms
from privacy.consent import sign_consent
from tests.community.support import make_config
from tests.fire_lanes.support import OWNER_HOME, SUBJECT, plate_consent
from tests.support.mosquitto import Mosquitto

PLATE = "粤B12345"


async def test_register_list_report_and_unregister_with_clear_errors(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mosquitto.add_user("community", "community-secret", superuser=True)
    server = CommunityServer(make_config(mosquitto, tmp_path / "community"))
    await server.start()
    try:
        server.enroll_hub("hub-101", OWNER_HOME, Ed25519PrivateKey.generate().public_key())
        resident = Ed25519PrivateKey.generate()
        await server.register_resident(OWNER_HOME, SUBJECT, resident.public_key())
        base = f"http://127.0.0.1:{server.http_port}/api/lanes"
        auth = {"Authorization": f"Bearer {server.manager_token}"}
        body = {"home_id": OWNER_HOME, "subject": SUBJECT, "plate": PLATE}

        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(f"{base}/report?week=2026-W47") as r:
                assert r.status == 401
            async with anonymous.post(f"{base}/plates/register", json=body) as r:
                assert r.status == 401

        async with aiohttp.ClientSession(headers=auth) as http:

            async def post(path: str, payload: Any) -> tuple[int, dict[str, Any]]:
                async with http.post(f"{base}/plates/{path}", json=payload) as r:
                    return r.status, await r.json()

            status, answer = await post("register", body)
            assert status == 403 and "consent" in answer["error"]
            for bad, words in (
                ({**body, "plate": "ABC"}, "plate"),
                ({**body, "plate": "粤B1234567890123456"}, "plate"),
                ({**body, "colour": "red"}, "unknown field"),
                ({"plate": PLATE}, "home_id"),
                ({**body, "home_id": "nowhere"}, "home"),
                ([1, 2], "JSON object"),
            ):
                status, answer = await post("register", bad)
                assert status == 400 and words in answer["error"], (bad, answer)
            async with http.post(f"{base}/plates/register", data=b"{not json") as r:
                assert r.status == 400

            consent = plate_consent(resident, granted_at=now_ms() - 60_000)
            await server.record_consent(sign_consent(consent, resident))
            status, answer = await post("register", body)
            assert status == 201, answer
            assert answer["registration"]["home_id"] == OWNER_HOME
            assert len(answer["registration"]["plate_hash"]) == 12

            async with http.get(f"{base}/plates", params={"home": OWNER_HOME}) as r:
                listed = await r.json()
            assert r.status == 200 and len(listed["registrations"]) == 1

            async with http.get(f"{base}/report", params={"week": "2026-W47"}) as r:
                assert r.status == 200
                assert (await r.json())["zones"] == []
            for week in ("2026-W60", "last week", ""):
                async with http.get(f"{base}/report", params={"week": week}) as r:
                    assert r.status == 400 and "week" in (await r.json())["error"]

            assert await post("unregister", {"plate": "沪AD12345"}) == (
                404,
                {"error": "that plate is not registered"},
            )
            assert (await post("unregister", {"plate": PLATE}))[0] == 200
            assert (await post("unregister", {"plate": "??"}))[0] == 400
    finally:
        await server.stop()
    assert "B12345" not in caplog.text
