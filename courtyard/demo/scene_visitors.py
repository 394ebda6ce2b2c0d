"""The visitors scene: a resident issues a short pass, the visitor comes in, then comes back late.

A visitor gate (a ``visitor_gate`` stub installed with the community's pass public key) joins
the common-area gateway ``hub-common-1``. A resident of the first home asks their hub for a
pass valid for a fraction of the run (a few seconds of demo time) with two entries; the
answer comes back with the signed pass. The visitor shows it at the gate and is let in, with
no call home; after the window has closed they show it again and are refused (``expired``).
Both verdicts travel up as ``visitor_entry`` events and the community logs them.

The report reads the community's passes and entry log back (never a name: the community does
not have one).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from devices.catalog import DeviceKind
from firmware_stubs import make_device
from firmware_stubs.visitor_gate import VisitorGate

if TYPE_CHECKING:
    from courtyard.demo.property import PropertyStep
    from courtyard.demo.runner import Community

GATEWAY: Final = "hub-common-1"
GATE_ID: Final = "gate-north-1"
#: When the resident asks, and how long the pass lasts, as fractions of the run.
ISSUE_AT: Final = 0.12
WINDOW: Final = 0.25
ENTER_AT: Final = 0.22
LATE_AT: Final = 0.6
ANSWER_WAIT_S: Final = 15.0


class VisitorsScene:
    """Issue, enter, expire, refuse."""

    name = "visitors"

    def __init__(self) -> None:
        self._gate: VisitorGate | None = None
        self._request: tuple[str, str] | None = None  # (hub id, request id)

    async def setup(self, community: Community, duration: float) -> None:
        from courtyard.demo.runner import Timing  # the runner imports the scenes

        timing = Timing.for_duration(duration)
        hub = community.field_hubs[GATEWAY]
        token = hub.provision_device(GATE_ID, DeviceKind.VISITOR_GATE, "North gate", "North gate")
        gate = make_device(
            DeviceKind.VISITOR_GATE,
            GATE_ID,
            f"ws://127.0.0.1:{hub.http_port}/api/device/ws",
            token,
            heartbeat_s=timing.device_heartbeat_s,
            telemetry_s=timing.telemetry_s,
            rng=random.Random(1207),
            pass_key=community.server.visitors.public_key_hex,
            community_id=community.server.visitors.community_id,
        )
        assert isinstance(gate, VisitorGate)
        community.field_devices[GATE_ID] = gate  # stopped with the other field devices
        await gate.start()
        await gate.wait_connected(20)
        self._gate = gate

    def steps(self) -> Sequence[PropertyStep]:
        from courtyard.demo.property import PropertyStep

        return (
            PropertyStep(ISSUE_AT, "visitors: a resident issues a short visitor pass", self._issue),
            PropertyStep(ENTER_AT, "visitors: the visitor shows the pass at the gate", self._show),
            PropertyStep(LATE_AT, "visitors: the visitor comes back after it expired", self._show),
        )

    async def _issue(self, community: Community, duration: float) -> None:
        home = community.homes[0]
        hub = community.hubs[home.hub_id]
        now = datetime.now(UTC)
        body = {
            "name": "Demo Visitor",
            "plate": "沪A12345",
            "valid_from": now.isoformat(),
            "valid_to": (now + timedelta(seconds=max(2.0, WINDOW * duration))).isoformat(),
            "entries": 2,
        }
        self._request = (home.hub_id, hub.services.request("visitor_pass", "issue", body))

    async def _show(self, community: Community, duration: float) -> None:
        qr = await self._pass(community)
        if qr is None or self._gate is None:
            print("visitors: no pass to show (the community did not answer in time)", flush=True)
            return
        verdict = self._gate.present(qr, plate="沪A12345")
        print(f"visitors: gate says {verdict.reason}", flush=True)

    async def _pass(self, community: Community) -> str | None:
        if self._request is None:
            return None
        hub_id, request_id = self._request
        services = community.hubs[hub_id].services
        deadline = time.monotonic() + ANSWER_WAIT_S
        while time.monotonic() < deadline:
            answered = services.get(request_id)
            if answered and answered["answer"]:
                qr = (answered["data"] or {}).get("qr")
                return str(qr) if qr else None
            await asyncio.sleep(0.1)
        return None

    async def report(self, community: Community) -> dict[str, Any]:
        desk = community.server.visitors
        return {
            "passes": desk.passes(),
            "entries": [
                {k: e[k] for k in ("pass_id", "accepted", "reason", "at")}
                for e in reversed(desk.entries())
            ],
        }
