"""The downlink command and command-result records on their own: round trips and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.catalog import CommandName
from devices.messages import Ack, InteropError
from devices.uplink import (
    CommandOutcome,
    DownlinkCommand,
    RecordKind,
    command_result,
    decode_downlink,
    decode_record,
    encode_downlink,
    encode_record,
    is_telemetry,
    topic_down,
)
from hub.downlink import INTERRUPTED, Downlink, Verdict
from hub.outbox import Outbox
from hub.store import Store
from privacy.envelope import seal

CMD = DownlinkCommand(
    "estate-1",
    7,
    1_795_289_401_123,
    "c-1",
    "port-1",
    CommandName.PORT_CUT,
    {"reason": "overtemperature"},
)


def test_topics_and_round_trips() -> None:
    assert topic_down("hub-1") == "courtyard/v1/hub/hub-1/down"
    assert decode_downlink(encode_downlink(CMD)) == CMD
    record = command_result("hub-1", 5, 10, CommandOutcome("c-1", False, "timeout"))
    assert record.kind is RecordKind.COMMAND_RESULT and not is_telemetry(record)
    assert decode_record(encode_record(record)) == record


def _body(**changes: object) -> bytes:
    obj = json.loads(encode_downlink(CMD))
    obj.update(changes)
    return json.dumps({k: v for k, v in obj.items() if v is not None}).encode()


@pytest.mark.parametrize(
    "raw",
    [
        _body(v="2.0"),
        _body(community_id=""),
        _body(command_id="a/b"),
        _body(seq=-1),
        _body(ts=True),
        _body(command="self_destruct"),
        _body(args={"reason": "because"}),
        _body(device_id="bad id"),
        b"[]",
        b"\xff",
    ],
)
def test_bad_downlinks_are_refused(raw: bytes) -> None:
    with pytest.raises(InteropError):
        decode_downlink(raw)


@pytest.mark.parametrize(
    "result",
    [
        None,
        [],
        {"ok": True},
        {"command_id": "c", "ok": "yes"},
        {"command_id": "c", "ok": 1},
        {"command_id": "c", "ok": True, "error": 5},
    ],
)
def test_bad_command_results_are_refused(result: object) -> None:
    body = json.loads(encode_record(command_result("hub-1", 5, 10, CommandOutcome("c", True))))
    body["result"] = result
    with pytest.raises(InteropError):
        decode_record(json.dumps(body).encode())


async def test_a_hub_never_reruns_a_command_interrupted_by_a_stop(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    calls: list[str] = []

    async def execute(device_id: str, command: CommandName, args: dict[str, object]) -> Ack:
        calls.append(device_id)
        raise KeyboardInterrupt  # the process dies while the device is being asked

    store = Store(tmp_path / "hub.db", "hub-1")
    downlink = Downlink(
        hub_id="hub-1",
        community_key=key.public_key(),
        store=store,
        outbox=Outbox(store, 100),
        execute=execute,
        wake_uplink=lambda: None,
    )
    envelope = seal("estate-1", key, encode_downlink(CMD))
    with pytest.raises(KeyboardInterrupt):
        await downlink.handle(envelope)
    store.close()

    store = Store(tmp_path / "hub.db", "hub-1")  # the hub starts again
    downlink = Downlink(
        hub_id="hub-1",
        community_key=key.public_key(),
        store=store,
        outbox=Outbox(store, 100),
        execute=execute,
        wake_uplink=lambda: None,
    )
    assert downlink.status("c-1") == {
        "command_id": "c-1",
        "device_id": "port-1",
        "command": "port_cut",
        "done": 1,
        "ok": 0,
        "error": INTERRUPTED,
    }
    assert await downlink.handle(envelope) is Verdict.REPEATED
    assert calls == ["port-1"]
    # Refusals: no key enrolled, or a body signed by someone else.
    keyless = Downlink(
        hub_id="hub-1",
        community_key=None,
        store=store,
        outbox=Outbox(store, 100),
        execute=execute,
        wake_uplink=lambda: None,
    )
    other = seal("estate-1", Ed25519PrivateKey.generate(), encode_downlink(CMD))
    assert await keyless.handle(envelope) is Verdict.REFUSED
    assert await downlink.handle(other) is Verdict.REFUSED
    store.close()
