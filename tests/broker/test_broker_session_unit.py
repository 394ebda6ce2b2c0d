from __future__ import annotations

import logging

import pytest

from courtyard.broker._session import Delivery, Session


def make(queue_limit: int = 10, max_inflight: int = 3) -> Session:
    return Session("s", clean=False, queue_limit=queue_limit, max_inflight=max_inflight)


def drain(session: Session) -> list[Delivery]:
    out: list[Delivery] = []
    while (delivery := session.pop_next()) is not None:
        out.append(delivery)
    return out


def test_arrival_order_is_kept_across_qos_levels() -> None:
    session = make(max_inflight=100)
    for index in range(6):
        session.enqueue("t", str(index).encode(), index % 2, False)
    assert [d.payload for d in drain(session)] == [str(i).encode() for i in range(6)]


def test_inflight_window_blocks_everything_behind_it() -> None:
    session = make(max_inflight=2)
    session.enqueue("t", b"a", 1, False)
    session.enqueue("t", b"b", 1, False)
    session.enqueue("t", b"c", 1, False)
    session.enqueue("t", b"d", 0, False)
    sent = drain(session)
    assert [d.payload for d in sent] == [b"a", b"b"]
    assert [d.packet_id for d in sent] == [1, 2]
    assert session.acknowledge(1)
    assert not session.acknowledge(1)
    assert [d.payload for d in drain(session)] == [b"c", b"d"]
    assert list(session.inflight) == [2, 3]


def test_queue_bound_drops_oldest_qos0_first_then_oldest_qos1(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = make(queue_limit=4, max_inflight=100)
    with caplog.at_level(logging.WARNING, logger="courtyard.broker"):
        for payload, qos in [(b"q1-a", 1), (b"q0-a", 0), (b"q1-b", 1), (b"q0-b", 0)]:
            assert session.enqueue("t", payload, qos, False) == 0
        assert session.enqueue("t", b"q1-c", 1, False) == 1  # drops q0-a
        assert session.enqueue("t", b"q1-d", 1, False) == 1  # drops q0-b
        assert session.enqueue("t", b"q1-e", 1, False) == 1  # drops q1-a (no QoS 0 left)
    assert session.dropped == 3
    assert session.queued == 4
    assert [d.payload for d in drain(session)] == [b"q1-b", b"q1-c", b"q1-d", b"q1-e"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "queue full" in warnings[0].getMessage()


def test_packet_ids_wrap_and_skip_inflight() -> None:
    session = make(max_inflight=2)
    session._next_packet_id = 65535
    session.enqueue("t", b"a", 1, False)
    session.enqueue("t", b"b", 1, False)
    first, second = drain(session)
    assert (first.packet_id, second.packet_id) == (65535, 1)
    session.acknowledge(65535)
    session._next_packet_id = 1  # 1 is still inflight and must be skipped
    session.enqueue("t", b"c", 1, False)
    (third,) = drain(session)
    assert third.packet_id == 2


def test_drop_qos0_keeps_qos1() -> None:
    session = make()
    session.enqueue("t", b"a", 0, False)
    session.enqueue("t", b"b", 1, False)
    assert session.drop_qos0() == 1
    assert [d.payload for d in drain(session)] == [b"b"]


def test_invalid_limits_rejected() -> None:
    with pytest.raises(ValueError):
        make(queue_limit=0)
    with pytest.raises(ValueError):
        make(max_inflight=0)
