"""SequenceTracker: the hub's per-device guard against replays and rewinds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.messages import MAX_INT, ErrorCode, InteropError, SequenceTracker
from tests.devices.support import FAST


def test_first_seq_of_a_device_is_accepted_whatever_it_is() -> None:
    tracker = SequenceTracker()
    assert tracker.last("d1") is None
    tracker.accept("d1", 0)
    tracker.accept("d2", MAX_INT)
    assert (tracker.last("d1"), tracker.last("d2")) == (0, MAX_INT)


@pytest.mark.parametrize("seq", [10, 9, 0])
def test_a_seq_that_does_not_increase_is_a_regression(seq: int) -> None:
    tracker = SequenceTracker({"d1": 10})
    with pytest.raises(InteropError) as info:
        tracker.accept("d1", seq)
    assert info.value.code is ErrorCode.SEQUENCE_REGRESSION
    assert tracker.last("d1") == 10, "a refused seq changes nothing"


def test_check_does_not_record() -> None:
    tracker = SequenceTracker()
    tracker.check("d1", 5)
    assert tracker.last("d1") is None
    tracker.accept("d1", 5)
    with pytest.raises(InteropError):
        tracker.check("d1", 5)
    tracker.check("d1", 6)
    assert tracker.last("d1") == 5


def test_devices_are_independent_and_gaps_are_allowed() -> None:
    tracker = SequenceTracker()
    tracker.accept("d1", 100)
    tracker.accept("d2", 1)
    tracker.accept("d1", 1000)
    assert (tracker.last("d1"), tracker.last("d2")) == (1000, 1)


def test_initial_state_is_copied_not_shared() -> None:
    """A tracker restored from storage must not write through to the caller's dict."""
    stored = {"d1": 3}
    tracker = SequenceTracker(stored)
    tracker.accept("d1", 4)
    tracker.accept("d2", 1)
    assert stored == {"d1": 3}


@FAST
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 50)), max_size=60))
def test_accepts_exactly_the_strictly_increasing_subsequence_per_device(
    reports: list[tuple[str, int]],
) -> None:
    tracker = SequenceTracker()
    model: dict[str, int] = {}
    for device, seq in reports:
        expected_ok = device not in model or seq > model[device]
        try:
            tracker.accept(device, seq)
        except InteropError as exc:
            assert not expected_ok and exc.code is ErrorCode.SEQUENCE_REGRESSION
        else:
            assert expected_ok
            model[device] = seq
        assert tracker.last(device) == model.get(device)
