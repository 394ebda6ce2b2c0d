"""``GET /api/estate``: the hierarchy is built from the enrolled hubs, with counts, names from
``estate.json``, common areas apart, open orders per home; staff roles see it, technicians do
not, bad input is a 400."""

from __future__ import annotations

import json

from community.accounts import Principal, Role
from tests.community.support import SigningHub
from tests.community_desk.support import FakeClock
from tests.resident_orders.conftest import DeskFactory

MANAGER = Principal("manager", Role.PROPERTY_ADMIN)


def test_the_estate_tree_counts_what_is_enrolled(desk_factory: DeskFactory) -> None:
    clock = FakeClock()
    desk_factory.data_dir.mkdir(parents=True, exist_ok=True)
    (desk_factory.data_dir / "estate.json").write_text(
        json.dumps({"company": "绿城物业", "community": "Courtyard Gardens"}), encoding="utf-8"
    )
    community = desk_factory(clock)
    for hub_id, home, building, unit in (
        ("hub-1", "1-101", "1", "1"),
        ("hub-2", "1-102", "1", "1"),
        ("hub-3", "1-201", "1", "2"),
        ("hub-4", "2-101", "2", "1"),
        ("hub-4b", "2-101", "2", "1"),  # a second hub in the same home
    ):
        community.enroll(SigningHub(hub_id), home, building=building, unit=unit)
    community.server.enroll_hub(
        "hub-shed", "shed", SigningHub("hub-shed").key.public_key(), common_area=True
    )
    community.server.work_orders.create(
        {"home_id": "1-102", "category": "plumbing", "description": "Leak"}, MANAGER, clock.ms
    )

    status, tree = community.http("GET", "/api/estate")
    assert status == 200, tree
    assert tree["company"] == {"name": "绿城物业", "communities": 1}
    estate = tree["community"]
    assert (estate["id"], estate["name"]) == ("test", "Courtyard Gardens")
    assert estate["counts"] == {
        "buildings": 2,
        "units": 3,
        "homes": 4,
        "hubs": 6,
        "hubs_online": 0,
        "common_areas": 1,
        "open_orders": 1,
    }
    one, two = estate["buildings"]
    assert (one["name"], one["counts"]) == ("1", {"units": 2, "homes": 3})
    [unit] = two["units"]
    [home] = unit["homes"]
    assert home["home_id"] == "2-101" and [h["hub_id"] for h in home["hubs"]] == ["hub-4", "hub-4b"]
    leaking = one["units"][0]["homes"][1]
    assert (leaking["home_id"], leaking["open_orders"]) == ("1-102", 1)
    assert [a["hub_id"] for a in estate["common_areas"]] == ["hub-shed"]

    assert community.http("GET", "/api/estate?x=1")[0] == 400
    _, duty = community.http(
        "POST",
        "/api/accounts",
        json.dumps({"name": "zhou", "role": "duty_staff"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    _, tech = community.http(
        "POST",
        "/api/accounts",
        json.dumps({"name": "li", "role": "technician"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert community.http("GET", "/api/estate", token=duty["token"])[0] == 200
    assert community.http("GET", "/api/estate", token=tech["token"])[0] == 403


def test_a_broken_names_file_falls_back_to_the_community_id(desk_factory: DeskFactory) -> None:
    desk_factory.data_dir.mkdir(parents=True, exist_ok=True)
    (desk_factory.data_dir / "estate.json").write_text('{"company": 5}', encoding="utf-8")
    community = desk_factory(FakeClock())
    status, tree = community.http("GET", "/api/estate")
    assert status == 200
    assert tree["community"]["name"] == "test" and tree["company"]["name"] == ""
    assert tree["community"]["counts"]["homes"] == 0
