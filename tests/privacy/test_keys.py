"""Key files: the private key is owner-only from its first byte, never overwritten, and
loaders say clearly what is wrong with a file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from privacy import envelope
from privacy.keys import (
    KeyFileError,
    KeyType,
    key_id,
    load_private_key,
    load_sealing_private_key,
    load_sealing_public_key,
    load_signing_private_key,
    load_signing_public_key,
    new_keypair,
)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: the file mode must not depend on it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
@pytest.mark.parametrize("key_type", list(KeyType))
def test_new_keypair_writes_an_owner_only_private_key(tmp_path: Path, key_type: KeyType) -> None:
    files = new_keypair(tmp_path / "keys", key_type)
    assert _mode(files.private) == 0o600
    assert _mode(files.public) == 0o644
    assert _mode(tmp_path / "keys") == 0o700
    assert files.private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert files.public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    private = load_private_key(files.private)
    assert key_id(private.public_key()) == files.key_id


def test_the_default_is_a_sealing_key_and_the_loaders_check_the_type(tmp_path: Path) -> None:
    seal_files = new_keypair(tmp_path / "seal")
    sign_files = new_keypair(tmp_path / "sign", KeyType.ED25519)
    assert isinstance(load_sealing_private_key(seal_files.private), X25519PrivateKey)
    load_sealing_public_key(seal_files.public)
    assert isinstance(load_signing_private_key(sign_files.private), Ed25519PrivateKey)
    with pytest.raises(KeyFileError, match=r"ed25519 signing key; sealing needs an x25519 key"):
        load_sealing_public_key(sign_files.public)
    with pytest.raises(KeyFileError, match=r"--type ed25519"):
        load_signing_private_key(seal_files.private)


def test_signing_key_ids_agree_with_the_envelope(tmp_path: Path) -> None:
    files = new_keypair(tmp_path, KeyType.ED25519)
    public = load_signing_public_key(files.public)
    assert key_id(public) == envelope.key_id(public) == files.key_id


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    files = new_keypair(tmp_path)
    before = files.private.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        new_keypair(tmp_path)
    files.private.unlink()  # a lone public.key still blocks: the pair must stay a pair
    with pytest.raises(KeyFileError, match="already exists"):
        new_keypair(tmp_path)
    assert not files.private.exists()
    assert before


def test_a_symlink_in_place_of_the_private_key_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "private.key").symlink_to(target)
    with pytest.raises(KeyFileError, match="already exists"):
        new_keypair(tmp_path / "k")
    assert not target.exists()


def test_a_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    files = new_keypair(tmp_path)
    files.private.chmod(0o640)
    with pytest.raises(KeyFileError, match=r"can be read by others \(mode 0640\)"):
        load_private_key(files.private)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a PEM"),
        (b"\xff" * 40, "not a PEM private key"),
    ],
)
def test_garbage_private_key_files_are_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "private.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=message):
        load_private_key(path)


def test_missing_files_and_swapped_files_are_explained(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_sealing_public_key(tmp_path / "nope.key")
    files = new_keypair(tmp_path)
    with pytest.raises(KeyFileError, match="looks like a private key"):
        load_sealing_public_key(files.private)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_sealing_public_key(tmp_path)


def test_private_keys_do_not_leak_through_repr_of_results(tmp_path: Path) -> None:
    files = new_keypair(tmp_path)
    pem = files.private.read_text()
    body = "".join(pem.splitlines()[1:-1])
    assert body not in repr(files)
    assert body not in repr(load_private_key(files.private))
