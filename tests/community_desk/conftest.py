"""Fixtures: communities (optionally on a test-driven clock) and HTTP receivers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from community.clock import now_ms
from tests.community.support import Community, make_config, wait_until
from tests.community_desk.support import DeskServer, Receiver

# The dashboard tests run the same whole-community stack and Chromium as tests/e2e.
from tests.e2e.conftest import board, browser, new_context, stack  # noqa: F401
from tests.support.mosquitto import Mosquitto


class DeskFactory:
    """Starts communities on one data folder; every one still running is stopped at the end."""

    def __init__(self, broker: Mosquitto, data_dir: Path) -> None:
        self.broker = broker
        self.data_dir = data_dir
        self.running: list[Community] = []
        self._stopped: list[Community] = []

    def __call__(self, clock: Callable[[], int] = now_ms, **config: Any) -> Community:
        config.setdefault("escalation_poll_s", 0.05)
        runner = DeskServer(make_config(self.broker, self.data_dir, **config), clock)
        bundle = Community(self.broker, runner.start())
        self.running.append(bundle)
        wait_until(lambda: runner.server.health()["ingesting"], what="community subscribed")
        return bundle

    def stop(self, bundle: Community) -> None:
        """Stop a server (its hub peers stay connected to the broker)."""
        self.running.remove(bundle)
        self._stopped.append(bundle)
        bundle.runner.stop()

    def close(self) -> None:
        for bundle in self.running:
            bundle.close()
        for bundle in self._stopped:
            for peer in bundle.peers:
                peer.close()


@pytest.fixture
def desk_factory(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[DeskFactory]:
    mosquitto.add_user("community", "community-secret", superuser=True)
    factory = DeskFactory(mosquitto, tmp_path / "community")
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    try:
        yield running
    finally:
        running.stop()
