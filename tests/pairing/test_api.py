"""The resident JSON API: admin token required, bad requests are 400 JSON, never 500."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from hub import Hub
from tests.pairing.support import MakeHub, MakeStub, discovered, wrong_code


def admin(hub: Hub) -> dict[str, str]:
    token = (hub.config.data_dir / "admin.token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


async def call(
    hub: Hub,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{hub.http_port}{path}"
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, url, data=data, headers=admin(hub) if headers is None else headers
        ) as response,
    ):
        assert response.content_type == "application/json", (response.status, await response.text())
        return response.status, await response.json()


async def test_everything_needs_the_admin_token(make_hub: MakeHub) -> None:
    hub = await make_hub()
    for method, path in [
        ("GET", "/api/pairing/discovered"),
        ("POST", "/api/pairing/pair"),
        ("GET", "/api/devices/x"),
        ("DELETE", "/api/devices/x"),
        ("GET", "/api/devices"),
    ]:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}):
            url = f"http://127.0.0.1:{hub.http_port}{path}"
            async with (
                aiohttp.ClientSession() as session,
                session.request(method, url, headers=headers) as response,
            ):
                assert response.status == 401, (method, path)


async def test_bad_requests_are_400_json_and_change_nothing(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    stub = await make_stub()
    await discovered(hub, stub)
    good = {"device_id": stub.device_id, "code": stub.code, "name": "Hall", "room": "hallway"}
    bad_bodies: list[Any] = [
        None,
        [],
        "x",
        1,
        {},
        good | {"extra": 1},
        good | {"device_id": "a/b"},
        good | {"device_id": 7},
        good | {"code": 12345679},
        good | {"code": "x" * 1000},
        good | {"name": ""},
        good | {"name": "x" * 65},
        good | {"room": None},
        good | {"fingerprint": "nothex"},
        {"qr": "CY:9/bad", "name": "a", "room": "b"},
        good | {"qr": "CY:1/a/smoke_alarm/0123456789abcdef/48203917"},
    ]
    for body in bad_bodies:
        status, answer = await call(hub, "POST", "/api/pairing/pair", body)
        assert status == 400, (body, answer)
        assert answer["error"] and answer["code"] in ("bad_request", "invalid_code")
    for raw in [b"{", b"\xff\xfe", b"NaN", b"[" * 5000, b"x" * 20000]:
        status, answer = await call(hub, "POST", "/api/pairing/pair", raw=raw)
        assert status == 400, raw[:10]
    status, answer = await call(hub, "POST", "/api/pairing/pair", good | {"code": "12345678"})
    assert (status, answer["code"]) == (400, "invalid_code")
    status, answer = await call(
        hub, "POST", "/api/pairing/pair", good | {"code": wrong_code(stub.code)}
    )
    assert (status, answer["code"], answer["attempts_left"]) == (400, "wrong_code", 19)
    status, answer = await call(hub, "POST", "/api/pairing/pair", good | {"device_id": "nobody"})
    assert (status, answer["code"]) == (404, "not_found")
    for method, path, body in [
        ("GET", "/api/devices/a%2Fb", None),
        ("PATCH", f"/api/devices/{stub.device_id}", {"name": "x"}),
        ("DELETE", "/api/devices/nobody?grace_s=0", None),
        ("DELETE", "/api/devices/x?grace_s=abc", None),
        ("DELETE", "/api/devices/x?grace_s=1e9", None),
        ("POST", "/api/devices/x/undo-remove", None),
        ("POST", "/api/devices/x/commands", {"command": "reboot"}),
    ]:
        status, answer = await call(hub, method, path, body)
        assert status in (400, 404, 409), (method, path, status, answer)
        assert "error" in answer
    assert hub.devices() == [] and stub.server.window.failures == 1


async def test_pair_rename_command_and_remove_over_http(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    stub = await make_stub()
    await discovered(hub, stub)
    status, listed = await call(hub, "GET", "/api/pairing/discovered")
    assert status == 200
    (entry,) = [d for d in listed["discovered"] if d["device_id"] == stub.device_id]
    assert entry["fingerprint"] == stub.fingerprint and entry["window_open"]
    assert entry["attempts_left"] == 20 and not entry["paired"]
    body = {"device_id": stub.device_id, "code": stub.code, "name": "Hall", "room": "hallway"}
    status, paired = await call(hub, "POST", "/api/pairing/pair", body)
    assert status == 200, paired
    assert (
        paired["device"]["name"] == "Hall" and paired["device"]["fingerprint"] == stub.fingerprint
    )
    status, renamed = await call(
        hub, "PATCH", f"/api/devices/{stub.device_id}", {"room": "kitchen"}
    )
    assert (status, renamed["device"]["room"], renamed["device"]["name"]) == (
        200,
        "kitchen",
        "Hall",
    )
    status, answer = await call(
        hub, "POST", f"/api/devices/{stub.device_id}/commands", {"command": "self_test"}
    )
    assert (status, answer["ok"], answer["error"]) == (200, False, "not_connected")
    status, answer = await call(hub, "DELETE", f"/api/devices/{stub.device_id}?grace_s=20")
    assert status == 200 and answer["removing"] == stub.device_id
    status, answer = await call(hub, "POST", f"/api/devices/{stub.device_id}/undo-remove")
    assert status == 200
    status, answer = await call(hub, "DELETE", f"/api/devices/{stub.device_id}")
    assert (status, answer) == (200, {"removed": stub.device_id})
    status, answer = await call(hub, "GET", f"/api/devices/{stub.device_id}")
    assert status == 404
