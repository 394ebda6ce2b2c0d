"""The pass a gate reads: a genuine pass verifies; any change to it, forged or copied into
another community, is refused; the gate's own checks (window, entries, revocation, plate)
refuse with the right reason, offline."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.catalog import DeviceKind, EventType
from devices.visitor_pass import (
    PassClaims,
    PassError,
    PassRefusal,
    canonical,
    plate_tag,
    read_pass,
    sign_pass,
)
from firmware_stubs import make_device
from firmware_stubs.visitor_gate import VisitorGate

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
T0 = 1_795_289_401_000
CLAIMS = PassClaims("vp0123456789abcdef", "estate-1", T0, T0 + 3_600_000, 2)


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def gate(clock: Clock, community: str | None = "estate-1") -> VisitorGate:
    device = make_device(
        DeviceKind.VISITOR_GATE,
        "gate-north-1",
        "ws://127.0.0.1:9/api/device/ws",
        "token",
        pass_key=KEY.public_key(),
        community_id=community,
        clock=clock,
    )
    assert isinstance(device, VisitorGate)
    return device


def test_a_genuine_pass_reads_back_as_signed() -> None:
    qr = sign_pass(CLAIMS, KEY)
    assert qr.startswith("CYP1.") and len(qr) < 300
    assert read_pass(qr, KEY.public_key()) == CLAIMS
    # Only what a gate needs: no name, and a plate only as a per-pass tag.
    payload = json.loads(base64.urlsafe_b64decode(qr.split(".")[1] + "=="))
    assert set(payload) == {"v", "id", "c", "from", "to", "n"}


def test_another_key_is_a_bad_signature() -> None:
    forged = sign_pass(CLAIMS, OTHER)
    try:
        read_pass(forged, KEY.public_key())
    except PassError as exc:
        assert exc.reason is PassRefusal.BAD_SIGNATURE
    else:
        raise AssertionError("a pass signed with another key was believed")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_flipped_byte_is_refused(data: st.DataObject) -> None:
    qr = sign_pass(CLAIMS, KEY)
    raw = bytearray(qr.encode())
    i = data.draw(st.integers(0, len(raw) - 1))
    bit = data.draw(st.integers(0, 7))
    raw[i] ^= 1 << bit
    try:
        tampered = raw.decode()
    except UnicodeDecodeError:
        return  # not even text: a reader never gets this far
    try:
        read_pass(tampered, KEY.public_key())
    except PassError as exc:
        assert exc.reason in (PassRefusal.MALFORMED, PassRefusal.BAD_SIGNATURE)
    else:
        raise AssertionError(f"byte {i} bit {bit} flipped and the pass still verified")


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(["id", "c", "from", "to", "n", "p"]),
    value=st.one_of(st.integers(-(2**60), 2**60), st.text(max_size=20), st.none()),
)
def test_a_changed_field_with_the_old_signature_is_refused(field: str, value: object) -> None:
    qr = sign_pass(CLAIMS, KEY)
    sig = qr.split(".")[2]
    claims = CLAIMS.to_dict()
    if claims.get(field) == value:
        return
    claims[field] = value
    body = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    changed = "CYP1." + base64.urlsafe_b64encode(body).rstrip(b"=").decode() + "." + sig
    try:
        read_pass(changed, KEY.public_key())
    except PassError as exc:
        assert exc.reason in (PassRefusal.MALFORMED, PassRefusal.BAD_SIGNATURE)
    else:
        raise AssertionError(f"{field}={value!r} passed with the old signature")


def test_non_canonical_claims_are_refused_even_when_signed() -> None:
    loose = json.dumps(CLAIMS.to_dict(), indent=1).encode()
    assert loose != canonical(CLAIMS)
    text = ".".join(
        (
            "CYP1",
            base64.urlsafe_b64encode(loose).rstrip(b"=").decode(),
            base64.urlsafe_b64encode(KEY.sign(loose)).rstrip(b"=").decode(),
        )
    )
    try:
        read_pass(text, KEY.public_key())
    except PassError as exc:
        assert exc.reason is PassRefusal.MALFORMED
    else:
        raise AssertionError("a second spelling of the claims was accepted")


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50), st.integers(), st.none()))
def test_junk_is_malformed_never_a_crash(junk: object) -> None:
    try:
        read_pass(junk, KEY.public_key())
    except PassError as exc:
        assert exc.reason in (PassRefusal.MALFORMED, PassRefusal.BAD_SIGNATURE)
    else:
        raise AssertionError("junk verified")


def test_the_gate_checks_window_entries_revocation_and_community_offline() -> None:
    clock = Clock(T0 - 1)
    reader = gate(clock)
    qr = sign_pass(CLAIMS, KEY)
    assert reader.present(qr).reason == "not_yet_valid"
    clock.now = T0
    first = reader.present(qr)
    assert (first.accepted, first.reason, first.pass_id, first.entry) == (
        True,
        "accepted",
        CLAIMS.pass_id,
        1,
    )
    assert reader.present(qr).entry == 2
    assert reader.present(qr).reason == "used_up"
    clock.now = T0 + 3_600_000  # the end is exclusive
    assert reader.present(qr).reason == "expired"

    clock.now = T0 + 10
    other = PassClaims("vp00000000000000aa", "estate-1", T0, T0 + 60_000, 5)
    assert reader.revoke(other.pass_id) is None
    assert reader.present(sign_pass(other, KEY)).reason == "revoked"
    elsewhere = PassClaims("vp00000000000000bb", "estate-2", T0, T0 + 60_000, 5)
    assert reader.present(sign_pass(elsewhere, KEY)).reason == "wrong_community"
    assert reader.present(sign_pass(CLAIMS, OTHER)).pass_id == ""
    # Every pass shown is an entry event with the pass id and the reason, never a name.
    events = [e for e in reader.sent_events if e.event is EventType.VISITOR_ENTRY]
    assert [e.data["reason"] for e in events] == [
        "not_yet_valid",
        "accepted",
        "accepted",
        "used_up",
        "expired",
        "revoked",
        "wrong_community",
        "bad_signature",
    ]
    assert {frozenset(e.data) for e in events} == {
        frozenset({"pass_id", "accepted", "reason", "entry"}),
        frozenset({"accepted", "reason", "entry"}),  # the forged one: no pass id to believe
    }


def test_a_plate_is_matched_by_its_per_pass_tag() -> None:
    pass_id = "vp00000000000000cc"
    tag = plate_tag(pass_id, "沪A·D1234")
    assert tag == plate_tag(pass_id, "沪ad 1234")
    assert tag != plate_tag("vp00000000000000dd", "沪AD1234")
    claims = PassClaims(pass_id, "estate-1", T0, T0 + 60_000, 3, tag)
    reader = gate(Clock(T0 + 1))
    qr = sign_pass(claims, KEY)
    assert reader.present(qr, plate="沪B99999").reason == "wrong_plate"
    assert reader.present(qr, plate="沪AD1234").accepted
    assert reader.present(qr).accepted  # no camera reading: the QR alone decides


def test_a_gate_with_no_key_refuses_everything() -> None:
    device = make_device(DeviceKind.VISITOR_GATE, "gate-x", "ws://127.0.0.1:9/x", "t")
    assert isinstance(device, VisitorGate)
    assert device.present(sign_pass(CLAIMS, KEY)).reason == "bad_signature"
