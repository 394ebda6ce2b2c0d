"""The CAP 1.2 feed: valid against the OASIS schema, Update/Cancel chains, Atom, no personal
data."""

from __future__ import annotations

import json
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from community.alarms import HistoryAction, PersonAction, TransitionError, WorkAction
from community.cap import CAP_NS, CapPublisher, cap_time, next_messages, phase_of
from community.cap_profile import PROFILES, room_type
from community.store import Store
from devices.catalog import EventType
from tests.community.support import Community, SigningHub
from tests.community_desk.conftest import DeskFactory
from tests.community_desk.support import cap_schema

ATOM = "{http://www.w3.org/2005/Atom}"
C = f"{{{CAP_NS}}}"


def _parse(xml: bytes) -> ET.Element:
    cap_schema().validate(xml.decode("utf-8"))
    return ET.fromstring(xml)


def _text(alert: ET.Element, name: str) -> str:
    return alert.findtext(f"{C}{name}") or ""


def _info(alert: ET.Element, lang: str = "en-US") -> ET.Element:
    info = next(i for i in alert.findall(f"{C}info") if i.findtext(f"{C}language") == lang)
    return info


def check_chains(messages: list[tuple[str, bytes]]) -> dict[str, list[ET.Element]]:
    """Every message valid; per incident: one Alert first, then Updates, at most one Cancel
    last, each referencing every earlier message of its incident in order."""
    by_incident: dict[str, list[ET.Element]] = {}
    identifiers = set()
    for name, xml in messages:
        alert = _parse(xml)
        assert name == _text(alert, "identifier") + ".xml"
        assert _text(alert, "identifier") not in identifiers
        identifiers.add(_text(alert, "identifier"))
        by_incident.setdefault(_text(alert, "incidents"), []).append(alert)
    for chain in by_incident.values():
        types = [_text(a, "msgType") for a in chain]
        assert types[0] == "Alert" and "Alert" not in types[1:], types
        assert "Cancel" not in types[:-1], types
        for i, alert in enumerate(chain):
            expected = [
                f"{_text(a, 'sender')},{_text(a, 'identifier')},{_text(a, 'sent')}"
                for a in chain[:i]
            ]
            assert _text(alert, "references").split() == expected
    return by_incident


def _setup(community: Community) -> tuple[SigningHub, Any]:
    hub = SigningHub("hub-cap-01")
    peer = community.enroll(hub, "home-3-2-501", building="3", unit="2")
    return hub, peer


def test_an_alarm_life_is_alert_update_cancel_and_valid(desk_factory: DeskFactory) -> None:
    community = desk_factory(cap_utc_offset_min=480)
    hub, peer = _setup(community)
    community.send(
        peer,
        hub,
        hub.event("smoke-kit-77", EventType.SMOKE_ALARM, room="Kitchen", name="Mrs Lin's smoke")[1],
    )
    community.wait_stats(stored=1)
    alarm_id = community.server.alarms()[0]["id"]
    base = f"/api/alarms/{alarm_id}"
    assert community.http("POST", f"{base}/ack", b'{"by":"Duty Officer Zhang"}')[0] == 200
    assert community.http("POST", f"{base}/ack", b"{}")[0] == 200  # no change, no message
    assert community.http("POST", f"{base}/start", b'{"by":"Zhang"}')[0] == 200
    body = b'{"by":"Zhang","note":"Mrs Lin burnt dinner at flat 501"}'
    assert community.http("POST", f"{base}/resolve", body)[0] == 200

    messages = community.server.cap_messages()
    chain = next(iter(check_chains(messages).values()))
    assert [_text(a, "msgType") for a in chain] == ["Alert", "Update", "Update", "Cancel"]
    alert = chain[0]
    assert (_text(alert, "status"), _text(alert, "scope")) == ("Actual", "Restricted")
    assert _text(alert, "sent").endswith("+08:00")
    info = _info(alert)
    assert [c.text for c in info.findall(f"{C}category")] == ["Fire"]
    assert [info.findtext(f"{C}{n}") for n in ("urgency", "severity", "certainty")] == [
        "Immediate",
        "Severe",
        "Observed",
    ]
    assert info.findtext(f"{C}area/{C}areaDesc") == "test, Building 3, Unit 2"
    assert "(in a kitchen)" in (info.findtext(f"{C}description") or "")
    assert _info(alert, "zh-CN").findtext(f"{C}event") == "烟雾报警"
    cancel = _info(chain[-1])
    assert cancel.findtext(f"{C}urgency") == "Past"
    assert cancel.findtext(f"{C}responseType") == "AllClear"

    # Nothing personal leaves: no flat, home, hub, device, resident, staff or note.
    everything = b"".join(xml for _, xml in messages).decode()
    for private in ("home-3-2-501", "501", "hub-cap-01", "smoke-kit-77", "Lin", "Zhang", "burnt"):
        assert private not in everything, private


