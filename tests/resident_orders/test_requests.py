"""The ``work_order`` service: what a home may ask, what it is told, and that a bad request or
another home's order changes nothing (property-based over request bodies)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community.work_order_rules import OrderAction
from tests.resident_orders.conftest import Homes

SHA = "ab" * 32


def _open(homes: Homes, hub: str = "hub-a", **extra: Any) -> dict[str, Any]:
    body = {"category": "plumbing", "description": "The kitchen tap drips.", **extra}
    answer = homes.ask(hub, "open", body)
    assert answer["code"] == "order_opened", answer
    return answer


def test_a_resident_opens_staff_progress_reaches_the_home_and_the_resident_rates(
    homes: Homes,
) -> None:
    opened = _open(
        homes,
        room="kitchen",
        preferred_time="2026-09-23T09:00:00+08:00",
        photos=[{"uri": "https://photos.example/tap.jpg", "sha256": SHA}],
    )
    order_id = opened["data"]["order_id"]
    assert opened["params"]["order_id"] == str(order_id)
    assert opened["data"]["state"] == "open" and opened["data"]["resident_actions"] == ["cancel"]
    [row] = homes.server._store.read("SELECT * FROM work_orders")
    assert (row["home_id"], row["source"], row["created_by"]) == ("home-a", "resident", "resident")
    assert homes.updates("hub-a") == []  # the resident's own request is answered, not echoed

    homes.staff(order_id, OrderAction.ASSIGN, {"to": "wang"})
    homes.staff(order_id, OrderAction.SCHEDULE, {"at": "2026-09-23T10:00:00Z"})
    homes.staff(order_id, OrderAction.START, {})
    homes.staff(order_id, OrderAction.FINISH, {"resolution": "Washer replaced."})
    told = homes.updates("hub-a")
    assert [(u["params"]["action"], u["data"]["state"]) for u in told] == [
        ("assign", "assigned"),
        ("schedule", "scheduled"),
        ("start", "in_progress"),
        ("finish", "done"),
    ]
    assert told[0]["data"]["assignee"] == "wang"
    assert told[-1]["data"]["resolution"] == "Washer replaced."
    assert told[-1]["data"]["resident_actions"] == ["confirm", "reopen"]
    assert homes.updates("hub-b") == []  # the other home hears nothing

    confirmed = homes.ask("hub-a", "confirm", {"order_id": order_id, "rating": 4})
    assert confirmed["code"] == "order_confirmed"
    assert (confirmed["data"]["state"], confirmed["data"]["rating"]) == ("confirmed", 4)
    rated = homes.ask("hub-a", "rate", {"order_id": order_id, "rating": 5, "comment": "谢谢"})
    assert rated["code"] == "order_rated"
    assert (rated["data"]["rating"], rated["data"]["comment"]) == (5, "谢谢")
    history = homes.server._store.read(
        "SELECT action, role FROM work_order_history WHERE order_id = ? ORDER BY id", [order_id]
    )
    assert [h["action"] for h in history][-2:] == ["confirm", "rated"]
    assert history[-1]["role"] == "resident"


def test_rate_on_a_done_order_confirms_it(homes: Homes) -> None:
    order_id = _open(homes)["data"]["order_id"]
    for action, body in (
        (OrderAction.ASSIGN, {"to": "wang"}),
        (OrderAction.START, {}),
        (OrderAction.FINISH, {"resolution": "Fixed."}),
    ):
        homes.staff(order_id, action, body)
    rated = homes.ask("hub-a", "rate", {"order_id": order_id, "rating": 3})
    assert (rated["code"], rated["data"]["state"], rated["data"]["rating"]) == (
        "order_rated",
        "confirmed",
        3,
    )


def test_another_homes_order_is_refused_like_an_unknown_one_and_nothing_changes(
    homes: Homes,
) -> None:
    theirs = _open(homes, "hub-b")["data"]["order_id"]
    before = homes.snapshot()
    for action, body in (
        ("cancel", {"order_id": theirs}),
        ("confirm", {"order_id": theirs, "rating": 1}),
        ("rate", {"order_id": theirs, "rating": 1}),
        ("reopen", {"order_id": theirs, "note": "mine now"}),
        ("cancel", {"order_id": 999_999}),
    ):
        answer = homes.ask("hub-a", action, body)
        assert (answer["code"], answer["params"]["reason"]) == ("refused", "not_found"), action
        assert answer["data"] == {}
    assert homes.snapshot() == before
    # The owner can still cancel it.
    assert homes.ask("hub-b", "cancel", {"order_id": theirs})["data"]["state"] == "cancelled"


def test_a_request_in_the_wrong_state_is_refused(homes: Homes) -> None:
    order_id = _open(homes)["data"]["order_id"]
    before = homes.snapshot()
    answer = homes.ask("hub-a", "confirm", {"order_id": order_id, "rating": 5})
    assert (answer["code"], answer["params"]["reason"]) == ("refused", "wrong_state")
    assert homes.snapshot() == before


def test_a_staff_order_for_a_home_from_an_alarm_free_desk_is_told_to_the_home(
    homes: Homes,
) -> None:
    from tests.resident_orders.conftest import MANAGER

    made = homes.server.work_orders.create(
        {"home_id": "home-b", "category": "cleaning", "description": "Stairwell"},
        MANAGER,
        homes.now,
    )
    [told] = homes.updates("hub-b")
    assert (told["params"]["action"], told["data"]["order_id"]) == ("created", made["id"])
    assert told["data"]["source"] == "staff"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**40) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_FIELDS = st.sampled_from(
    [
        "category",
        "description",
        "title",
        "room",
        "preferred_time",
        "photos",
        "order_id",
        "rating",
        "comment",
        "note",
        "home_id",
        "action",
        "status",
    ]
)
_GOOD_ISH = st.fixed_dictionaries(
    {},
    optional={
        "category": st.sampled_from(["plumbing", "lift", "PLUMBING", "", "nope"]),
        "description": st.sampled_from(["", " ", "Broken", "x" * 2001, "a\x00b"]),
        "order_id": st.sampled_from([0, -1, 1, 2, True, "1", 2**53]),
        "rating": st.sampled_from([0, 1, 5, 6, 4.5, "5", None, True]),
        "preferred_time": st.sampled_from(["tomorrow", "2020-01-01T00:00:00Z", "2026-01-01T00:00"]),
        "photos": st.sampled_from(
            [[{"uri": "ftp://x/y", "sha256": SHA}], [{"uri": "https://h/p"}]]
        ),
        "home_id": st.just("home-b"),
    },
)
_BODIES = st.one_of(_GOOD_ISH, st.dictionaries(_FIELDS, _JSON, max_size=4))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    action=st.sampled_from(["open", "confirm", "rate", "cancel", "reopen", "list", "delete"]),
    body=_BODIES,
)
def test_any_body_is_answered_and_a_refused_one_changes_nothing(
    homes: Homes, action: str, body: dict[str, Any]
) -> None:
    if not homes.server._store.read("SELECT 1 FROM work_orders WHERE home_id = 'home-b'"):
        _open(homes, "hub-b")  # another home's order, id 1, for the bodies to aim at
    before = homes.snapshot()
    theirs = before[0]
    answer = homes.ask("hub-a", action, body)
    if answer["code"] == "refused":
        assert answer["params"]["reason"] in {
            "invalid",
            "not_found",
            "wrong_state",
            "unknown_service",
        }
        assert homes.snapshot() == before
        return
    # Accepted: only home-a's orders ever change; home-b's never moves.
    assert answer["code"] != "refused"
    after = homes.snapshot()[0]
    assert [o for o in after if o["home_id"] == "home-b"] == [
        o for o in theirs if o["home_id"] == "home-b"
    ]
    changed = [o for o in after if o not in theirs]
    assert len(changed) == 1 and changed[0]["home_id"] == "home-a"
    assert changed[0]["id"] == answer["data"]["order_id"]
