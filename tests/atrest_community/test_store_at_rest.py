"""The community's copy of a resident home's data rests sealed under the resident's own key.

Real SQLite files in tmp_path: the raw bytes of community.db (and its WAL) are scanned for
what a resident home's devices said, reads round-trip, and after the resident's key is
shredded every view degrades to "" instead of crashing.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community.alarms import PersonAction, WorkAction
from community.queries import AlarmQuery
from community.resident_keys import ERASED, SEALED_PREFIX, ResidentKeys
from devices.catalog import DeviceKind, EventType
from privacy.atrest import KeyStore, ShreddedError, WrongKekError, verify_receipt
from tests.atrest_community.support import COMMON_HUB, HOME_HUB, AtRest, now_ms, open_at_rest

NAME, ROOM = "Zephyrine night lamp", "Quokka bedroom"
COMMON_NAME, COMMON_ROOM = "Shed detector Marlow", "Bike shed west"
CONFIDENCE = 0.913377
NOTE = "Spoke to Mrs Quokka-Lin on the phone"
PLAINTEXT_CONFIDENCE = re.compile(rb'confidence"?\s*[:=]\s*[0-9]')


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[AtRest]:
    at_rest = open_at_rest(tmp_path / "community")
    yield at_rest
    at_rest.close()


def _fill(rest: AtRest) -> int:
    """A resident home's fall with a confidence, a state report, staff notes; and a
    common-area alarm. Returns the home alarm's id."""
    rest.send(HOME_HUB, "fall-1", DeviceKind.FALL_DETECTOR, NAME, ROOM, state={"battery": 81})
    rest.send(
        HOME_HUB,
        "fall-1",
        DeviceKind.FALL_DETECTOR,
        NAME,
        ROOM,
        EventType.FALL_DETECTED,
        data={"confidence": CONFIDENCE},
    )
    rest.send(
        COMMON_HUB,
        "shed-s1",
        DeviceKind.SMOKE_ALARM,
        COMMON_NAME,
        COMMON_ROOM,
        EventType.SMOKE_ALARM,
    )
    (home_alarm,) = rest.store.query_alarms(AlarmQuery(hub=HOME_HUB))[0]
    alarm_id = int(home_alarm["id"])
    rest.store.act(alarm_id, PersonAction.ACK, "duty-1", NOTE, 1)
    rest.store.work(alarm_id, WorkAction.START, "duty-1", 2)
    rest.store.work(alarm_id, WorkAction.RESOLVE, "duty-1", 2, note=f"resolved: {NOTE}")
    rest.store.add_evidence(
        alarm_id, f"https://evidence.example/{ROOM}.jpg", "ab" * 32, "photo", "duty-1", 3
    )
    return alarm_id


def test_raw_bytes_hold_nothing_a_resident_home_said(rest: AtRest) -> None:
    _fill(rest)
    raw = rest.raw()
    for secret in (NAME, ROOM, NOTE, str(CONFIDENCE), "Quokka"):
        assert secret.encode() not in raw, secret
    assert not PLAINTEXT_CONFIDENCE.search(raw)
    assert SEALED_PREFIX.encode() in raw  # what is there is ciphertext
    # The scan can see plaintext: the common-area gateway's rows stay as they are.
    assert COMMON_NAME.encode() in raw and COMMON_ROOM.encode() in raw
    # ...and keys.db holds keys only, never the data.
    keys_raw = b"".join(p.read_bytes() for p in rest.directory.glob("keys.db*"))
    assert NAME.encode() not in keys_raw and ROOM.encode() not in keys_raw


def test_reads_round_trip(rest: AtRest) -> None:
    alarm_id = _fill(rest)
    alarms, total = rest.store.query_alarms(AlarmQuery())
    by_hub = {a["hub_id"]: a for a in alarms}
    assert total == 2
    assert (by_hub[HOME_HUB]["device_name"], by_hub[HOME_HUB]["room"]) == (NAME, ROOM)
    assert (by_hub[COMMON_HUB]["device_name"], by_hub[COMMON_HUB]["room"]) == (
        COMMON_NAME,
        COMMON_ROOM,
    )
    detail = rest.store.alarm(alarm_id)
    assert detail is not None
    assert detail["resolution"] == f"resolved: {NOTE}"
    assert NOTE in [h["note"] for h in detail["history"]]
    assert detail["evidence"][0]["uri"] == f"https://evidence.example/{ROOM}.jpg"
    row = rest.store.alarm_row(alarm_id)
    assert row is not None and row["device_name"] == NAME
    # Search over sealed names and rooms, and over plaintext ones, with paging.
    for text, hubs in (("quokka", {HOME_HUB}), ("ZEPHYRINE", {HOME_HUB}), ("marlow", {COMMON_HUB}),
                       ("b1", {HOME_HUB, COMMON_HUB}), ("nowhere", set())):  # fmt: skip
        found, n = rest.store.query_alarms(AlarmQuery(q=text))
        assert {a["hub_id"] for a in found} == hubs and n == len(hubs), text
    page, n = rest.store.query_alarms(AlarmQuery(q="b1", limit=1, offset=1))
    assert n == 2 and len(page) == 1
    # The stored wire message opens to what the device sent.
    (event,) = rest.store.read("SELECT key, message FROM events WHERE event = 'fall_detected'")
    assert event["message"].startswith(SEALED_PREFIX)
    opened = rest.store.open_message(event["key"], event["message"])
    assert opened is not None and str(CONFIDENCE) in opened
    # A sealed value moved to another row does not open there (bound to its context).
    (state,) = rest.store.read("SELECT key FROM events WHERE message_type = 'state'")
    assert rest.store.open_message(state["key"], event["message"]) is None


