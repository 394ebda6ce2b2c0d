"""A real community, the common-area hub with a visitor gate stub, and two homes' hubs, over a
real Mosquitto (the ``site`` of tests/notices plus a gate): visitor passes end to end."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from devices.catalog import DeviceKind
from firmware_stubs import make_device
from firmware_stubs.visitor_gate import VisitorGate
from tests.hub_ui.conftest import browser
from tests.notices.conftest import SHED_HUB, Site, site, wait_for

__all__ = ["GATE_ID", "SHED_HUB", "Site", "browser", "gate", "site", "wait_for"]

GATE_ID = "gate-north-1"


@pytest.fixture
async def gate(site: Site) -> AsyncIterator[VisitorGate]:
    """A gate on the common-area hub, installed with the community's pass key."""
    token = site.shed.provision_device(GATE_ID, DeviceKind.VISITOR_GATE, "North gate", "Gate")
    device = make_device(
        DeviceKind.VISITOR_GATE,
        GATE_ID,
        f"ws://127.0.0.1:{site.shed.http_port}/api/device/ws",
        token,
        rng=random.Random(7),
        state_file=site.tmp / "gate.json",
        pass_key=site.community.visitors.public_key_hex,
        community_id=site.community_config.community_id,
    )
    assert isinstance(device, VisitorGate)
    site.extra.append(device)
    await device.start()
    await device.wait_connected(20)
    await wait_for(lambda: site.community.visitors.gates(), "the gate's first report")
    yield device
