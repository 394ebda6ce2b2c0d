"""The outbox on a real SQLite file: alarms first, bounded by shedding telemetry, durable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devices.catalog import DeviceKind, EventType, Priority
from devices.messages import Event, State
from devices.uplink import DeviceInfo, RecordKind, UplinkRecord, decode_record, report
from hub.outbox import Outbox
from hub.store import Store

HUB = "hub-1"
SMOKE = DeviceInfo("smoke-1", DeviceKind.SMOKE_ALARM, "Kitchen", "kitchen")


def event(name: EventType, seq: int, active: bool = True) -> UplinkRecord:
    message = Event("smoke-1", DeviceKind.SMOKE_ALARM, seq, 1000 + seq, name, active)
    return report(HUB, 0, 2000 + seq, SMOKE, message)


def state(seq: int) -> UplinkRecord:
    message = State("smoke-1", DeviceKind.SMOKE_ALARM, seq, 1000 + seq, {"battery_pct": seq})
    return report(HUB, 0, 2000 + seq, SMOKE, message)


def heartbeat_record() -> UplinkRecord:
    return UplinkRecord(
        HUB, 0, 5, RecordKind.HUB_HEARTBEAT, Priority.INFO, summary={"devices": 1, "online": 1}
    )


def open_outbox(tmp_path: Path, limit: int = 100) -> tuple[Store, Outbox]:
    store = Store(tmp_path / "hub.db", HUB)
    return store, Outbox(store, limit)


def describe(outbox: Outbox) -> list[tuple[str, int]]:
    """(event name or 'state', device seq) of every due row, in publishing order."""
    out = []
    for row in outbox.next_batch():
        record = decode_record(row.payload)
        assert record.seq == row.seq
        message = record.message
        name = str(message.event) if isinstance(message, Event) else "state"
        assert message is not None
        out.append((name, message.seq))
    return out


def test_alarms_go_first_then_by_seq(tmp_path: Path) -> None:
    _, outbox = open_outbox(tmp_path)
    outbox.add(state(1))
    outbox.add(event(EventType.BATTERY_LOW, 2))
    outbox.add(event(EventType.TAMPER, 3))
    outbox.add(event(EventType.SMOKE_ALARM, 4))
    outbox.add(state(5))
    outbox.add(event(EventType.SMOKE_ALARM, 6, active=False))
    outbox.add(event(EventType.HARDWARE_FAULT, 7))
    assert describe(outbox) == [
        ("smoke_alarm", 4),
        ("smoke_alarm", 6),
        ("tamper", 3),
        ("hardware_fault", 7),
        ("state", 1),
        ("battery_low", 2),
        ("state", 5),
    ]


def test_full_outbox_sheds_oldest_telemetry_and_never_an_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, outbox = open_outbox(tmp_path, limit=4)
    outbox.add(state(1))
    outbox.add(event(EventType.SMOKE_ALARM, 2))
    outbox.add(state(3))
    outbox.add(event(EventType.BATTERY_LOW, 4))  # info, but an event: not telemetry
    assert outbox.pending() == 4

    assert outbox.add(event(EventType.SMOKE_ALARM, 5, active=False)) is not None
    assert outbox.add(state(6)) is not None  # displaces state 3, the oldest telemetry left
    assert sorted(describe(outbox), key=lambda d: d[1]) == [
        ("smoke_alarm", 2),
        ("battery_low", 4),
        ("smoke_alarm", 5),
        ("state", 6),
    ]
    assert outbox.add(event(EventType.TAMPER, 7)) is not None  # sheds state 6
    assert outbox.pending() == 4

    # Now full of events: telemetry is dropped, and a further alarm is refused out loud.
    with caplog.at_level(logging.WARNING, logger="hub.outbox"):
        assert outbox.add(state(8)) is None
        assert outbox.add(event(EventType.SMOKE_ALARM, 9)) is None
    assert any(r.levelno == logging.ERROR and "refused" in r.message for r in caplog.records)
    assert [d[1] for d in sorted(describe(outbox), key=lambda d: d[1])] == [2, 4, 5, 7]


def test_outbox_survives_reopening_and_never_reuses_a_seq(tmp_path: Path) -> None:
    store, outbox = open_outbox(tmp_path)
    seqs = [outbox.add(event(EventType.SMOKE_ALARM, 1)), outbox.add(state(2))]
    store.close()

    store, outbox = open_outbox(tmp_path)
    assert outbox.pending() == 2
    assert [r.seq for r in outbox.next_batch()] == seqs
    assert outbox.ack(s for s in seqs if s is not None) == 2
    store.close()

    store, outbox = open_outbox(tmp_path)
    assert outbox.pending() == 0
    fresh = outbox.add(state(3))
    assert fresh is not None and fresh > max(s for s in seqs if s is not None)
    store.close()


def test_retry_bookkeeping(tmp_path: Path) -> None:
    _, outbox = open_outbox(tmp_path)
    seq = outbox.add(event(EventType.SMOKE_ALARM, 1))
    assert seq is not None
    outbox.mark_sent([seq], now=10_000)
    assert outbox.next_batch(now=10_500, resend_after_ms=1000) == []
    (due,) = outbox.next_batch(now=11_000, resend_after_ms=1000)
    assert (due.seq, due.attempts) == (seq, 1)
    outbox.mark_sent([seq], now=11_000)
    assert outbox.next_batch(now=11_001, resend_after_ms=1000) == []
    outbox.mark_all_due()
    (due,) = outbox.next_batch(now=11_001, resend_after_ms=1000)
    assert due.attempts == 2
    assert outbox.ack([seq, 999]) == 1
    assert outbox.pending() == 0


def test_only_the_newest_hub_heartbeat_waits(tmp_path: Path) -> None:
    store, outbox = open_outbox(tmp_path)
    outbox.add(heartbeat_record())
    telemetry = outbox.add(state(1))
    with store.transaction():
        outbox.drop_pending_heartbeats()
        newest = outbox.add(heartbeat_record())
    kinds = [(decode_record(r.payload).kind, r.seq) for r in outbox.next_batch()]
    assert kinds == [(RecordKind.REPORT, telemetry), (RecordKind.HUB_HEARTBEAT, newest)]


def test_a_store_refuses_another_hubs_data(tmp_path: Path) -> None:
    Store(tmp_path / "hub.db", HUB).close()
    with pytest.raises(RuntimeError, match="belongs to hub"):
        Store(tmp_path / "hub.db", "hub-2")
    mode = read_pragma(tmp_path / "hub.db")
    assert mode == "wal"


def read_pragma(path: Path) -> str:
    store = Store(path, HUB)
    try:
        return str(store.db.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        store.close()


def test_a_recreated_store_never_reuses_an_idempotency_key(tmp_path: Path) -> None:
    """Losing hub.db must not make new records collide with keys the community already has."""
    from hub.store import Store

    first = Store(tmp_path / "a.db", "hub-x")
    first.db.execute(
        "INSERT INTO outbox (kind, priority, rank, telemetry, payload, created) "
        "VALUES ('report', 'critical', 0, 0, x'00', 0)"
    )
    old_seq = first.db.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    first.close()
    (tmp_path / "a.db").unlink()
    second = Store(tmp_path / "a.db", "hub-x")
    second.db.execute(
        "INSERT INTO outbox (kind, priority, rank, telemetry, payload, created) "
        "VALUES ('report', 'critical', 0, 0, x'00', 0)"
    )
    new_seq = second.db.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    second.close()
    assert old_seq > 1_000_000_000_000_000
    assert new_seq > old_seq
