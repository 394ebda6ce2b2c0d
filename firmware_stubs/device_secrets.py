"""A device's secrets: its Ed25519 key, its setup code, and what pairing gave it.

A real device burns the key and code in at the factory; the stub makes them on first start
and keeps them in a JSON file readable by its owner only (``<state file>.identity``), beside
the state file that holds its counters. After pairing the file also holds the hub's id,
public key and link URL and the device's own link token, so a restarted device reconnects
without pairing again. Nothing here prints or logs a key or a token.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from devices.pairing import fingerprint, is_valid_code, new_setup_code
from firmware_stubs.memory import StateFileError


@dataclass(frozen=True, slots=True)
class HubCredentials:
    """What the hub gave the device at pairing: where to connect and how to prove itself."""

    hub_id: str
    hub_public_key: bytes
    hub_url: str
    token: str

    def to_json(self) -> dict[str, str]:
        return {
            "hub_id": self.hub_id,
            "hub_public_key": base64.b64encode(self.hub_public_key).decode(),
            "hub_url": self.hub_url,
            "token": self.token,
        }


@dataclass(frozen=True, slots=True)
class DeviceSecrets:
    private_key: Ed25519PrivateKey
    setup_code: str
    credentials: HubCredentials | None = None

    @classmethod
    def generate(cls) -> DeviceSecrets:
        return cls(Ed25519PrivateKey.generate(), new_setup_code())

    @property
    def public_key_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key_raw)

    def paired(self, credentials: HubCredentials | None) -> DeviceSecrets:
        return replace(self, credentials=credentials)

    def to_json(self) -> dict[str, Any]:
        raw = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return {
            "private_key": base64.b64encode(raw).decode(),
            "setup_code": self.setup_code,
            "credentials": None if self.credentials is None else self.credentials.to_json(),
        }


def identity_path(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".identity")


def load_or_create(path: Path | None) -> DeviceSecrets:
    """The secrets in ``path``, or new ones written there (none: kept in memory only)."""
    if path is None:
        return DeviceSecrets.generate()
    if not path.exists():
        secrets_ = DeviceSecrets.generate()
        save(path, secrets_)
        return secrets_
    return _load(path)


def _load(path: Path) -> DeviceSecrets:
    try:
        if path.stat().st_mode & 0o077:
            raise StateFileError(f"{path} must be readable by its owner only (chmod 600)")
        body = json.loads(path.read_text(encoding="utf-8"))
        key = Ed25519PrivateKey.from_private_bytes(_b64(body["private_key"], 32))
        code = body["setup_code"]
        if not isinstance(code, str) or not is_valid_code(code):
            raise ValueError("setup code")
        raw_creds = body.get("credentials")
        creds = None
        if raw_creds is not None:
            fields = {k: raw_creds[k] for k in ("hub_id", "hub_url", "token")}
            if not all(isinstance(v, str) and v for v in fields.values()):
                raise ValueError("credentials")
            creds = HubCredentials(hub_public_key=_b64(raw_creds["hub_public_key"], 32), **fields)
    except StateFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, binascii.Error):
        raise StateFileError(f"identity file {path} is unreadable or damaged") from None
    return DeviceSecrets(key, code, creds)


def _b64(value: object, size: int) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64 text")
    raw = base64.b64decode(value, validate=True)
    if len(raw) != size:
        raise ValueError("wrong length")
    return raw


def save(path: Path, value: DeviceSecrets) -> None:
    """Write-then-rename, created 0600 from the start, fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value.to_json(), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
