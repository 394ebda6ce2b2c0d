"""The people a resident shares sealed details with, and their X25519 public keys.

A consent can share a sensitive category with a family member or a care provider without
sharing it with the community. The hub can only honour it if it knows that recipient's public
key: the resident registers it here (``POST /api/privacy/recipients``), and the consent gate
seals the fields for that key (``privacy.sealed_fields``). Only public keys are kept; the
private key never leaves the recipient's own device.

One small JSON file (``recipients.json``, owner-only), rewritten atomically on every change,
because a resident has a handful of recipients and the gate reads them on every record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from privacy.encoding import iso_ms
from privacy.keys import key_id
from privacy.vocabulary import Purpose, Recipient, RecipientRole

_LOG = logging.getLogger(__name__)

FILE_NAME: Final = "recipients.json"
MAX_RECIPIENTS: Final = 32
#: The purpose a consent names for each role that receives sealed fields. The community's
#: duty staff read what they may in clear and are never a sealing recipient.
SEALING_PURPOSE: Final[dict[RecipientRole, Purpose]] = {
    RecipientRole.FAMILY: Purpose.FAMILY_NOTIFICATION,
    RecipientRole.CARE_PROVIDER: Purpose.CARE_SERVICE,
    RecipientRole.EMERGENCY_TEAM: Purpose.EMERGENCY_RESPONSE,
}


#: The property service that binds a recipient to its mailbox at the community.
MAILBOX_SERVICE: Final = "recipients"
#: Queue a property-service request (``hub.services.ServiceRequests.request``).
Ask = Callable[[str, str, dict[str, Any]], str]


class RecipientError(ValueError):
    """A registration that cannot be accepted; nothing was changed."""


@dataclass(frozen=True, slots=True)
class RegisteredRecipient:
    recipient: Recipient
    public_key: X25519PublicKey
    registered_at: str

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient.id,
            "role": str(self.recipient.role),
            "purpose": str(SEALING_PURPOSE[self.recipient.role]),
            "key_id": self.key_id,
            "registered_at": self.registered_at,
        }


def parse_public_key(text: str) -> X25519PublicKey:
    """An X25519 public key from PEM, or from 32 raw bytes in base64url / hex."""
    if not isinstance(text, str) or not text or len(text) > 4096:
        raise RecipientError("public_key must be a PEM, base64url or hex X25519 public key")
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(stripped.encode())
        except (ValueError, TypeError):
            raise RecipientError("public_key is not a readable PEM public key") from None
        if not isinstance(key, X25519PublicKey):
            raise RecipientError("a recipient key must be an X25519 public key (keys new)")
        return key
    raw: bytes | None = None
    try:
        raw = bytes.fromhex(stripped) if len(stripped) == 64 else None
    except ValueError:
        raw = None
    if raw is None:
        try:
            raw = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
        except (binascii.Error, ValueError):
            raise RecipientError("public_key is not PEM, base64url or hex") from None
    if len(raw) != 32:
        raise RecipientError("an X25519 public key is 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)


def parse_recipient(text: str) -> Recipient:
    try:
        recipient = Recipient.parse(text)
    except ValueError as exc:
        raise RecipientError(str(exc)) from None
    if recipient.role not in SEALING_PURPOSE:
        roles = ", ".join(sorted(SEALING_PURPOSE))
        raise RecipientError(f"sealed fields are for {roles}; not {recipient.role}")
    return recipient


class RecipientKeys:
    """The resident's sealing recipients, kept in ``<data_dir>/recipients.json``."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / FILE_NAME
        self._lock = threading.Lock()
        self._entries: dict[Recipient, RegisteredRecipient] = self._load()

    def _load(self) -> dict[Recipient, RegisteredRecipient]:
        try:
            rows = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            _LOG.error("%s is unreadable; no fields are sealed until it is fixed", self._path)
            return {}
        out: dict[Recipient, RegisteredRecipient] = {}
        for row in rows if isinstance(rows, list) else []:
            try:
                recipient = parse_recipient(row["recipient"])
                key = X25519PublicKey.from_public_bytes(bytes.fromhex(row["public_key"]))
                out[recipient] = RegisteredRecipient(recipient, key, str(row["registered_at"]))
            except (RecipientError, KeyError, TypeError, ValueError):
                _LOG.error("a recipient entry in %s is unreadable and ignored", self._path)
        return out

    def _save(self, entries: dict[Recipient, RegisteredRecipient]) -> None:
        rows = [
            {
                "recipient": e.recipient.id,
                "public_key": e.public_key.public_bytes_raw().hex(),
                "registered_at": e.registered_at,
            }
            for e in sorted(entries.values(), key=lambda e: e.recipient)
        ]
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self._path)

    def register(self, recipient: str, public_key: X25519PublicKey) -> RegisteredRecipient:
        """Add or replace ``recipient``'s key; RecipientError changes nothing."""
        who = parse_recipient(recipient)
        if not isinstance(public_key, X25519PublicKey):
            raise RecipientError("a recipient key must be an X25519 public key")
        with self._lock:
            if who not in self._entries and len(self._entries) >= MAX_RECIPIENTS:
                raise RecipientError(f"at most {MAX_RECIPIENTS} recipients")
            entry = RegisteredRecipient(who, public_key, iso_ms(datetime.now(UTC)))
            entries = {**self._entries, who: entry}
            self._save(entries)
            self._entries = entries
        return entry

    def remove(self, recipient: str) -> bool:
        """Forget ``recipient``'s key (later records seal nothing for it); False if unknown."""
        who = parse_recipient(recipient)
        with self._lock:
            if who not in self._entries:
                return False
            entries = {k: v for k, v in self._entries.items() if k != who}
            self._save(entries)
            self._entries = entries
        return True

    def all(self) -> list[RegisteredRecipient]:
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: e.recipient)


def open_mailbox(ask: Ask, recipient: str) -> str:
    """A new mailbox token for ``recipient``, registered at the community by its SHA-256.

    The token is returned once, for the resident to hand to the recipient, who opens the
    entries with their own private key (the hub only ever had the public one). The hub keeps
    no copy: a lost token is replaced by registering the recipient again, which retires it.
    ValueError if the request cannot be queued.
    """
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode("ascii")).hexdigest()
    ask(MAILBOX_SERVICE, "register", {"recipient": recipient, "token_sha256": digest})
    return token


def close_mailbox(ask: Ask, recipient: str) -> str:
    """Ask the community to revoke ``recipient``'s mailbox token and drop what waits there."""
    return ask(MAILBOX_SERVICE, "revoke", {"recipient": recipient})
