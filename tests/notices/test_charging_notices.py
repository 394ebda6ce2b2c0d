"""Residents start and stop charging from their hub; the community checks, commands the port
through the shed's hub, and answers with notices; the field rules' cuts reach the home whose
session it was. Everything real: Mosquitto, three hubs, the community, a port stub."""

from __future__ import annotations

from typing import Any

from devices.uplink import RequestAction
from firmware_stubs.charging_physics import ChargerLoad, ChargerProfile
from hub import Hub
from tests.notices.conftest import PORT_ID, Site, wait_for


def _notices(hub: Hub, code: str | None = None) -> list[dict[str, Any]]:
    return [n for n in hub.notices.list() if code is None or n["code"] == code]


def _answer(hub: Hub, request_id: str) -> dict[str, Any] | None:
    found = [n for n in hub.notices.list() if n["params"].get("request_id") == request_id]
    assert len(found) <= 1, "one answer per request"
    return found[0] if found else None


async def _answered(hub: Hub, request_id: str) -> dict[str, Any]:
    await wait_for(lambda: _answer(hub, request_id) is not None, f"the answer to {request_id}")
    answer = _answer(hub, request_id)
    assert answer is not None
    return answer


async def _start(site: Site, hub_id: str = "hub-home-1") -> Hub:
    hub = site.homes[hub_id]
    site.community.charging.allow(site.configs[hub_id].home_id)
    answer = await _answered(hub, hub.charging.request(RequestAction.START, PORT_ID))
    assert answer["code"] == "started", answer
    assert answer["params"]["port"] == PORT_ID and answer["params"]["port_name"] == "port 3"
    return hub


async def test_a_resident_starts_and_stops_a_session_and_is_told_each_time(site: Site) -> None:
    site.port.cut("manual")  # a port left cut: starting must enable it
    await wait_for(lambda: site.port.port_state == "stopped", "the port to be stopped")
    hub = await _start(site)
    assert site.port.meter.relay_closed
    [session] = site.community.charging.sessions("home-1")
    assert session["status"] == "active" and session["hub_id"] == "hub-home-1"
    assert hub.charging.view()["sessions"][0]["status"] == "active"
    site.port.plug_in(ChargerLoad(soc=0.4))
    await wait_for(lambda: site.port.port_state == "charging", "charging")

    stop = hub.charging.request(RequestAction.STOP, PORT_ID)
    answer = await _answered(hub, stop)
    assert answer["code"] == "stopped"
    assert site.port.port_state == "stopped" and not site.port.meter.relay_closed
    [session] = site.community.charging.sessions("home-1")
    assert session["status"] == "ended" and session["end_reason"] == "user"
    view = hub.charging.view()
    assert view["sessions"][0]["status"] == "ended"
    assert {r["answer"] for r in view["requests"]} == {"started", "stopped"}
    # The hub receipted every notice it got.
    await wait_for(
        lambda: all(d["status"] == "delivered" for d in site.deliveries("hub-home-1")),
        "the delivery receipts",
    )
    assert len(site.deliveries("hub-home-1")) == 2


async def test_a_home_not_allowed_to_charge_is_refused_and_nothing_happens(site: Site) -> None:
    hub = site.homes["hub-home-1"]
    answer = await _answered(hub, hub.charging.request(RequestAction.START, PORT_ID))
    assert answer["code"] == "refused" and answer["params"]["reason"] == "not_allowed"
    site.community.charging.allow("home-1")
    answer = await _answered(hub, hub.charging.request(RequestAction.START, "no-such-port"))
    assert answer["code"] == "refused" and answer["params"]["reason"] == "unknown_port"
    assert site.community.charging.sessions() == []
    verdicts = [r["verdict"] for r in site.community.charging.requests()]
    assert verdicts == ["not_allowed", "unknown_port"]


async def test_stopping_another_homes_session_is_refused_with_nothing_changed(
    site: Site,
) -> None:
    await _start(site, "hub-home-1")
    site.port.plug_in(ChargerLoad(soc=0.4))
    await wait_for(lambda: site.port.port_state == "charging", "charging")
    before = site.community.charging.sessions()
    commands = site.community.commands.status  # the book is read through its API below
    neighbour = site.homes["hub-home-2"]
    site.community.charging.allow("home-2")

    stop = await _answered(neighbour, neighbour.charging.request(RequestAction.STOP, PORT_ID))
    assert stop["code"] == "refused" and stop["params"]["reason"] == "not_your_session"
    start = await _answered(neighbour, neighbour.charging.request(RequestAction.START, PORT_ID))
    assert start["code"] == "refused" and start["params"]["reason"] == "port_busy"

    assert site.community.charging.sessions() == before
    assert all(commands(s["stop_command"] or "none") is None for s in before)
    assert site.port.port_state == "charging"
    # Home 1 heard nothing about its neighbour's attempts.
    assert [n["code"] for n in _notices(site.homes["hub-home-1"])] == ["started"]


async def test_a_full_battery_ends_the_session_with_a_notice(site: Site) -> None:
    hub = await _start(site)
    # A pack in its last percent: the charger trickles below the full rule's threshold.
    trickle = ChargerProfile(full_below_w=1.0, standby_w=0.5)
    site.port.plug_in(ChargerLoad(trickle, soc=0.995))
    await wait_for(lambda: _notices(hub, "full"), "the full notice", timeout=60)
    [full] = _notices(hub, "full")
    assert full["params"]["port"] == PORT_ID and full["params"]["reason"] == "full"
    assert full["category"] == "charging"
    [session] = site.community.charging.sessions("home-1")
    assert session["status"] == "ended" and session["end_reason"] == "full"
    await wait_for(lambda: site.port.stop_reason == "full", "the port's cut")
    await wait_for(lambda: hub.charging.view()["sessions"][0]["status"] == "ended", "hub view")
    assert not _notices(site.homes["hub-home-2"])


async def test_an_overheating_pack_is_cut_and_the_home_told_why(site: Site) -> None:
    hub = await _start(site)
    site.port.plug_in(ChargerLoad(soc=0.4))
    await wait_for(lambda: site.port.port_state == "charging", "charging")
    site.port.overheat(runaway_w_per_s=3000.0)
    await wait_for(lambda: _notices(hub, "cut"), "the cut notice", timeout=60)
    [cut] = _notices(hub, "cut")
    assert cut["params"]["reason"] == "overtemperature"
    assert "overtemperature" in cut["title"]
    await wait_for(lambda: site.port.stop_reason == "cut", "the port's cut")
    # The port's own charge_session_ended does not make a second notice.
    await wait_for(
        lambda: any(e["event"] == "charge_session_ended" for e in site.community.events()),
        "the port's session end",
    )
    await wait_for(lambda: site.community.charging.sessions()[0]["status"] == "ended", "ended")
    assert [n["code"] for n in _notices(hub)] == ["cut", "started"]
