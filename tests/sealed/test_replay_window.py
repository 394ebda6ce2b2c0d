"""The replay window against a real store: the rule as a model, checked with hypothesis."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community.replay import ReplayGuard, ReplayWindow
from community.store import Store
from devices.catalog import DeviceKind, EventType
from devices.messages import Event
from devices.uplink import DeviceInfo, UplinkRecord, report

NOW = 1_795_289_401_123
WINDOW = ReplayWindow(future_ms=600_000, past_ms=3_600_000, reorder=5)


def _record(
    key_seq: int, device_seq: int, *, ts: int = NOW, device_ts: int | None = None
) -> UplinkRecord:
    message = Event(
        "smoke-1",
        DeviceKind.SMOKE_ALARM,
        device_seq,
        NOW + device_seq if device_ts is None else device_ts,
        EventType.SMOKE_ALARM,
        active=device_seq % 2 == 0,
    )
    info = DeviceInfo("smoke-1", DeviceKind.SMOKE_ALARM, "Kitchen", "kitchen")
    return report("hub-1", key_seq, ts, info, message)


def _submit(guard: ReplayGuard, store: Store, record: UplinkRecord) -> bool:
    """What the pipeline does: check, then store only what passed."""
    if guard.check(record) is not None:
        return False
    store.persist(record, f"digest-{record.seq}", NOW)
    return True


@settings(max_examples=60, deadline=None)
@given(seqs=st.lists(st.integers(1, 40), min_size=1, max_size=25))
def test_a_device_sequence_is_accepted_once_and_only_within_the_reorder_window(
    seqs: list[int],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "community.db")
        guard = ReplayGuard(store, WINDOW, clock=lambda: NOW)
        stored: set[int] = set()
        try:
            for key, seq in enumerate(seqs, start=1):
                expected = seq not in stored and (
                    not stored or seq > max(stored) or max(stored) - seq <= WINDOW.reorder
                )
                assert _submit(guard, store, _record(key, seq)) is expected, (seq, stored)
                if expected:
                    stored.add(seq)
            assert sum(guard.refused.values()) == len(seqs) - len(stored)
        finally:
            store.close()


@settings(max_examples=60, deadline=None)
@given(offset_s=st.integers(-7200, 7200))
def test_the_hub_timestamp_must_lie_within_the_window(offset_s: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "community.db")
        guard = ReplayGuard(store, WINDOW, clock=lambda: NOW)
        try:
            ts = NOW + offset_s * 1000
            accepted = -WINDOW.past_ms <= offset_s * 1000 <= WINDOW.future_ms
            assert (guard.check(_record(1, 1, ts=ts)) is None) is accepted
        finally:
            store.close()


def test_a_stored_key_is_left_to_the_duplicate_path_and_a_restarted_device_is_fresh(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "community.db")
    guard = ReplayGuard(store, WINDOW, clock=lambda: NOW)
    try:
        assert _submit(guard, store, _record(1, 30))
        assert guard.check(_record(1, 30)) is None  # the same key: re-acked by the store
        reason = guard.check(_record(2, 30))
        assert reason is not None and "already received" in reason
        assert "behind" in (guard.check(_record(3, 2)) or "")
        # A device counting again from 1 (re-paired) with a newer clock is not a replay.
        assert guard.check(_record(4, 1, device_ts=NOW + 1000)) is None
    finally:
        store.close()


def test_a_window_must_be_non_negative_integers() -> None:
    with pytest.raises(ValueError):
        ReplayWindow(past_ms=-1)
