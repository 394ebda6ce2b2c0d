"""The ``home_mqtt`` section of a hub's configuration: the resident's own MQTT broker.

Homes that already run Zigbee2MQTT, Shelly or Tasmota have a broker of their own; the hub
connects to it as one more client (separate from its community uplink) and adapts what those
devices publish. Everything is checked here, at start, so a typo is a clear refusal naming
the field rather than a bridge that silently hears nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

_TEXT = ("host", "username", "password", "client_id", "ha_prefix")


@dataclass(frozen=True, slots=True)
class HomeMqttConfig:
    """How to reach the home broker and what to do there.

    ``params`` sets adapter protocol parameters, e.g. ``{"zigbee2mqtt": {"base": "zigbee"}}``
    for a Zigbee2MQTT whose ``base_topic`` is not the default.
    """

    host: str
    port: int = 1883
    username: str = ""
    #: Kept out of ``repr`` so a logged configuration never shows it.
    password: str = field(default="", repr=False)
    #: Empty: ``courtyard-<hub_id>``. The session is persistent, so keep it stable.
    client_id: str = ""
    #: Extra adapters (``.py`` files or packages) to load; only point it at trusted code.
    adapter_folder: Path | None = None
    params: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Publish Home Assistant MQTT discovery for every Courtyard device to this broker.
    publish_ha_discovery: bool = False
    ha_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        for name in _TEXT:
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be text")
        if not self.host:
            raise ValueError("host must not be empty")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ValueError("port must be an integer port number")
        if not 1 <= self.port <= 65535:
            raise ValueError("port must be an integer port number")
        if not isinstance(self.publish_ha_discovery, bool):
            raise ValueError("publish_ha_discovery must be true or false")
        if not self.ha_prefix or any(c in self.ha_prefix for c in "+#"):
            raise ValueError("ha_prefix must be a topic without wildcards")
        if self.adapter_folder is not None and not isinstance(self.adapter_folder, Path):
            raise ValueError("adapter_folder must be a path")
        if not isinstance(self.params, Mapping) or not all(
            isinstance(protocol, str)
            and isinstance(values, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
            for protocol, values in self.params.items()
        ):
            raise ValueError('params must look like {"zigbee2mqtt": {"base": "zigbee"}}')

    @classmethod
    def from_json(cls, raw: object) -> HomeMqttConfig:
        """Build from the JSON object of a configuration file; ValueError names the field."""
        if isinstance(raw, HomeMqttConfig):
            return raw
        if not isinstance(raw, Mapping):
            raise ValueError("must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown fields {unknown}")
        if "host" not in raw:
            raise ValueError("host is required")
        values: dict[str, Any] = dict(raw)
        folder = values.get("adapter_folder")
        if isinstance(folder, str) and folder:
            values["adapter_folder"] = Path(folder)
        elif folder == "":
            values["adapter_folder"] = None
        return cls(**values)
