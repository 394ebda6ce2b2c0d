"""The one pairing wire definition in ``devices.pairing``, checked against itself from both
ends: what a hub seals a device opens, codes and fingerprints keep their rules, and the QR
payload round-trips."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import spec_doc
from devices.catalog import DeviceKind
from devices.pairing import (
    DEVICE_SERVICE,
    DEVICE_TXT,
    FRAMES,
    HUB_SERVICE,
    PAIRING_ERROR_MEANINGS,
    QR_PREFIX,
    TRIVIAL_CODES,
    FrameType,
    PairingCode,
    ProtocolError,
    Role,
    SessionKeys,
    error_frame,
    fingerprint,
    frame,
    is_fingerprint,
    is_valid_code,
    new_setup_code,
    open_box,
    parse_frame,
    parse_qr,
    qr_payload,
    seal_box,
    transcript_hash,
)


def test_frames_alternate_and_every_error_code_has_a_meaning() -> None:
    assert [f.type for f in FRAMES] == [t for t in FrameType if t is not FrameType.ERROR]
    senders = [f.sender for f in FRAMES]
    assert senders == [Role.HUB, Role.DEVICE] * 3
    assert set(PAIRING_ERROR_MEANINGS) == set(PairingCode)
    assert QR_PREFIX == "CY:1/"


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=64), st.binary(max_size=64))
def test_key_schedule_and_boxes_agree(spake_key: bytes, p_a: bytes, p_b: bytes) -> None:
    transcript = transcript_hash("hub-1", "smoke-1", p_a, p_b)
    assert transcript != transcript_hash("hub-1", "smoke-2", p_a, p_b)
    hub = SessionKeys.derive(spake_key, transcript)
    device = SessionKeys.derive(spake_key, transcript)
    assert hub.hub_confirmation() == device.hub_confirmation()
    assert hub.device_confirmation() == device.device_confirmation()
    assert len({hub.confirm_hub, hub.confirm_device, hub.box_hub, hub.box_device}) == 4
    box = seal_box(device.box_device, 0, "device_key", transcript, {"a": 1})
    assert open_box(hub.box_device, 0, "device_key", transcript, box) == {"a": 1}
    with pytest.raises(ProtocolError):
        open_box(hub.box_device, 1, "device_key", transcript, box)
    with pytest.raises(ProtocolError):
        open_box(hub.box_device, 0, "done", transcript, box)


def test_frames_parse_and_errors_are_raised() -> None:
    text = frame("confirm", cA="x")
    assert parse_frame(text, "confirm") == {"v": 1, "type": "confirm", "cA": "x"}
    with pytest.raises(ProtocolError):
        parse_frame(text, "done")
    with pytest.raises(ProtocolError):
        parse_frame("x" * 5000, "confirm")
    with pytest.raises(Exception, match="wrong_code"):
        parse_frame(error_frame(PairingCode.WRONG_CODE, "no", 3), "confirm")


def test_fingerprints_and_codes() -> None:
    for _ in range(50):
        raw = os.urandom(32)
        assert is_fingerprint(fingerprint(raw))
        code = new_setup_code()
        assert is_valid_code(code)
        payload = qr_payload("smoke-1", DeviceKind.SMOKE_ALARM, fingerprint(raw), code)
        assert parse_qr(payload).code == code
    for code in TRIVIAL_CODES:
        assert not is_valid_code(code)


def test_the_interop_spec_documents_pairing_from_these_constants() -> None:
    text = spec_doc.render()
    section = text[text.index("## Discovery and pairing") : text.index("## Error codes")]
    for needle in (
        DEVICE_SERVICE,
        HUB_SERVICE,
        QR_PREFIX,
        "at most 10 minutes",
        "after 20 wrong attempts",
        "single use",
        *(f"`{t.key}`" for t in DEVICE_TXT),
        *(f"`{f.type}`" for f in FRAMES),
        *(f"`{c}`" for c in PairingCode),
    ):
        assert needle in section, needle