def test_after_erasure_nothing_decrypts_and_views_degrade(rest: AtRest) -> None:
    alarm_id = _fill(rest)
    (event,) = rest.store.read("SELECT key, message FROM events WHERE event = 'fall_detected'")
    receipt = rest.keys.shred(rest.key_name)
    verify_receipt(receipt, rest.community_key.public_key())
    assert rest.keys.shred(rest.key_name) == receipt  # idempotent
    with pytest.raises(ShreddedError):
        rest.keys.decrypt(event["message"], f"events.message:{event['key']}")
    assert rest.store.open_message(event["key"], event["message"]) is None
    home = rest.store.query_alarms(AlarmQuery(hub=HOME_HUB))[0][0]
    assert (home["device_name"], home["room"], home["kind"]) == ("", "", "fall_detected")
    detail = rest.store.alarm(alarm_id)
    assert detail is not None and detail["resolution"] == "" and detail["evidence"][0]["uri"] == ""
    assert NOTE not in [h["note"] for h in detail["history"]]
    assert rest.store.query_alarms(AlarmQuery(q="quokka")) == ([], 0)
    assert len(rest.store.open_alarms()) >= 1
    # The common area is untouched; later records from the erased home are still stored
    # (responders are still reached) but without what the resident said.
    assert rest.store.query_alarms(AlarmQuery(q="marlow"))[1] == 1
    rest.send(
        HOME_HUB,
        "smoke-1",
        DeviceKind.SMOKE_ALARM,
        "Hall smoke Quokka",
        ROOM,
        EventType.SMOKE_ALARM,
    )
    smoke = rest.store.query_alarms(AlarmQuery(kind="smoke_alarm", hub=HOME_HUB))[0][0]
    assert smoke["device_name"] == "" and smoke["status"] == "active"
    assert b"Quokka" not in rest.raw()
    (later,) = rest.store.read("SELECT message FROM events WHERE device_id = 'smoke-1'")
    assert later["message"] == ERASED


def test_kek_rotation_rewraps_keys_without_touching_data(rest: AtRest) -> None:
    _fill(rest)
    old_kek = (rest.directory / "kek.key").read_bytes()

    def data_rows() -> list[tuple[object, ...]]:
        with sqlite3.connect(rest.directory / "community.db") as db:
            return [
                *db.execute("SELECT * FROM events ORDER BY key"),
                *db.execute("SELECT * FROM alarms ORDER BY id"),
                *db.execute("SELECT * FROM alarm_history ORDER BY id"),
            ]

    before = data_rows()
    assert rest.keys.rotate_kek() == 1
    assert data_rows() == before
    new_kek = (rest.directory / "kek.key").read_bytes()
    assert new_kek != old_kek and (rest.directory / "kek.key").stat().st_mode & 0o777 == 0o600
    assert not (rest.directory / "kek.key.next").exists()
    assert rest.store.query_alarms(AlarmQuery(hub=HOME_HUB))[0][0]["device_name"] == NAME
    with pytest.raises(WrongKekError):
        KeyStore(rest.directory / "keys.db", old_kek, rest.community_key)
    # A restart reads the new KEK from disk and opens everything.
    rest.close()
    again = open_at_rest(rest.directory, rest.community_key)
    try:
        assert again.store.query_alarms(AlarmQuery(q="quokka"))[1] == 1
    finally:
        again.close()
    rest.store = again.store  # closed again by the fixture (idempotent)
    rest.keys = ResidentKeys(rest.directory, rest.community_key)


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=_TEXT, room=_TEXT)
def test_any_name_and_room_round_trip_and_never_rest_in_clear(
    rest: AtRest, name: str, room: str
) -> None:
    marker = f"m{uuid.uuid4().hex}"  # finds this example's row (urandom, not hypothesis-seeded)
    device = f"dev-{marker}"
    rest.send(
        HOME_HUB, device, DeviceKind.SMOKE_ALARM, f"{marker}{name}", f"{room}{marker}",
        EventType.SMOKE_ALARM,
    )  # fmt: skip
    (alarm,), _ = rest.store.query_alarms(AlarmQuery(hub=HOME_HUB, q=marker))
    assert (alarm["device_name"], alarm["room"]) == (f"{marker}{name}", f"{room}{marker}")
    assert marker.encode() not in rest.raw().replace(device.encode(), b"")


def test_a_work_order_from_a_resident_alarm_opens_its_room_in_the_right_context(
    rest: AtRest, caplog: pytest.LogCaptureFixture
) -> None:
    """The order view reads the alarm's sealed columns itself: each opens in the context it
    was sealed in (the alarm's hub and device), so the room shows and nothing is logged as a
    ciphertext that does not decrypt."""
    from community.accounts import Principal, Role
    from community.work_orders import WorkOrders

    rest.send(
        HOME_HUB, "home-7-smoke", DeviceKind.SMOKE_ALARM, "Hall smoke", "Hallway",
        EventType.END_OF_SERVICE,
    )  # fmt: skip
    [alarm] = rest.store.query_alarms(AlarmQuery(hub=HOME_HUB, kind="end_of_service"))[0]
    orders = WorkOrders(rest.store)
    manager = Principal("manager", Role.PROPERTY_ADMIN)
    with caplog.at_level("ERROR", logger="community.resident_keys"):
        order, created = orders.from_alarm(alarm["id"], manager, now_ms())
        view = orders.get(order["id"], manager, now_ms())
    assert created
    assert view["alarm"]["room"] == "Hallway"
    assert "hub_id" not in view["alarm"] and "device_id" not in view["alarm"]
    assert not caplog.records, [r.getMessage() for r in caplog.records]
