"""Property-service requests end to end: hub outbox → Mosquitto → the community's service
desk → a signed service notice back to the same hub, once, with the handler's data; refusals
undo what the handler wrote; unknown services get an answer too; a restart of the hub while
the request waits loses nothing."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from community.services import Asked, Reply, ServiceRefusedError
from tests.notices.conftest import Site, wait_for

HUB, OTHER = "hub-home-1", "hub-home-2"


def _register(site: Site) -> list[Asked]:
    seen: list[Asked] = []
    desk = site.community.services
    with site.community._store.transaction() as db:
        db.execute("CREATE TABLE probe (home TEXT)")

    def echo(db: Database, asked: Asked) -> Reply:
        seen.append(asked)
        db.execute("INSERT INTO probe VALUES (?)", [asked.home_id])
        return Reply(
            "issued", {"kind": "echo"}, {"echo": asked.request.body, "home": asked.home_id}
        )

    def refuse(db: Database, asked: Asked) -> Reply:
        db.execute("INSERT INTO probe VALUES ('refused-write')")
        raise ServiceRefusedError("too_late")

    desk.register("probe", "echo", echo)
    desk.register("probe", "refuse", refuse)
    return seen


def _answer(site: Site, hub_id: str, request_id: str) -> dict[str, Any] | None:
    answered = site.homes[hub_id].services.get(request_id)
    return answered if answered and answered["answer"] else None


async def test_a_request_is_answered_once_with_the_handlers_data(site: Site) -> None:
    seen = _register(site)
    hub = site.homes[HUB]
    request_id = hub.services.request("probe", "echo", {"what": "hello", "n": [1, 2]})
    await wait_for(lambda: _answer(site, HUB, request_id), "the service's answer")
    answer = _answer(site, HUB, request_id)
    assert answer is not None
    assert answer["answer"] == "issued"
    assert answer["params"] == {"kind": "echo", "request_id": request_id, "service": "probe"}
    assert answer["data"] == {"echo": {"what": "hello", "n": [1, 2]}, "home": "home-1"}
    # The community knew the home from the hub that sent it, never from the body.
    assert [a.home_id for a in seen] == ["home-1"]
    [row] = site.community.services.requests("probe")
    assert row["verdict"] == "accepted" and row["home_id"] == "home-1"
    # The other home heard nothing.
    assert site.homes[OTHER].services.list() == []


async def test_a_refusal_undoes_the_handlers_writes_and_says_why(site: Site) -> None:
    _register(site)
    hub = site.homes[HUB]
    refused = hub.services.request("probe", "refuse")
    unknown = hub.services.request("no_such_service", "go")
    for request_id in (refused, unknown):
        await wait_for(lambda r=request_id: _answer(site, HUB, r), "an answer")
    assert _answer(site, HUB, refused)["params"]["reason"] == "too_late"  # type: ignore[index]
    assert _answer(site, HUB, unknown)["params"]["reason"] == "unknown_service"  # type: ignore[index]
    # The refused handler's row was rolled back with it.
    assert site.community._store.read("SELECT home FROM probe") == []
    verdicts = {r["request_id"]: r["verdict"] for r in site.community.services.requests()}
    assert verdicts == {refused: "refused", unknown: "refused"}


async def test_a_request_queued_while_the_hub_restarts_is_answered_once(site: Site) -> None:
    seen = _register(site)
    hub = site.homes[HUB]
    request_id = hub.services.request("probe", "echo", {"n": 1})
    await site.stop_home(HUB)
    hub = await site.start_home(HUB)
    await wait_for(lambda: _answer(site, HUB, request_id), "the answer after a restart")
    assert len(seen) == 1
    assert len(site.community.services.requests("probe")) == 1


def test_a_request_the_wire_would_refuse_is_not_queued(site: Site) -> None:
    hub = site.homes[HUB]
    for service, action, body in (
        ("Bad Name", "go", {}),
        ("probe", "go", {"x": "y" * 5000}),
        ("probe", "go", {"bad key": 1}),
    ):
        try:
            hub.services.request(service, action, body)
        except ValueError:
            continue
        raise AssertionError(f"{service}/{action} {body!r} was queued")
    assert hub.services.list() == []
    assert hub.outbox_pending() == 0
