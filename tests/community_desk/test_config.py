"""The desk's config fields in the JSON config file: targets, rules file, CAP settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from community.config import Channel, ConfigError, parse_config
from community.escalation_rules import Audience

BASE: dict[str, Any] = {
    "community_id": "c1",
    "data_dir": "/tmp/c1",
    "mqtt_host": "127.0.0.1",
    "mqtt_port": 1883,
    "mqtt_username": "community",
    "mqtt_password": "pw",
}
HOOK = {
    "name": "fire-119",
    "channel": "webhook",
    "url": "https://gateway.example/119",
    "audiences": ["emergency"],
    "secret": "0123456789abcdef-secret",
}


def test_targets_and_desk_fields_are_read() -> None:
    config, _ = parse_config(
        {
            **BASE,
            "escalation_file": "/etc/courtyard/escalation.json",
            "notify_targets": [
                HOOK,
                {
                    "name": "family-101",
                    "channel": "apprise",
                    "url": "json://127.0.0.1:9/x",
                    "audiences": ["resident"],
                    "homes": ["home-101"],
                },
            ],
            "notify_retry_s": 2,
            "notify_attempts": 4,
            "cap_sender": "cn.example.courtyard",
            "cap_utc_offset_min": 480,
            "hub_offline_alarm_after_s": 120,
        }
    )
    hook, family = config.notify_targets
    assert (hook.channel, hook.audiences) == (Channel.WEBHOOK, (Audience.EMERGENCY,))
    assert (family.channel, family.homes) == (Channel.APPRISE, ("home-101",))
    assert config.escalation_file == Path("/etc/courtyard/escalation.json")
    assert (config.notify_attempts, config.cap_utc_offset_min) == (4, 480)
    assert "secret" not in repr(config) and "gateway.example" not in repr(config)


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ("x", "must be a list"),
        ([1], "must be an object"),
        ([{**HOOK, "colour": "red"}], "unknown fields"),
        ([{**HOOK, "channel": "pigeon"}], "channel"),
        ([{**HOOK, "audiences": ["mayor"]}], "audiences"),
        ([{**HOOK, "secret": "short"}], "secret"),
        ([{**HOOK, "url": "gateway.example/119"}], "http"),
        ([{**HOOK, "name": "has space"}], "name"),
        ([{**HOOK, "homes": "home-1"}], "homes"),
    ],
)
def test_bad_targets_are_refused_with_their_index(targets: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({**BASE, "notify_targets": targets})
