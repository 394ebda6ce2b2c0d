"""The hub numbers bridged devices' messages itself, and the numbers survive restarts: a
restarted hub continues above everything it stored, so nothing is refused as a sequence
regression and every record keeps its place. A restarted hub also clears an alarm its event
log still holds when the device's next report says it is over."""

from __future__ import annotations

import logging

import pytest

from devices.messages import Event
from tests.bridge.conftest import MakeHub, VendorSide, bridge_of, z2m_device
from tests.hub.support import eventually, outbox_records, read_db

pytestmark = pytest.mark.mosquitto


async def test_bridged_sequence_numbers_keep_increasing_across_restarts(
    make_hub: MakeHub, vendor: VendorSide, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    topic = "zigbee2mqtt/hall"
    # Zigbee2MQTT keeps its device list retained: a restarted hub knows "hall" from it.
    inventory = [z2m_device("hall", "TS0601_smoke_1", "Tuya", "smoke")]
    vendor.publish("zigbee2mqtt/bridge/devices", inventory, retain=True)
    hub = await make_hub()
    db = hub.config.data_dir / "hub.db"

    def logged() -> list[tuple[int, str, int]]:
        return [
            (r[0], r[1], r[2])
            for r in read_db(
                db, "SELECT seq, event, active FROM event_log WHERE device_id = 'hall' ORDER BY id"
            )
        ]

    def last_seq() -> int:
        return int(read_db(db, "SELECT last_seq FROM states WHERE device_id = 'hall'")[0][0])

    await eventually(lambda: bridge_of(hub).connected)
    vendor.publish(topic, {"smoke": True, "battery": 90})
    await eventually(lambda: len(logged()) == 1, what="the raise")
    first_last = last_seq()

    await hub.stop()
    hub = await make_hub()
    await eventually(lambda: bridge_of(hub).connected)
    # This hub's adapter session never saw smoke: true; its event log did.
    vendor.publish(topic, {"smoke": False, "battery": 90})
    await eventually(lambda: len(logged()) == 2, what="the clear after a restart")
    vendor.publish(topic, {"smoke": True, "battery": 88})
    await eventually(lambda: len(logged()) == 3, what="a new raise")
    second_last = last_seq()

    await hub.stop()
    hub = await make_hub()
    await eventually(lambda: bridge_of(hub).connected)
    vendor.publish(topic, {"battery": 70})
    await eventually(lambda: last_seq() > second_last, what="a report after the second restart")

    assert [(e, a) for _, e, a in logged()] == [
        ("smoke_alarm", 1),
        ("smoke_alarm", 0),
        ("smoke_alarm", 1),
    ]
    seqs = [s for s, _, _ in logged()]
    assert seqs == sorted(set(seqs))
    assert first_last < seqs[1] and seqs[2] <= second_last < last_seq()
    # What waits for the community, in the order it was stored, never goes back either.
    device_seqs = [
        r.message.seq
        for r in outbox_records(db)
        if r.message is not None and r.message.device_id == "hall"
    ]
    assert len(device_seqs) >= 5
    assert device_seqs == sorted(set(device_seqs))
    clears = [
        r.message
        for r in outbox_records(db)
        if isinstance(r.message, Event) and not r.message.active
    ]
    assert [c.event for c in clears] == ["smoke_alarm"]
    assert "regression" not in caplog.text
    assert "NOT stored" not in caplog.text
