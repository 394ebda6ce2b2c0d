"""A charging-station port: relay, breaker and meter, reporting state and obeying cuts.

One simulated device is one port (the catalog's ``charging_port``); a station with N ports is
N devices with the same ``station_id``. The port only *reports*: whether 62 degC or a
2 kW draw is a reason to cut is the community's rule, so the port raises no alarm of its
own. What it does do, like real hardware, is obey ``port_cut``/``port_enable`` and
acknowledge them, trip its breaker on a short, and tell the resident why a session ended
(``charge_session_ended``).

``acknowledge_commands=False`` simulates a station whose firmware ignores commands: it
neither acts nor acknowledges, which is exactly what the community must notice.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from devices.catalog import CommandName, DeviceKind, EventType
from devices.messages import Command
from firmware_stubs.charging_physics import (
    EBIKE,
    HIGH_POWER,
    ChargerLoad,
    ChargerProfile,
    PortMeter,
    PortPhysics,
)
from firmware_stubs.device import CommandHandler, SimulatedDevice
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.physics import MAINS

_LOG = logging.getLogger(__name__)

#: ``port_cut`` reasons that end a session as "full" rather than "cut" for the resident.
_FULL_REASONS: Final = frozenset({"full"})


class ChargingPort(SimulatedDevice):
    """One port of an e-bike charging station."""

    kind = DeviceKind.CHARGING_PORT

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        station_id: str = "station-1",
        port: int = 1,
        physics: PortPhysics | None = None,
        acknowledge_commands: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("battery", MAINS)
        super().__init__(identity, hub_url, token, **kwargs)
        if not 0 < len(station_id) <= 64:
            raise ValueError("station_id must be 1-64 characters")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 64:
            raise ValueError("port must be an integer 1-64")
        self.station_id = station_id
        self.port = port
        self.meter = PortMeter(physics or PortPhysics())
        self.acknowledge_commands = acknowledge_commands
        self.session_id: str | None = None
        self.session_active = False
        self.stop_reason = "none"
        self._session_started_at = 0.0
        self._session_energy0 = 0.0
        self._last_energy_wh = 0.0

    # --- what people and batteries do ------------------------------------------------------

    def plug_in(self, load: ChargerLoad | None = None) -> ChargerLoad:
        """A charger is plugged in (another one on a power strip, if one already is)."""
        load = load or ChargerLoad()
        self.meter.loads.append(load)
        self._sync_session()
        self._changed()
        return load

    def plug_in_power_strip(self, count: int = 3) -> list[ChargerLoad]:
        """A power strip feeding ``count`` chargers, their packs at different charge levels."""
        if not 2 <= count <= 8:
            raise ValueError("a power strip feeds 2-8 chargers")
        return [self.plug_in(ChargerLoad(EBIKE, soc=0.1 + 0.5 * i / count)) for i in range(count)]

    def plug_in_high_power(self) -> ChargerLoad:
        """A load no e-bike charger draws (a scooter fast charger, a heater)."""
        return self.plug_in(ChargerLoad(HIGH_POWER, soc=0.2))

    def overheat(self, runaway_w_per_s: float = 0.5) -> ChargerLoad:
        """The pack on the port starts heating by itself while it charges (thermal runaway)."""
        if not runaway_w_per_s > 0:
            raise ValueError("runaway_w_per_s must be positive")
        if not self.meter.loads:
            self.plug_in()
        self.meter.loads[0].runaway_w_per_s = runaway_w_per_s
        return self.meter.loads[0]

    def short(self) -> None:
        """The charger or its cable shorts: the port's protection trips on the next step."""
        if not self.meter.loads:
            self.plug_in(ChargerLoad(ChargerProfile(), soc=0.5))
        self.meter.loads[0].shorted = True
        if self.meter.powered:
            self.meter.tripped = True  # the breaker opens at once
        self._sync_session()
        self._changed()

    def unplug(self) -> None:
        """Every charger is unplugged."""
        if self.session_active:
            self._end_session("full" if self.meter.all_full else "unplugged")
        self.meter.loads.clear()
        self._changed()

    def stop_by_user(self) -> None:
        """The resident presses stop on the port."""
        self._open_relay("user")

    # --- commands --------------------------------------------------------------------------

    def cut(self, reason: str = "manual") -> str | None:
        """``port_cut``: open the relay and keep it open until :meth:`enable`."""
        self._open_relay("full" if reason in _FULL_REASONS else "cut")
        return None

    def enable(self) -> str | None:
        """``port_enable``: close the relay again; a tripped breaker resets if nothing shorts."""
        if self.meter.tripped and any(load.shorted for load in self.meter.loads):
            return "the port is shorted; unplug the faulty charger first"
        self.meter.tripped = False
        self.meter.relay_closed = True
        self._sync_session()
        self._changed()
        return None

    def _command_handlers(self) -> dict[CommandName, CommandHandler]:
        return {
            **super()._command_handlers(),
            CommandName.PORT_CUT: lambda args: self.cut(str(args.get("reason", "manual"))),
            CommandName.PORT_ENABLE: lambda _args: self.enable(),
        }

    def _handle_command(self, command: Command) -> None:
        if self.acknowledge_commands:
            super()._handle_command(command)
            return
        self.commands_received.append(command)
        _LOG.warning("%s: ignoring %s (simulated deaf station)", self.device_id, command.command)

    # --- state -----------------------------------------------------------------------------

    @property
    def port_state(self) -> str:
        if self.meter.tripped:
            return "fault"
        if not self.meter.relay_closed:
            return "stopped"
        if not self.meter.loads:
            return "idle"
        return "full" if self.meter.all_full else "charging"

    @property
    def energy_wh(self) -> float:
        if self.session_active:
            return max(0.0, self.meter.energy_wh - self._session_energy0)
        return self._last_energy_wh

    def _step(self, dt: float) -> None:
        self.meter.step(dt, self.rng.uniform(-1.0, 1.0))
        self._sync_session()

    def _snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {
            **super()._snapshot(),
            "station_id": self.station_id,
            "port": self.port,
            "port_state": self.port_state,
            "power_w": round(self.meter.power_w(), 1),
            "current_a": round(self.meter.current_a(), 2),
            "voltage_v": round(self.meter.voltage_v, 1),
            "temperature_c": round(self.meter.temperature_c, 1),
            "energy_wh": round(self.energy_wh, 1),
            "stop_reason": self.stop_reason,
        }
        if self.session_id is not None:
            snap["session_id"] = self.session_id
        return snap

    def _report_deltas(self) -> dict[str, float]:
        return {**super()._report_deltas(), **self.meter.physics.report_deltas}

    # --- sessions --------------------------------------------------------------------------

    def _open_relay(self, reason: str) -> None:
        self.meter.relay_closed = False
        if self.session_active:
            self._end_session(reason)
        self._changed()

    def _sync_session(self) -> None:
        """Start a session when power flows to a charger; end it when the breaker trips."""
        if self.session_active and self.meter.tripped:
            self._end_session("fault")
        elif not self.session_active and self.meter.powered and self.meter.loads:
            self.session_active = True
            self.session_id = f"{self.device_id[:40]}-{self.rng.getrandbits(48):012x}"
            self.stop_reason = "none"
            self._session_started_at = self._sim_time
            self._session_energy0 = self.meter.energy_wh

    def _end_session(self, reason: str) -> None:
        self._last_energy_wh = self.energy_wh
        self.session_active = False
        self.stop_reason = reason
        duration = max(0.0, self._sim_time - self._session_started_at)
        self._emit(
            EventType.CHARGE_SESSION_ENDED,
            data={
                "reason": reason,
                "energy_wh": round(self._last_energy_wh, 1),
                "duration_s": round(duration, 1),
            },
        )
