"""Whatever a device sends, the link answers with an error, changes nothing and stays up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from devices.catalog import DeviceKind
from devices.messages import ErrorCode, InteropError, parse_message
from hub import Hub
from tests.hub.conftest import MakeHub
from tests.hub.support import DeviceClient, connect_device, snapshot

_KEYS = st.sampled_from(
    ["v", "type", "device_id", "kind", "seq", "ts", "event", "state", "data", "active", "ref"]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["1.0", "event", "state", "smoke-1", "smoke_alarm", "hello", "heartbeat"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(_KEYS, st.text(max_size=8)), inner, max_size=6)
    ),
    max_leaves=12,
)
_FRAMES = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    _JSON.map(json.dumps),
)


def _rejected(frame: str | bytes) -> bool:
    if isinstance(frame, bytes):
        return True
    try:
        parse_message(frame)
    except InteropError:
        return True
    return False


@dataclass
class Rig:
    hub: Hub
    device: DeviceClient


@pytest.fixture
async def rig(make_hub: MakeHub, session: aiohttp.ClientSession) -> AsyncIterator[Rig]:
    hub = await make_hub(heartbeat_s=3600)
    token = hub.provision_device("smoke-1", DeviceKind.SMOKE_ALARM, "Kitchen", "kitchen")
    device = await connect_device(session, hub.http_port, token, "smoke-1", DeviceKind.SMOKE_ALARM)
    yield Rig(hub, device)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(frame=_FRAMES)
async def test_arbitrary_frames_never_crash_the_link_or_change_the_db(
    rig: Rig, frame: str | bytes
) -> None:
    # Frames that happen to be valid messages are other tests' business.
    assume(_rejected(frame))
    db: Path = rig.hub.config.data_dir / "hub.db"
    before = snapshot(db)
    if isinstance(frame, bytes):
        await rig.device.ws.send_bytes(frame)
    else:
        await rig.device.ws.send_str(frame)
    reply: dict[str, Any] = await rig.device.recv()
    assert reply["type"] == "error" and reply["code"] in set(ErrorCode)
    assert snapshot(db) == before
    # Still serving (and the consecutive-error count starts over).
    ack = await rig.device.request(rig.device.heartbeat())
    assert ack["type"] == "ack"
