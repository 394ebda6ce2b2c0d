"""Who may connect: the authenticator interface and a password-table implementation."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Protocol

__all__ = ["Authenticator", "PasswordAuthenticator"]


class Authenticator(Protocol):
    """Decides whether a CONNECT's credentials are acceptable.

    Called on the broker's event loop for every CONNECT that carries a
    username (and for every CONNECT at all when anonymous access is off), so
    implementations must be quick and must not block. Returning False answers
    the client with CONNACK 4 (bad user name or password). Exceptions are
    treated as a refusal.
    """

    def authenticate(
        self, client_id: str, username: str | None, password: bytes | None
    ) -> bool: ...


class PasswordAuthenticator:
    """Accepts a client when its password equals the secret stored for its username.

    The table holds the plain secrets, compared in constant time with
    :func:`hmac.compare_digest`. Hashing them (scrypt/pbkdf2) would protect a
    password *file*; here the table only ever lives in the memory of the
    process that generated or loaded it, where a hash protects nothing, and a
    deliberately slow hash would stall the event loop on every connect.
    Both sides are first reduced to SHA-256 digests so the comparison does not
    even leak the secret's length, and unknown usernames go through the same
    work as known ones so their existence is not revealed by timing.
    """

    __slots__ = ("_digests",)

    def __init__(self, credentials: Mapping[str, str]) -> None:
        empty = sorted(username for username, secret in credentials.items() if not secret)
        if empty:
            raise ValueError(f"empty secrets are not allowed (users: {', '.join(empty)})")
        self._digests: dict[str, bytes] = {
            username: self._digest(secret.encode("utf-8"))
            for username, secret in credentials.items()
        }

    @staticmethod
    def _digest(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def authenticate(self, client_id: str, username: str | None, password: bytes | None) -> bool:
        if username is None or password is None:
            return False
        expected = self._digests.get(username)
        supplied = self._digest(password)
        if expected is None:
            hmac.compare_digest(supplied, supplied)
            return False
        return hmac.compare_digest(supplied, expected)
