"""Shared helpers for the adapter tests: the vendor fixtures and the conformance kit."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from devices.adapters.conformance import adapter_kit, courtyard_adapters  # noqa: F401

#: The sample of real vendor payloads shared by the project (beside the repository).
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "device_payloads.json"


@cache
def vendor_fixtures() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(FIXTURES.read_text(encoding="utf-8"))
    return loaded
