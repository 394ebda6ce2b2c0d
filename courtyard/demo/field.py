"""The community's own field devices in the demo, and what happens to them, as data.

Besides the homes, an estate has places the property company runs itself: an e-bike
charging shed, the lifts, the fire lanes. Each *site* is one gateway (a hub the community
enrolls as a common area, so no resident's consent applies to it) with its devices. The
field timeline is written like the homes' one: fractions of the run, a device, an action.

The story it tells, in a 30-second run: three e-bikes charge in shed A; one battery runs
away and its port is cut (the cut acknowledged by the station); someone wheels an e-bike into
lift 1, the car is held and told so, and the duty staff release it; a car parks in the north
fire lane and, only once it has stayed past the zone's dwell threshold, the obstruction is
raised, then cleared when it drives off; finally smoke in the shed cuts every port.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from community.field_rules import MIN_DWELL_S, FieldRules, ZoneDwell
from devices.catalog import DeviceKind
from firmware_stubs import SimulatedDevice, make_device
from firmware_stubs.charging_physics import ChargerLoad

if TYPE_CHECKING:
    from courtyard.demo.runner import Timing

#: The run length the rates below are written for (as the homes' timeline).
REFERENCE_DURATION_S = 30.0
#: The north lane's zone; the demo gives it the shortest dwell the community allows.
NORTH_LANE = "north-gate"


@dataclass(frozen=True, slots=True)
class FieldDevice:
    device_id: str
    kind: DeviceKind
    name: str
    room: str
    #: Extra constructor options of the stub (station and port, zone).
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class FieldSite:
    """One gateway the community runs in a common area, and the devices behind it."""

    hub_id: str
    #: What the community files the gateway's alarms under in place of a home.
    area: str
    building: str
    devices: tuple[FieldDevice, ...]


def _port(n: int) -> FieldDevice:
    return FieldDevice(
        f"shed-a-port-{n}",
        DeviceKind.CHARGING_PORT,
        f"Shed A port {n}",
        "Shed A",
        (("station_id", "shed-a"), ("port", n)),
    )


FIELD_SITES: tuple[FieldSite, ...] = (
    FieldSite(
        "hub-shed-a",
        "shed-a",
        "",
        (
            *(_port(n) for n in range(1, 5)),
            FieldDevice("shed-a-smoke", DeviceKind.SHED_SMOKE_DETECTOR, "Shed A smoke", "Shed A"),
        ),
    ),
    FieldSite(
        "hub-common-1",
        "common-1",
        "1",
        (
            FieldDevice("lift-1-car-a", DeviceKind.ELEVATOR_CAMERA, "Lift 1 car A", "Lift 1"),
            FieldDevice(
                "lane-north",
                DeviceKind.FIRE_LANE_SENSOR,
                "North gate fire lane",
                "North gate",
                (("zone_id", NORTH_LANE),),
            ),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class FieldStep:
    """Call ``action`` on the field device ``device_id`` at fraction ``at`` of the run."""

    at: float
    device_id: str
    action: str
    says: str
    args: tuple[tuple[str, object], ...] = ()
    #: Rates written for a 30 s run, scaled with the duration like the homes' timeline.
    rates: tuple[tuple[str, float], ...] = ()

    def kwargs(self, duration: float) -> dict[str, object]:
        scale = REFERENCE_DURATION_S / duration
        return {**dict(self.args), **{name: v * scale for name, v in self.rates}}


FIELD_TIMELINE: tuple[FieldStep, ...] = (
    FieldStep(0.03, "shed-a-port-1", "plug_in", "an e-bike starts charging in shed A, port 1"),
    FieldStep(0.04, "shed-a-port-2", "plug_in", "an e-bike starts charging in shed A, port 2"),
    FieldStep(0.05, "shed-a-port-3", "plug_in", "an e-bike starts charging in shed A, port 3"),
    FieldStep(0.10, "lane-north", "vehicle_arrives", "a car stops in the north fire lane"),
    FieldStep(
        0.14,
        "shed-a-port-2",
        "overheat",
        "the battery on port 2 starts to run away (heating by itself)",
        rates=(("runaway_w_per_s", 3000.0),),
    ),
    FieldStep(0.30, "lift-1-car-a", "ebike_enters", "an e-bike is wheeled into lift 1"),
    FieldStep(
        0.56,
        "shed-a-smoke",
        "start_fire",
        "smoke in charging shed A",
        rates=(("rise_per_s", 3.0),),
    ),
    FieldStep(0.64, "lift-1-car-a", "ebike_leaves", "the e-bike is taken out of lift 1"),
    FieldStep(0.74, "lane-north", "vehicle_leaves", "the car leaves the fire lane"),
    FieldStep(
        0.78,
        "shed-a-smoke",
        "clear_smoke",
        "the smoke in shed A clears",
        rates=(("fall_per_s", 30.0),),
    ),
)


def field_rules() -> FieldRules:
    """The built-in rules; the north lane's vehicle dwell is the shortest allowed (10 s) so
    a short run shows an obstruction raised only after its threshold."""
    return FieldRules(zones={NORTH_LANE: ZoneDwell(vehicle_s=MIN_DWELL_S, object_s=MIN_DWELL_S)})


@dataclass
class FieldLog:
    """What the field timeline did and when (wall clock, ms), for the report."""

    at_ms: dict[tuple[str, str], int] = field(default_factory=dict)

    def record(self, step: FieldStep) -> None:
        self.at_ms.setdefault((step.device_id, step.action), int(time.time() * 1000))


def make_field_devices(
    site: FieldSite,
    hub_url: str,
    tokens: dict[str, str],
    data_dir: Path,
    timing: Timing,
    seed: int,
) -> dict[str, SimulatedDevice]:
    """The stubs of one site, each with the token its gateway provisioned."""
    out: dict[str, SimulatedDevice] = {}
    for n, spec in enumerate(site.devices):
        out[spec.device_id] = make_device(
            spec.kind,
            spec.device_id,
            hub_url,
            tokens[spec.device_id],
            heartbeat_s=timing.device_heartbeat_s,
            telemetry_s=timing.telemetry_s,
            state_file=data_dir / "devices" / f"{spec.device_id}.json",
            rng=random.Random(seed * 7919 + n),
            **dict(spec.options),
        )
    return out


def act(device: SimulatedDevice, step: FieldStep, duration: float) -> None:
    """Play one field step on its device."""
    kwargs = step.kwargs(duration)
    if step.action == "plug_in":
        # A pack at 40 %: it charges at full current through the whole run.
        kwargs.setdefault("load", ChargerLoad(soc=0.4))
    getattr(device, step.action)(**kwargs)