def test_test_events_are_exercises_and_trouble_is_infra(desk_factory: DeskFactory) -> None:
    community = desk_factory()
    hub, peer = _setup(community)
    state = hub.state_record("smoke-t", {"test_in_progress": True})
    community.send(peer, hub, hub.seal(state))
    community.send(
        peer, hub, hub.event("smoke-t", EventType.SMOKE_ALARM, room="Grandma Wu's room")[1]
    )
    community.send(peer, hub, hub.event("smoke-t", EventType.TAMPER, room="Grandma Wu's room")[1])
    community.wait_stats(stored=3)
    alerts = [_parse(xml) for _, xml in community.server.cap_messages()]
    assert {_text(a, "status") for a in alerts} == {"Exercise"}
    tamper = next(a for a in alerts if _info(a).findtext(f"{C}event") == "Tamper")
    assert [
        _info(tamper).findtext(f"{C}{n}") for n in ("category", "urgency", "severity", "certainty")
    ] == [
        "Infra",
        "Expected",
        "Minor",
        "Likely",
    ]
    assert "Grandma" not in b"".join(x for _, x in community.server.cap_messages()).decode()


def test_the_atom_feed_and_messages_are_served_to_the_feed_token(desk_factory: DeskFactory) -> None:
    community = desk_factory()
    hub, peer = _setup(community)
    community.send(peer, hub, hub.event("leak-1", EventType.WATER_LEAK, room="Bathroom")[1])
    community.send(peer, hub, hub.event("leak-1", EventType.WATER_LEAK, active=False)[1])
    community.wait_stats(stored=2)
    feed_token = community.server.cap_token
    assert feed_token != community.token and len(feed_token) >= 40
    assert (community.runner.config.data_dir / "cap.token").stat().st_mode & 0o777 == 0o600

    reader = {"Authorization": f"Bearer {feed_token}"}
    status, headers, raw = community.raw("GET", "/api/cap/feed.atom", headers=reader)
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(raw)  # well-formed
    assert feed.tag == f"{ATOM}feed" and feed.findtext(f"{ATOM}id")
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 2 == len(community.server.cap_messages())
    stored = dict(community.server.cap_messages())
    for entry in entries:
        content = entry.find(f"{ATOM}content")
        assert content is not None and content.get("type") == "application/cap+xml"
        alert = content.find(f"{C}alert")
        assert alert is not None
        cap_schema().validate(ET.tostring(alert, encoding="unicode"))
        href = entry.find(f"{ATOM}link").get("href")  # type: ignore[union-attr]
        path = "/" + href.split("/", 3)[3]
        status, headers, one = community.raw("GET", path, headers=reader)
        assert status == 200 and headers["Content-Type"].startswith("application/cap+xml")
        assert one == stored[path.rsplit("/", 1)[1]]
    assert [e.findtext(f"{ATOM}title", "").split(":")[0] for e in entries] == ["Cancel", "Alert"]

    # The manager token reads it too; the feed token reads nothing else; no token, nothing.
    assert community.http("GET", "/api/cap/feed.atom")[0] == 200
    assert community.http("GET", "/api/alarms", token=feed_token)[0] == 401
    assert community.http("POST", "/api/alarms/1/ack", b"{}", token=feed_token)[0] == 401
    assert community.http("GET", "/api/cap/feed.atom", token=None)[0] == 401
    assert community.http("GET", "/api/cap/nope.xml")[0] == 404
    assert community.http("GET", "/api/cap/..%2Fcommunity.db")[0] == 404


def test_identifiers_survive_a_restart_and_cap_messages_are_files(
    desk_factory: DeskFactory, tmp_path: Path
) -> None:
    community = desk_factory()
    hub, peer = _setup(community)
    community.send(peer, hub, hub.event("sos-1", EventType.EMERGENCY_CALL, room="Hall")[1])
    community.wait_stats(stored=1)
    before = community.server.cap_messages()
    desk_factory.stop(community)
    again = desk_factory()
    assert again.server.cap_messages() == before
    ((name, xml),) = before
    (tmp_path / name).write_bytes(xml)  # what the demo does for r.cap/
    _parse((tmp_path / name).read_bytes())
    alert = _info(ET.fromstring(xml))
    assert [c.text for c in alert.findall(f"{C}category")] == ["Rescue", "Health"]


