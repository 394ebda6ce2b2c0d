"""The hub's register of sealing recipients: validated, owner-only, and kept across restarts."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from hub.recipients import FILE_NAME, RecipientError, RecipientKeys, parse_public_key
from privacy.keys import key_id


def test_keys_in_pem_base64url_or_hex_are_the_same_key() -> None:
    public = X25519PrivateKey.generate().public_key()
    raw = public.public_bytes_raw()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    b64 = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    for text in (pem, b64, raw.hex()):
        assert parse_public_key(text).public_bytes_raw() == raw
    signing = Ed25519PrivateKey.generate().public_key()
    signing_pem = signing.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    for bad in ("", "zz", signing_pem, "A" * 10, "-----BEGIN PUBLIC KEY-----\nxx"):
        with pytest.raises(RecipientError):
            parse_public_key(bad)


def test_recipients_survive_a_restart_in_an_owner_only_file(tmp_path: Path) -> None:
    key = X25519PrivateKey.generate().public_key()
    store = RecipientKeys(tmp_path)
    entry = store.register("family:li", key)
    assert entry.key_id == key_id(key)
    for bad in ("property_duty:duty", "family", "stranger:x", "family: li"):
        with pytest.raises(RecipientError):
            store.register(bad, key)
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600
    again = RecipientKeys(tmp_path)
    assert [e.to_dict() for e in again.all()] == [entry.to_dict()]
    assert again.remove("family:li") and not again.remove("family:li")
    assert RecipientKeys(tmp_path).all() == []


def test_an_unreadable_file_seals_for_nobody_and_does_not_crash(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("{not json")
    assert RecipientKeys(tmp_path).all() == []
