"""The plate registry: validation, the keyed hash and its key file, consent before mapping."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from community.plates import (
    KEY_FILE,
    PlateConflictError,
    PlateConsentError,
    PlateError,
    PlateRegistry,
    normalise_plate,
)
from community.store import Store
from privacy.vocabulary import Purpose
from tests.fire_lanes.support import NEIGHBOUR, OTHER_HOME, OWNER_HOME, Lanes


@pytest.mark.parametrize(
    ("typed", "plate"),
    [
        ("粤B12345", "粤B12345"),
        ("沪AD12345", "沪AD12345"),
        ("粤b 123·45", "粤B12345"),
        ("京A-1234学", "京A1234学"),
        ("川A12345F", "川A12345F"),
    ],
)
def test_chinese_plates_are_accepted_and_normalised(typed: str, plate: str) -> None:
    assert normalise_plate(typed) == plate


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ABC1234",
        "粤B1234",
        "粤B1234567",
        "粤I12345",
        "粤BO2345",
        "X粤B12345",
        "粤B12 345 678 9",
        7,
        None,
    ],
)
def test_anything_else_is_a_clear_plate_error(bad: object) -> None:
    with pytest.raises(PlateError):
        normalise_plate(bad)


@given(st.one_of(st.text(max_size=24), st.integers(), st.none(), st.binary(max_size=8)))
def test_normalising_never_fails_otherwise(raw: object) -> None:
    try:
        plate = normalise_plate(raw)
    except PlateError:
        return
    assert 7 <= len(plate) <= 8 and plate == normalise_plate(plate)


def test_the_key_is_private_kept_and_the_hash_is_keyed(tmp_path: Path) -> None:
    store = Store(tmp_path / "community.db")
    try:
        first = PlateRegistry(store, tmp_path)
        mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
        assert mode == 0o600 and len((tmp_path / KEY_FILE).read_bytes()) == 32
        digest = first.hash("粤B12345")
        assert digest is not None and len(digest) == 64
        assert first.hash("粤b 12345") == digest  # normalised before hashing
        assert PlateRegistry(store, tmp_path).hash("粤B12345") == digest  # same key after restart
        assert "key" in repr(first) and (tmp_path / KEY_FILE).read_bytes().hex() not in repr(first)
        other = tmp_path / "other"
        other.mkdir()
        assert PlateRegistry(store, other).hash("粤B12345") != digest  # per community
        assert first.hash("unreadable") is None
    finally:
        store.close()


def test_a_truncated_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")
    store = Store(tmp_path / "community.db")
    try:
        with pytest.raises(ValueError, match="not a plate key"):
            PlateRegistry(store, tmp_path)
    finally:
        store.close()


def test_registering_needs_a_live_consent_covering_the_plate(lanes: Lanes) -> None:
    with pytest.raises(PlateConsentError, match="vehicle_plate"):
        lanes.register("粤B12345")  # deny by default
    lanes.grant(fields=("location",))
    with pytest.raises(PlateConsentError, match="does not include the plate"):
        lanes.register("粤B12345")
    lanes.grant(purpose=Purpose.PROPERTY_SERVICE)
    with pytest.raises(PlateConsentError):
        lanes.register("粤B12345")
    assert lanes.plates.registrations() == []
    lanes.grant()
    entry = lanes.register("粤B12345")
    assert entry["home_id"] == OWNER_HOME and len(entry["plate_hash"]) == 12
    assert "B12345" not in str(entry)


def test_a_plate_belongs_to_one_home_and_input_is_checked(lanes: Lanes) -> None:
    lanes.grant()
    lanes.register("粤B12345")
    lanes.register("粤B12345")  # again for the same home: fine
    lanes.grant(home=OTHER_HOME, subject=NEIGHBOUR)
    with pytest.raises(PlateConflictError):
        lanes.register("粤B12345", home=OTHER_HOME, subject=NEIGHBOUR)
    with pytest.raises(PlateError, match="no enrolled home"):
        lanes.register("粤B12345", home="nowhere")
    with pytest.raises(PlateError, match="subject"):
        lanes.register("粤B12345", subject=" bad subject")
    with pytest.raises(PlateError):
        lanes.register("not a plate")
    assert len(lanes.plates.registrations(OWNER_HOME)) == 1
    assert lanes.plates.unregister("粤B 12345") is True
    assert lanes.plates.unregister("粤B12345") is False
    assert lanes.plates.registrations() == []
