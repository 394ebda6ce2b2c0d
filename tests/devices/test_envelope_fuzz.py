"""privacy.envelope.open_signed refuses every forged, damaged or foreign envelope with
EnvelopeError, and never raises anything else, whatever bytes arrive."""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from privacy.envelope import MAX_ENVELOPE_BYTES, EnvelopeError, Opened, key_id, open_signed, seal
from tests.devices.support import FAST

HUB_A = Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32)
HUB_B = Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
OUTSIDER = Ed25519PrivateKey.from_private_bytes(bytes([3]) * 32)
REGISTRY: dict[str, Ed25519PublicKey] = {"hub-a": HUB_A.public_key(), "hub-b": HUB_B.public_key()}
BODY = b'{"v":"1.0","hub_id":"hub-a","seq":7,"ts":1,"kind":"hub_heartbeat"}'


def _open(raw: bytes) -> Opened:
    return open_signed(raw, REGISTRY.get)


def _refused(raw: bytes) -> str:
    with pytest.raises(EnvelopeError) as info:
        _open(raw)
    return str(info.value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _edit(raw: bytes, **changes: Any) -> bytes:
    env = json.loads(raw)
    env.update(changes)
    return json.dumps(env, separators=(",", ":")).encode()


def test_a_genuine_envelope_opens() -> None:
    opened = _open(seal("hub-a", HUB_A, BODY))
    assert opened == Opened(sender="hub-a", key_id=key_id(HUB_A.public_key()), body=BODY)


@FAST
@given(st.binary(min_size=1, max_size=len(BODY)), st.data())
def test_a_flipped_bit_in_the_body_is_refused(body: bytes, data: st.DataObject) -> None:
    raw = seal("hub-a", HUB_A, body)
    damaged = bytearray(body)
    i = data.draw(st.integers(0, len(body) - 1))
    damaged[i] ^= 1 << data.draw(st.integers(0, 7))
    assert "bad signature" in _refused(_edit(raw, body=_b64(bytes(damaged))))


@FAST
@given(st.integers(0, 63), st.integers(0, 7))
def test_a_flipped_bit_in_the_signature_is_refused(i: int, bit: int) -> None:
    raw = seal("hub-a", HUB_A, BODY)
    sig = bytearray(_unb64(json.loads(raw)["sig"]))
    sig[i] ^= 1 << bit
    assert "bad signature" in _refused(_edit(raw, sig=_b64(bytes(sig))))


def test_truncated_or_extended_signature_is_refused() -> None:
    raw = seal("hub-a", HUB_A, BODY)
    sig = _unb64(json.loads(raw)["sig"])
    for bad in (sig[:-1], sig + b"\x00", b"", sig[:32]):
        _refused(_edit(raw, sig=_b64(bad)))


@FAST
@given(st.data())
def test_any_flipped_byte_of_the_raw_envelope_never_yields_other_content(
    data: st.DataObject,
) -> None:
    """Either refused, or (a flip in base64 padding bits, or a discarded character) the very
    same sender and body: a damaged envelope can never deliver different content."""
    raw = bytearray(seal("hub-a", HUB_A, BODY))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= 1 << data.draw(st.integers(0, 7))
    try:
        opened = _open(bytes(raw))
    except EnvelopeError:
        return
    assert (opened.sender, opened.body) == ("hub-a", BODY)


def test_wrong_sender_is_refused() -> None:
    """hub-a's envelope relabelled as hub-b: the key id no longer matches hub-b's key."""
    raw = _edit(seal("hub-a", HUB_A, BODY), **{"from": "hub-b"})
    assert "key id" in _refused(raw)


def test_wrong_sender_with_matching_key_id_is_refused() -> None:
    """Relabelled and given hub-b's key id: the signature covers the sender, so it fails."""
    raw = _edit(seal("hub-a", HUB_A, BODY), **{"from": "hub-b", "kid": key_id(HUB_B.public_key())})
    assert "bad signature" in _refused(raw)


def test_wrong_key_id_is_refused() -> None:
    raw = _edit(seal("hub-a", HUB_A, BODY), kid="0" * 16)
    assert "key id" in _refused(raw)


def test_signed_by_a_key_not_enrolled_for_the_sender_is_refused() -> None:
    assert "key id" in _refused(seal("hub-a", OUTSIDER, BODY))
    forged = _edit(seal("hub-a", OUTSIDER, BODY), kid=key_id(HUB_A.public_key()))
    assert "bad signature" in _refused(forged)


def test_unknown_sender_is_refused() -> None:
    assert "unknown sender" in _refused(seal("hub-z", OUTSIDER, BODY))


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": "1"},
        {"alg": "EdDSA"},
        {"alg": None},
        {"from": None},
        {"from": "h" * 65},
        {"kid": 5},
        {"body": None},
        {"sig": ["x"]},
        {"body": "***"},
        {"body": "é"},
        {"sig": "a"},
    ],
)
def test_malformed_fields_are_refused(change: dict[str, Any]) -> None:
    _refused(_edit(seal("hub-a", HUB_A, BODY), **change))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b'"envelope"',
        b"{",
        b"\xff\xfe\x00",
        b"[" * 100_000,
        b"[" * 3000 + b"]" * 3000,
        b'{"v":1,"alg":"Ed25519","from":' + b"[" * 3000 + b"]" * 3000 + b"}",
        b" " * (MAX_ENVELOPE_BYTES + 1),
    ],
)
def test_junk_is_refused(raw: bytes) -> None:
    _refused(raw)


@FAST
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_envelope_error(raw: bytes) -> None:
    _refused(raw)


_fields = st.fixed_dictionaries(
    {},
    optional={
        "v": st.one_of(st.just(1), st.integers(), st.none(), st.text(max_size=3)),
        "alg": st.one_of(st.just("Ed25519"), st.text(max_size=8)),
        "from": st.one_of(
            st.sampled_from(["hub-a", "hub-b", "hub-z"]), st.text(max_size=70), st.integers()
        ),
        "kid": st.one_of(st.just(key_id(HUB_A.public_key())), st.text(max_size=20)),
        "body": st.one_of(st.binary(max_size=64).map(_b64), st.text(max_size=40)),
        "sig": st.one_of(st.binary(max_size=80).map(_b64), st.text(max_size=90)),
    },
)


@FAST
@given(_fields)
def test_envelope_shaped_objects_raise_only_envelope_error(env: dict[str, Any]) -> None:
    _refused(json.dumps(env, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def test_sender_that_is_not_unicode_is_refused_before_lookup(tmp_path: Any) -> None:
    db = sqlite3.connect(tmp_path / "hubs.db")
    db.execute("CREATE TABLE hubs (hub_id TEXT PRIMARY KEY, public_key BLOB)")

    def lookup(sender: str) -> Ed25519PublicKey | None:
        row = db.execute("SELECT public_key FROM hubs WHERE hub_id = ?", (sender,)).fetchone()
        return None if row is None else Ed25519PublicKey.from_public_bytes(row[0])

    for sender in ("\ud800", "hub a", "hub/a", "", "x" * 65):
        raw = _edit(seal("hub-a", HUB_A, BODY), **{"from": sender})
        with pytest.raises(EnvelopeError):
            open_signed(raw, lookup)


@pytest.mark.parametrize("version", [True, 1.0, "1", None])
def test_version_must_be_the_integer_1(version: object) -> None:
    raw = _edit(seal("hub-a", HUB_A, BODY), v=version)
    with pytest.raises(EnvelopeError, match="version"):
        open_signed(raw, lambda s: HUB_A.public_key())
