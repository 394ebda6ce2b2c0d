"""Opening a sealed field: the family key opens it; the community key, any flipped byte, or
the entry moved to another device, recipient, sequence, event, time or field does not."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.uplink import decode_record, encode_record
from privacy.sealed_fields import open_field, summarise
from privacy.sealing import SealError
from tests.sealed.support import context_of, sealed_fall

FAMILY = X25519PrivateKey.generate()
COMMUNITY = X25519PrivateKey.generate()


def test_the_family_key_opens_it_after_the_wire_and_the_community_key_cannot() -> None:
    record = decode_record(encode_record(sealed_fall(FAMILY, {"confidence": 0.937251})))
    entry = record.sealed[0]
    assert open_field(entry, FAMILY, context_of(record)) == {"confidence": 0.937251}
    with pytest.raises(SealError):
        open_field(entry, COMMUNITY, context_of(record))
    assert summarise(record.sealed) == [{"field": "confidence", "recipients": ["family:li"]}]


def test_two_seals_of_the_same_value_share_no_nonce_or_ciphertext() -> None:
    a, b = sealed_fall(FAMILY).sealed[0], sealed_fall(FAMILY).sealed[0]
    assert a.nonce != b.nonce and a.ciphertext != b.ciphertext and a.wrapped != b.wrapped


@settings(max_examples=200, deadline=None)
@given(part=st.sampled_from(["wrapped", "nonce", "ciphertext"]), data=st.data())
def test_any_flipped_byte_fails(part: str, data: st.DataObject) -> None:
    record = sealed_fall(FAMILY)
    entry = record.sealed[0]
    raw = bytearray(getattr(entry, part))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(SealError):
        open_field(dataclasses.replace(entry, **{part: bytes(raw)}), FAMILY, context_of(record))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "moved",
    [
        {"device": "fall-2"},
        {"seq": 8},
        {"ts": 1795289401124},
        {"event_type": "emergency_call"},
        {"hub": "hub-2"},
        {"key_id": "ffffffffffffffff"},
        {"version": "1.1"},
    ],
)
def test_the_entry_does_not_open_in_another_record(moved: dict[str, object]) -> None:
    record = sealed_fall(FAMILY)
    context = dataclasses.replace(context_of(record), **moved)  # type: ignore[arg-type]
    with pytest.raises(SealError):
        open_field(record.sealed[0], FAMILY, context)


def test_the_entry_does_not_open_for_another_recipient_or_field() -> None:
    record = sealed_fall(FAMILY)
    entry = record.sealed[0]
    for moved in ({"recipient": "family:wang"}, {"field": "value"}):
        with pytest.raises(SealError):
            open_field(dataclasses.replace(entry, **moved), FAMILY, context_of(record))  # type: ignore[arg-type]
