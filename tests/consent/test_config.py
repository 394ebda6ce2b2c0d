"""The consent setting is checked at start, with a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import HubConfig
from hub.config import ConfigError


def _config(tmp_path: Path, **kw: object) -> HubConfig:
    return HubConfig(
        hub_id="hub-1",
        home_id="home-1",
        data_dir=tmp_path,
        mqtt_host="127.0.0.1",
        mqtt_port=1883,
        mqtt_password="x",
        **kw,  # type: ignore[arg-type]
    )


def test_consent_is_enforced_by_default_and_open_only_when_asked(tmp_path: Path) -> None:
    assert _config(tmp_path).consent == "enforce"
    assert _config(tmp_path, consent="open").consent == "open"


@pytest.mark.parametrize("value", ["", "ENFORCE", "allow", None])
def test_an_unknown_consent_mode_is_refused(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match="consent"):
        _config(tmp_path, consent=value)
