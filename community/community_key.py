"""The community's own Ed25519 signing key: it signs every downlink command to a hub.

Hubs are given the public half at enrollment and refuse any command it did not sign. The
private key lives in ``data_dir/community_key.pem`` (PEM PKCS#8, created with mode 0600 by
the same system call that creates the file); a key file others can read is refused rather
than used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from privacy.keys import load_signing_private_key, write_new_file

KEY_FILE: Final = "community_key.pem"


def load_or_create_community_key(path: Path) -> Ed25519PrivateKey:
    """The key stored at ``path``, or a new one written there; raises KeyFileError if unusable."""
    if path.exists() or path.is_symlink():
        return load_signing_private_key(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_new_file(path, pem, 0o600)
    return key
