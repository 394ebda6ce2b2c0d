"""Parcels end to end: a locker stub reports a delivery, the home gets the pickup code, the
community keeps only a keyed hash, uncollected parcels are reminded once per tier, and a
pickup is logged."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from community.clock import now_ms
from devices.catalog import DeviceKind
from firmware_stubs import ParcelLocker, make_device
from hub import Hub
from tests.notices_publish.conftest import LOCKER, Estate, wait_for

pytestmark = pytest.mark.timeout(90)


def _parcel_notices(hub: Hub, code: str | None = None) -> list[dict[str, Any]]:
    return [
        n
        for n in hub.notices.list()
        if n["params"].get("service") == "parcels" and (code is None or n["code"] == code)
    ]


def _parcel(estate: Estate, parcel_id: str) -> dict[str, Any]:
    [row] = estate.table("SELECT * FROM parcels WHERE parcel_id = ?", [parcel_id])
    return row


def _anywhere(estate: Estate, code: str) -> list[str]:
    """Tables of the community that hold the code in clear (its quoted JSON form)."""
    found = []
    for table in ("events", "notices", "parcels", "parcel_log", "received"):
        for row in estate.table(f"SELECT * FROM {table}"):
            texts = [v for v in row.values() if isinstance(v, str)]
            if any(t == code or f'"{code}"' in t for t in texts):
                found.append(table)
    return found


async def test_delivery_code_to_the_home_only_hash_kept_pickup_logged(estate: Estate) -> None:
    home = estate.homes["hub-1-101"]
    code = estate.locker.deliver("1-101", "SF1234567890")
    assert len(code) == 6 and code.isdigit()

    await wait_for(lambda: _parcel_notices(home, "parcel_arrived"), "the arrival notice")
    [arrived] = _parcel_notices(home, "parcel_arrived")
    assert arrived["category"] == "service"
    assert arrived["data"]["code"] == code
    assert arrived["data"]["parcel_id"] == "SF1234567890"
    assert arrived["data"]["locker"] == "Gate locker"
    compartment = arrived["data"]["compartment"]
    assert compartment == "1"
    for other in ("hub-1-102", "hub-2-101"):
        assert _parcel_notices(estate.homes[other]) == []

    parcel = _parcel(estate, "SF1234567890")
    assert parcel["home_id"] == "1-101"
    assert parcel["code_hmac"] == estate.community.parcels.code_hmac(code)
    assert parcel["code_hmac"] != code
    assert estate.community.parcels.code_matches(parcel["id"], code)
    assert not estate.community.parcels.code_matches(
        parcel["id"], "000000" if code != "000000" else "1"
    )
    [event] = estate.table(
        "SELECT message FROM events WHERE device_id = ? AND event = 'parcel_delivered'", [LOCKER]
    )
    assert "code" not in json.loads(event["message"])["data"]

    # Until the home's hub has receipted it, the notice holds the code; then it is gone.
    assert _anywhere(estate, code) in ([], ["notices"])
    await wait_for(lambda: _parcel(estate, "SF1234567890")["code_cleared_ms"], "the code cleared")
    assert _anywhere(estate, code) == []
    assert home.notices.list()[0]["data"]["code"] == code  # the home keeps it

    listed = await estate.ok("GET", "/api/parcels?status=waiting", who="dora")
    assert listed["waiting"] == 1
    [view] = listed["parcels"]
    assert view["status"] == "waiting" and view["notified"] and not view["code_held"]
    assert code not in json.dumps(listed)

    # The resident types the code at the locker: it opens once.
    assert estate.locker.pick_up(code) == compartment
    assert estate.locker.pick_up(code) is None
    await wait_for(lambda: _parcel(estate, "SF1234567890")["picked_up_ms"], "the pickup")
    await wait_for(lambda: _parcel_notices(home, "parcel_picked_up"), "the pickup notice")
    view = (await estate.ok("GET", "/api/parcels"))["parcels"][0]
    assert view["status"] == "picked_up" and view["picked_up_at"]
    assert [h["action"] for h in view["history"]] == [
        "delivered",
        "notified",
        "code_cleared",
        "picked_up",
    ]
    assert (await estate.ok("GET", "/api/parcels?status=waiting"))["parcels"] == []


async def test_uncollected_parcels_are_reminded_once_per_tier(estate: Estate) -> None:
    estate.community.parcels.remind_after_s = (0.5, 1.5)
    home = estate.homes["hub-2-101"]
    estate.locker.deliver("2-101", "YT-1")
    await wait_for(lambda: estate.table("SELECT 1 FROM parcels"), "the parcel")
    await wait_for(lambda: _parcel(estate, "YT-1")["reminded"] == 2, "both reminders")
    await wait_for(lambda: len(_parcel_notices(home, "parcel_reminder")) == 2, "the reminders")
    tiers = sorted(n["params"]["tier"] for n in _parcel_notices(home, "parcel_reminder"))
    assert tiers == ["1", "2"]
    # More rounds, and a round run by hand, fire nothing again.
    fired = await estate.community._write(estate.community.parcels.remind_due, now_ms())
    assert fired == 0
    reminders = estate.table("SELECT notice_id FROM notices WHERE code = 'parcel_reminder'")
    assert len(reminders) == 2
    view = (await estate.ok("GET", "/api/parcels"))["parcels"][0]
    assert view["reminded"] == 2 and view["last_reminded_at"]


async def test_a_home_offline_at_delivery_gets_the_code_when_back_once(estate: Estate) -> None:
    await estate.stop_home("hub-1-102")
    await wait_for(
        lambda: (
            estate.table("SELECT status FROM hubs WHERE hub_id = 'hub-1-102'")[0]["status"]
            == "offline"
        ),
        "the hub offline",
    )
    code = estate.locker.deliver("1-102", "JD-77")
    await wait_for(lambda: estate.table("SELECT 1 FROM parcels"), "the parcel")
    view = (await estate.ok("GET", "/api/parcels"))["parcels"][0]
    assert view["code_held"] is True  # kept for the hub that has not got it yet
    assert _anywhere(estate, code) == ["notices"]  # only in the notice waiting for the hub
    home = await estate.start_home("hub-1-102")
    await wait_for(lambda: _parcel_notices(home, "parcel_arrived"), "the code after the outage")
    await wait_for(lambda: _parcel(estate, "JD-77")["code_cleared_ms"], "the code cleared")
    [arrived] = _parcel_notices(home, "parcel_arrived")
    assert arrived["data"]["code"] == code
    assert _anywhere(estate, code) == []


async def test_a_locker_behind_a_home_hub_cannot_send_codes(estate: Estate) -> None:
    rogue_hub = estate.homes["hub-2-101"]
    token = rogue_hub.provision_device("rogue-locker", DeviceKind.PARCEL_LOCKER, "Rogue", "Hall")
    rogue = make_device(
        DeviceKind.PARCEL_LOCKER,
        "rogue-locker",
        f"ws://127.0.0.1:{rogue_hub.http_port}/api/device/ws",
        token,
        tick_s=0.05,
        state_file=estate.tmp / "rogue.json",
        rng=random.Random(1),
    )
    assert isinstance(rogue, ParcelLocker)
    await rogue.start()
    try:
        await rogue.wait_connected(20)
        code = rogue.deliver("1-101", "FAKE-1")
        await wait_for(
            lambda: estate.table(
                "SELECT 1 FROM events WHERE device_id = 'rogue-locker' AND event = ?",
                ["parcel_delivered"],
            ),
            "the rogue event stored",
        )
        assert estate.table("SELECT * FROM parcels") == []
        assert _parcel_notices(estate.homes["hub-1-101"]) == []
        assert _anywhere(estate, code) == []
    finally:
        await rogue.stop()


async def test_parcels_api_refuses_bad_queries_and_other_roles(estate: Estate) -> None:
    for query in ("?status=lost", "?limit=0", "?limit=x", "?limit=99999999", "?colour=red"):
        status, answer = await estate.http("GET", "/api/parcels" + query)
        assert status == 400, query
        assert answer["error"]
    status, _ = await estate.http("GET", "/api/parcels", who="tom")
    assert status == 403
    assert (await estate.ok("GET", "/api/parcels?status=all&limit=5", who="dora"))["total"] == 0


def test_the_locker_stub_opens_each_compartment_once_for_its_code() -> None:
    locker = make_device(DeviceKind.PARCEL_LOCKER, "l-1", "ws://127.0.0.1:9/x", "t", compartments=2)
    assert isinstance(locker, ParcelLocker)
    a = locker.deliver("1-101", "A")
    b = locker.deliver("1-102", "B")
    assert a != b
    with pytest.raises(ValueError, match="full"):
        locker.deliver("1-101", "C")
    assert locker.pick_up("wrong") is None
    assert locker.pick_up(b) == "2"
    assert locker.pick_up(b) is None
    assert [s.parcel_id for s in locker.contents()] == ["A"]
    assert all(a not in repr(s) for s in locker.contents())
    sent = [e for e in locker.sent_events if e.event == "parcel_picked_up"]
    assert sent[0].data == {"compartment": "2", "home": "1-102", "parcel_id": "B"}
