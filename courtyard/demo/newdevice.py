"""A new smoke alarm, still in its box, waiting for the resident of the first home to pair it.

The interactive demo starts it in pairing mode next to the first home's hub (which browses the
LAN with zeroconf) and prints its setup code and the hub's page. Pairing it there is exactly
what a resident does at home; once paired it joins the home, and a test fire a few seconds
later shows its first alarm reaching the community board under the name and room the resident
chose.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from devices.catalog import DeviceKind
from firmware_stubs import DeviceIdentity, SimulatedDevice, SmokeAlarm, make_device
from firmware_stubs.device_secrets import identity_path, load_or_create
from firmware_stubs.pairing import PairingServer

#: Seconds between pairing and the test fire, so the resident can switch to the board.
TEST_FIRE_AFTER_S = 8.0


class NewDevice:
    def __init__(
        self,
        device_id: str,
        state_dir: Path,
        say: Callable[[str], None],
        *,
        heartbeat_s: float,
        telemetry_s: float,
    ) -> None:
        self.device_id = device_id
        self._heartbeat_s = heartbeat_s
        self._telemetry_s = telemetry_s
        self._state_file = state_dir / f"{device_id}.json"
        self._say = say
        self._server: PairingServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.device: SimulatedDevice | None = None

    async def start(self) -> str:
        """Start advertising for pairing; returns the setup code printed on the label."""
        secrets = load_or_create(identity_path(self._state_file))
        identity = DeviceIdentity.default(DeviceKind.SMOKE_ALARM, self.device_id)
        self._server = PairingServer(identity, secrets)
        await self._server.start()
        self._task = asyncio.create_task(self._after_pairing(), name="demo-new-device")
        return self._server.setup_code

    async def _after_pairing(self) -> None:
        assert self._server is not None
        credentials = await self._server.wait_paired()
        await self._server.stop()
        device = make_device(
            DeviceKind.SMOKE_ALARM,
            self.device_id,
            credentials.hub_url,
            credentials.token,
            state_file=self._state_file,
        )
        self.device = device
        await device.start()
        self._say(
            f"  >> new smoke alarm {self.device_id} paired; a test fire in "
            f"{TEST_FIRE_AFTER_S:.0f} s"
        )
        await asyncio.sleep(TEST_FIRE_AFTER_S)
        assert isinstance(device, SmokeAlarm)
        device.start_fire(rise_per_s=5.0)
        await asyncio.sleep(6.0)
        device.clear_smoke(fall_per_s=20.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.stop()
        if self.device is not None:
            await self.device.stop()
