"""What the hub keeps about bridged (vendor) devices: which registry entries they are, their
sequence numbers, and which of every device's alarms the hub's event log holds as active.

A bridged device sends no ``seq`` of its own: the hub numbers the messages it decodes for it.
The counter continues from the highest number the hub ever stored for the device (its state
row and its event log), so it keeps increasing across restarts and even after the resident
removed and the bridge re-added the device; a number consumed by a message that was then not
stored is simply skipped.

A bridged device is registered with a token nobody ever sees (drawn and dropped here), so it
can never open a native link; the ``bridged_devices`` table, in the hub's one SQLite file,
records which registry entries belong to the bridge, so a vendor device named like a paired
native device cannot speak for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.catalog import EVENTS, DeviceKind, EventType
from hub.core import StateMachine, now_ms
from hub.registry import MAX_LABEL_LENGTH, DeviceRegistry
from hub.store import Store, StoredDevice

_STATEFUL = frozenset(str(e) for e, spec in EVENTS.items() if spec.stateful)

#: Where a newly bridged device lives until the resident names its room.
UNASSIGNED_ROOM = "unassigned"

_SCHEMA = """CREATE TABLE IF NOT EXISTS bridged_devices (
    device_id TEXT PRIMARY KEY,
    protocol TEXT NOT NULL,
    vendor_name TEXT NOT NULL,
    adapter TEXT NOT NULL,
    first_seen INTEGER NOT NULL)"""


class NotBridgeableError(ValueError):
    """The device id belongs to a native device, or the registry refused the entry."""


@dataclass(frozen=True, slots=True)
class VendorDevice:
    """What the adapter session knows about a device when it first reports."""

    device_id: str
    kind: DeviceKind
    protocol: str
    vendor_name: str
    adapter: str


def display_name(vendor_name: str, device_id: str) -> str:
    """The vendor's name (Zigbee2MQTT's friendly name) as a registry label, if it is one."""
    name = vendor_name.strip()[:MAX_LABEL_LENGTH]
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        name = ""
    return name or device_id[:MAX_LABEL_LENGTH]


class BridgedDevices:
    def __init__(self, store: Store, registry: DeviceRegistry, states: StateMachine) -> None:
        self._store = store
        self._registry = registry
        self._states = states
        with store.transaction():
            store.db.execute(_SCHEMA)
        self._ids = {
            row[0] for row in store.db.execute("SELECT device_id FROM bridged_devices").fetchall()
        }
        self._last_seq: dict[str, int] = {}

    def is_bridged(self, device_id: str) -> bool:
        return device_id in self._ids

    def ids(self) -> list[str]:
        return sorted(self._ids)

    def device(self, vendor: VendorDevice) -> StoredDevice:
        """The registry entry for a reporting vendor device, registering it the first time.

        Raises NotBridgeableError if the id is a native device's or the kind changed.
        """
        known = self._registry.get(vendor.device_id)
        if known is not None:
            if vendor.device_id not in self._ids:
                raise NotBridgeableError(f"{vendor.device_id} is a native device of this hub")
            if known.kind != vendor.kind:
                raise NotBridgeableError(
                    f"{vendor.device_id} is registered as a {known.kind}, not a {vendor.kind}"
                )
            return known
        name = display_name(vendor.vendor_name, vendor.device_id)
        try:
            with self._store.transaction():
                self._store.db.execute(
                    """INSERT INTO bridged_devices
                         (device_id, protocol, vendor_name, adapter, first_seen)
                       VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT(device_id) DO UPDATE SET protocol = excluded.protocol,
                         vendor_name = excluded.vendor_name, adapter = excluded.adapter""",
                    [vendor.device_id, vendor.protocol, name, vendor.adapter, now_ms()],
                )
                # The token is dropped unseen: a bridged device has no native link.
                self._registry.provision(vendor.device_id, vendor.kind, name, UNASSIGNED_ROOM)
        except ValueError as exc:
            raise NotBridgeableError(str(exc)) from None
        self._ids.add(vendor.device_id)
        device = self._registry.get(vendor.device_id)
        assert device is not None
        return device

    def next_seq(self, device_id: str) -> int:
        """The next sequence number for a bridged device's decoded message (a ``SeqSource``)."""
        last = self._last_seq.get(device_id)
        if last is None:
            row = self._store.db.execute(
                "SELECT MAX(seq) FROM event_log WHERE device_id = ? AND origin = 'device'",
                [device_id],
            ).fetchone()
            last = max(self._states.get(device_id).last_seq or 0, (row[0] if row else 0) or 0)
        self._last_seq[device_id] = last + 1
        return last + 1


class ActiveAlarms:
    """The stateful events each device has active according to the hub's event log.

    Loaded per device on first use, then kept current from the bus
    (:meth:`note` on every ``DeviceEventFired``).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._active: dict[str, dict[str, bool]] = {}

    def _load(self, device_id: str) -> dict[str, bool]:
        found = self._active.get(device_id)
        if found is None:
            rows = self._store.db.execute(
                """SELECT event, active FROM event_log WHERE id IN (
                     SELECT MAX(id) FROM event_log WHERE device_id = ? GROUP BY event)""",
                [device_id],
            ).fetchall()
            found = {str(event): bool(active) for event, active in rows}
            self._active[device_id] = found
        return found

    def of(self, device_id: str) -> set[EventType]:
        return {
            EventType(event)
            for event, active in self._load(device_id).items()
            if active and event in _STATEFUL
        }

    def note(self, device_id: str, event: EventType, active: bool) -> None:
        self._load(device_id)[str(event)] = active

    def forget(self, device_id: str) -> None:
        self._active.pop(device_id, None)