def test_the_mapping_table_and_times() -> None:
    assert cap_time(0, 0) == "1970-01-01T00:00:00+00:00"
    assert cap_time(1_763_753_401_999, 480) == "2025-11-22T03:30:01+08:00"
    assert cap_time(0, -90) == "1969-12-31T22:30:00-01:30"
    allowed = {
        "Geo",
        "Met",
        "Safety",
        "Security",
        "Rescue",
        "Fire",
        "Health",
        "Env",
        "Transport",
        "Infra",
        "CBRNE",
        "Other",
    }
    for profile in PROFILES.values():
        assert set(profile.categories) <= allowed
    assert room_type("Master Bedroom") == ("bedroom", "卧室")
    assert room_type("卫生间") == ("bathroom", "卫生间")
    assert room_type("Grandma Wu's room") is None


# --- any sequence of alarm changes publishes valid CAP ---------------------------------------

_STEP = st.one_of(
    st.tuples(
        st.just("event"),
        st.sampled_from(["d1", "d2"]),
        st.sampled_from([EventType.SMOKE_ALARM, EventType.WATER_LEAK, EventType.TAMPER]),
        st.booleans(),
    ),
    st.tuples(st.just("person"), st.integers(1, 4), st.sampled_from(list(PersonAction))),
    st.tuples(st.just("work"), st.integers(1, 4), st.sampled_from(list(WorkAction))),
    st.tuples(st.just("tier"), st.integers(1, 4), st.integers(1, 3)),
    st.tuples(st.just("hub"), st.sampled_from(["offline", "online"])),
)


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(_STEP, max_size=14))
def test_any_sequence_of_alarm_changes_publishes_valid_cap(steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        publisher = CapPublisher(community_id="fuzz", utc_offset_min=480)
        store = Store(Path(folder) / "c.db", observers=(publisher,))
        try:
            hub = SigningHub("hub-f")
            store.upsert_hub(
                hub_id="hub-f",
                home_id="home-f",
                building="1",
                unit="1",
                public_key_hex="00",
                key_id="k",
                password_hash=None,
                now=1,
            )
            now = 1_763_000_000_000
            for step in steps:
                now += 1500
                _apply(store, hub, step, now)
            rows = store.read(
                "SELECT identifier, xml FROM cap_messages ORDER BY sent_ms, alarm_id, n"
            )
            check_chains([(f"{r['identifier']}.xml", bytes(r["xml"])) for r in rows])
            alarms = store.read("SELECT * FROM alarms")
            incidents = {r["alarm_id"] for r in store.read("SELECT alarm_id FROM cap_messages")}
            assert incidents == {a["id"] for a in alarms}  # every alarm is published
        finally:
            store.close()


def _apply(store: Store, hub: SigningHub, step: tuple[Any, ...], now: int) -> None:
    kind = step[0]
    try:
        if kind == "event":
            _, device, event, active = step
            record = hub.event_record(device, event, active=active)
            store.persist(record, f"digest-{record.seq}", now)
        elif kind == "person":
            store.act(step[1], step[2], "Staff", None, now)
        elif kind == "work":
            action = step[2]
            store.work(step[1], action, "Staff", now, to="Li", note="done")
        elif kind == "tier":
            with store.transaction() as db:
                row = store.alarm_row(step[1])
                if row is not None:
                    store.change_alarm(
                        db,
                        row,
                        {"escalation_tier": step[2]},
                        HistoryAction.ESCALATED,
                        "escalation",
                        now,
                    )
        else:
            store.set_hub_status("hub-f", step[1], now)
            store.raise_hub_alarms(now, 0)
    except (LookupError, TransitionError):
        pass  # an alarm that does not exist (yet), or an action its state refuses


def test_next_messages_table() -> None:
    alarm = {"status": "active", "handling": "new", "acknowledged": False, "escalation_tier": 0}
    assert [str(m) for m in next_messages(None, alarm)] == ["Alert"]
    state = (next_messages(None, alarm)[0], phase_of(alarm), 0)
    assert next_messages(state, alarm) == ()
    assert [str(m) for m in next_messages(state, {**alarm, "escalation_tier": 1})] == ["Update"]
    ended = {**alarm, "status": "cleared"}
    assert [str(m) for m in next_messages(None, ended)] == ["Alert", "Cancel"]
    assert [str(m) for m in next_messages(state, ended)] == ["Cancel"]
    assert next_messages((next_messages(state, ended)[0], phase_of(ended), 0), alarm) == ()
    assert json.dumps([str(p) for p in (phase_of(alarm), phase_of(ended))]) == '["new", "ended"]'
