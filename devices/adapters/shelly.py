"""Shelly: Gen1 sensors (plain-text topics) and Gen2 devices (JSON-RPC notifications).

Gen1 (``shellies/<model>-<mac>/...``, every value plain text, never JSON):

- ``sensor/gas``: ``none|mild|heavy|test`` (``unknown`` while warming up); ``test`` is a
  self-test, not a leak. ``sensor/operation``: ``unknown|warmup|normal|fault``.
  ``sensor/self_test``: ``not_completed|completed|running|pending``. ``sensor/concentration``:
  ppm as text (-1 while warming up). ``valve/0/state``: ``opened``, not ``open``.
- ``sensor/smoke`` (Shelly Smoke), ``sensor/flood`` (Shelly Flood): ``true``/``false``
  (``1``/``0`` also seen); ``sensor/battery``: percent.
- ``online``: ``true``/``false`` (LWT and birth message).

Gen2 (``<topic_prefix>/events/rpc``; the prefix is configurable and defaults to the device
id): ``NotifyStatus``/``NotifyFullStatus`` carry components such as ``smoke:0`` (``alarm``,
``mute``) and ``devicepower:0`` (``battery.percent``, may be a float); ``NotifyEvent`` carries
``alarm``, ``alarm_off`` and ``alarm_test`` (a test never sets ``alarm``). The device id is the
topic prefix, so status topics (``<prefix>/status/smoke:0``) map to the same device.

Shelly Gas reports concentration in ppm; it is not converted to %LEL because the device
exists for natural gas and for LPG, whose explosive limits differ.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any, Final

from devices.adapters.definition import (
    AdapterDefinition,
    CommandEncoder,
    DeviceFacts,
    Ignored,
    Matcher,
    Protocol,
    Report,
    Route,
    Routed,
)
from devices.adapters.errors import AdapterError
from devices.adapters.pieces import (
    battery_pct,
    boolean_alarm,
    enum_alarm,
    enum_field,
    event_list,
    flag,
    number_reading,
    self_test_result,
    timestamp,
)
from devices.adapters.readers import availability, ignore, json_object, text_value
from devices.adapters.values import as_object, flatten, payload_object
from devices.catalog import CommandName, DeviceKind, EventType
from devices.messages import Command

GEN1: Final = "shelly_gen1"
GEN2: Final = "shelly_gen2"

GEN1_PROTOCOL: Final = Protocol(
    name=GEN1,
    description="Shelly Gen1 MQTT (shellies/<id>/sensor/<name>, plain text).",
    params={"prefix": "shellies"},
    subscriptions=("{prefix}/+/online", "{prefix}/+/sensor/+", "{prefix}/+/valve/+/state"),
    routes=(
        Route("{prefix}/announce", ignore("announce"), "device announcements"),
        Route("{prefix}/command", ignore("a command"), "broadcast commands"),
        Route("{prefix}/{device}/online", availability(("true",), ("false",)), "LWT/birth"),
        Route("{prefix}/{device}/sensor/start_self_test", ignore("a command"), "command"),
        Route("{prefix}/{device}/sensor/mute", ignore("a command"), "command"),
        Route("{prefix}/{device}/sensor/unmute", ignore("a command"), "command"),
        Route("{prefix}/{device}/sensor/{property}", text_value(), "one sensor value"),
        Route("{prefix}/{device}/valve/{n}/state", text_value("valve"), "valve position"),
        Route("{prefix}/{device}/{rest+}", ignore("not a sensor topic"), "other topics"),
    ),
)

GAS: Final = AdapterDefinition(
    name="shelly_gas",
    vendor="Shelly",
    protocol=GEN1,
    kind=DeviceKind.GAS_DETECTOR,
    description="Shelly Gas SHGS-1 (with the optional valve add-on).",
    matcher=Matcher(names=("shellygas-*",), properties=("gas", "concentration", "operation")),
    decoders=(
        enum_alarm(
            "gas",
            event=EventType.GAS_ALARM,
            field="gas_state",
            raise_on={"mild": "warning", "heavy": "critical"},
            clear_on={"none": "normal"},
            testing=("test",),
            ignore=("unknown",),
        ),
        enum_alarm(
            "operation",
            event=EventType.HARDWARE_FAULT,
            field="hardware_fault",
            raise_on={"fault": True},
            clear_on={"normal": False, "warmup": False},
            ignore=("unknown",),
        ),
        self_test_result(
            "self_test",
            running=("running", "pending"),
            done=("completed",),
            idle=("not_completed",),
        ),
        number_reading("concentration"),
        enum_field(
            "valve",
            "valve",
            {
                "opened": "open",
                "closed": "closed",
                "not_connected": "none",
                "closing": None,
                "opening": None,
                "checking": None,
                "unknown": None,
                "failure": None,
            },
        ),
        enum_alarm(
            "valve",
            event=EventType.HARDWARE_FAULT,
            field="hardware_fault",
            raise_on={"failure": True},
            clear_on={"opened": False, "closed": False, "not_connected": False},
            ignore=("closing", "opening", "checking", "unknown"),
        ),
    ),
    encoders=(
        CommandEncoder(
            CommandName.SELF_TEST,
            topic="{prefix}/{device}/sensor/start_self_test",
            payload="start",
            echo=("{prefix}/{device}/sensor/self_test", "running"),
            confirms={"test_in_progress": True},
        ),
        CommandEncoder(CommandName.SILENCE, topic="{prefix}/{device}/sensor/mute", payload="mute"),
        CommandEncoder(
            CommandName.CLOSE_VALVE,
            topic="{prefix}/{device}/valve/0/command",
            payload="close",
            echo=("{prefix}/{device}/valve/0/state", "closed"),
            confirms={"valve": "closed"},
        ),
    ),
)

SMOKE: Final = AdapterDefinition(
    name="shelly_smoke",
    vendor="Shelly",
    protocol=GEN1,
    kind=DeviceKind.SMOKE_ALARM,
    description="Shelly Smoke SHSM-01 (battery; publishes on wake-up).",
    matcher=Matcher(names=("shellysmoke-*",), properties=("smoke",)),
    decoders=(
        boolean_alarm(
            "smoke", event=EventType.SMOKE_ALARM, field="smoke_state", on="critical", off="normal"
        ),
        battery_pct("battery"),
    ),
)

FLOOD: Final = AdapterDefinition(
    name="shelly_flood",
    vendor="Shelly",
    protocol=GEN1,
    kind=DeviceKind.WATER_LEAK,
    description="Shelly Flood SHWT-1.",
    matcher=Matcher(names=("shellyflood-*",), properties=("flood",)),
    decoders=(
        boolean_alarm("flood", event=EventType.WATER_LEAK, field="leak"),
        battery_pct("battery"),
    ),
)


# --- Gen2 -----------------------------------------------------------------------------------


def _read_rpc(captures: Mapping[str, str], payload: bytes | str) -> Routed:
    obj = payload_object(payload, "events/rpc")
    method = obj.get("method")
    if method is None and ("result" in obj or "error" in obj):
        return Ignored("an RPC reply")
    if not isinstance(method, str):
        raise AdapterError("events/rpc: 'method' must be a string")
    params = as_object(obj.get("params", {}), "events/rpc params")
    if method in ("NotifyStatus", "NotifyFullStatus"):
        return Report(captures["device"], flatten(params))
    if method == "NotifyEvent":
        return Report(captures["device"], {"events": params.get("events"), "ts": params.get("ts")})
    return Ignored(f"RPC method {method[:32]!r}")


GEN2_PROTOCOL: Final = Protocol(
    name=GEN2,
    description="Shelly Gen2+ MQTT RPC notifications (<prefix>/events/rpc, <prefix>/status/*).",
    subscriptions=("+/events/rpc", "+/status/+", "+/online"),
    routes=(
        Route("{device+}/events/rpc", _read_rpc, "NotifyStatus / NotifyFullStatus / NotifyEvent"),
        Route("{device+}/status/{component}", json_object(what="status"), "status_ntf topics"),
        Route("{device+}/online", availability(("true",), ("false",)), "LWT/birth"),
        Route("{device+}/rpc", ignore("an RPC request"), "requests (ours)"),
    ),
)


def _rpc(method: str, params: Mapping[str, Any]) -> Any:
    def build(command: Command, facts: DeviceFacts) -> Any:
        request_id = zlib.crc32(command.command_id.encode("utf-8"))
        return {"id": request_id, "src": "courtyard", "method": method, "params": dict(params)}

    return build


PLUS_SMOKE: Final = AdapterDefinition(
    name="shelly_plus_smoke",
    vendor="Shelly",
    protocol=GEN2,
    kind=DeviceKind.SMOKE_ALARM,
    description="Shelly Plus Smoke (SNSN-0031Z) and other Gen2+ devices with a smoke component.",
    matcher=Matcher(names=("shellyplussmoke-*",), properties=("smoke:*/alarm",)),
    decoders=(
        boolean_alarm(
            "smoke:*/alarm",
            event=EventType.SMOKE_ALARM,
            field="smoke_state",
            on="critical",
            off="normal",
        ),
        flag("smoke:*/mute", "muted"),
        battery_pct("devicepower:*/battery/percent"),
        event_list(
            "events",
            component="smoke:*",
            conditions={
                "alarm": (EventType.SMOKE_ALARM, True, "{component}/alarm"),
                "alarm_off": (EventType.SMOKE_ALARM, False, "{component}/alarm"),
            },
            happenings={"alarm_test": EventType.SELF_TEST},
        ),
        timestamp("ts"),
    ),
    encoders=(
        CommandEncoder(
            CommandName.SILENCE,
            topic="{device}/rpc",
            payload=_rpc("Smoke.Mute", {"id": 0}),
            echo=(
                "{device}/events/rpc",
                {"method": "NotifyStatus", "params": {"smoke:0": {"id": 0, "mute": True}}},
            ),
            confirms={"muted": True},
        ),
    ),
)

FLOOD_GEN2: Final = AdapterDefinition(
    name="shelly_flood_gen2",
    vendor="Shelly",
    protocol=GEN2,
    kind=DeviceKind.WATER_LEAK,
    description="Gen2+ Shelly Flood devices (component flood:N with 'alarm').",
    matcher=Matcher(properties=("flood:*/alarm",)),
    decoders=(
        boolean_alarm("flood:*/alarm", event=EventType.WATER_LEAK, field="leak"),
        battery_pct("devicepower:*/battery/percent"),
        timestamp("ts"),
    ),
)

GEN1_ADAPTERS: Final[tuple[Protocol | AdapterDefinition, ...]] = (GEN1_PROTOCOL, GAS, SMOKE, FLOOD)
GEN2_ADAPTERS: Final[tuple[Protocol | AdapterDefinition, ...]] = (
    GEN2_PROTOCOL,
    PLUS_SMOKE,
    FLOOD_GEN2,
)
