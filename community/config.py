"""How one community server is set up: where it keeps its data, its broker account, its port.

The JSON form (``python -m community run --config FILE.json``) is the same fields plus a list
of hubs whose public keys are registered at start, so a process restarted by a supervisor
comes back with the same registry and the same broker passwords it already handed out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass(slots=True)
class CommunityConfig:
    community_id: str
    #: Holds ``community.db`` (SQLite, WAL) and ``manager.token`` (mode 0600).
    data_dir: Path
    mqtt_host: str
    mqtt_port: int
    #: The community's own broker account: a superuser on ``courtyard/#``.
    mqtt_username: str
    mqtt_password: str
    http_host: str = "127.0.0.1"
    http_port: int = 0
    #: No heartbeat for this long marks a hub offline even if its last will never arrived.
    hub_offline_after_s: float = 90.0


@dataclass(frozen=True, slots=True)
class HubEntry:
    """A hub listed in a config file: its key is registered, its broker password untouched."""

    hub_id: str
    home_id: str
    public_key: Ed25519PublicKey
    building: str = ""
    unit: str = ""


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the field at fault."""


_TYPES: dict[str, type | tuple[type, ...]] = {
    "community_id": str,
    "data_dir": str,
    "mqtt_host": str,
    "mqtt_port": int,
    "mqtt_username": str,
    "mqtt_password": str,
    "http_host": str,
    "http_port": int,
    "hub_offline_after_s": (int, float),
}


def _hub_entry(raw: object, index: int) -> HubEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"hubs[{index}] must be an object")
    values: dict[str, str] = {}
    for name in ("hub_id", "home_id", "public_key_hex", "building", "unit"):
        value = raw.get(name, "")
        if not isinstance(value, str):
            raise ConfigError(f"hubs[{index}].{name} must be a string")
        values[name] = value
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(values["public_key_hex"]))
    except ValueError:
        raise ConfigError(f"hubs[{index}].public_key_hex is not a 32-byte Ed25519 key") from None
    return HubEntry(values["hub_id"], values["home_id"], key, values["building"], values["unit"])


def parse_config(obj: object) -> tuple[CommunityConfig, list[HubEntry]]:
    """Validate a config object (already parsed from JSON); raise :class:`ConfigError`."""
    if not isinstance(obj, dict):
        raise ConfigError("the config must be a JSON object")
    known = {f.name for f in fields(CommunityConfig)} | {"hubs"}
    unknown = sorted(set(obj) - known)
    if unknown:
        raise ConfigError(f"unknown config fields: {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, expected in _TYPES.items():
        if name not in obj:
            continue
        value = obj[name]
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(f"{name} has the wrong type")
        kwargs[name] = Path(str(value)) if name == "data_dir" else value
    try:
        config = CommunityConfig(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"missing config fields ({exc})") from None
    hubs_raw = obj.get("hubs", [])
    if not isinstance(hubs_raw, list):
        raise ConfigError("hubs must be a list")
    return config, [_hub_entry(raw, i) for i, raw in enumerate(hubs_raw)]


def load_config(path: Path) -> tuple[CommunityConfig, list[HubEntry]]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None
    return parse_config(obj)
