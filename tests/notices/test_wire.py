"""The notice downlink and the resident records: round trips, and refusals of bad input."""

from __future__ import annotations

import json

import pytest

from devices.catalog import CommandName
from devices.messages import InteropError
from devices.uplink import (
    DownlinkCommand,
    DownlinkNotice,
    NoticeCategory,
    NoticeReceipt,
    ReceiptStatus,
    RequestAction,
    ResidentRequest,
    decode_down,
    decode_record,
    encode_downlink,
    encode_notice,
    encode_record,
    is_telemetry,
    notice_receipt,
    resident_request,
)

NOTICE = DownlinkNotice(
    "estate-1", 3, 1000, "n-1", NoticeCategory.CHARGING, "cut", {"port": "p-3"}, "Cut", ""
)


def test_records_round_trip_and_are_never_shed() -> None:
    request = resident_request("hub-1", 5, 9, ResidentRequest("r-1", RequestAction.STOP, "p-3"))
    receipt = notice_receipt("hub-1", 6, 9, NoticeReceipt("n-1", ReceiptStatus.READ))
    for record in (request, receipt):
        assert decode_record(encode_record(record)) == record
        assert not is_telemetry(record)


def test_a_notice_and_a_command_share_the_downlink() -> None:
    assert decode_down(encode_notice(NOTICE)) == NOTICE
    command = DownlinkCommand("estate-1", 1, 1, "c-1", "p-3", CommandName.PORT_ENABLE, {})
    assert decode_down(encode_downlink(command)) == command


@pytest.mark.parametrize(
    "change",
    [
        {"category": "gossip"},
        {"notice_id": "has space"},
        {"code": ""},
        {"params": {"port": 3}},
        {"params": {f"k{i}": "v" for i in range(17)}},
        {"params": {"port": "x" * 129}},
        {"title": "x" * 201},
        {"body": "x" * 4001},
        {"seq": -1},
        {"v": "2.0"},
    ],
)
def test_bad_notices_are_refused(change: dict[str, object]) -> None:
    body = {**json.loads(encode_notice(NOTICE)), **change}
    with pytest.raises(InteropError):
        decode_down(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("resident_request", "request", {"request_id": "r", "action": "steal", "port_id": "p"}),
        ("resident_request", "request", {"request_id": "r", "action": "start", "port_id": "a b"}),
        ("resident_request", "request", None),
        ("notice_receipt", "receipt", {"notice_id": "n", "status": "ignored"}),
        ("notice_receipt", "receipt", {"notice_id": "", "status": "read"}),
    ],
)
def test_bad_resident_records_are_refused(kind: str, field: str, value: object) -> None:
    body = {"v": "1.0", "hub_id": "hub-1", "seq": 1, "ts": 1, "kind": kind, "priority": "info"}
    if value is not None:
        body[field] = value
    with pytest.raises(InteropError):
        decode_record(json.dumps(body).encode())
