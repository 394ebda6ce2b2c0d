"""The replay window is part of the community's config file, checked like every other field."""

from __future__ import annotations

from pathlib import Path

import pytest

from community import CommunityServer
from community.config import ConfigError, parse_config

BASE = {
    "community_id": "estate-1",
    "data_dir": "data",
    "mqtt_host": "127.0.0.1",
    "mqtt_port": 1883,
    "mqtt_username": "community",
    "mqtt_password": "not-used-here",
}


def test_the_replay_window_comes_from_the_config_file(tmp_path: Path) -> None:
    config, _ = parse_config(
        {**BASE, "data_dir": str(tmp_path), "replay_future_s": 30, "replay_past_s": 3600,
         "replay_reorder": 10}
    )  # fmt: skip
    server = CommunityServer(config)
    window = server.replay.window
    assert (window.future_ms, window.past_ms, window.reorder) == (30_000, 3_600_000, 10)


def test_the_default_window_is_ten_minutes_ahead_and_a_week_back(tmp_path: Path) -> None:
    config, _ = parse_config({**BASE, "data_dir": str(tmp_path)})
    window = CommunityServer(config).replay.window
    assert (window.future_ms, window.past_ms) == (600_000, 7 * 24 * 3_600_000)


@pytest.mark.parametrize(
    "bad",
    [
        {"replay_future_s": -1},
        {"replay_past_s": 1.5},
        {"replay_reorder": "10"},
        {"replay_reorder": True},
    ],
)
def test_a_bad_window_is_refused_with_its_name(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        parse_config({**BASE, **bad})
