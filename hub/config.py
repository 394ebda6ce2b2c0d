"""How one hub is configured, and the JSON file ``python -m hub run`` reads.

Everything a hub needs to run is here and nothing else: its identity, where its data lives,
how to reach the broker, and a few timings the demo compresses. Bad configuration is refused
at start with a message naming the field, never discovered later as a crash.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from devices.catalog import DeviceKind
from devices.messages import DEVICE_ID_RE
from hub.bridge_config import HomeMqttConfig


class ConfigError(ValueError):
    """The configuration cannot run a hub; the message names the field."""


@dataclass(slots=True)
class HubConfig:
    hub_id: str
    home_id: str
    #: ``hub.db`` (SQLite, WAL), ``hub_key.pem`` and ``admin.token`` (both mode 0600) live here.
    data_dir: Path
    mqtt_host: str
    mqtt_port: int
    #: Issued by the community at enrollment; the MQTT username and client id are ``hub_id``.
    mqtt_password: str
    http_host: str = "127.0.0.1"
    http_port: int = 0
    #: A device is offline after ``KINDS[kind].supervision_s * supervision_scale`` s of silence.
    supervision_scale: float = 1.0
    #: Period of the ``hub_heartbeat`` uplink record.
    heartbeat_s: float = 30.0
    #: An outbox row the community has not acknowledged is published again after this.
    ack_timeout_s: float = 5.0
    outbox_limit: int = 10_000
    #: Advertise the hub and browse for unpaired devices over mDNS on ``http_host``'s network.
    discovery: bool = False
    #: How long the hub accepts pairing attempts for a newly advertised device (at most 600).
    pairing_window_s: float = 600.0
    #: The resident's own MQTT broker (Zigbee2MQTT, Shelly, Tasmota) to bridge; see
    #: :class:`hub.bridge_config.HomeMqttConfig`. None: no bridge.
    home_mqtt: HomeMqttConfig | None = None
    #: ``enforce`` (the default: deny unless the resident consented): only what a resident's
    #: consent (or the emergency override) allows is uplinked; ``open``: everything is, for
    #: installations without residents' consent (tests, labs). See hub/consent_gate.py.
    consent: str = "enforce"
    #: The pseudonymous resident whose consents govern this home (default: the home id).
    resident_id: str = ""
    #: The community's Ed25519 public key (64 hex digits), given at enrollment: downlink
    #: commands must be signed with it. None: every downlink command is refused.
    community_public_key_hex: str | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not DEVICE_ID_RE.fullmatch(self.hub_id):
            # The hub id is also an MQTT username and a topic level: no '/', '+' or '#'.
            raise ConfigError("hub_id must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
        for name in ("home_id", "mqtt_host", "http_host"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must not be empty")
        for name in ("mqtt_port", "http_port"):
            port = getattr(self, name)
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise ConfigError(f"{name} must be an integer port number")
        for name in ("supervision_scale", "heartbeat_s", "ack_timeout_s"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"{name} must be greater than zero")
        if not isinstance(self.discovery, bool):
            raise ConfigError("discovery must be true or false")
        if self.discovery and not _ipv4_or_any(self.http_host):
            raise ConfigError("discovery needs http_host to be an IPv4 address or 0.0.0.0")
        if not 0 < float(self.pairing_window_s) <= 600:
            raise ConfigError("pairing_window_s must be more than 0 and at most 600")
        if self.consent not in ("enforce", "open"):
            raise ConfigError("consent must be 'enforce' or 'open'")
        if not isinstance(self.resident_id, str):
            raise ConfigError("resident_id must be a string")
        if self.outbox_limit < 1:
            raise ConfigError("outbox_limit must be at least 1")
        if self.community_public_key_hex is not None and not _ed25519_hex(
            self.community_public_key_hex
        ):
            raise ConfigError("community_public_key_hex must be 64 hex digits of an Ed25519 key")
        if self.home_mqtt is not None:
            try:
                self.home_mqtt = HomeMqttConfig.from_json(self.home_mqtt)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"home_mqtt: {exc}") from None


def _ed25519_hex(text: object) -> bool:
    if not isinstance(text, str) or len(text) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except ValueError:
        return False
    return True


def _ipv4_or_any(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class DeviceSeed:
    """A device provisioned from the configuration file with a token chosen outside the hub."""

    device_id: str
    kind: DeviceKind
    name: str
    room: str
    token: str


def _device_seed(raw: object) -> DeviceSeed:
    if not isinstance(raw, dict):
        raise ConfigError("each entry of 'devices' must be an object")
    wanted = {"device_id", "kind", "name", "room", "token"}
    if set(raw) != wanted:
        raise ConfigError(f"a device needs exactly the fields {sorted(wanted)}")
    if not all(isinstance(raw[k], str) for k in wanted):
        raise ConfigError("device fields must be strings")
    try:
        kind = DeviceKind(raw["kind"])
    except ValueError:
        raise ConfigError(f"unknown device kind {raw['kind']!r}") from None
    return DeviceSeed(raw["device_id"], kind, raw["name"], raw["room"], raw["token"])


def load_config(path: Path) -> tuple[HubConfig, list[DeviceSeed]]:
    """Read a JSON file of :class:`HubConfig` fields plus an optional ``devices`` list."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a JSON object")
    devices = raw.pop("devices", [])
    if not isinstance(devices, list):
        raise ConfigError("'devices' must be a list")
    known = {f.name for f in fields(HubConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown configuration fields: {unknown}")
    try:
        config = HubConfig(**raw)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
    return config, [_device_seed(d) for d in devices]
