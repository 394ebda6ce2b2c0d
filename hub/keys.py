"""The hub's secrets on disk: its signing key and its admin token, both readable by it alone.

Files are created with ``O_CREAT | O_EXCL`` and mode 0600 in one step, so there is no moment
when another user could read them. Nothing here logs a secret.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

SECRET_MODE = 0o600


class KeyFileError(RuntimeError):
    """A secret file exists but is not usable (wrong type, unreadable, or shared)."""


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _check_private(path: Path) -> None:
    if path.stat().st_mode & 0o077:
        raise KeyFileError(f"{path} must be readable by its owner only (chmod 600)")


def load_or_create_hub_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key the hub signs its uplink envelopes with (PKCS#8 PEM)."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        _write_private(path, pem)
        return key
    _check_private(path)
    try:
        loaded = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return loaded


def load_or_create_admin_token(path: Path) -> str:
    """A random bearer token for the local admin API; there is no default password."""
    if not path.exists():
        token = secrets.token_urlsafe(32)
        _write_private(path, token.encode() + b"\n")
        return token
    _check_private(path)
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 32:
        raise KeyFileError(f"{path} does not hold a usable admin token")
    return token


def new_device_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the hub stores instead of a device token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
