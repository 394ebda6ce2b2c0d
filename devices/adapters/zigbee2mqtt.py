"""Zigbee2MQTT: every Zigbee life-safety device a home's Z2M bridge knows.

Definitions are keyed on Zigbee2MQTT's *published property names* (``smoke``, ``gas``,
``water_leak``, ``fall_status``, ``action``...), which zigbee-herdsman-converters keeps the
same across thousands of models, so a model no definition names still works. Model ids are
used only where property names are not enough (an SOS button that says ``single``).

Topics (``base`` is configurable, default ``zigbee2mqtt``):

- ``<base>/<friendly_name>``: the device's merged cached state, a JSON object. The legacy
  ``device`` sub-object (``include_device_information``) gives the model id; ``last_seen``
  (ISO text or epoch ms) gives the time.
- ``<base>/<friendly_name>/availability``: ``{"state":"online"}``, or legacy plain ``online``.
- ``<base>/<friendly_name>/action``: the optional plain-text action topic.
- ``<base>/bridge/devices``: the retained list of devices with models and ``exposes``;
  ``<base>/bridge/event``: interviews of newly joined devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from devices.adapters.definition import (
    AdapterDefinition,
    CommandEncoder,
    DeviceDescription,
    DeviceFacts,
    Ignored,
    Inventory,
    Matcher,
    Protocol,
    Report,
    Route,
    Routed,
)
from devices.adapters.errors import AdapterError
from devices.adapters.pieces import (
    Expose,
    Piece,
    action_trigger,
    battery_low_flag,
    battery_pct,
    boolean_alarm,
    boolean_trigger,
    db_per_m_to_pct,
    enum_alarm,
    flag,
    hardware_fault,
    numeric,
    presence_state,
    self_test_result,
    tamper,
    test_flag,
    timestamp,
)
from devices.adapters.readers import availability, ignore, text_value
from devices.adapters.values import (
    MAX_DEPTH,
    MAX_INVENTORY_BYTES,
    as_object,
    payload_json,
    payload_object,
    payload_text,
)
from devices.catalog import CommandName, DeviceKind, EventType
from devices.messages import Command

NAME: Final = "zigbee2mqtt"


# --- reading the bridge ---------------------------------------------------------------------


def _exposes(items: object, what: str, depth: int = 0) -> tuple[Expose, ...]:
    """Z2M ``exposes`` flattened: composite/specific entries contribute their features."""
    if items is None:
        return ()
    if depth > MAX_DEPTH:
        raise AdapterError(f"{what}: exposes nested deeper than {MAX_DEPTH} levels")
    if not isinstance(items, list):
        raise AdapterError(f"{what}: exposes must be a list")
    out: list[Expose] = []
    for item in items:
        entry = as_object(item, what)
        if "features" in entry:
            out.extend(_exposes(entry["features"], what, depth + 1))
            continue
        prop = entry.get("property", entry.get("name"))
        if not isinstance(prop, str) or not prop:
            continue  # Z2M lists some entries (e.g. light groups) without a property
        values = entry.get("values", ())
        access = entry.get("access", 1)
        out.append(
            Expose(
                prop=prop,
                type=str(entry.get("type", "")),
                access=access if isinstance(access, int) and not isinstance(access, bool) else 1,
                values=tuple(v for v in values if isinstance(v, str))
                if isinstance(values, list)
                else (),
                value_on=entry.get("value_on", True),
                value_off=entry.get("value_off", False),
            )
        )
    return tuple(out)


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _description(entry: Mapping[str, Any], what: str) -> DeviceDescription:
    name = entry.get("friendly_name")
    if not isinstance(name, str) or not name:
        raise AdapterError(f"{what}: every device needs a friendly_name")
    definition = entry.get("definition")
    d = as_object(definition, f"{what} definition") if definition is not None else {}
    return DeviceDescription(
        device=name,
        model=_text(d, "model"),
        model_id=_text(entry, "model_id"),
        vendor=_text(d, "vendor"),
        description=_text(d, "description"),
        address=_text(entry, "ieee_address"),
        exposes=_exposes(d.get("exposes"), what),
    )


def _read_devices(captures: Mapping[str, str], payload: bytes | str) -> Routed:
    items = payload_json(payload, "bridge/devices", MAX_INVENTORY_BYTES)
    if not isinstance(items, list):
        raise AdapterError("bridge/devices: expected a JSON list of devices")
    devices = tuple(_description(as_object(i, "bridge/devices"), "bridge/devices") for i in items)
    return Inventory(devices)


def _read_event(captures: Mapping[str, str], payload: bytes | str) -> Routed:
    obj = payload_object(payload, "bridge/event")
    data = obj.get("data")
    if obj.get("type") in ("device_interview", "device_joined", "device_announce"):
        data = as_object(data, "bridge/event data")
        if data.get("definition") is not None and data.get("status", "successful") == "successful":
            return Inventory((_description(data, "bridge/event"),), complete=False)
    return Ignored(f"bridge event {str(obj.get('type'))[:32]!r}")


def _read_state(captures: Mapping[str, str], payload: bytes | str) -> Routed:
    if not payload_text(payload, "state").strip():
        return Ignored("empty payload (a removed or renamed device)")
    obj = dict(payload_object(payload, "state"))
    model = address = ""
    legacy = obj.get("device")
    if isinstance(legacy, dict):  # include_device_information (legacy Z2M)
        del obj["device"]
        model, address = _text(legacy, "modelId"), _text(legacy, "ieeeAddr")
    return Report(captures["device"], obj, model=model, address=address)


PROTOCOL: Final = Protocol(
    name=NAME,
    description="Zigbee2MQTT bridge (state, availability, bridge/devices); base topic 'base'.",
    params={"base": "zigbee2mqtt"},
    subscriptions=("{base}/#",),
    routes=(
        Route("{base}/bridge/devices", _read_devices, "device list with models and exposes"),
        Route("{base}/bridge/event", _read_event, "interviews of joining devices"),
        Route("{base}/bridge/{rest+}", ignore("bridge topic"), "other bridge topics"),
        Route(
            "{base}/{device+}/availability",
            availability(("online",), ("offline",), json_key="state"),
            "online/offline",
        ),
        Route("{base}/{device+}/action", text_value("action"), "plain-text action topic"),
        Route("{base}/{device+}/set", ignore("a command"), "commands (ours)"),
        Route("{base}/{device+}/set/{attr}", ignore("a command"), "commands (ours)"),
        Route("{base}/{device+}/get", ignore("a read request"), "read requests"),
        Route("{base}/{device+}", _read_state, "device state (JSON)"),
    ),
)


# --- commands -------------------------------------------------------------------------------


def _value_on(prop: str) -> Any:
    def build(command: Command, facts: DeviceFacts) -> Any:
        expose = facts.exposes.get(prop)
        return {prop: expose.value_on if expose is not None else True}

    return build


def _set(
    command: CommandName,
    prop: str,
    payload: Any,
    echo: Mapping[str, Any] | None,
    confirms: Mapping[str, Any],
) -> CommandEncoder:
    return CommandEncoder(
        command,
        topic="{base}/{device}/set",
        payload=payload,
        requires=prop,
        echo=("{base}/{device}", dict(echo)) if echo is not None else None,
        confirms=confirms,
    )


SILENCE: Final = _set(
    CommandName.SILENCE, "silence", _value_on("silence"), {"silence": True}, {"muted": True}
)
SELF_TEST_BOOL: Final = _set(
    CommandName.SELF_TEST,
    "self_test",
    {"self_test": True},
    {"self_test": True},
    {"test_in_progress": True},
)
SELF_TEST_LUMI: Final = _set(
    CommandName.SELF_TEST, "selftest", {"selftest": ""}, {"test": True}, {"test_in_progress": True}
)


# --- decoder pieces shared by every kind ----------------------------------------------------

COMMON: Final[tuple[Piece, ...]] = (
    tamper("tamper"),
    battery_low_flag("battery_low"),
    battery_pct("battery"),
    enum_alarm(
        "battery_state",
        event=EventType.BATTERY_LOW,
        field="battery_alert",
        raise_on={"low": "warning"},
        # Tuya's own spelling is 'middle'; Z2M publishes 'medium'.
        clear_on={"medium": "normal", "middle": "normal", "high": "normal"},
    ),
    hardware_fault("trouble"),
    hardware_fault("battery_defect"),
    timestamp("last_seen"),
)

SELF_TEST_PIECES: Final[tuple[Piece, ...]] = (
    test_flag("test"),
    # Heiman HS2SA: an enum; Tuya gas sensors: a boolean plus self_test_result.
    self_test_result(
        "self_test",
        running=("checking",),
        passed=("check_success", "success"),
        failed=("check_failure", "failure"),
        idle=("others",),
        boolean=True,
    ),
    self_test_result(
        "self_test_result",
        running=("checking",),
        passed=("success", "check_success"),
        failed=("failure", "check_failure"),
        idle=("others",),
    ),
    flag("silence", "muted"),
)

SMOKE: Final = AdapterDefinition(
    name="z2m_smoke",
    vendor="Zigbee2MQTT (any)",
    protocol=NAME,
    kind=DeviceKind.SMOKE_ALARM,
    description="Any Zigbee smoke detector exposing 'smoke'.",
    matcher=Matcher(properties=("smoke",)),
    decoders=(
        boolean_alarm(
            "smoke", event=EventType.SMOKE_ALARM, field="smoke_state", on="critical", off="normal"
        ),
        numeric("smoke_density", "obscuration_pct_per_m"),
        numeric("smoke_density_dbm", "obscuration_pct_per_m", convert=db_per_m_to_pct),
        *SELF_TEST_PIECES,
        *COMMON,
    ),
    encoders=(SILENCE, SELF_TEST_BOOL, SELF_TEST_LUMI),
)

GAS: Final = AdapterDefinition(
    name="z2m_gas",
    vendor="Zigbee2MQTT (any)",
    protocol=NAME,
    kind=DeviceKind.GAS_DETECTOR,
    description="Any Zigbee combustible-gas detector exposing 'gas', 'gas_density' or"
    " 'gas_value' (%LEL).",
    matcher=Matcher(properties=("gas", "gas_density", "gas_value")),
    decoders=(
        boolean_alarm(
            "gas", event=EventType.GAS_ALARM, field="gas_state", on="critical", off="normal"
        ),
        numeric("gas_density", "lel_pct"),
        numeric("gas_value", "lel_pct"),
        *SELF_TEST_PIECES,
        *COMMON,
    ),
    encoders=(SILENCE, SELF_TEST_BOOL, SELF_TEST_LUMI),
)

WATER_LEAK: Final = AdapterDefinition(
    name="z2m_water_leak",
    vendor="Zigbee2MQTT (any)",
    protocol=NAME,
    kind=DeviceKind.WATER_LEAK,
    description="Any Zigbee water-leak sensor exposing 'water_leak'.",
    matcher=Matcher(properties=("water_leak",)),
    decoders=(
        boolean_alarm("water_leak", event=EventType.WATER_LEAK, field="leak"),
        *COMMON,
    ),
)

FALL: Final = AdapterDefinition(
    name="z2m_fall",
    vendor="Zigbee2MQTT (any)",
    protocol=NAME,
    kind=DeviceKind.FALL_DETECTOR,
    description="Fall-detection radars: Heiman 'fall_status', Tuya 'fall_down_status', 'fall'.",
    matcher=Matcher(properties=("fall_status", "fall_down_status", "fall")),
    decoders=(
        enum_alarm(
            "fall_status",
            event=EventType.FALL_DETECTED,
            field="fall_state",
            raise_on={"fall_alarm": "fall_detected"},
            clear_on={"normal": "normal"},
            # A warning precedes the alarm; the radar confirms or drops it itself.
            ignore=("fall_warning", "unknown"),
        ),
        enum_alarm(
            "fall_down_status",
            event=EventType.FALL_DETECTED,
            field="fall_state",
            raise_on={"fall": "fall_detected"},
            clear_on={"none": "normal"},
            ignore=("maybe_fall",),
        ),
        boolean_alarm(
            "fall",
            event=EventType.FALL_DETECTED,
            field="fall_state",
            on="fall_detected",
            off="normal",
        ),
        flag("occupancy", "occupied"),
        flag("presence", "occupied"),
        presence_state("presence_state"),
        *COMMON,
    ),
)

_SOS_WORDS: Final = ("emergency", "sos", "panic")

SOS: Final = AdapterDefinition(
    name="z2m_sos",
    vendor="Zigbee2MQTT (any)",
    protocol=NAME,
    kind=DeviceKind.EMERGENCY_BUTTON,
    description="SOS buttons: action 'emergency'/'sos', a boolean 'sos', or a device the"
    " bridge describes as an SOS/emergency button (then any of its action words).",
    matcher=Matcher(
        properties=("sos",),
        values={"action": _SOS_WORDS},
        description=r"\b(sos|emergency|panic)\b",
    ),
    decoders=(
        action_trigger("action", words=_SOS_WORDS, from_exposes=True),
        boolean_trigger("sos"),
        *COMMON,
    ),
)

#: Heiman's SOS button maps its zone status to single/double/hold, never 'emergency'.
HEIMAN_SOS: Final = AdapterDefinition(
    name="heiman_hs1eb",
    vendor="Heiman",
    protocol=NAME,
    kind=DeviceKind.EMERGENCY_BUTTON,
    description="Heiman HS1EB/HS1EB-E emergency button: any press calls for help.",
    matcher=Matcher(models=("HS1EB/HS1EB-E", "SOS-EM", "SOS-EF-3.0")),
    decoders=(action_trigger("action", words=("single", "double", "hold")), *COMMON),
)

#: Look-alikes of the generic definitions, named by model so that a first message without
#: the telling property (a battery report, ``action: null``) is still understood.
TUYA_SOS: Final = SOS.with_models("tuya_sos", "TS0601_sos", "TS0215A_sos", vendor="Tuya")
XIAOMI_SMOKE: Final = SMOKE.with_models(
    "xiaomi_smoke", "JTYJ-GD-01LM/BW", "lumi.sensor_smoke", vendor="Xiaomi"
)
HEIMAN_FALL: Final = FALL.with_models("heiman_hs2fd", "HS2FD-EF1-3.0", vendor="Heiman")

DEFINITIONS: Final[tuple[AdapterDefinition, ...]] = (
    HEIMAN_SOS,
    TUYA_SOS,
    XIAOMI_SMOKE,
    HEIMAN_FALL,
    SMOKE,
    GAS,
    WATER_LEAK,
    FALL,
    SOS,
)

ADAPTERS: Final[tuple[Protocol | AdapterDefinition, ...]] = (PROTOCOL, *DEFINITIONS)
