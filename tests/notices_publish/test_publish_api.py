"""The manager publishes notices over HTTP; hubs show them and receipt them, end to end."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.notices_publish.conftest import COMMON, Estate, wait_for

pytestmark = pytest.mark.timeout(90)

WATER_CUT = {
    "title": "Water cut in building 1",
    "body": "Tuesday 09:00-12:00: the water is off for pipe work.\nPlease store some water.",
    "audience": {"scope": "building", "building": "1"},
    "urgent": True,
}


def _held(estate: Estate, hub_id: str, notice_id: str) -> list[dict[str, Any]]:
    return [n for n in estate.homes[hub_id].notices.list() if n["notice_id"] == notice_id]


def _written(estate: Estate) -> tuple[int, int, int]:
    return (
        estate.table("SELECT count(*) AS n FROM notices")[0]["n"],
        estate.table("SELECT count(*) AS n FROM notice_deliveries")[0]["n"],
        estate.table("SELECT count(*) AS n FROM published_notices")[0]["n"],
    )


async def test_an_urgent_notice_to_one_building_reaches_its_homes_with_receipts(
    estate: Estate,
) -> None:
    answer = await estate.ok("POST", "/api/notices", WATER_CUT)
    notice = answer["notice"]
    assert notice["urgent"] is True
    assert notice["audience"] == {"scope": "building", "building": "1"}
    assert notice["homes"] == 2
    assert notice["published_by"] == "manager"
    notice_id = notice["id"]

    for hub_id in ("hub-1-101", "hub-1-102"):
        await wait_for(lambda hub_id=hub_id: _held(estate, hub_id, notice_id), hub_id)
        [held] = _held(estate, hub_id, notice_id)
        assert held["params"]["urgent"] == "1"
        assert held["category"] == "property"
        assert held["title"] == WATER_CUT["title"]
        assert held["body"] == WATER_CUT["body"]
    assert _held(estate, "hub-2-101", notice_id) == []
    assert estate.common.notices.list() == []  # the common-area gateway is nobody's home

    assert estate.homes["hub-1-101"].notices.mark_read(notice_id)

    async def receipts() -> dict[str, str]:
        detail = (await estate.ok("GET", f"/api/notices/{notice_id}"))["notice"]
        return {r["home_id"]: r["status"] for r in detail["receipts"]}

    want = {"1-101": "read", "1-102": "delivered"}
    for _ in range(200):
        if await receipts() == want:
            break
        await asyncio.sleep(0.1)
    assert await receipts() == want
    [listed] = (await estate.ok("GET", "/api/notices"))["notices"]
    assert listed["counts"] == {"hubs": 2, "delivered": 2, "read": 1, "pending": 0}


async def test_the_whole_community_means_every_home_but_not_the_common_areas(
    estate: Estate,
) -> None:
    body = {"title": "Fire drill Saturday 10:00", "audience": {"scope": "community"}}
    notice = (await estate.ok("POST", "/api/notices", body))["notice"]
    assert notice["urgent"] is False
    deliveries = estate.table(
        "SELECT hub_id FROM notice_deliveries WHERE notice_id = ? ORDER BY hub_id", [notice["id"]]
    )
    assert [d["hub_id"] for d in deliveries] == ["hub-1-101", "hub-1-102", "hub-2-101"]
    assert COMMON not in {d["hub_id"] for d in deliveries}


async def test_chosen_homes(estate: Estate) -> None:
    body = {
        "title": "Lift 2 maintenance",
        "audience": {"scope": "homes", "homes": ["2-101", "1-102", "2-101"]},
    }
    notice = (await estate.ok("POST", "/api/notices", body))["notice"]
    assert notice["audience"]["homes"] == ["2-101", "1-102"]
    await wait_for(lambda: _held(estate, "hub-2-101", notice["id"]), "home 2-101")
    await wait_for(lambda: _held(estate, "hub-1-102", notice["id"]), "home 1-102")
    assert _held(estate, "hub-1-101", notice["id"]) == []


@pytest.mark.parametrize(
    ("audience", "says"),
    [
        ({"scope": "building", "building": "9"}, "no enrolled home in building '9'"),
        ({"scope": "homes", "homes": ["1-101", "9-909"]}, "no enrolled home '9-909'"),
        ({"scope": "homes", "homes": ["common-1"]}, "no enrolled home 'common-1'"),
        ({"scope": "homes", "homes": []}, "non-empty list"),
        ({"scope": "street"}, "community, building or homes"),
        ({"scope": "community", "homes": ["1-101"]}, "homes scope only"),
        ({}, "community, building or homes"),
    ],
)
async def test_a_notice_to_nobody_is_refused_and_nothing_is_written(
    estate: Estate, audience: dict[str, Any], says: str
) -> None:
    before = _written(estate)
    status, answer = await estate.http(
        "POST", "/api/notices", {"title": "Hello", "audience": audience}
    )
    assert status == 400
    assert says in answer["error"]
    assert _written(estate) == before


async def test_only_the_property_admin_publishes_duty_staff_read(estate: Estate) -> None:
    body = {"title": "Gas inspection", "audience": {"scope": "community"}}
    status, _ = await estate.http("POST", "/api/notices", body, who="dora")
    assert status == 403
    status, _ = await estate.http("GET", "/api/notices", who="tom")
    assert status == 403
    notice = (await estate.ok("POST", "/api/notices", body))["notice"]
    assert (await estate.ok("GET", "/api/notices", who="dora"))["notices"][0]["id"] == notice["id"]
    assert (await estate.ok("GET", f"/api/notices/{notice['id']}", who="dora"))["notice"]
    status, _ = await estate.http("GET", "/api/notices/" + "0" * 32)
    assert status == 404
    status, _ = await estate.http("GET", "/api/notices/not-an-id")
    assert status == 404


async def test_a_hub_offline_while_publishing_gets_the_notice_later_once(estate: Estate) -> None:
    await estate.stop_home("hub-2-101")
    await wait_for(
        lambda: (
            estate.table("SELECT status FROM hubs WHERE hub_id = 'hub-2-101'")[0]["status"]
            == "offline"
        ),
        "the community to see the hub offline",
    )
    body = {"title": "Power cut tonight", "audience": {"scope": "community"}, "urgent": True}
    notice = (await estate.ok("POST", "/api/notices", body))["notice"]
    await wait_for(lambda: _held(estate, "hub-1-101", notice["id"]), "an online home")
    detail = (await estate.ok("GET", f"/api/notices/{notice['id']}"))["notice"]
    assert {r["home_id"]: r["status"] for r in detail["receipts"]}["2-101"] == "pending"

    hub = await estate.start_home("hub-2-101")
    await wait_for(lambda: _held(estate, "hub-2-101", notice["id"]), "the returning home")

    def delivered() -> bool:
        rows = estate.table(
            "SELECT status FROM notice_deliveries WHERE notice_id = ? AND hub_id = 'hub-2-101'",
            [notice["id"]],
        )
        return bool(rows[0]["status"] == "delivered")

    await wait_for(delivered, "the returning hub's receipt")
    assert len(_held(estate, "hub-2-101", notice["id"])) == 1
    assert hub.notices.unread() == 1
    counts = (await estate.ok("GET", f"/api/notices/{notice['id']}"))["notice"]["counts"]
    assert counts == {"hubs": 3, "delivered": 3, "read": 0, "pending": 0}
