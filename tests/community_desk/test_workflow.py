"""Working an alarm through the API: assign, start, resolve, evidence, and what is refused."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.catalog import EventType
from tests.community.support import Community, SigningHub
from tests.community_desk.conftest import DeskFactory

DIGEST = hashlib.sha256(b"photo of the kitchen ceiling").hexdigest()


def _raise(community: Community, event: EventType = EventType.SMOKE_ALARM) -> int:
    hub = SigningHub("hub-w")
    peer = community.enroll(hub, "home-301", building="3", unit="2")
    community.send(peer, hub, hub.event("smoke-1", event, room="Kitchen")[1])
    community.wait_stats(stored=1)
    return int(community.server.alarms()[0]["id"])


def _post(community: Community, path: str, body: dict[str, Any] | bytes) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return community.http("POST", path, raw)


def test_assign_start_resolve_with_history_and_evidence(desk_factory: DeskFactory) -> None:
    community = desk_factory()
    alarm_id = _raise(community)
    base = f"/api/alarms/{alarm_id}"

    # Nothing is resolved before work on it has started.
    status, body = _post(community, f"{base}/resolve", {"note": "done", "by": "Wang"})
    assert status == 409 and "started" in body["error"]

    status, body = _post(community, f"{base}/assign", {"to": "Li Wei", "by": "Wang"})
    assert status == 200 and body["changed"] is True
    assert (body["alarm"]["handling"], body["alarm"]["assignee"]) == ("assigned", "Li Wei")
    assert body["alarm"]["acknowledged"] is False  # assigning is not seeing it
    status, body = _post(community, f"{base}/assign", {"to": "Li Wei", "by": "Wang"})
    assert status == 200 and body["changed"] is False

    status, body = _post(community, f"{base}/start", {"by": "Li Wei"})
    assert status == 200 and body["alarm"]["handling"] == "in_progress"
    assert body["alarm"]["acknowledged"] is True and body["alarm"]["acked_by"] == "Li Wei"
    assert _post(community, f"{base}/start", {"by": "Li Wei"})[1]["changed"] is False

    evidence = {"uri": "https://media.example/cam/1.jpg", "sha256": DIGEST.upper(), "kind": "photo"}
    status, body = _post(community, f"{base}/evidence", {**evidence, "by": "Li Wei"})
    assert status == 200 and body["changed"] is True
    assert body["evidence"]["sha256"] == DIGEST  # normalised
    assert _post(community, f"{base}/evidence", evidence)[1]["changed"] is False

    status, body = _post(community, f"{base}/resolve", {"note": "burnt toast", "by": "Li Wei"})
    assert status == 200
    alarm = body["alarm"]
    assert (alarm["handling"], alarm["resolution"], alarm["resolved_by"]) == (
        "resolved",
        "burnt toast",
        "Li Wei",
    )
    assert (alarm["status"], alarm["cleared_by"]) == ("cleared", "Li Wei")
    status, body = _post(community, f"{base}/assign", {"to": "Zhao"})
    assert status == 409 and "resolved" in body["error"]
    assert _post(community, f"{base}/start", {})[0] == 409
    assert _post(community, f"{base}/resolve", {"note": "again"})[1]["changed"] is False

    status, detail = community.http("GET", base)
    assert status == 200
    assert [(h["action"], h["by"], h["note"]) for h in detail["history"]] == [
        ("raised", "device", None),
        ("assigned", "Wang", "Li Wei"),
        ("acknowledged", "Li Wei", None),
        ("started", "Li Wei", None),
        ("evidence", "Li Wei", f"photo sha256:{DIGEST[:16]}"),
        ("resolved", "Li Wei", "burnt toast"),
        ("cleared", "Li Wei", None),
    ]
    assert [(e["uri"], e["kind"], e["added_by"]) for e in detail["evidence"]] == [
        ("https://media.example/cam/1.jpg", "photo", "Li Wei")
    ]
    # The Python API shows the same alarm.
    assert (community.server.alarm(alarm_id) or {})["handling"] == "resolved"


def test_start_takes_unassigned_work_and_bad_input_is_refused(desk_factory: DeskFactory) -> None:
    community = desk_factory()
    alarm_id = _raise(community, EventType.WATER_LEAK)
    base = f"/api/alarms/{alarm_id}"
    refused = [
        (f"{base}/assign", {}),  # 'to' is required
        (f"{base}/assign", {"to": "  "}),
        (f"{base}/assign", {"to": "x" * 65}),
        (f"{base}/assign", {"to": "Li", "extra": 1}),
        (f"{base}/assign", {"to": 7}),
        (f"{base}/resolve", {"by": "Li"}),  # a resolution note is required
        (f"{base}/evidence", {"uri": "javascript:alert(1)", "sha256": DIGEST, "kind": "photo"}),
        (f"{base}/evidence", {"uri": "https://x/1", "sha256": "abc", "kind": "photo"}),
        (f"{base}/evidence", {"uri": "https://x/1", "sha256": DIGEST, "kind": "selfie"}),
        (f"{base}/evidence", {"uri": "https:///nohost", "sha256": DIGEST, "kind": "photo"}),
        (f"{base}/start", b"[1]"),
        (f"{base}/start", b"{not json"),
        (f"{base}/start", b'{"by": NaN}'),
        ("/api/alarms/0/start", {}),
        ("/api/alarms/abc/assign", {"to": "Li"}),
    ]
    for path, body in refused:
        status, answer = _post(community, path, body)
        assert status == 400, (path, body, status, answer)
        assert answer["error"]
    assert _post(community, "/api/alarms/999/start", {})[0] == 404
    assert (
        _post(
            community,
            "/api/alarms/999/evidence",
            {"uri": "urn:x:1", "sha256": DIGEST, "kind": "log"},
        )[0]
        == 404
    )
    # Nothing changed.
    detail = community.server.alarm(alarm_id)
    assert detail is not None
    assert [h["action"] for h in detail["history"]] == ["raised"]
    assert (detail["handling"], detail["evidence"]) == ("new", [])

    status, body = _post(community, f"{base}/start", {"by": "Zhao"})
    assert status == 200
    assert (body["alarm"]["assignee"], body["alarm"]["handling"]) == ("Zhao", "in_progress")
    status, body = community.http("GET", "/api/alarms?q=Zhao")
    assert [a["id"] for a in body["alarms"]] == [alarm_id]


FUZZ = settings(max_examples=60, deadline=None)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=80),
    st.lists(st.integers(), max_size=2),
    st.sampled_from(["photo", DIGEST, "https://media.example/a.jpg", "Li"]),
)
_BODIES = st.one_of(
    st.dictionaries(st.sampled_from(["to", "by", "note", "uri", "sha256", "kind", "x"]), _VALUES),
    st.binary(max_size=40),
)


def test_any_body_is_answered_without_a_server_error(desk_factory: DeskFactory) -> None:
    community = desk_factory()
    alarm_id = _raise(community)

    @FUZZ
    @given(action=st.sampled_from(["assign", "start", "resolve", "evidence"]), body=_BODIES)
    def check(action: str, body: dict[str, Any] | bytes) -> None:
        status, answer = _post(community, f"/api/alarms/{alarm_id}/{action}", body)
        assert status in (200, 400, 409), (status, answer)
        assert isinstance(answer, dict)

    check()
