"""The parcels scene: a courier fills a locker, the home is told and reminded, and collects.

A parcel-locker stub joins the common-area gateway ``hub-common-1`` (as the runner adds field
devices). A courier stows a parcel for the first home; the community tells that home's hub,
with the pickup code in the notice and nowhere else it keeps. The reminder delay is shortened
to a fraction of the run so the reminder fires before the resident comes down; the resident
then types the code *their hub received* (read from the hub's notice, not from the locker)
and the compartment opens.

The report reads the community's parcel desk back: when the parcel was delivered, how often
it was reminded, when it was picked up — never the code.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from devices.catalog import DeviceKind
from firmware_stubs import ParcelLocker, make_device

if TYPE_CHECKING:
    from courtyard.demo.property import PropertyStep
    from courtyard.demo.runner import Community

GATEWAY: Final = "hub-common-1"
LOCKER_ID: Final = "locker-gate-1"
PARCEL_ID: Final = "SF1400098822"
DELIVER_AT: Final = 0.1
PICK_UP_AT: Final = 0.55
#: The reminder delay as a fraction of the run (a day in a real estate).
REMIND_AFTER: Final = 0.2


class ParcelsScene:
    """Deliver, remind, pick up."""

    name = "parcels"

    def __init__(self) -> None:
        self._locker: ParcelLocker | None = None

    async def setup(self, community: Community, duration: float) -> None:
        from courtyard.demo.runner import Timing  # the runner imports the scenes

        timing = Timing.for_duration(duration)
        community.server.parcels.remind_after_s = (REMIND_AFTER * duration,)
        community.server.parcels.poll_s = max(0.2, duration / 100)
        hub = community.field_hubs[GATEWAY]
        token = hub.provision_device(LOCKER_ID, DeviceKind.PARCEL_LOCKER, "Gate locker", "Gate")
        locker = make_device(
            DeviceKind.PARCEL_LOCKER,
            LOCKER_ID,
            f"ws://127.0.0.1:{hub.http_port}/api/device/ws",
            token,
            heartbeat_s=timing.device_heartbeat_s,
            telemetry_s=timing.telemetry_s,
            rng=random.Random(1400),
            locker_id="gate-1",
        )
        assert isinstance(locker, ParcelLocker)
        community.field_devices[LOCKER_ID] = locker  # stopped with the other field devices
        await locker.start()
        await locker.wait_connected(20)
        self._locker = locker

    def steps(self) -> Sequence[PropertyStep]:
        from courtyard.demo.property import PropertyStep

        return (
            PropertyStep(
                DELIVER_AT, "parcels: a courier leaves a parcel in the gate locker", self._deliver
            ),
            PropertyStep(
                PICK_UP_AT,
                "parcels: the resident collects it with the code from their hub",
                self._pick_up,
            ),
        )

    async def _deliver(self, community: Community, duration: float) -> None:
        if self._locker is not None and community.homes:
            self._locker.deliver(community.homes[0].home_id, PARCEL_ID)

    async def _pick_up(self, community: Community, duration: float) -> None:
        if self._locker is None or not community.homes:
            return
        hub = community.hubs[community.homes[0].hub_id]
        for _ in range(100):  # the notice may still be on its way
            codes = [
                n["data"].get("code")
                for n in hub.notices.list()
                if n["code"] == "parcel_arrived" and n["data"].get("parcel_id") == PARCEL_ID
            ]
            if codes and isinstance(codes[0], str):
                self._locker.pick_up(codes[0])
                return
            await asyncio.sleep(0.1)

    async def report(self, community: Community) -> dict[str, Any]:
        view = await community.server.read_parcels("all", 50)
        parcels = [p for p in view["parcels"] if p["parcel_id"] == PARCEL_ID]
        if not parcels:
            return {"delivered": False}
        parcel = parcels[0]
        return {
            "delivered": True,
            "home_id": parcel["home_id"],
            "locker": parcel["locker"],
            "compartment": parcel["compartment"],
            "delivered_at": parcel["delivered_at"],
            "notified": parcel["notified"],
            "reminded": parcel["reminded"],
            "picked_up_at": parcel["picked_up_at"],
            "status": parcel["status"],
            "history": [h["action"] for h in parcel["history"]],
        }
