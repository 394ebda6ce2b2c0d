"""How one community server is set up: where it keeps its data, its broker account, its port.

The JSON form (``python -m community run --config FILE.json``) is the same fields plus a list
of hubs whose public keys are registered at start, so a process restarted by a supervisor
comes back with the same registry and the same broker passwords it already handed out.

Notification targets carry secrets (an apprise URL often embeds a token, a webhook has its
signing secret), so their ``repr`` hides them and nothing here ever logs them.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from community.escalation_rules import Audience

_TARGET_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_SECRET: Final = 16


class Channel(StrEnum):
    """How a notification leaves: through apprise (SMS gateways, WeCom, DingTalk, e-mail, …)
    or as a JSON webhook signed with HMAC-SHA256."""

    APPRISE = "apprise"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class NotifyTarget:
    """One place notifications go, and which escalation audiences it serves."""

    #: Shown in history and logs instead of the URL.
    name: str
    channel: Channel
    url: str = field(repr=False)
    audiences: tuple[Audience, ...]
    #: For resident targets: the homes whose alarms it is told about (empty: every home).
    homes: tuple[str, ...] = ()
    #: The webhook signing secret (required for webhooks, unused by apprise).
    secret: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not _TARGET_NAME.fullmatch(self.name):
            raise ValueError("a target name must be 1-64 letters, digits or ._- (start alnum)")
        if not self.audiences:
            raise ValueError(f"target {self.name} serves no audience")
        if self.channel is Channel.WEBHOOK:
            parts = urllib.parse.urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"target {self.name}: a webhook URL must be http(s)://host/...")
            if len(self.secret) < MIN_SECRET:
                raise ValueError(
                    f"target {self.name}: a webhook needs a secret of {MIN_SECRET}+ characters"
                )
        elif "://" not in self.url:
            raise ValueError(f"target {self.name}: not an apprise URL (scheme://...)")


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
    #: A hub offline (last will or silence) this long gets a ``hub_offline`` trouble alarm;
    #: shorter outages (a reboot, a network blip) only show in the hub list.
    hub_offline_alarm_after_s: float = 60.0
    #: Escalation chains as JSON (see ``community.escalation_rules``); None: the built-in table.
    escalation_file: Path | None = None
    #: Longest wait between two looks at due escalation steps and notification retries.
    escalation_poll_s: float = 1.0
    #: Where notifications go; each target names the escalation audiences it serves.
    notify_targets: tuple[NotifyTarget, ...] = ()
    #: Wait before the first retry of a failed notification; it doubles for each next one.
    notify_retry_s: float = 5.0
    #: Attempts per notification before it is recorded as failed for good.
    notify_attempts: int = 6
    #: CAP ``sender``; empty: derived from community_id. No spaces, commas, ``<`` or ``&``.
    cap_sender: str = ""
    #: UTC offset of the times in CAP messages, in minutes (480 for China Standard Time).
    cap_utc_offset_min: int = 0
    #: ``enforce`` (the default): store only what a home's consent (or the emergency override)
    #: covers; ``open``: store every valid record. See community/consent_check.py.
    consent: str = "enforce"
    #: Replay window at ingest (community.replay): a record more than this far in the future
    #: or the past is refused, as is a device sequence number this far below the highest seen.
    replay_future_s: int = 10 * 60
    replay_past_s: int = 7 * 24 * 3600
    replay_reorder: int = 100_000

    def __post_init__(self) -> None:
        for name in ("replay_future_s", "replay_past_s", "replay_reorder"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer")


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
    "hub_offline_alarm_after_s": (int, float),
    "escalation_file": str,
    "escalation_poll_s": (int, float),
    "notify_retry_s": (int, float),
    "notify_attempts": int,
    "cap_sender": str,
    "cap_utc_offset_min": int,
    "consent": str,
    "replay_future_s": int,
    "replay_past_s": int,
    "replay_reorder": int,
}
_PATHS: Final = frozenset({"data_dir", "escalation_file"})


def _strings(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(raw)


def _notify_target(raw: object, index: int) -> NotifyTarget:
    where = f"notify_targets[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object")
    allowed = {"name", "channel", "url", "audiences", "homes", "secret"}
    unknown = sorted(str(k)[:40] for k in set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where} has unknown fields: {', '.join(unknown)}")
    texts = {k: raw.get(k, "") for k in ("name", "channel", "url", "secret")}
    if not all(isinstance(v, str) for v in texts.values()):
        raise ConfigError(f"{where}: name, channel, url and secret must be strings")
    if texts["channel"] not in {str(c) for c in Channel}:
        raise ConfigError(f"{where}.channel must be one of: {', '.join(Channel)}")
    audiences = _strings(raw.get("audiences", []), f"{where}.audiences")
    if not set(audiences) <= {str(a) for a in Audience}:
        raise ConfigError(f"{where}.audiences must be among: {', '.join(Audience)}")
    try:
        return NotifyTarget(
            name=str(texts["name"]),
            channel=Channel(texts["channel"]),
            url=str(texts["url"]),
            audiences=tuple(Audience(a) for a in audiences),
            homes=_strings(raw.get("homes", []), f"{where}.homes"),
            secret=str(texts["secret"]),
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


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
        kwargs[name] = Path(str(value)) if name in _PATHS else value
    targets_raw = obj.get("notify_targets", [])
    if not isinstance(targets_raw, list):
        raise ConfigError("notify_targets must be a list")
    kwargs["notify_targets"] = tuple(_notify_target(t, i) for i, t in enumerate(targets_raw))
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
