"""Key files: the one place private keys touch the disk.

Two key types, one job each: **X25519** keys receive sealed fields (``privacy.sealing``),
**Ed25519** keys sign (envelopes, consent records, checkpoints, deletion receipts). Using one
key for both would let a flaw in one protocol leak into the other, so a loader asked for one
type refuses the other with a message that says which command makes the right one.

A directory holds one pair: ``private.key`` (PEM, unencrypted PKCS#8, mode 0600) and
``public.key`` (PEM SubjectPublicKeyInfo). The private file is created with
``O_CREAT | O_EXCL`` and mode 0600 in the same system call, so it is never readable by anyone
else, not even for a moment, and an existing key is never overwritten. Loaders refuse a
private key file that group or others can read, as OpenSSH does.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

PRIVATE_FILE: Final = "private.key"
PUBLIC_FILE: Final = "public.key"
#: Key files are a few hundred bytes; anything larger is not a key.
_MAX_KEY_FILE: Final = 16 * 1024

PrivateKey = X25519PrivateKey | Ed25519PrivateKey
PublicKey = X25519PublicKey | Ed25519PublicKey


class KeyType(StrEnum):
    """What a key is for."""

    X25519 = "x25519"  # receiving sealed fields
    ED25519 = "ed25519"  # signing


_PURPOSE: Final = {KeyType.X25519: "sealing", KeyType.ED25519: "signing"}


class KeyFileError(ValueError):
    """A key file that is missing, unreadable, of the wrong type or unsafe; says which and why."""


@dataclass(frozen=True, slots=True)
class KeyPairFiles:
    """Where :func:`new_keypair` wrote a pair, and the public key's id."""

    private: Path
    public: Path
    key_type: KeyType
    key_id: str


def key_id(public: PublicKey) -> str:
    """First 16 hex digits of SHA-256 of the raw public key (as ``privacy.envelope.key_id``)."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def type_of(key: PrivateKey | PublicKey) -> KeyType:
    """The :class:`KeyType` of a key object."""
    if isinstance(key, X25519PrivateKey | X25519PublicKey):
        return KeyType.X25519
    return KeyType.ED25519


def new_keypair(directory: Path, key_type: KeyType = KeyType.X25519) -> KeyPairFiles:
    """Generate a pair and write it to ``directory``; never overwrite an existing key."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_FILE, directory / PUBLIC_FILE
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise KeyFileError(f"{path} already exists; refusing to overwrite a key")
    private: PrivateKey = (
        X25519PrivateKey.generate() if key_type is KeyType.X25519 else Ed25519PrivateKey.generate()
    )
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_new_file(private_path, pem, 0o600)
    public = private.public_key()
    write_new_file(
        public_path, public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo), 0o644
    )
    return KeyPairFiles(private_path, public_path, key_type, key_id(public))


def write_new_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create ``path`` exclusively with ``mode`` from the first byte on, write, and fsync.

    For secrets (private keys, key-encryption keys): the mode is applied by the same system
    call that creates the file, and an existing file or symlink is never followed or replaced.
    """
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode
        )
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _read(path: Path, *, private: bool) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{path} is not a regular file")
        if private and info.st_mode & 0o077:
            raise KeyFileError(
                f"{path} can be read by others (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"run: chmod 600 {path}"
            )
        if info.st_size > _MAX_KEY_FILE:
            raise KeyFileError(f"{path} is too large to be a key file")
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{path} does not exist") from None
    except PermissionError:
        raise KeyFileError(f"{path} is not readable by this user") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None


def load_private_key(path: Path) -> PrivateKey:
    """An X25519 or Ed25519 private key from a PEM PKCS#8 file."""
    data = _read(path, private=True)
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(
            f"{path} is password-protected; courtyard needs an unencrypted key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"{path} is not a PEM private key") from None
    if not isinstance(key, X25519PrivateKey | Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}; use X25519 or Ed25519")
    return key


def load_public_key(path: Path) -> PublicKey:
    """An X25519 or Ed25519 public key from a PEM SubjectPublicKeyInfo file."""
    data = _read(path, private=False)
    try:
        key = load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        hint = " (this looks like a private key)" if b"PRIVATE KEY" in data else ""
        raise KeyFileError(f"{path} is not a PEM public key{hint}") from None
    if not isinstance(key, X25519PublicKey | Ed25519PublicKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}; use X25519 or Ed25519")
    return key


def _wrong_type(path: Path, found: KeyType, wanted: KeyType) -> KeyFileError:
    return KeyFileError(
        f"{path} is an {found.value} {_PURPOSE[found]} key; {_PURPOSE[wanted]} needs an "
        f"{wanted.value} key (courtyard keys new --type {wanted.value})"
    )


def load_sealing_private_key(path: Path) -> X25519PrivateKey:
    """The X25519 key that opens sealed fields."""
    key = load_private_key(path)
    if not isinstance(key, X25519PrivateKey):
        raise _wrong_type(path, type_of(key), KeyType.X25519)
    return key


def load_sealing_public_key(path: Path) -> X25519PublicKey:
    """The X25519 key a field is sealed to."""
    key = load_public_key(path)
    if not isinstance(key, X25519PublicKey):
        raise _wrong_type(path, type_of(key), KeyType.X25519)
    return key


def load_signing_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key that signs."""
    key = load_private_key(path)
    if not isinstance(key, Ed25519PrivateKey):
        raise _wrong_type(path, type_of(key), KeyType.ED25519)
    return key


def load_signing_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 key that verifies."""
    key = load_public_key(path)
    if not isinstance(key, Ed25519PublicKey):
        raise _wrong_type(path, type_of(key), KeyType.ED25519)
    return key
