"""The headless demo's JSON report.

Counts are taken at both ends independently: what was *injected* comes from the devices
(every alarm event a firmware stub emitted) and from the hubs (every ``device_offline`` their
supervision raised); what was *delivered* comes from the community's own event store. An
alarm is identified end to end by (device id, event, device seq, active), which the hub and
community carry unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from courtyard.demo.consent import withheld_events
from courtyard.demo.field import NORTH_LANE
from courtyard.demo.stats import summary
from devices.catalog import EventType, is_alarm

if TYPE_CHECKING:
    from courtyard.demo.monitor import AlarmMonitor
    from courtyard.demo.runner import Community, Timing

AlarmKey = tuple[str, str, int, bool]

_REPORTED_ALARM_FIELDS = (
    "id",
    "home_id",
    "hub_id",
    "device_id",
    "device_name",
    "room",
    "kind",
    "severity",
    "status",
    "acknowledged",
    "count",
    "raised_at",
    "acked_at",
    "acked_by",
    "cleared_at",
    "cleared_by",
    "handling",
    "escalation_tier",
    "command_status",
    "hold",
)


def injected_alarms(community: Community) -> Counter[AlarmKey]:
    """Every alarm-raising or -ending event at its origin."""
    out: Counter[AlarmKey] = Counter()
    for device in community.all_devices():
        for event in device.sent_events:
            if is_alarm(event.event):
                out[(event.device_id, str(event.event), event.seq, event.active)] += 1
    for event in community.hub_raised:
        if is_alarm(event.event):
            out[(event.device_id, str(event.event), event.seq, event.active)] += 1
    return out


def delivered_alarms(community: Community) -> Counter[AlarmKey]:
    """Every alarm event the community stored (a key stored twice counts twice)."""
    out: Counter[AlarmKey] = Counter()
    for row in community.server.events():
        if is_alarm(EventType(row["event"])):
            out[(row["device_id"], row["event"], int(row["device_seq"]), bool(row["active"]))] += 1
    return out


async def build_report(
    community: Community, monitor: AlarmMonitor, timing: Timing
) -> dict[str, Any]:
    injected = injected_alarms(community)
    withheld = withheld_events(community)
    delivered = delivered_alarms(community)
    raised_injected = {k for k in injected if k[3]}
    raised_delivered = {k for k in delivered if k[3]}
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    alarms = community.server.alarms(limit=1000)
    stats = community.server.stats()
    return {
        "homes": len(community.homes),
        "hubs": len(community.hubs),
        "devices": len(community.devices),
        "field_hubs": len(community.field_hubs),
        "field_devices": len(community.field_devices),
        "alarms_injected": len(raised_injected),
        "alarms_delivered": len(raised_injected & raised_delivered),
        "alarm_events_injected": len(injected),
        "alarm_events_delivered": len(set(injected) & set(delivered)),
        "duplicates": duplicates,
        "withheld_by_consent": len(set(injected) & withheld),
        "lost": len(set(injected) - set(delivered) - withheld),
        "unexpected": len(set(delivered) - set(injected)),
        "latency_ms": summary(list(monitor.latencies_ms.values())),
        "latency_definition": "device event timestamp to the alarm push received by a dashboard "
        "WebSocket client, after the community stored it",
        "broker": {
            "name": "courtyard embedded broker (MQTT 3.1.1, in-process)",
            **community.broker.stats(),
        },
        "community": stats,
        "time_compression": {
            "supervision_scale": timing.supervision_scale,
            "device_heartbeat_s": timing.device_heartbeat_s,
            "hub_heartbeat_s": timing.hub_heartbeat_s,
        },
        "privacy": community.consents.report(community),
        "field": field_report(community, alarms),
        "property": {scene.name: await scene.report(community) for scene in community.scenes},
        "alarms": [{k: a.get(k) for k in _REPORTED_ALARM_FIELDS} for a in alarms],
    }


def field_report(community: Community, alarms: list[dict[str, Any]]) -> dict[str, Any]:
    """What the community's field services did: port cuts with their acknowledgement,
    elevator holds and who released them, fire-lane obstructions against their dwell."""
    rules = community.server.field.rules
    lanes = []
    for alarm in alarms:
        if alarm["kind"] != "fire_lane_obstructed":
            continue
        arrived = community.field_log.at_ms.get((alarm["device_id"], "vehicle_arrives"))
        raised_ms = _ms(alarm["raised_at"])
        lane = rules.rule("lane_vehicle")
        threshold = rules.duration_s(lane, {"zone_id": NORTH_LANE}) if lane else None
        lanes.append(
            {
                "alarm_id": alarm["id"],
                "device_id": alarm["device_id"],
                "dwell_threshold_s": threshold,
                "blocked_for_s_when_raised": None
                if arrived is None
                else round((raised_ms - arrived) / 1000, 1),
                "status": alarm["status"],
                "cleared_at": alarm["cleared_at"],
            }
        )
    return {
        "cuts": [
            {k: cut[k] for k in ("device_id", "reason", "alarm_id", "command_status")}
            for cut in community.server.field.cuts()
        ],
        "elevator_holds": [
            {"alarm_id": a["id"], "device_id": a["device_id"], **a["hold"]}
            for a in alarms
            if a.get("hold")
        ],
        "fire_lanes": lanes,
    }


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def write_cap(report: Path, messages: Iterable[tuple[str, bytes]]) -> Path:
    """Every CAP message the community published, one XML file each, beside the report
    (``r.json`` → ``r.cap/``), for city platforms and for checking against the CAP schema."""
    cap_dir = report.with_suffix(".cap")
    cap_dir.mkdir(parents=True, exist_ok=True)
    for name, xml in messages:
        (cap_dir / Path(name).name).write_bytes(xml)
    return cap_dir
