"""Pairing end to end over real parts: mDNS on loopback, the device's pairing endpoint, SPAKE2,
the hub's registry in SQLite, and then the native link with the credential pairing issued."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from spake2 import SPAKE2_A  # type: ignore[import-untyped]

from devices.catalog import CommandName, DeviceKind, EventType
from devices.pairing import (
    TRIVIAL_CODES,
    PeerError,
    ProtocolError,
    b64,
    frame,
    is_valid_code,
    new_setup_code,
    parse_qr,
    qr_payload,
    spake_ids,
)
from firmware_stubs import SmokeAlarm, make_device
from firmware_stubs.advertise import DeviceAdvertiser
from firmware_stubs.pairing import PairingWindow
from hub import Hub
from hub.pairing import PairingError, PairRequest, Refusal
from hub.pairing_session import Issued, WrongCodeError, run_hub_session
from tests.pairing.support import (
    MakeHub,
    MakeStub,
    RecordingChannel,
    Stub,
    discovered,
    eventually,
    raw_session,
    unique,
    wrong_code,
)


def tables(hub: Hub) -> dict[str, list[tuple[Any, ...]]]:
    """What the hub has on disk about devices, read over a separate connection."""
    conn = sqlite3.connect(f"file:{Path(hub.config.data_dir) / 'hub.db'}?mode=ro", uri=True)
    try:
        return {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("devices", "states", "device_keys")
        }
    finally:
        conn.close()


def request(stub: Stub, code: str | None = None, **extra: Any) -> PairRequest:
    return PairRequest(stub.device_id, code or stub.code, "Kitchen alarm", "kitchen", **extra)


async def pair_expecting(hub: Hub, req: PairRequest, refusal: Refusal) -> PairingError:
    with pytest.raises(PairingError) as caught:
        await hub.pair_device(req)
    assert caught.value.code is refusal, caught.value.to_json()
    return caught.value


# --- the label ------------------------------------------------------------------------------


def test_setup_codes_are_random_and_never_trivial() -> None:
    codes = {new_setup_code() for _ in range(300)}
    assert len(codes) > 290
    assert all(is_valid_code(c) and len(c) == 8 and c.isdigit() for c in codes)
    assert not codes & TRIVIAL_CODES
    assert {"00000000", "99999999", "12345678", "87654321"} <= TRIVIAL_CODES
    assert not any(is_valid_code(c) for c in TRIVIAL_CODES | {"1234567", "abcdefgh", "123456789"})


def test_qr_payload_round_trips_between_device_and_hub() -> None:
    text = qr_payload("smoke-1", DeviceKind.SMOKE_ALARM, "0123456789abcdef", "48203917")
    assert text == "CY:1/smoke-1/smoke_alarm/0123456789abcdef/48203917"
    parsed = parse_qr(text)
    assert (parsed.device_id, parsed.kind, parsed.fingerprint, parsed.code) == (
        "smoke-1",
        DeviceKind.SMOKE_ALARM,
        "0123456789abcdef",
        "48203917",
    )
    for bad in [
        "",
        "CY:2/x",
        "CY:1/a/smoke_alarm/0123456789abcdef",
        text.replace("482", "123")[:-1],
        text.replace("smoke_alarm", "toaster"),
        text.replace("48203917", "12345678"),
    ]:
        with pytest.raises(ValueError):
            parse_qr(bad)


# --- pairing --------------------------------------------------------------------------------


async def test_right_code_pairs_and_the_device_links_with_its_new_credential(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    stub = await make_stub()
    await discovered(hub, stub)
    record = await hub.pair_device(request(stub))
    assert (record.device_id, record.kind, record.name, record.room) == (
        stub.device_id,
        DeviceKind.SMOKE_ALARM,
        "Kitchen alarm",
        "kitchen",
    )
    assert hub.device_fingerprint(stub.device_id) == stub.fingerprint
    creds = await stub.server.wait_paired(5)
    assert creds.hub_id == hub.hub_id
    assert creds.hub_url == f"ws://127.0.0.1:{hub.http_port}/api/device/ws"
    assert creds.hub_public_key == hub.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert not stub.server.advertising  # single use: the window closed
    await eventually(lambda: not hub.discovered(), "the device to stop advertising")

    device = make_device(DeviceKind.SMOKE_ALARM, stub.device_id, creds.hub_url, creds.token)
    await device.start()
    try:
        await device.wait_connected(10)
        ack = await hub.send_command(stub.device_id, CommandName.SELF_TEST)
        assert ack.ok, ack
        assert isinstance(device, SmokeAlarm)
        device.start_fire(rise_per_s=50.0)
        await eventually(
            lambda: any(
                e.event is EventType.SMOKE_ALARM and e.seq in device.acked_seqs
                for e in device.sent_events
            ),
            "the hub to acknowledge the smoke alarm",
        )
        events = [e["event"] for e in hub.recent_events(stub.device_id, 20)]
        assert "smoke_alarm" in events
    finally:
        await device.stop()


async def test_wrong_code_is_refused_and_changes_nothing(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    stub = await make_stub()
    await discovered(hub, stub)
    before = tables(hub)
    refused = await pair_expecting(hub, request(stub, wrong_code(stub.code)), Refusal.WRONG_CODE)
    assert refused.attempts_left == 19
    assert "wrong setup code" in refused.message
    assert tables(hub) == before
    assert stub.server.window.failures == 1 and stub.server.advertising
    with pytest.raises(PairingError) as trivial:
        await hub.pair_device(request(stub, "12345678"))
    assert trivial.value.code is Refusal.INVALID_CODE
    assert stub.server.outcomes == ["wrong_code"]  # a trivial code never reached the device
    await hub.pair_device(request(stub))  # the right code still works afterwards
    assert [d.device_id for d in hub.devices()] == [stub.device_id]


async def test_twenty_wrong_attempts_close_the_hub_window(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    stub = await make_stub(advertise=False)
    # Advertised independently of the device's own window, so the hub's rule shows alone.
    advertiser = DeviceAdvertiser(stub.identity, stub.fingerprint, "127.0.0.1", stub.server.port)
    await advertiser.start()
    try:
        await discovered(hub, stub)
        await twenty_wrong_then_closed(hub, stub)
    finally:
        await advertiser.stop()


async def twenty_wrong_then_closed(hub: Hub, stub: Stub) -> None:
    for n in range(20):
        refused = await pair_expecting(
            hub, request(stub, wrong_code(stub.code)), Refusal.WRONG_CODE
        )
        assert refused.attempts_left == 19 - n
    sessions = len(stub.server.outcomes)
    refused = await pair_expecting(hub, request(stub), Refusal.WINDOW_CLOSED)
    assert "20 wrong codes" in refused.message
    assert len(stub.server.outcomes) == sessions  # the hub refused without asking the device
    assert hub.devices() == []


async def test_twenty_wrong_attempts_close_the_device_window(make_stub: MakeStub) -> None:
    stub = await make_stub(advertise=False)
    hub_key = Ed25519PrivateKey.generate()
    for _ in range(20):
        with pytest.raises(WrongCodeError):
            await session_with(stub, hub_key, wrong_code(stub.code))
    assert stub.server.window.closed_reason() is not None
    with pytest.raises(PeerError) as closed:
        await session_with(stub, hub_key, stub.code)
    assert closed.value.code == "window_closed"
    assert closed.value.attempts_left == 0


async def test_abandoned_sessions_count_as_wrong_attempts(make_stub: MakeStub) -> None:
    """Walking away after the device's answer must not give free guesses."""
    stub = await make_stub(advertise=False)
    id_a, id_b = spake_ids("hub-1", stub.device_id)
    p_a = SPAKE2_A(b"13572468", idA=id_a, idB=id_b).start()
    pake_a = frame("pake_a", hub_id="hub-1", device_id=stub.device_id, pA=b64(p_a))
    answers = await raw_session(stub.server.url, [pake_a], linger=False)
    assert json.loads(answers[0])["type"] == "pake_b"
    await eventually(lambda: stub.server.outcomes, "the device to end the session")
    assert stub.server.window.failures == 1


