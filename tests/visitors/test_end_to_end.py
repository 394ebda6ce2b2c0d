"""Visitor passes end to end over real Mosquitto: a resident's hub asks, the community signs,
the pass comes back in the answer, the gate (a stub on the common-area hub) accepts it offline
and the entry is logged at the community; a revocation reaches the gate as a signed command and
the gate refuses from then on; bad requests are refused with a reason and store nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from devices.catalog import DeviceKind
from devices.visitor_pass import read_pass
from firmware_stubs import make_device
from firmware_stubs.visitor_gate import VisitorGate
from tests.visitors.conftest import GATE_ID, SHED_HUB, Site, wait_for

HUB, OTHER = "hub-home-1", "hub-home-2"


def _at(delta_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat().replace("+00:00", "Z")


def _answer(site: Site, hub_id: str, request_id: str) -> dict[str, Any] | None:
    answered = site.homes[hub_id].services.get(request_id)
    return answered if answered and answered["answer"] else None


async def _ask(site: Site, hub_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    request_id = site.homes[hub_id].services.request("visitor_pass", action, body)
    await wait_for(lambda: _answer(site, hub_id, request_id), "the community's answer")
    answer = _answer(site, hub_id, request_id)
    assert answer is not None
    return answer


def _entries(site: Site) -> list[dict[str, Any]]:
    return site.community.visitors.entries()


@pytest.mark.timeout(90)
async def test_issue_enter_revoke_refuse(site: Site, gate: VisitorGate) -> None:
    body = {
        "name": "Wang  Fang",
        "plate": "沪A-12345",
        "valid_from": _at(-1),
        "valid_to": _at(3600),
        "entries": 3,
    }
    answer = await _ask(site, HUB, "issue", body)
    assert answer["answer"] == "issued"
    data = answer["data"]
    pass_id = data["pass_id"]
    assert answer["params"]["pass_id"] == pass_id and data["entries"] == 3
    claims = read_pass(data["qr"], site.community.visitors.key.public_key())
    assert claims.pass_id == pass_id and claims.community == "estate-1" and claims.plate_tag
    assert "Wang" not in data["qr"]

    # The name and plate are not kept in clear anywhere at the community.
    db_text = (site.tmp / "community" / "community.db").read_bytes()
    assert b"Wang" not in db_text and "沪A".encode() not in db_text
    [row] = site.community.visitors.passes()
    assert row["pass_id"] == pass_id and row["home_id"] == "home-1" and row["has_plate"]
    assert "name" not in row and row["status"] == "active"

    verdict = gate.present(data["qr"], plate="沪A12345")
    assert verdict.accepted and verdict.entry == 1
    await wait_for(lambda: _entries(site), "the entry at the community")
    [entry] = _entries(site)
    assert (entry["pass_id"], entry["accepted"], entry["reason"], entry["home_id"]) == (
        pass_id,
        True,
        "accepted",
        "home-1",
    )
    assert entry["hub_id"] == SHED_HUB and entry["device_id"] == GATE_ID

    # Another home cannot revoke it; its own home can, and the gate hears of it.
    refused = await _ask(site, OTHER, "revoke", {"pass_id": pass_id})
    assert refused["answer"] == "refused" and refused["params"]["reason"] == "not_your_pass"
    revoked = await _ask(site, HUB, "revoke", {"pass_id": pass_id})
    assert revoked["answer"] == "revoked"
    await wait_for(lambda: pass_id in gate.revoked, "the revocation at the gate", 30)
    [sent] = site.community.visitors.revocations_sent(pass_id)
    await wait_for(
        lambda: (site.community.command_status(sent["command_id"]) or {}).get("status") == "acked",
        "the gate's ack",
    )
    refusal = gate.present(data["qr"])
    assert (refusal.accepted, refusal.reason) == (False, "revoked")
    await wait_for(lambda: len(_entries(site)) == 2, "the refusal logged")
    assert _entries(site)[0]["reason"] == "revoked"
    assert site.community.visitors.get(pass_id)["status"] == "revoked"  # type: ignore[index]


@pytest.mark.timeout(90)
async def test_a_forged_or_expired_pass_is_refused_and_logged(
    site: Site, gate: VisitorGate
) -> None:
    answer = await _ask(
        site,
        HUB,
        "issue",
        {"name": "Li", "valid_from": _at(-1), "valid_to": _at(2), "entries": 1},
    )
    qr = answer["data"]["qr"]
    head, payload, sig = qr.split(".")
    forged = ".".join((head, payload, sig[:-2] + ("AA" if sig[-2:] != "AA" else "BA")))
    assert gate.present(forged).reason in ("bad_signature", "malformed")
    assert gate.present(qr).accepted
    assert gate.present(qr).reason == "used_up"
    deadline = time.time() + 10
    while time.time() < deadline and gate.present(qr).reason != "expired":
        await asyncio.sleep(0.5)
    assert gate.verdicts[-1].reason == "expired"
    await wait_for(
        lambda: (
            {e["reason"] for e in _entries(site)}
            >= {"accepted", "used_up", "expired", gate.verdicts[0].reason}
        ),
        "every verdict logged",
    )
    forged_rows = [e for e in _entries(site) if e["reason"] == gate.verdicts[0].reason]
    assert forged_rows and all(e["pass_id"] == "" for e in forged_rows)


@pytest.mark.timeout(90)
async def test_bad_requests_are_refused_and_store_nothing(site: Site) -> None:
    good = {"name": "Zhao", "valid_from": _at(60), "valid_to": _at(3600), "entries": 2}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "valid_to": _at(30)}, "window_backwards"),
        ({**good, "valid_to": _at(60 + 8 * 24 * 3600)}, "window_too_long"),
        ({**good, "valid_from": _at(-86400), "valid_to": _at(-3600)}, "starts_in_past"),
        (
            {**good, "valid_from": _at(200 * 86400), "valid_to": _at(200 * 86400 + 60)},
            "starts_too_late",
        ),
        ({**good, "valid_from": "2026-13-45T99:00:00Z"}, "bad_time"),
        ({**good, "valid_from": "2030-01-01T10:00:00"}, "bad_time"),
        ({**good, "valid_from": "99999-01-01T00:00:00Z"}, "bad_time"),
        ({**good, "entries": 0}, "bad_entries"),
        ({**good, "entries": 21}, "bad_entries"),
        ({**good, "entries": True}, "bad_entries"),
        ({**good, "name": "  "}, "bad_name"),
        ({**good, "name": "x" * 65}, "bad_name"),
        ({**good, "plate": "!!"}, "bad_plate"),
        ({**good, "extra": 1}, "bad_request"),
        ({"name": "Zhao"}, "bad_request"),
    ]
    for body, reason in cases:
        answer = await _ask(site, HUB, "issue", body)
        assert (answer["answer"], answer["params"]["reason"]) == ("refused", reason), body
    for body, reason in (
        ({"pass_id": "vp0000000000000000"}, "unknown_pass"),
        ({"pass_id": "nope"}, "bad_request"),
        ({}, "bad_request"),
    ):
        answer = await _ask(site, HUB, "revoke", body)
        assert (answer["answer"], answer["params"]["reason"]) == ("refused", reason), body
    assert site.community.visitors.passes() == []
    verdicts = {r["verdict"] for r in site.community.services.requests("visitor_pass")}
    assert verdicts == {"refused"}


@pytest.mark.timeout(90)
async def test_staff_revoke_over_the_api_tells_the_home_and_the_gate(
    site: Site, gate: VisitorGate
) -> None:
    answer = await _ask(
        site,
        HUB,
        "issue",
        {"name": "Chen", "valid_from": _at(0), "valid_to": _at(600), "entries": 5},
    )
    pass_id = answer["data"]["pass_id"]
    base = f"http://127.0.0.1:{site.community.http_port}"
    auth = {"Authorization": f"Bearer {site.community.manager_token}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.get(f"{base}/api/visitors/passes") as response:
            assert response.status == 200
            [listed] = (await response.json())["passes"]
            assert listed["pass_id"] == pass_id and "name" not in listed
        for path, status in (
            ("/api/visitors/passes/nope/revoke", 400),
            ("/api/visitors/passes/vp0000000000000000/revoke", 404),
        ):
            async with http.post(base + path) as response:
                assert response.status == status
                assert "error" in await response.json()
        async with http.get(f"{base}/api/visitors/passes?limit=0") as response:
            assert response.status == 400
        async with http.post(f"{base}/api/visitors/passes/{pass_id}/revoke") as response:
            assert response.status == 200
            assert (await response.json())["pass"]["status"] == "revoked"
    await wait_for(lambda: pass_id in gate.revoked, "the revocation at the gate", 30)
    hub = site.homes[HUB]
    await wait_for(
        lambda: any(
            n["code"] == "revoked" and n["params"].get("pass_id") == pass_id
            for n in hub.notices.list()
        ),
        "the home's notice",
    )
    assert gate.present(answer["data"]["qr"]).reason == "revoked"


@pytest.mark.timeout(90)
async def test_a_gate_behind_a_home_hub_is_not_believed(site: Site) -> None:
    answer = await _ask(
        site,
        HUB,
        "issue",
        {"name": "Sun", "valid_from": _at(0), "valid_to": _at(600), "entries": 1},
    )
    home = site.homes[OTHER]
    token = home.provision_device("gate-fake", DeviceKind.VISITOR_GATE, "Fake gate", "Hall")
    fake = make_device(
        DeviceKind.VISITOR_GATE,
        "gate-fake",
        f"ws://127.0.0.1:{home.http_port}/api/device/ws",
        token,
        state_file=site.tmp / "fake.json",
        pass_key=site.community.visitors.public_key_hex,
    )
    assert isinstance(fake, VisitorGate)
    site.extra.append(fake)
    await fake.start()
    await fake.wait_connected(20)
    assert fake.present(answer["data"]["qr"]).accepted  # the device itself is honest
    await wait_for(lambda: fake.pending_events() == 0, "the hub's ack of the entry")
    await wait_for(lambda: home.outbox_pending() == 0, "the uplink of the entry")
    assert _entries(site) == []
    assert site.community.visitors.gates() == []
