"""Fixtures: a running community server connected to a real Mosquitto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.community.support import Community, ServerThread, make_config, wait_until
from tests.support.mosquitto import Mosquitto

CommunityFactory = Callable[..., Community]


@pytest.fixture
def community_factory(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[CommunityFactory]:
    """Start a community with extra config fields; it is stopped after the test."""
    mosquitto.add_user("community", "community-secret", superuser=True)
    started: list[Community] = []

    def start(**config: Any) -> Community:
        runner = ServerThread(make_config(mosquitto, tmp_path / "community", **config)).start()
        bundle = Community(mosquitto, runner)
        started.append(bundle)
        wait_until(lambda: runner.server.health()["ingesting"], what="community subscribed")
        return bundle

    try:
        yield start
    finally:
        for bundle in started:
            bundle.close()


@pytest.fixture
def community(community_factory: CommunityFactory) -> Community:
    return community_factory()
