"""Done-when of the bridge: a Zigbee2MQTT smoke detector's payload on the resident's home
broker raises ``smoke_alarm`` at the community, and its all-clear clears it there.

Every part is real and separate, as in a deployment: the home's Mosquitto (where
Zigbee2MQTT publishes), the hub (bridge, SQLite, outbox, signed uplink), the community's
Mosquitto with per-hub accounts and ACLs, and a CommunityServer on its own event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.keys import load_or_create_hub_key
from tests.bridge.conftest import MakeHub, VendorSide, bridge_of, vendor_payload
from tests.community.support import Community, ServerThread, make_config
from tests.hub.support import eventually
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mosquitto

HUB_ID = "hub-e2e"
FRIENDLY_NAME = "Hall smoke"


@pytest.fixture
def community(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Community]:
    mosquitto.add_user("community", "community-secret", superuser=True)
    runner = ServerThread(make_config(mosquitto, tmp_path / "community")).start()
    bundle = Community(mosquitto, runner)
    try:
        yield bundle
    finally:
        bundle.close()


def _alarms(community: Community, device_id: str) -> list[dict[str, Any]]:
    return [a for a in community.server.alarms() if a["device_id"] == device_id]


async def test_a_zigbee2mqtt_smoke_payload_raises_and_clears_smoke_alarm_at_the_community(
    make_hub: MakeHub,
    community: Community,
    mosquitto: Mosquitto,
    vendor: VendorSide,
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "hub-e2e"
    data_dir.mkdir()
    key = load_or_create_hub_key(data_dir / "hub_key.pem")
    password = community.server.enroll_hub(HUB_ID, "home-301", key.public_key(), unit="301")
    mosquitto.add_user(HUB_ID, password)
    hub = await make_hub(
        hub_id=HUB_ID,
        home_id="home-301",
        data_dir=data_dir,
        mqtt_port=mosquitto.port,
        mqtt_password=password,
        ack_timeout_s=1.0,
    )
    await eventually(lambda: hub.uplink_connected, what="the uplink")
    await eventually(lambda: bridge_of(hub).connected, what="the home bridge")

    payload = vendor_payload("TS0601_smoke_1")
    vendor.publish(f"zigbee2mqtt/{FRIENDLY_NAME}", payload)
    await eventually(lambda: any(d.name == FRIENDLY_NAME for d in hub.devices()))
    [device] = [d for d in hub.devices() if d.name == FRIENDLY_NAME]

    await eventually(
        lambda: _alarms(community, device.device_id) != [],
        timeout=20,
        what="the alarm at the community",
    )
    [alarm] = _alarms(community, device.device_id)
    assert (alarm["kind"], alarm["severity"], alarm["status"]) == (
        "smoke_alarm",
        "critical",
        "active",
    )
    assert (alarm["hub_id"], alarm["home_id"]) == (HUB_ID, "home-301")
    assert (alarm["device_name"], alarm["room"]) == (FRIENDLY_NAME, "unassigned")
    assert alarm["key"].startswith(f"{HUB_ID}:")

    vendor.publish(f"zigbee2mqtt/{FRIENDLY_NAME}", {**payload, "smoke": False})
    await eventually(
        lambda: _alarms(community, device.device_id)[0]["status"] == "cleared",
        timeout=20,
        what="the all-clear at the community",
    )
    [alarm] = _alarms(community, device.device_id)
    assert alarm["cleared_by"] == "device"
    stored = [e for e in community.server.events() if e["device_id"] == device.device_id]
    assert [(e["event"], e["active"]) for e in stored] == [
        ("smoke_alarm", True),
        ("smoke_alarm", False),
    ]
    await eventually(lambda: hub.outbox_pending() == 0, timeout=20, what="every record acked")
