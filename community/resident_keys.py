"""The community's copy of residents' data, encrypted at rest under per-resident data keys.

What a home's hub uplinks (readings, device names, rooms) is the resident's personal data, and
the community holds a copy of it. For every home with a registered resident, the store keeps
those columns only as ciphertext under that resident's own data key (``privacy.atrest``:
AES-256-GCM, the key wrapped by a key-encryption key in ``kek.key``, mode 0600, beside
``keys.db``), so a copy of ``community.db`` alone reveals none of it. Erasure destroys the
data key: every row of that resident, in the database, its WAL and any backup, becomes
unreadable at once, and the community signs a deletion receipt with its own key.

The data key is named by a pseudonym of (home, resident) rather than by the resident id, so
neither ``keys.db`` nor a receipt filed next to operational data links a home to a resident
id; the resident, who knows both, can recompute it to match a receipt.

A sealed column holds text: :data:`SEALED_PREFIX` then the base64url ciphertext. The prefix
starts with a control character no name, room or JSON message can begin with, so plaintext
rows (common areas, homes without a registered resident, rows written before) read as before.

``sqlite3`` connections belong to the thread that opened them, and the store is read from the
event loop and written from the writer thread, so each thread gets its own :class:`KeyStore`
on the same ``keys.db``; none caches a data key, so a shred is seen by every thread at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from privacy.atrest import (
    AtRestError,
    DeletionReceipt,
    KeyStatus,
    KeyStore,
    ShreddedError,
    WrongKekError,
    new_kek,
    read_kek_file,
    write_kek_file,
)
from privacy.encoding import EncodingError, b64url, iso_ms, unb64url, utc_now

_LOG = logging.getLogger(__name__)
KEK_FILE: Final = "kek.key"
#: A new KEK waits here until every data key is rewrapped under it.
NEXT_KEK_FILE: Final = "kek.key.next"
KEYS_FILE: Final = "keys.db"
#: What a sealed column's text starts with.
SEALED_PREFIX: Final = "\x1ecy1:"
#: What a sealed column holds for data that arrived after its resident's key was destroyed.
ERASED: Final = SEALED_PREFIX + "erased"
_PSEUDONYM_DOMAIN: Final = b"courtyard-community-resident-v1\x00"
_KEY_ID_BYTES: Final = 8
#: Opened values kept in memory, so a dashboard refresh does not decrypt the same rows again.
_CACHED: Final = 8192
_HOMES: Final = """CREATE TABLE IF NOT EXISTS resident_homes (
    home_id TEXT PRIMARY KEY,
    key_name TEXT NOT NULL,
    registered_at TEXT NOT NULL
)"""


def data_key_name(home_id: str, subject: str) -> str:
    """The pseudonym the community's data key of ``subject`` in ``home_id`` goes by."""
    digest = hashlib.sha256(_PSEUDONYM_DOMAIN + f"{home_id}\x00{subject}".encode()).hexdigest()
    return f"rk-{digest[:32]}"


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


