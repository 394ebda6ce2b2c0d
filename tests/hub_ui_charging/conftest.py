"""The Charging and Notices tabs in a real headless Chromium, against real hubs, a real
community and a charging-port stub over a real Mosquitto."""

from __future__ import annotations

from tests.hub_ui.conftest import browser
from tests.notices.conftest import site

__all__ = ["browser", "site"]
