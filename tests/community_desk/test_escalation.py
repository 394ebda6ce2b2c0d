"""Escalation chains: tiers on a clock the test moves, acknowledgement, restarts, the rules."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from community import CommunityConfig, CommunityServer
from community.clock import now_ms
from community.config import Channel, NotifyTarget
from community.escalation_rules import (
    DEFAULT_RULES,
    Audience,
    EscalationRules,
    RulesError,
    load_rules,
    parse_rules,
)
from community.signing import HEADER, verify
from devices.catalog import EventType, Priority
from tests.community.support import Community, SigningHub, wait_until
from tests.community_desk.conftest import DeskFactory
from tests.community_desk.support import FakeClock, Receiver

SECRET = "s3cret-for-the-tests-only"
RULES = {
    "rules": [
        {
            "kinds": ["smoke_alarm"],
            "tiers": [
                {"audience": "resident", "delay_s": 0},
                {"audience": "duty_staff", "delay_s": 10},
                {"audience": "manager", "delay_s": 10},
                {"audience": "emergency", "delay_s": 10},
            ],
        },
        {"severity": "critical", "tiers": [{"audience": "duty_staff", "delay_s": 0}]},
        {"tiers": [{"audience": "resident", "delay_s": 0}]},
    ]
}
PATHS = {
    Audience.RESIDENT: "/resident",
    Audience.DUTY_STAFF: "/duty",
    Audience.MANAGER: "/manager",
    Audience.EMERGENCY: "/119",
}


def _targets(receiver: Receiver) -> tuple[NotifyTarget, ...]:
    return tuple(
        NotifyTarget(
            name=f"hook-{audience}",
            channel=Channel.WEBHOOK,
            url=receiver.url(path),
            audiences=(audience,),
            homes=("home-101",) if audience is Audience.RESIDENT else (),
            secret=SECRET,
        )
        for audience, path in PATHS.items()
    )


def _start(desk: DeskFactory, clock: FakeClock, receiver: Receiver, tmp_path: Path) -> Community:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    return desk(clock=clock, escalation_file=rules, notify_targets=_targets(receiver))


def _smoke(community: Community, device: str = "smoke-1") -> dict[str, Any]:
    hub = SigningHub(f"hub-{device}")
    peer = community.enroll(hub, "home-101", building="1", unit="1")
    community.send(peer, hub, hub.event(device, EventType.SMOKE_ALARM)[1])
    wait_until(lambda: any(a["device_id"] == device for a in community.server.alarms()))
    return next(a for a in community.server.alarms() if a["device_id"] == device)


def _tier(community: Community, alarm_id: int) -> int:
    return int((community.server.alarm(alarm_id) or {})["escalation_tier"])


def _steps(community: Community, alarm_id: int) -> list[tuple[int, str]]:
    rows = community.rows(
        "SELECT tier, state FROM escalations WHERE alarm_id = ? ORDER BY tier", (alarm_id,)
    )
    return [(r["tier"], r["state"]) for r in rows]


def _signed(received: list[Any]) -> list[dict[str, Any]]:
    for request in received:
        assert verify(SECRET, request.headers[HEADER], request.body, now_ms() // 1000)
    return [r.json() for r in received]


def test_unacknowledged_alarm_climbs_the_chain_and_ack_stops_it(
    desk_factory: DeskFactory, receiver: Receiver, tmp_path: Path
) -> None:
    clock = FakeClock()
    community = _start(desk_factory, clock, receiver, tmp_path)
    alarm = _smoke(community)
    assert alarm["escalation_tier"] == 0
    first = _signed(receiver.wait("/resident", 1))[0]
    assert (first["tier"], first["audience"], first["alarm"]["id"]) == (0, "resident", alarm["id"])

    clock.advance(9.9)
    receiver.settle(0.3)
    assert _tier(community, alarm["id"]) == 0 and receiver.at("/duty") == []

    clock.advance(0.2)
    wait_until(lambda: _tier(community, alarm["id"]) == 1, what="tier 1")
    assert _signed(receiver.wait("/duty", 1))[0]["tier"] == 1
    clock.advance(10)
    wait_until(lambda: _tier(community, alarm["id"]) == 2, what="tier 2")
    assert _signed(receiver.wait("/manager", 1))[0]["alarm"]["escalation_tier"] == 2

    status, body = community.http("POST", f"/api/alarms/{alarm['id']}/ack", b'{"by":"Wang"}')
    assert status == 200 and body["alarm"]["escalation_tier"] == 2
    clock.advance(120)
    receiver.settle()
    assert receiver.at("/119") == [] and _tier(community, alarm["id"]) == 2
    assert _steps(community, alarm["id"]) == [
        (0, "fired"),
        (1, "fired"),
        (2, "fired"),
        (3, "cancelled"),
    ]
    detail = community.server.alarm(alarm["id"]) or {}
    escalated = [h["note"] for h in detail["history"] if h["action"] == "escalated"]
    assert escalated == ["tier 1: duty_staff (1 target)", "tier 2: manager (1 target)"]
    assert [(s["tier"], s["state"]) for s in detail["escalation"]] == _steps(community, alarm["id"])
    # Each delivery is recorded, and in the history under the target's name.
    wait_until(
        lambda: (
            len(
                [
                    h
                    for h in (community.server.alarm(alarm["id"]) or {})["history"]
                    if h["action"] == "notified"
                ]
            )
            == 3
        ),
        what="3 deliveries recorded",
    )
    detail = community.server.alarm(alarm["id"]) or {}
    notified = sorted(h["by"] for h in detail["history"] if h["action"] == "notified")
    assert notified == ["hook-duty_staff", "hook-manager", "hook-resident"]
    assert {n["state"] for n in detail["notifications"]} == {"delivered"}


def test_an_alarm_acknowledged_at_once_never_escalates(
    desk_factory: DeskFactory, receiver: Receiver, tmp_path: Path
) -> None:
    clock = FakeClock()
    community = _start(desk_factory, clock, receiver, tmp_path)
    alarm = _smoke(community)
    community.http("POST", f"/api/alarms/{alarm['id']}/ack", b"{}")
    clock.advance(60)
    receiver.settle()
    assert _tier(community, alarm["id"]) == 0
    assert _steps(community, alarm["id"]) == [(0, "fired"), (1, "cancelled")]
    assert receiver.at("/duty") == [] and len(receiver.at("/resident")) == 1


def test_a_restart_fires_an_overdue_step_exactly_once(
    desk_factory: DeskFactory, receiver: Receiver, tmp_path: Path
) -> None:
    clock = FakeClock()
    community = _start(desk_factory, clock, receiver, tmp_path)
    alarm = _smoke(community)
    receiver.wait("/resident", 1)
    desk_factory.stop(community)

    clock.advance(25)  # tier 1 fell due while the server was down
    again = _start(desk_factory, clock, receiver, tmp_path)
    wait_until(lambda: _tier(again, alarm["id"]) == 1, what="tier 1 after the restart")
    receiver.wait("/duty", 1)
    # Tier 2 counts from when tier 1 really fired, so no burst of every overdue tier.
    assert _steps(again, alarm["id"]) == [(0, "fired"), (1, "fired"), (2, "pending")]

    desk_factory.stop(again)
    third = _start(desk_factory, clock, receiver, tmp_path)
    receiver.settle()
    assert _tier(third, alarm["id"]) == 1
    assert len(receiver.at("/duty")) == 1 and len(receiver.at("/resident")) == 1
    rows = third.rows("SELECT tier, count(*) AS n FROM deliveries GROUP BY tier ORDER BY tier")
    assert [(r["tier"], r["n"]) for r in rows] == [(0, 1), (1, 1)]
    detail = third.server.alarm(alarm["id"]) or {}
    assert [h["note"] for h in detail["history"] if h["action"] == "escalated"] == [
        "tier 1: duty_staff (1 target)"
    ]
    clock.advance(10)
    wait_until(lambda: _tier(third, alarm["id"]) == 2, what="tier 2")
    assert len(receiver.wait("/manager", 1)) == 1


def test_the_escalation_tier_is_pushed_live(
    desk_factory: DeskFactory, receiver: Receiver, tmp_path: Path
) -> None:
    clock = FakeClock()
    community = _start(desk_factory, clock, receiver, tmp_path)
    alarm = _smoke(community)

    async def watch() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {community.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{community.url}/api/ws", headers=headers) as ws,
        ):
            snapshot = await ws.receive_json(timeout=10)
            assert snapshot["alarms"][0]["escalation_tier"] == 0
            clock.advance(10)
            while True:
                message = await ws.receive_json(timeout=10)
                if message["type"] == "alarm":
                    return dict(message["alarm"])

    pushed = asyncio.run(watch())
    assert (pushed["id"], pushed["escalation_tier"]) == (alarm["id"], 1)


# --- the rules table ---------------------------------------------------------------------------


def test_the_built_in_table_covers_every_kind_and_severity() -> None:
    rules = EscalationRules()
    assert rules.rules == DEFAULT_RULES
    smoke = rules.chain_for("smoke_alarm", "critical")
    assert [t.audience for t in smoke.tiers] == list(Audience)
    assert sum(t.delay_s for t in smoke.tiers) <= 90  # NFPA 72: 90 s to the station
    for severity in Priority:
        assert rules.chain_for("a_kind_added_later", severity).tiers
    assert rules.chain_for("hub_offline", "alert").tiers[0].audience is Audience.DUTY_STAFF
    assert load_rules(None) == rules


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([], "object"),
        ({"rules": [{"tiers": []}]}, "1..8"),
        ({"rules": [{"tiers": [{"audience": "mayor", "delay_s": 0}]}]}, "audience"),
        ({"rules": [{"tiers": [{"audience": "resident", "delay_s": -1}]}]}, "delay_s"),
        ({"rules": [{"tiers": [{"audience": "resident", "delay_s": True}]}]}, "number"),
        ({"rules": [{"severity": "loud", "tiers": [{"audience": "resident"}]}]}, "severity"),
        ({"rules": [{"kinds": "smoke", "tiers": [{"audience": "resident"}]}]}, "kinds"),
        ({"rules": [{"colour": 1, "tiers": [{"audience": "resident"}]}]}, "unknown"),
        ({"rules": [{"severity": "critical", "tiers": [{"audience": "resident"}]}]}, "catch-all"),
    ],
)
def test_a_bad_table_is_refused_with_a_reason(table: object, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse_rules(table)


def test_a_bad_rules_file_or_target_stops_the_server_from_starting(tmp_path: Path) -> None:
    bad = tmp_path / "rules.json"
    bad.write_text('{"rules": [{"tiers": []}]}')
    config = CommunityConfig(
        "t", tmp_path / "d", "127.0.0.1", 1, "u", "p", escalation_file=bad, consent="open"
    )
    with pytest.raises(ValueError, match="tiers"):
        CommunityServer(config)
    unusable = NotifyTarget("sms", Channel.APPRISE, "nonsense://x", (Audience.MANAGER,))
    with pytest.raises(ValueError, match="apprise does not accept"):
        CommunityServer(replace(config, escalation_file=None, notify_targets=(unusable,)))
    with pytest.raises(ValueError, match="secret"):
        NotifyTarget("hook", Channel.WEBHOOK, "https://x.example/", (Audience.MANAGER,), secret="s")
    with pytest.raises(ValueError, match="http"):
        NotifyTarget("hook", Channel.WEBHOOK, "ftp://x/", (Audience.MANAGER,), secret=SECRET)
    assert SECRET not in repr(
        NotifyTarget(
            "hook", Channel.WEBHOOK, "https://x.example/", (Audience.MANAGER,), secret=SECRET
        )
    )