class ResidentKeys:
    """Seal and open column values for homes with a registered resident; shred on erasure."""

    def __init__(
        self, data_dir: Path, receipt_key: Ed25519PrivateKey, *, store_id: str = "community"
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._path = data_dir / KEYS_FILE
        self._kek_path = data_dir / KEK_FILE
        self._next_path = data_dir / NEXT_KEK_FILE
        self._receipt_key = receipt_key
        self.store_id = store_id
        if not self._kek_path.exists():
            write_kek_file(self._kek_path, new_kek())
        self._kek = self._settle_kek()
        self._generation = 0
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[KeyStore] = []
        self._db = sqlite3.connect(str(self._path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_HOMES)
        self._homes: dict[str, str] = {
            str(home): str(name)
            for home, name in self._db.execute("SELECT home_id, key_name FROM resident_homes")
        }
        self._owners: dict[str, str] = {}
        #: (sealed value, context) -> plaintext; emptied by every shred and rotation.
        self._plain: dict[tuple[str, str], str] = {}
        self._epoch = 0

    def _settle_kek(self) -> bytes:
        """The KEK the data keys are wrapped under: a rotation interrupted after rewrapping
        leaves the new KEK in ``kek.key.next``, which is then promoted."""
        kek = read_kek_file(self._kek_path)
        if not self._next_path.exists():
            return kek
        try:
            KeyStore(self._path, kek, self._receipt_key, store_id=self.store_id).close()
        except WrongKekError:
            kek = read_kek_file(self._next_path)
            KeyStore(self._path, kek, self._receipt_key, store_id=self.store_id).close()
            os.replace(self._next_path, self._kek_path)
            return kek
        self._next_path.unlink()
        return kek

    def _keys(self) -> KeyStore:
        """This thread's key store (reopened after a KEK rotation)."""
        local = self._local
        if getattr(local, "generation", None) != self._generation:
            store = KeyStore(self._path, self._kek, self._receipt_key, store_id=self.store_id)
            with self._lock:
                self._opened.append(store)
            local.store, local.generation = store, self._generation
        keys: KeyStore = local.store
        return keys

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            # Another thread's connection cannot be closed here; it closes when collected.
            with contextlib.suppress(sqlite3.ProgrammingError):
                store.close()
        self._db.close()

    # --- residents ---------------------------------------------------------------------------

    def register(self, home_id: str, subject: str) -> str:
        """From now on, seal the home's rows under this resident's data key; its name."""
        name = data_key_name(home_id, subject)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO resident_homes (home_id, key_name, registered_at)"
                " VALUES (?, ?, ?)",
                (home_id, name, iso_ms(utc_now())),
            )
            self._homes[home_id] = name
        return name

    def key_of(self, home_id: str | None) -> str | None:
        """The data key name rows of ``home_id`` are sealed under; None: stored as they are."""
        return None if home_id is None else self._homes.get(home_id)

    def status(self, key_name: str) -> KeyStatus:
        return self._keys().status(key_name)

    # --- sealing -------------------------------------------------------------------------

    def seal(self, key_name: str, text: str, context: str) -> str:
        """The column text for ``text``: ciphertext, or :data:`ERASED` once the key is gone."""
        try:
            token = self._keys().encrypt(key_name, text.encode(), context)
        except ShreddedError:
            return ERASED
        self._owners.setdefault(token[1 : 1 + _KEY_ID_BYTES].hex(), key_name)
        return SEALED_PREFIX + b64url(token)

    def open(self, value: str | None, context: str) -> str | None:
        """The plaintext of a column value; plaintext passes through; None when erased."""
        if value is None or not value.startswith(SEALED_PREFIX):
            return value
        if value == ERASED:
            return None
        cached = self._plain.get((value, context))
        if cached is not None:
            return cached
        epoch = self._epoch
        try:
            plaintext = self.decrypt(value, context)
        except ShreddedError:
            return None
        except (AtRestError, EncodingError, UnicodeDecodeError, IndexError):
            _LOG.error("a sealed value (%s) does not decrypt", context.partition(":")[0])
            return None
        with self._lock:
            # Only if no shred happened meanwhile: a shred empties the cache after it commits.
            if epoch == self._epoch:
                if len(self._plain) >= _CACHED:
                    del self._plain[next(iter(self._plain))]
                self._plain[(value, context)] = plaintext
        return plaintext

    def decrypt(self, value: str, context: str) -> str:
        """Like :meth:`open`, but raising :class:`ShreddedError` (or AtRestError) instead of
        degrading: for audits and tests that must tell erased from readable."""
        token = unb64url(value[len(SEALED_PREFIX) :])
        owner = self._owner(token[1 : 1 + _KEY_ID_BYTES].hex())
        if owner is None:
            raise AtRestError("no data key has this ciphertext's key id")
        return self._keys().decrypt(owner, token, context).decode()

    def _owner(self, kid: str) -> str | None:
        owner = self._owners.get(kid)
        if owner is None:
            with self._lock:
                row = self._db.execute(
                    "SELECT resident_id FROM resident_keys WHERE key_id = ?", (kid,)
                ).fetchone()
            if row is not None:
                owner = self._owners.setdefault(kid, str(row[0]))
        return owner

    # --- erasure and rotation ------------------------------------------------------------

    def shred(self, key_name: str) -> DeletionReceipt:
        """Destroy the data key (idempotent): a signed receipt, even if nothing was stored."""
        keys = self._keys()
        if keys.status(key_name) is KeyStatus.NONE:
            # Make the key that would have been used, so erasure is one uniform step with a
            # receipt, and whatever arrives later stays erased too.
            keys.encrypt(key_name, b"", "erasure")
        receipt = keys.shred(key_name)
        self._forget()
        return receipt

    def _forget(self) -> None:
        """Drop every opened value kept in memory (after a shred has committed)."""
        with self._lock:
            self._epoch += 1
            self._plain.clear()

    def rotate_kek(self) -> int:
        """Rewrap every live data key under a new KEK; data rows are not touched.

        The new KEK is written to its own file first, so a crash at any point leaves a KEK
        on disk that opens the data keys. Returns how many keys were rewrapped.
        """
        new = new_kek()
        if self._next_path.exists():
            self._next_path.unlink()
        write_kek_file(self._next_path, new)
        count = self._keys().rotate_kek(new)
        os.replace(self._next_path, self._kek_path)
        self._kek = new
        self._generation += 1
        self._forget()
        return count
