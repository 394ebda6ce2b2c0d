"""The manager allows a home to charge over the API; until then the home's requests are
refused, and after a withdrawal no new session starts. Real stack (see conftest)."""

from __future__ import annotations

from typing import Any

import aiohttp

from devices.uplink import RequestAction
from tests.notices.conftest import PORT_ID, Site, wait_for


async def _call(site: Site, method: str, path: str) -> tuple[int, Any]:
    base = f"http://127.0.0.1:{site.community.http_port}"
    headers = {"Authorization": f"Bearer {site.community.manager_token}"}
    async with (
        aiohttp.ClientSession(base, headers=headers) as http,
        http.request(method, path) as resp,
    ):
        return resp.status, await resp.json()


async def _answer_code(site: Site, request_id: str) -> str:
    hub = site.homes["hub-home-1"]

    def code() -> str | None:
        found = [n for n in hub.notices.list() if n["params"].get("request_id") == request_id]
        return str(found[0]["code"]) if found else None

    await wait_for(code, f"the answer to {request_id}")
    return str(code())


async def test_a_home_charges_only_once_the_manager_allows_it(site: Site) -> None:
    hub = site.homes["hub-home-1"]
    status, body = await _call(site, "GET", "/api/charging/homes")
    assert status == 200 and body == {"homes": []}
    first = hub.charging.request(RequestAction.START, PORT_ID)
    assert await _answer_code(site, first) != "started"

    status, body = await _call(site, "PUT", "/api/charging/homes/home-1")
    assert status == 200 and body == {"home_id": "home-1", "allowed": True}
    status, _ = await _call(site, "PUT", "/api/charging/homes/home-1")  # idempotent
    assert status == 200
    status, body = await _call(site, "GET", "/api/charging/homes")
    assert [h["home_id"] for h in body["homes"]] == ["home-1"]
    second = hub.charging.request(RequestAction.START, PORT_ID)
    assert await _answer_code(site, second) == "started"

    status, body = await _call(site, "DELETE", "/api/charging/homes/home-1")
    assert status == 200 and body["allowed"] is False
    status, body = await _call(site, "GET", "/api/charging/homes")
    assert body == {"homes": []}


async def test_unknown_homes_are_refused_and_nothing_changes(site: Site) -> None:
    for path in ("/api/charging/homes/nobody", "/api/charging/homes/%00x"):
        status, body = await _call(site, "PUT", path)
        assert status in (400, 404) and "error" in body, (path, body)
    status, body = await _call(site, "GET", "/api/charging/homes")
    assert body == {"homes": []}