async def test_hub_window_expires(make_hub: MakeHub, make_stub: MakeStub) -> None:
    hub = await make_hub(pairing_window_s=1.0)
    stub = await make_stub()
    await discovered(hub, stub)
    await asyncio.sleep(1.2)
    refused = await pair_expecting(hub, request(stub), Refusal.WINDOW_CLOSED)
    assert "expired" in refused.message
    assert stub.server.outcomes == [] and hub.devices() == []


async def test_device_window_expires_and_stops_advertising(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    stub = await make_stub(window=PairingWindow(duration_s=1.5))
    await discovered(hub, stub)
    await eventually(lambda: not stub.server.advertising, "the device window to expire")
    with pytest.raises(PeerError) as closed:
        await session_with(stub, Ed25519PrivateKey.generate(), stub.code)
    assert closed.value.code == "window_closed" and "expired" in closed.value.message
    await eventually(lambda: not hub.discovered(), "the hub to forget the device")
    await pair_expecting(hub, request(stub), Refusal.NOT_FOUND)


async def test_replayed_hub_frames_are_refused_by_the_device(make_stub: MakeStub) -> None:
    stub = await make_stub(advertise=False)
    hub_key = Ed25519PrivateKey.generate()
    recorded = await record_session(stub, hub_key, stub.code, admit_ok=False)
    assert [json.loads(f)["type"] for f in recorded.sent] == ["pake_a", "confirm", "error"]
    # The same device, reset into pairing mode again (same key and code), gets the replay.
    again = await make_stub(stub.device_id, secrets_=stub.secrets, advertise=False)
    answers = await raw_session(again.server.url, recorded.sent[:2])
    assert [json.loads(a)["type"] for a in answers] == ["pake_b", "error"]
    assert json.loads(answers[1])["code"] == "wrong_code"
    assert again.server.window.failures == 1 and not again.server.window.used


async def test_replayed_device_frames_are_refused_by_the_hub(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    """A recorded device answer, replayed by a fake device, does not pair with a new session."""
    stub = await make_stub(advertise=False)
    recorded = await record_session(stub, Ed25519PrivateKey.generate(), stub.code)
    replay = FakeDevice(recorded.received)
    with pytest.raises(WrongCodeError):
        await run_hub_session(
            replay,
            hub_id="hub-x",
            hub_key=Ed25519PrivateKey.generate(),
            device_id=stub.device_id,
            code=stub.code,
            expected_fingerprint=stub.fingerprint,
            admit=refuse_admit,
        )
    assert json.loads(replay.sent[-1])["code"] == "wrong_code"


async def test_a_device_claiming_another_id_is_refused(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    real = await make_stub()
    await discovered(hub, real)
    # A neighbour's device advertises the same id with its own key.
    impostor = await make_stub(real.device_id, secrets_=None)
    await discovered(hub, impostor)
    refused = await pair_expecting(hub, request(real), Refusal.AMBIGUOUS)
    assert "QR" in refused.message
    # The QR code names the real key, so the hub picks the right one.
    await hub.pair_device(
        PairRequest.from_json(
            {"qr": real.server.qr_payload, "name": "Kitchen alarm", "room": "kitchen"}
        )
    )
    assert hub.device_fingerprint(real.device_id) == real.fingerprint
    assert impostor.server.outcomes == []
    # Later the impostor cannot take the id over, even knowing its own code.
    refused = await pair_expecting(
        hub,
        request(impostor, impostor.code, fingerprint=impostor.fingerprint),
        Refusal.ALREADY_PAIRED,
    )
    assert hub.device_fingerprint(real.device_id) == real.fingerprint


async def test_a_key_that_does_not_match_the_fingerprint_is_refused(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    """A device advertising a fingerprint that is not its key's is refused, code or not."""
    hub = await make_hub()
    impostor = await make_stub(advertise=False)
    copied = "0123456789abcdef"  # e.g. the fingerprint a neighbour copied from a real device
    advertiser = DeviceAdvertiser(impostor.identity, copied, "127.0.0.1", impostor.server.port)
    await advertiser.start()
    try:
        await eventually(
            lambda: any(d.fingerprint == copied for d in hub.discovered()), "the advertisement"
        )
        before = tables(hub)
        refused = await pair_expecting(hub, request(impostor), Refusal.FINGERPRINT_MISMATCH)
        assert "fingerprint" in refused.message
        assert tables(hub) == before and hub.devices() == []
        assert impostor.server.outcomes == ["fingerprint_mismatch"]
        assert not impostor.server.window.used
    finally:
        await advertiser.stop()


async def test_pairing_is_single_use(make_hub: MakeHub, make_stub: MakeStub) -> None:
    hub = await make_hub()
    stub = await make_stub()
    await discovered(hub, stub)
    await hub.pair_device(request(stub))
    with pytest.raises(PeerError) as closed:
        await session_with(stub, Ed25519PrivateKey.generate(), stub.code)
    assert closed.value.code == "window_closed" and "already paired" in closed.value.message
    found = next((d for d in hub.discovered() if d.device_id == stub.device_id), None)
    if found is not None:  # the goodbye may not have arrived yet: the hub still refuses
        assert not hub.pairing_window(found).open


async def test_removing_a_device_revokes_its_credential(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    stub = await make_stub()
    await discovered(hub, stub)
    await hub.pair_device(request(stub))
    creds = await stub.server.wait_paired(5)
    device = make_device(DeviceKind.SMOKE_ALARM, stub.device_id, creds.hub_url, creds.token)
    await device.start()
    try:
        await device.wait_connected(10)
        pending = await hub.remove_device(stub.device_id, grace_s=30)
        assert pending is not None and device.connected  # still working during the grace
        assert hub.undo_remove(stub.device_id)
        assert hub.device(stub.device_id) is not None
        await hub.remove_device(stub.device_id)
        await eventually(lambda: not device.connected, "the link to close")
        assert hub.device(stub.device_id) is None and hub.device_fingerprint(stub.device_id) is None
        assert tables(hub)["devices"] == [] and tables(hub)["device_keys"] == []
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(
                    creds.hub_url, headers={"Authorization": f"Bearer {creds.token}"}
                )
            assert refused.value.status == 401
    finally:
        await device.stop()


# --- helpers --------------------------------------------------------------------------------


async def refuse_admit(public_key: bytes) -> Issued:
    raise ProtocolError("already_paired", "refused by the test")  # type: ignore[arg-type]


async def session_with(
    stub: Stub, hub_key: Ed25519PrivateKey, code: str, *, fingerprint: str | None = None
) -> None:
    await record_session(stub, hub_key, code, fingerprint=fingerprint)


async def record_session(
    stub: Stub,
    hub_key: Ed25519PrivateKey,
    code: str,
    *,
    fingerprint: str | None = None,
    admit_ok: bool = True,
) -> RecordingChannel:
    """Run the hub's side of a session against the stub; returns what went over the wire."""

    async def admit(public_key: bytes) -> Issued:
        if not admit_ok:
            return await refuse_admit(public_key)
        return Issued(token="t" * 43, hub_url="ws://127.0.0.1:9/api/device/ws")

    async with aiohttp.ClientSession() as session, session.ws_connect(stub.server.url) as ws:
        channel = RecordingChannel(ws)
        try:
            await run_hub_session(
                channel,
                hub_id=unique("hub"),
                hub_key=hub_key,
                device_id=stub.device_id,
                code=code,
                expected_fingerprint=fingerprint or stub.fingerprint,
                admit=admit,
            )
        except ProtocolError:
            if admit_ok:
                raise
    return channel


class FakeDevice:
    """Plays back recorded device frames, whatever the hub sends."""

    def __init__(self, frames: list[str]) -> None:
        self._frames = list(frames)
        self.sent: list[str] = []

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def receive(self) -> str:
        return self._frames.pop(0)
