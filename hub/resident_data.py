"""The resident's personal data at rest in the hub, and its erasure by crypto-shredding.

Event payloads (a fall detector's confidence, readings) are the sensitive part of the hub's
event log. When privacy is enforced they are stored only as ciphertext under the resident's
own data key (``privacy.atrest``), wrapped by a key-encryption key kept in its own owner-only
file beside the database, so a copy of ``hub.db`` alone reveals nothing.

"Erase my data" destroys that data key. Every payload the hub ever stored for the resident,
in the database, its WAL, or any backup or copy, becomes unreadable at once, and the hub
returns a deletion receipt signed with its own key. What the event log still says afterwards
(that a device raised an event at a time) carries no payload.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from privacy.atrest import (
    AtRestError,
    DeletionReceipt,
    KeyStatus,
    KeyStore,
    ShreddedError,
    new_kek,
    read_kek_file,
    write_kek_file,
)
from privacy.audit import AuditAction, AuditLog
from privacy.encoding import EncodingError, b64url, unb64url

_LOG = logging.getLogger(__name__)
SEALED_KEY: Final = "sealed_at_rest"
ERASED: Final = {"erased": True}


class ResidentData:
    """Encrypts event payloads under the resident's key; shreds that key on erasure."""

    def __init__(
        self,
        data_dir: Path,
        *,
        subject: str,
        receipt_key: Ed25519PrivateKey,
        store_id: str,
        audit: AuditLog,
    ) -> None:
        self.subject = subject
        self._audit = audit
        kek_path = data_dir / "kek.key"
        if not kek_path.exists():
            write_kek_file(kek_path, new_kek())
        self._keys = KeyStore(
            data_dir / "keys.db", read_kek_file(kek_path), receipt_key, store_id=store_id
        )

    def close(self) -> None:
        self._keys.close()

    @staticmethod
    def _context(device_id: str) -> str:
        return f"event_log.data:{device_id}"

    def protect(self, device_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """What the event log may hold of ``data``: its ciphertext (nothing once erased)."""
        if not data:
            return data
        plaintext = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        try:
            token = self._keys.encrypt(self.subject, plaintext, self._context(device_id))
        except ShreddedError:
            return dict(ERASED)
        return {SEALED_KEY: b64url(token)}

    def reveal(self, device_id: str, stored: dict[str, Any]) -> dict[str, Any]:
        """The payload for the resident's own view; ``{"erased": true}`` after erasure."""
        token = stored.get(SEALED_KEY)
        if not isinstance(token, str):
            return stored
        try:
            plaintext = self._keys.decrypt(self.subject, unb64url(token), self._context(device_id))
            revealed: dict[str, Any] = json.loads(plaintext)
        except ShreddedError:
            return dict(ERASED)
        except (AtRestError, EncodingError, ValueError):
            _LOG.error("an event payload of %s does not decrypt", device_id)
            return {"unreadable": True}
        return revealed

    def erase(self) -> DeletionReceipt:
        """Destroy the resident's data key (crypto-shredding) and audit it; idempotent."""
        if self._keys.status(self.subject) is KeyStatus.NONE:
            # Nothing stored yet: make the key that would have been used, so that erasure is
            # still one uniform step with a receipt, and later data stays erased too.
            self._keys.encrypt(self.subject, b"", "erasure")
        receipt = self._keys.shred(self.subject)
        self._audit.append(
            actor=self.subject,
            role="resident",
            purpose="erasure",
            legal_basis="consent",
            action=AuditAction.ERASE,
            record_ids=[receipt.key_id_hash],
            detail=f"data key destroyed at {receipt.shredded_at}",
        )
        return receipt
