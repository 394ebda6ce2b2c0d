"""The hub's and the device's copies of the pairing wire definitions agree byte for byte
(neither package may import the other, so each keeps its own)."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

import firmware_stubs.pairing_protocol as device_wire
import firmware_stubs.setup_code as label
import hub.pairing_wire as hub_wire


def test_constants_and_error_codes_agree() -> None:
    for name in (
        "PROTOCOL_VERSION",
        "MAX_FRAME_BYTES",
        "LABEL",
        "DEVICE_SIGNATURE_LABEL",
        "HUB_SIGNATURE_LABEL",
    ):
        assert getattr(hub_wire, name) == getattr(device_wire, name), name
    assert {c.value for c in hub_wire.PairingCode} == {c.value for c in device_wire.PairingCode}
    assert hub_wire.TRIVIAL_CODES == label.TRIVIAL_CODES
    assert hub_wire.QR_PREFIX == label.QR_PREFIX


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=64), st.binary(max_size=64))
def test_key_schedule_and_boxes_agree(spake_key: bytes, p_a: bytes, p_b: bytes) -> None:
    t_hub = hub_wire.transcript_hash("hub-1", "smoke-1", p_a, p_b)
    assert t_hub == device_wire.transcript_hash("hub-1", "smoke-1", p_a, p_b)
    ours = hub_wire.SessionKeys.derive(spake_key, t_hub)
    theirs = device_wire.SessionKeys.derive(spake_key, t_hub)
    assert ours.hub_confirmation() == theirs.hub_confirmation()
    assert ours.device_confirmation() == theirs.device_confirmation()
    assert len({ours.confirm_hub, ours.confirm_device, ours.box_hub, ours.box_device}) == 4
    box = device_wire.seal_box(theirs.box_device, 0, "device_key", t_hub, {"a": 1})
    assert hub_wire.open_box(ours.box_device, 0, "device_key", t_hub, box) == {"a": 1}


def test_fingerprints_and_codes_agree() -> None:
    for _ in range(50):
        raw = os.urandom(32)
        assert hub_wire.fingerprint(raw) == label.fingerprint(raw)
        code = label.new_setup_code()
        assert hub_wire.is_valid_code(code)
    for code in label.TRIVIAL_CODES:
        assert not hub_wire.is_valid_code(code)
