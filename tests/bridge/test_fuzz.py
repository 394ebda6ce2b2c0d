"""Whatever arrives on the home broker, the bridge keeps running and a payload the adapters
refuse changes nothing in the hub's database; complaints are rate-limited per topic."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hub import Hub, HubConfig
from hub.bridge import HomeBridge
from tests.bridge.conftest import MakeHub, VendorSide, bridge_of, home_settings
from tests.hub.support import eventually, read_db, snapshot
from tests.support.mosquitto import Mosquitto, free_port

pytestmark = pytest.mark.mosquitto

T = TypeVar("T")


class HubThread:
    """A real hub on its own event loop thread, so a synchronous hypothesis test can drive
    the broker while the hub handles what arrives."""

    def __init__(self, config: HubConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

        async def build() -> Hub:  # SQLite connections belong to the thread that opens them
            hub = Hub(config)
            await hub.start()
            return hub

        self.hub = self.run(build())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        self.run(self.hub.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.fixture
def threaded_hub(tmp_path: Path, home_broker: Mosquitto) -> Iterator[HubThread]:
    config = HubConfig(
        hub_id="hub-fuzz",
        home_id="home-fuzz",
        data_dir=tmp_path / "hub-fuzz",
        mqtt_host="127.0.0.1",
        mqtt_port=free_port(),  # no uplink broker: the outbox only grows
        mqtt_password="hub-secret",
        heartbeat_s=3600.0,
        home_mqtt=home_settings(home_broker),  # a dict, as a configuration file gives it
        consent="open",
    )
    running = HubThread(config)
    try:
        yield running
    finally:
        running.stop()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payload=st.binary(max_size=300))
@example(payload=b'{"smoke": "maybe"}')
@example(payload=b'{"smoke": [true], "battery": 90}')
@example(payload=b'{"battery": "lots", "smoke": false}')
@example(payload=b'{"water_leak": "wet"}')
@example(payload=b'{"smoke":true')
@example(payload=b"null")
@example(payload=b"\xff\xfe\x00")
@example(payload=b"[" * 5000)
def test_arbitrary_bytes_on_a_zigbee2mqtt_topic_change_nothing(
    threaded_hub: HubThread, vendor: VendorSide, payload: bytes
) -> None:
    bridge: HomeBridge = bridge_of(threaded_hub.hub)
    wait_for(lambda: bridge.connected, "the bridge to subscribe")
    db = threaded_hub.hub.config.data_dir / "hub.db"
    before = snapshot(db)
    handled = bridge.stats.handled
    vendor.publish("zigbee2mqtt/x", payload)
    wait_for(lambda: bridge.stats.handled > handled, "the bridge to handle it")
    assert bridge.stats.reports == 0
    assert snapshot(db) == before


def test_the_bridge_still_works_after_the_fuzz(threaded_hub: HubThread, vendor: VendorSide) -> None:
    bridge = bridge_of(threaded_hub.hub)
    wait_for(lambda: bridge.connected, "the bridge to subscribe")
    for junk in (b"\x00", b"{", b'{"smoke": 7}', b"[]"):
        vendor.publish("zigbee2mqtt/x", junk)
    vendor.publish("zigbee2mqtt/x", {"smoke": True})
    db = threaded_hub.hub.config.data_dir / "hub.db"
    wait_for(
        lambda: (
            read_db(db, "SELECT event, active FROM event_log WHERE device_id = 'x'")
            == [("smoke_alarm", 1)]
        ),
        "the real alarm after the junk",
    )
    assert bridge.stats.refused == 4


async def test_complaints_are_one_line_per_topic(
    make_hub: MakeHub, vendor: VendorSide, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hub.bridge")
    hub = await make_hub()
    bridge = bridge_of(hub)
    await eventually(lambda: bridge.connected)
    for _ in range(20):
        vendor.publish("zigbee2mqtt/noisy", b'{"smoke": "perhaps"}')
    vendor.publish("zigbee2mqtt/other", b"not json")
    await eventually(lambda: bridge.stats.handled >= 21, what="all handled")
    lines = [r.getMessage() for r in caplog.records if r.name == "hub.bridge"]
    assert len([m for m in lines if "zigbee2mqtt/noisy" in m]) == 1
    assert len([m for m in lines if "zigbee2mqtt/other" in m]) == 1
    assert bridge.stats.refused == 21
    assert bridge.connected
