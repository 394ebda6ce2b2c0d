"""Which homes and devices the demo builds: data, so a bigger community is a bigger table."""

from __future__ import annotations

from dataclasses import dataclass

from devices.catalog import DeviceKind


@dataclass(frozen=True, slots=True)
class DeviceRole:
    """One device every demo home has: a short role name, its kind, a display name and room."""

    role: str
    kind: DeviceKind
    name: str
    room: str


HOME_DEVICES: tuple[DeviceRole, ...] = (
    DeviceRole("kitchen-smoke", DeviceKind.SMOKE_ALARM, "Kitchen smoke alarm", "kitchen"),
    DeviceRole("bedroom-smoke", DeviceKind.SMOKE_ALARM, "Bedroom smoke alarm", "bedroom"),
    DeviceRole("gas", DeviceKind.GAS_DETECTOR, "Gas detector", "kitchen"),
    DeviceRole("fall", DeviceKind.FALL_DETECTOR, "Fall sensor", "bathroom"),
    DeviceRole("sos", DeviceKind.EMERGENCY_BUTTON, "Emergency button", "bedroom"),
    DeviceRole("leak", DeviceKind.WATER_LEAK, "Leak sensor", "bathroom"),
)

FLATS_PER_BUILDING = 10


@dataclass(frozen=True, slots=True)
class Home:
    index: int
    building: str
    unit: str
    flat: str

    @property
    def home_id(self) -> str:
        return f"{self.building}-{self.flat}"

    @property
    def hub_id(self) -> str:
        return f"hub-{self.home_id}"

    def device_id(self, role: DeviceRole) -> str:
        return f"{self.home_id}-{role.role}"


def homes(count: int) -> list[Home]:
    """Homes numbered like a real estate: building 1 flats 101, 102, 201 … then building 2."""
    out = []
    for i in range(count):
        building, slot = divmod(i, FLATS_PER_BUILDING)
        floor, door = divmod(slot, 2)
        out.append(
            Home(index=i, building=str(building + 1), unit="1", flat=f"{floor + 1}0{door + 1}")
        )
    return out
