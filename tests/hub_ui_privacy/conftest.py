"""The privacy page in a real headless Chromium, against a real hub enforcing consent."""

from __future__ import annotations

from tests.hub_ui.conftest import browser

__all__ = ["browser"]
