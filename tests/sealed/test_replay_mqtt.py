"""Replaying a captured envelope through a real Mosquitto to a real community."""

from __future__ import annotations

import dataclasses
import sqlite3
import time

import pytest

from devices.catalog import EventType
from devices.messages import Event
from tests.community.support import Community, SigningHub, wait_until

HOUR_MS = 3_600_000


def _refusals(community: Community) -> list[tuple[str, str]]:
    db = sqlite3.connect(community.runner.config.data_dir / "audit.db")
    try:
        rows = db.execute(
            "SELECT record_ids, detail FROM audit_log WHERE action = 'refuse' ORDER BY seq"
        ).fetchall()
    finally:
        db.close()
    return [(str(r[0]), str(r[1])) for r in rows]


@pytest.mark.timeout(60)
def test_a_replayed_envelope_is_acked_but_never_processed_twice(community: Community) -> None:
    hub = SigningHub("hub-r")
    peer = community.enroll(hub)
    record = hub.event_record("smoke-1", EventType.SMOKE_ALARM)
    captured = hub.seal(record)
    community.send(peer, hub, captured)
    assert peer.acked() == [record.seq]
    # The very same envelope again: an idempotent duplicate, re-acknowledged.
    community.send(peer, hub, captured)
    assert peer.acked() == [record.seq]
    community.wait_stats(stored=1, duplicates=1)

    # The same device message again under a new outbox key: a replay, refused, acked.
    hub.seq += 1
    again = dataclasses.replace(record, seq=hub.seq)
    community.send(peer, hub, hub.seal(again))
    assert peer.acked() == [again.seq]
    community.wait_stats(rejected=1)
    assert community.count("events") == 1
    [alarm] = community.server.alarms()
    assert alarm["count"] == 1
    wait_until(lambda: _refusals(community), what="the audited refusal")
    [(ids, detail)] = _refusals(community)
    assert f"hub-r:{again.seq}" in ids and "already received" in detail


@pytest.mark.timeout(60)
def test_an_offline_backlog_is_accepted_and_stale_or_future_records_are_refused(
    community: Community,
) -> None:
    hub = SigningHub("hub-b")
    peer = community.enroll(hub)
    now = int(time.time() * 1000)

    def aged(ts: int) -> bytes:
        record = hub.event_record("smoke-1", EventType.SMOKE_ALARM)
        assert isinstance(record.message, Event)
        message = dataclasses.replace(record.message, ts=ts)
        return hub.seal(dataclasses.replace(record, ts=ts, message=message))

    community.send(peer, hub, aged(now - 5 * HOUR_MS))  # a hub back after five hours
    community.send(peer, hub, aged(now - 8 * 24 * HOUR_MS))  # older than the 7-day window
    community.send(peer, hub, aged(now + HOUR_MS))  # a clock an hour ahead
    acked = [peer.acked()[0] for _ in range(3)]
    assert acked == [1, 2, 3]
    community.wait_stats(stored=1, rejected=2)
    assert community.count("events") == 1
    details = [d for _, d in _refusals(community)]
    assert any("beyond the" in d for d in details) and any("ahead" in d for d in details)
