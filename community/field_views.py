"""What the property manager's field pages show: the charging shed and the fire lanes.

Read-only views over the community database, built for people rather than for the rules:
every charging port with its latest readings, the cuts the rules made and whether each was
carried out, and every fire-lane zone with how long it has been occupied. They read the field
engine's own tables (``field_rule_state`` holds each device's merged latest state and, per
rule, since when its condition has held on the community's clock), the command book
(``downlink_commands``), the alarms and the hubs — nothing is recomputed from device clocks.

Each view whitelists the state fields it returns. A fire-lane sensor also reports the plate of
a vehicle it could read; that is personal data and never leaves this module: a lane is
``clear``, or occupied by a ``vehicle`` and/or an ``object``, nothing more.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from community.clock import iso
from community.field_rules import Dwell, FieldRules
from community.store import Store
from devices.catalog import DeviceKind, EventType

#: The readings of a charging port the shed page shows (the catalog's state fields).
PORT_FIELDS: Final = (
    "station_id",
    "port",
    "port_state",
    "power_w",
    "current_a",
    "voltage_v",
    "temperature_c",
    "energy_wh",
    "session_id",
    "stop_reason",
)
#: Cuts listed on the shed page (most recent first); each port also lists its latest few.
MAX_CUTS: Final = 50
PORT_CUTS: Final = 3

_STATES: Final = (
    "SELECT hub_id, device_id, rule, device, state, since_ms FROM field_rule_state"
    " ORDER BY hub_id, device_id, rule"
)
_HUBS: Final = "SELECT hub_id, home_id, building, unit, status FROM hubs"
_OPEN_ALARMS: Final = (
    "SELECT id, hub_id, device_id, kind, severity, severity_rank, status, acknowledged,"
    " raised_at FROM alarms WHERE status = 'active' OR acknowledged = 0"
    " ORDER BY (status = 'active') DESC, severity_rank, id DESC"
)
_CUTS: Final = (
    "SELECT c.hub_id, c.device_id, c.reason, c.alarm_id, c.command_id,"
    " coalesce(nullif(c.asked_ms, 0), d.issued_ms) AS asked_ms, d.status, d.overdue, d.error,"
    " d.result_ms FROM field_cuts c LEFT JOIN downlink_commands d"
    " ON d.command_id = c.command_id ORDER BY coalesce(nullif(c.asked_ms, 0), d.issued_ms) DESC"
)
OBSTRUCTED: Final = str(EventType.FIRE_LANE_OBSTRUCTED)
_LAST_REPORT: Final = "SELECT max(received_at) AS at FROM events WHERE hub_id = ? AND device_id = ?"


class CutStatus(StrEnum):
    """Where a cut stands, as the shed page words it."""

    #: The rules asked for it; the command is not booked yet (a moment, or the hub is unknown).
    ASKED = "asked"
    PENDING = "pending"
    #: Still pending past the command desk's deadline (it is alarmed).
    OVERDUE = "overdue"
    ACKED = "acked"
    FAILED = "failed"


class Occupancy(StrEnum):
    CLEAR = "clear"
    VEHICLE = "vehicle"
    OBJECT = "object"
    VEHICLE_AND_OBJECT = "vehicle_and_object"


_OCCUPANCY: Final = {
    (False, False): Occupancy.CLEAR,
    (True, False): Occupancy.VEHICLE,
    (False, True): Occupancy.OBJECT,
    (True, True): Occupancy.VEHICLE_AND_OBJECT,
}


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """Narrow a view to one hub and/or one place (a station, or a fire-lane zone)."""

    hub: str | None = None
    place: str | None = None


@dataclass(frozen=True, slots=True)
class _Device:
    """One field device as the engine last saw it: identity, merged state, held conditions."""

    hub_id: str
    device_id: str
    info: dict[str, Any]
    state: dict[str, Any]
    #: rule name -> since when (community ms) its condition has held.
    since: dict[str, int]


def _devices(store: Store, kind: DeviceKind) -> list[_Device]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in store.read(_STATES):
        grouped[(row["hub_id"], row["device_id"])].append(row)
    devices = []
    for (hub_id, device_id), rows in grouped.items():
        info = json.loads(rows[0]["device"])
        if info.get("device_kind") != str(kind):
            continue
        # Every rule's row is written from the same merged state; the last one is as good.
        devices.append(
            _Device(
                hub_id,
                device_id,
                info,
                json.loads(rows[-1]["state"]),
                {r["rule"]: int(r["since_ms"]) for r in rows if r["since_ms"] is not None},
            )
        )
    return devices


def _open_alarms(store: Store) -> dict[tuple[str, str], list[dict[str, Any]]]:
    alarms: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in store.read(_OPEN_ALARMS):
        alarms[(row["hub_id"], row["device_id"])].append(
            {
                "id": row["id"],
                "kind": row["kind"],
                "severity": row["severity"],
                "status": row["status"],
                "acknowledged": bool(row["acknowledged"]),
                "raised_at": row["raised_at"],
            }
        )
    return alarms


def _hubs(store: Store) -> dict[str, dict[str, Any]]:
    return {row["hub_id"]: row for row in store.read(_HUBS)}


def _place(hubs: dict[str, dict[str, Any]], hub_id: str) -> dict[str, Any]:
    hub = hubs.get(hub_id, {})
    return {
        "hub_id": hub_id,
        "home_id": hub.get("home_id"),
        "building": hub.get("building"),
        "unit": hub.get("unit"),
        "hub_status": hub.get("status"),
    }


def _last_report(store: Store, device: _Device) -> str | None:
    rows = store.read(_LAST_REPORT, [device.hub_id, device.device_id])
    return rows[0]["at"] if rows else None


def _cut_status(row: dict[str, Any]) -> CutStatus:
    if row["command_id"] is None:
        return CutStatus.ASKED
    if row["status"] is None or row["status"] == CutStatus.PENDING:
        return CutStatus.OVERDUE if row["overdue"] else CutStatus.PENDING
    return CutStatus(row["status"])


def _cut_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "hub_id": row["hub_id"],
        "device_id": row["device_id"],
        "reason": row["reason"],
        "alarm_id": row["alarm_id"],
        "command_id": row["command_id"],
        "asked_at": None if row["asked_ms"] is None else iso(int(row["asked_ms"])),
        "command_status": str(_cut_status(row)),
        "error": row["error"] or None,
        "result_at": None if row["result_ms"] is None else iso(int(row["result_ms"])),
    }


def _wanted(device: _Device, place: str | None, view: FieldFilter) -> bool:
    return (view.hub is None or device.hub_id == view.hub) and (
        view.place is None or place == view.place
    )


def ports(store: Store, view: FieldFilter, now: int) -> dict[str, Any]:
    """Every charging port grouped by (hub, station), with readings, alarms and cuts."""
    hubs = _hubs(store)
    alarms = _open_alarms(store)
    devices = [
        d
        for d in _devices(store, DeviceKind.CHARGING_PORT)
        if _wanted(d, str(d.state.get("station_id") or ""), view)
    ]
    shown = {(d.hub_id, d.device_id) for d in devices}
    cuts = [_cut_view(r) for r in store.read(_CUTS) if (r["hub_id"], r["device_id"]) in shown]
    by_port: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for cut in cuts:
        by_port[(cut["hub_id"], cut["device_id"])].append(cut)
    stations: dict[tuple[str, str], dict[str, Any]] = {}
    for device in devices:
        station_id = str(device.state.get("station_id") or "")
        station = stations.setdefault(
            (device.hub_id, station_id),
            {**_place(hubs, device.hub_id), "station_id": station_id, "ports": []},
        )
        key = (device.hub_id, device.device_id)
        station["ports"].append(
            {
                "hub_id": device.hub_id,
                "device_id": device.device_id,
                "device_name": device.info.get("device_name"),
                "room": device.info.get("room"),
                **{name: device.state.get(name) for name in PORT_FIELDS},
                "last_report_at": _last_report(store, device),
                "alarms": alarms.get(key, []),
                "cuts": by_port[key][:PORT_CUTS],
            }
        )
    for station in stations.values():
        station["ports"].sort(key=lambda p: (p["port"] or 0, p["device_id"]))
    return {
        "server_time": iso(now),
        "stations": [stations[k] for k in sorted(stations)],
        "cuts": cuts[:MAX_CUTS],
    }


def _dwell(rules: FieldRules, state: dict[str, Any], dwell: Dwell) -> tuple[float | None, ...]:
    """(threshold, repeat) of the first lane rule of this dwell kind, for this zone."""
    for rule in rules.for_kind(str(DeviceKind.FIRE_LANE_SENSOR)):
        if rule.dwell is dwell:
            return rules.duration_s(rule, state), rules.repeat_s(rule, state)
    return None, None


def lanes(store: Store, rules: FieldRules, view: FieldFilter, now: int) -> dict[str, Any]:
    """Every fire-lane zone: what stands there, since when, its thresholds, its alarm."""
    hubs = _hubs(store)
    alarms = _open_alarms(store)
    zones = []
    for device in _devices(store, DeviceKind.FIRE_LANE_SENSOR):
        zone_id = str(device.state.get("zone_id") or "")
        if not _wanted(device, zone_id, view):
            continue
        vehicle = device.state.get("vehicle_present") is True
        thing = device.state.get("object_present") is True
        occupied = vehicle or thing
        since = min(device.since.values()) if occupied and device.since else None
        vehicle_s, repeat_s = _dwell(rules, device.state, Dwell.VEHICLE)
        object_s, _ = _dwell(rules, device.state, Dwell.OBJECT)
        open_alarms = alarms.get((device.hub_id, device.device_id), [])
        zones.append(
            {
                **_place(hubs, device.hub_id),
                "device_id": device.device_id,
                "device_name": device.info.get("device_name"),
                "room": device.info.get("room"),
                "zone_id": zone_id,
                "occupancy": str(_OCCUPANCY[(vehicle, thing)]),
                "vehicle_present": vehicle,
                "object_present": thing,
                "occupied_since": None if since is None else iso(since),
                "vehicle_dwell_s": vehicle_s,
                "object_dwell_s": object_s,
                "repeat_s": repeat_s,
                "last_report_at": _last_report(store, device),
                "obstruction": next(
                    (a for a in open_alarms if a["kind"] == OBSTRUCTED and a["status"] == "active"),
                    None,
                ),
                "alarms": open_alarms,
            }
        )
    zones.sort(key=lambda z: (z["zone_id"], z["hub_id"], z["device_id"]))
    return {"server_time": iso(now), "zones": zones}
