"""Notifications to real local HTTP servers: signed webhooks, apprise, failures and retries."""

from __future__ import annotations

import json
import time
import urllib.parse

from community.clock import now_ms
from community.config import Channel, NotifyTarget
from community.escalation_rules import Audience
from community.signing import DELIVERY_HEADER, HEADER, REPLAY_WINDOW_S, sign, verify
from devices.catalog import EventType
from tests.community.support import Community, SigningHub, wait_until
from tests.community_desk.conftest import DeskFactory
from tests.community_desk.support import Receiver
from tests.support.mosquitto import free_port

SECRET = "another-secret-only-for-tests"


def _hook(name: str, url: str, audience: Audience = Audience.RESIDENT) -> NotifyTarget:
    return NotifyTarget(name, Channel.WEBHOOK, url, (audience,), secret=SECRET)


def _history(community: Community, alarm_id: int, action: str) -> list[tuple[str, str]]:
    detail = community.server.alarm(alarm_id) or {"history": []}
    return [(h["by"], h["note"]) for h in detail["history"] if h["action"] == action]


def _raise(community: Community, device: str, event: EventType = EventType.GAS_ALARM) -> int:
    hub = SigningHub(f"hub-{device}")
    peer = community.enroll(hub, "home-7", building="7", unit="1")
    community.send(peer, hub, hub.event(device, event)[1])
    wait_until(lambda: any(a["device_id"] == device for a in community.server.alarms()))
    return int(next(a["id"] for a in community.server.alarms() if a["device_id"] == device))


def test_a_webhook_is_signed_and_the_signature_checks_out(
    desk_factory: DeskFactory, receiver: Receiver
) -> None:
    community = desk_factory(notify_targets=(_hook("phone", receiver.url("/hook")),))
    alarm_id = _raise(community, "gas-1")
    request = receiver.wait("/hook", 1)[0]
    header = request.headers[HEADER]
    now = now_ms() // 1000
    assert header.startswith("t=") and ",v1=" in header
    assert verify(SECRET, header, request.body, now)
    assert not verify("a-different-secret-of-length", header, request.body, now)
    assert not verify(SECRET, header, request.body.replace(b"gas", b"gaz"), now)
    assert not verify(SECRET, header, request.body, now + REPLAY_WINDOW_S + 5)  # a replay
    assert not verify(SECRET, "t=abc,v1=00", request.body, now)
    assert verify(SECRET, sign(SECRET, now, b"{}"), b"{}", now)
    payload = request.json()
    assert payload["delivery"] == request.headers[DELIVERY_HEADER]
    assert (payload["alarm"]["id"], payload["alarm"]["kind"], payload["tier"]) == (
        alarm_id,
        "gas_alarm",
        0,
    )
    wait_until(lambda: _history(community, alarm_id, "notified"), what="delivery recorded")
    assert _history(community, alarm_id, "notified") == [("phone", "tier 0 (resident), attempt 1")]


def test_a_failing_target_is_retried_and_recorded_and_alarms_go_on(
    desk_factory: DeskFactory, receiver: Receiver
) -> None:
    receiver.plan["/flaky"] = [500, 503]
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    community = desk_factory(
        notify_targets=(_hook("flaky", receiver.url("/flaky")), _hook("dead", dead)),
        notify_retry_s=0.1,
        notify_attempts=3,
    )
    started = time.monotonic()
    alarm_id = _raise(community, "gas-2")
    # The alarm is stored, shown and can be acknowledged whatever the targets do.
    status, body = community.http("POST", f"/api/alarms/{alarm_id}/ack", b'{"by":"Wu"}')
    assert status == 200 and body["alarm"]["acknowledged"] is True
    other = _raise(community, "gas-3")
    assert other != alarm_id
    print(f"\ntwo alarms stored and one acknowledged in {time.monotonic() - started:.2f}s")

    wait_until(lambda: _history(community, alarm_id, "notified"), what="flaky delivered")
    tries = [r for r in receiver.at("/flaky") if r.json()["alarm"]["id"] == alarm_id]
    assert len(tries) == 3
    assert len({r.headers[DELIVERY_HEADER] for r in tries}) == 1  # one delivery, retried

    def failures(target: str) -> list[str]:
        return [n for by, n in _history(community, alarm_id, "notify_failed") if by == target]

    wait_until(lambda: len(failures("dead")) == 3, what="dead target given up")
    flaky = failures("flaky")
    assert [n.split(":")[0] for n in flaky] == [
        "tier 0 (resident), attempt 1/3",
        "tier 0 (resident), attempt 2/3",
    ]
    assert "HTTP 500" in flaky[0] and "HTTP 503" in flaky[1] and "retrying in" in flaky[0]
    assert _history(community, alarm_id, "notified") == [("flaky", "tier 0 (resident), attempt 3")]
    dead_notes = failures("dead")
    assert "connection failed" in dead_notes[0] and dead_notes[-1].endswith("giving up")
    assert "nobody-listens" not in json.dumps(community.server.alarm(alarm_id))  # no URLs
    states = {
        n["target"]: (n["state"], n["attempts"])
        for n in (community.server.alarm(alarm_id) or {})["notifications"]
    }
    assert states == {"flaky": ("delivered", 3), "dead": ("failed", 3)}


def test_apprise_delivers_json_and_form_posts_to_a_real_server(
    desk_factory: DeskFactory, receiver: Receiver
) -> None:
    base = f"127.0.0.1:{receiver.port}"
    community = desk_factory(
        notify_targets=(
            NotifyTarget(
                "wecom-bot", Channel.APPRISE, f"json://{base}/apprise-json", (Audience.RESIDENT,)
            ),
            NotifyTarget(
                "sms-gw", Channel.APPRISE, f"form://{base}/apprise-form", (Audience.RESIDENT,)
            ),
        )
    )
    alarm_id = _raise(community, "smoke-9", EventType.SMOKE_ALARM)
    posted = receiver.wait("/apprise-json", 1)[0].json()
    assert posted["type"] == "failure"  # critical
    assert "Smoke alarm" in posted["title"] and "烟雾报警" in posted["title"]
    assert "home-7" in posted["message"] and "Building 7" in posted["message"]
    form = urllib.parse.parse_qs(receiver.wait("/apprise-form", 1)[0].body.decode())
    assert "Smoke alarm" in form["title"][0]
    wait_until(lambda: len(_history(community, alarm_id, "notified")) == 2, what="both recorded")
    assert sorted(by for by, _ in _history(community, alarm_id, "notified")) == [
        "sms-gw",
        "wecom-bot",
    ]


def test_a_resident_target_hears_only_about_its_own_home(
    desk_factory: DeskFactory, receiver: Receiver
) -> None:
    mine = NotifyTarget(
        "family-7",
        Channel.WEBHOOK,
        receiver.url("/family-7"),
        (Audience.RESIDENT,),
        homes=("home-7",),
        secret=SECRET,
    )
    theirs = NotifyTarget(
        "family-8",
        Channel.WEBHOOK,
        receiver.url("/family-8"),
        (Audience.RESIDENT,),
        homes=("home-8",),
        secret=SECRET,
    )
    community = desk_factory(notify_targets=(mine, theirs))
    _raise(community, "gas-7")
    receiver.wait("/family-7", 1)
    receiver.settle(0.3)
    assert receiver.at("/family-8") == []
