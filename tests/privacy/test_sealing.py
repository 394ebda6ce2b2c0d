"""Sealed fields open for their recipients only, and refuse every altered byte, swapped
recipient, wrong key and wrong associated data with SealError (and never anything else)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from privacy.keys import key_id
from privacy.sealing import (
    MAX_RECIPIENTS,
    AssociatedData,
    SealedField,
    SealError,
    open_sealed,
    parse_sealed,
    seal_for,
)
from tests.privacy.support import FAST, SEAL_KEYS, THOROUGH, flip

AAD = AssociatedData(
    hub="hub-a",
    device="fall-1",
    event_type="fall_detected",
    seq=41,
    ts=1795289401123,
    key_id="0123456789abcdef",
)
PLAINTEXT = b'{"confidence":0.93,"room":"bedroom"}'
RECIPIENTS = {rid: key.public_key() for rid, key in SEAL_KEYS.items()}
SEALED = seal_for(RECIPIENTS, PLAINTEXT, AAD)
RAW = SEALED.to_json()


def _refused(raw: bytes | SealedField, rid: str, aad: AssociatedData | bytes = AAD) -> str:
    with pytest.raises(SealError) as info:
        open_sealed(raw, rid, SEAL_KEYS[rid], aad)
    return str(info.value)


def test_every_recipient_opens_it() -> None:
    for rid, key in SEAL_KEYS.items():
        assert open_sealed(RAW, rid, key, AAD) == PLAINTEXT
        assert open_sealed(SEALED, rid, key, AAD) == PLAINTEXT


def test_a_holder_sees_who_it_is_for_but_not_what() -> None:
    assert SEALED.describe() == "sealed for " + ", ".join(sorted(SEAL_KEYS))
    assert PLAINTEXT not in RAW and b"bedroom" not in RAW
    assert parse_sealed(RAW).recipients == tuple(sorted(SEAL_KEYS))


def test_every_seal_uses_fresh_keys_and_nonces() -> None:
    again = seal_for(RECIPIENTS, PLAINTEXT, AAD)
    assert again.nonce != SEALED.nonce and again.ciphertext != SEALED.ciphertext
    for a, b in zip(again.to, SEALED.to, strict=True):
        assert a.key[:32] != b.key[:32]  # a fresh HPKE ephemeral key per recipient-seal


def test_the_wire_form_is_canonical_base64url_json() -> None:
    obj = json.loads(RAW)
    assert set(obj) == {"v", "suite", "to", "nonce", "ct"}
    assert obj["suite"] == "HPKE-X25519-SHA256-ChaCha20Poly1305"
    assert all(set(w) == {"id", "kid", "key"} for w in obj["to"])
    assert parse_sealed(RAW) == SEALED
    assert parse_sealed(obj) == SEALED


@THOROUGH
@given(st.data())
def test_any_flipped_byte_is_refused_for_every_recipient(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(RAW) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    rid = data.draw(st.sampled_from(sorted(SEAL_KEYS)), label="recipient")
    _refused(flip(RAW, position, mask), rid)


def test_each_single_byte_of_each_wrapped_key_and_ciphertext_matters() -> None:
    rid = sorted(SEAL_KEYS)[0]
    for i in range(len(SEALED.ciphertext)):
        bad = replace(SEALED, ciphertext=flip(SEALED.ciphertext, i, 0x01))
        _refused(bad, rid)
    for w_index, wrapped in enumerate(SEALED.to):  # even another recipient's wrap
        for i in range(len(wrapped.key)):
            to = list(SEALED.to)
            to[w_index] = replace(wrapped, key=flip(wrapped.key, i, 0x80))
            _refused(replace(SEALED, to=tuple(to)), rid)
    for i in range(len(SEALED.nonce)):
        _refused(replace(SEALED, nonce=flip(SEALED.nonce, i, 0x01)), rid)


def test_swapping_recipient_ids_is_refused() -> None:
    a, b = SEALED.to[0], SEALED.to[1]
    swapped = (replace(a, recipient=b.recipient), replace(b, recipient=a.recipient))
    tampered = replace(SEALED, to=tuple(sorted(swapped, key=lambda w: w.recipient)) + SEALED.to[2:])
    for rid in (a.recipient, b.recipient):
        _refused(tampered, rid)


def test_dropping_or_adding_a_recipient_is_refused() -> None:
    rid = SEALED.to[0].recipient
    _refused(replace(SEALED, to=SEALED.to[:-1]), rid)
    extra = seal_for({"zz-intruder": X25519PrivateKey.generate().public_key()}, b"x", AAD).to
    _refused(replace(SEALED, to=SEALED.to + extra), rid)


def test_a_wrap_moved_from_another_field_is_refused() -> None:
    other = seal_for(RECIPIENTS, b"other secret", AAD)
    rid = SEALED.to[0].recipient
    _refused(replace(SEALED, to=(other.to[0], *SEALED.to[1:])), rid)
    _refused(replace(other, ciphertext=SEALED.ciphertext, nonce=SEALED.nonce), rid)


@FAST
@given(
    st.sampled_from(["hub", "device", "event_type", "key_id", "version"]),
    st.text(min_size=0, max_size=20),
    st.sampled_from(sorted(SEAL_KEYS)),
)
def test_any_changed_text_field_of_the_associated_data_is_refused(
    name: str, value: str, rid: str
) -> None:
    changes: dict[str, Any] = {name: value}
    changed = replace(AAD, **changes)
    if changed == AAD:
        return
    _refused(RAW, rid, changed)


@FAST
@given(st.sampled_from(["seq", "ts"]), st.integers(0, 2**53), st.sampled_from(sorted(SEAL_KEYS)))
def test_any_changed_number_of_the_associated_data_is_refused(
    name: str, value: int, rid: str
) -> None:
    changes: dict[str, Any] = {name: value}
    changed = replace(AAD, **changes)
    if changed != AAD:
        _refused(RAW, rid, changed)


def test_raw_associated_data_never_opens_a_structured_seal_or_vice_versa() -> None:
    rid = sorted(SEAL_KEYS)[0]
    _refused(RAW, rid, AAD.encode())
    raw_sealed = seal_for(RECIPIENTS, PLAINTEXT, b"ctx")
    assert open_sealed(raw_sealed, rid, SEAL_KEYS[rid], b"ctx") == PLAINTEXT
    _refused(raw_sealed, rid, b"ctx ")


def test_a_non_recipient_and_a_wrong_key_are_refused_by_name() -> None:
    outsider = X25519PrivateKey.generate()
    with pytest.raises(SealError, match="not a recipient"):
        open_sealed(RAW, "family:zhang", outsider, AAD)
    rid_a, rid_b = sorted(SEAL_KEYS)[:2]
    with pytest.raises(SealError, match="not the key"):
        open_sealed(RAW, rid_a, SEAL_KEYS[rid_b], AAD)
    # A key whose id is forged into the header still cannot unwrap.
    forged = replace(
        SEALED,
        to=tuple(
            replace(w, key_id=key_id(outsider.public_key())) if w.recipient == rid_a else w
            for w in SEALED.to
        ),
    )
    with pytest.raises(SealError):
        open_sealed(forged, rid_a, outsider, AAD)


@FAST
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_only_ever_raise_seal_error(raw: bytes) -> None:
    rid = sorted(SEAL_KEYS)[0]
    _refused(raw, rid)


@pytest.mark.parametrize(
    "doc",
    [
        "[]",
        '{"v":1}',
        '{"ct":"","nonce":"","suite":"HPKE-X25519-SHA256-ChaCha20Poly1305","to":[],"v":1}',
        '{"ct":"AA","nonce":"AA","suite":"other","to":[],"v":1}',
        '{"ct":"AA","nonce":"AA","suite":"HPKE-X25519-SHA256-ChaCha20Poly1305","to":[],"v":true}',
        '{"v":1,"v":1}',
        '{"ct":NaN}',
    ],
)
def test_malformed_documents_are_refused(doc: str) -> None:
    with pytest.raises(SealError):
        parse_sealed(doc.encode())


def test_whitespace_or_key_order_variants_are_not_accepted() -> None:
    obj = json.loads(RAW)
    for variant in (json.dumps(obj), json.dumps(obj, sort_keys=True, indent=1), RAW + b" "):
        with pytest.raises(SealError, match="canonical"):
            parse_sealed(variant.encode() if isinstance(variant, str) else variant)


def test_bad_sealing_requests_are_refused() -> None:
    key = X25519PrivateKey.generate().public_key()
    with pytest.raises(SealError, match="at least one"):
        seal_for({}, b"x", AAD)
    with pytest.raises(SealError, match="not valid"):
        seal_for({"bad id": key}, b"x", AAD)
    with pytest.raises(SealError, match="at most"):
        seal_for({f"r{i}": key for i in range(MAX_RECIPIENTS + 1)}, b"x", AAD)
    with pytest.raises(SealError, match="non-negative"):
        seal_for({"r": key}, b"x", replace(AAD, seq=-1))
    with pytest.raises(SealError, match="exceed"):
        seal_for({"r": key}, b"x" * 70_000, AAD)
