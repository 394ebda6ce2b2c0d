"""A fire-lane community (store, escalation, plate registry, consents) in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fire_lanes.support import Lanes


@pytest.fixture
def lanes(tmp_path: Path) -> Iterator[Lanes]:
    bundle = Lanes(tmp_path / "data")
    try:
        yield bundle
    finally:
        bundle.close()


# The whole-community stack with a hub and a fire-lane sensor stub (real Mosquitto, hub, link).
from tests.e2e_field.conftest import field_stack  # noqa: E402, F401
