"""The interop model v1 as data: device kinds, their state fields, events and commands.

This table is the single source of truth. The runtime validator (``devices.messages``), the
published JSON Schema files and ``docs/interop-spec.md`` are all generated from it, so a device
maker reading the spec and the hub checking a message can never disagree.

Where Matter has the concept we use its names and value sets: the Smoke CO Alarm cluster
(0x005C: ExpressedState, SmokeState, BatteryAlert, TestInProgress, HardwareFaultAlert,
EndOfServiceAlert, DeviceMuted) and the Boolean State cluster (0x0045: StateValue). Gas, fall
detection and the emergency-call button have no Matter cluster; they follow the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SPEC_VERSION = "1.0"

#: Largest native message a hub accepts, in bytes of UTF-8 JSON. A life-safety event fits in
#: a few hundred bytes; anything near this size is a broken or hostile device.
MAX_MESSAGE_BYTES = 16 * 1024


class DeviceKind(StrEnum):
    """What a device is. One kind, one set of state fields, events and commands."""

    SMOKE_ALARM = "smoke_alarm"
    GAS_DETECTOR = "gas_detector"
    FALL_DETECTOR = "fall_detector"
    EMERGENCY_BUTTON = "emergency_button"
    WATER_LEAK = "water_leak"


class Priority(StrEnum):
    """How urgent an event is; the community maps it one-to-one onto alarm severity."""

    CRITICAL = "critical"
    ALERT = "alert"
    INFO = "info"


PRIORITY_RANK: dict[Priority, int] = {Priority.CRITICAL: 0, Priority.ALERT: 1, Priority.INFO: 2}


class EventType(StrEnum):
    """Canonical event names. Alarm and trouble events carry ``active`` (raised or ended)."""

    SMOKE_ALARM = "smoke_alarm"
    GAS_ALARM = "gas_alarm"
    FALL_DETECTED = "fall_detected"
    EMERGENCY_CALL = "emergency_call"
    WATER_LEAK = "water_leak"
    DEVICE_OFFLINE = "device_offline"
    BATTERY_LOW = "battery_low"
    HARDWARE_FAULT = "hardware_fault"
    END_OF_SERVICE = "end_of_service"
    TAMPER = "tamper"
    SELF_TEST = "self_test"
    ALARM_SILENCED = "alarm_silenced"


class CommandName(StrEnum):
    """Commands a hub may send to a device."""

    SELF_TEST = "self_test"
    SILENCE = "silence"
    INTERCONNECT_START = "interconnect_start"
    INTERCONNECT_STOP = "interconnect_stop"
    CLOSE_VALVE = "close_valve"


class FieldType(StrEnum):
    """JSON type of a field; ``enum`` is a string from a fixed list."""

    BOOL = "boolean"
    INT = "integer"
    NUMBER = "number"
    ENUM = "enum"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One state or data field: its JSON type and the values it may take."""

    name: str
    type: FieldType
    description: str
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 128
    matter: str = ""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event: its fixed priority, who may emit it, and whether it is a raise/clear pair."""

    name: EventType
    priority: Priority
    description: str
    #: Empty means any kind (trouble events apply to every device).
    kinds: tuple[DeviceKind, ...] = ()
    #: Alarm and trouble events are conditions that start and end (``active`` true/false);
    #: info events are one-off happenings.
    stateful: bool = True
    data: tuple[FieldSpec, ...] = ()
    #: Raised by the hub on a device's behalf (supervision); a device never needs to send it.
    raised_by_hub: bool = False


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: the kinds that accept it and its arguments."""

    name: CommandName
    description: str
    kinds: tuple[DeviceKind, ...]
    args: tuple[FieldSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One device kind: its state fields and how long it may stay silent."""

    kind: DeviceKind
    description: str
    state: tuple[FieldSpec, ...]
    #: Seconds of silence after which the hub declares the device offline (real time; the demo
    #: compresses it). Minutes, not Zigbee2MQTT's 25 hours: these devices keep people alive.
    supervision_s: int
    matter: str = ""
    fields_by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields_by_name", {f.name: f for f in self.state})


_LEVEL = ("normal", "warning", "critical")
_BATTERY = FieldSpec(
    "battery_pct", FieldType.INT, "Remaining battery, percent.", minimum=0, maximum=100
)
_BATTERY_ALERT = FieldSpec(
    "battery_alert",
    FieldType.ENUM,
    "Battery level alert.",
    values=_LEVEL,
    matter="SmokeCoAlarm.BatteryAlert",
)
_FAULT = FieldSpec(
    "hardware_fault",
    FieldType.BOOL,
    "A hardware fault was detected.",
    matter="SmokeCoAlarm.HardwareFaultAlert",
)
_TEST = FieldSpec(
    "test_in_progress",
    FieldType.BOOL,
    "A self-test is running; alarms during a test are not real.",
    matter="SmokeCoAlarm.TestInProgress",
)
_EOS = FieldSpec(
    "end_of_service",
    FieldType.ENUM,
    "The sensor has reached its end of service life.",
    values=("normal", "expired"),
    matter="SmokeCoAlarm.EndOfServiceAlert",
)
_MUTED = FieldSpec(
    "muted", FieldType.BOOL, "The local sounder was silenced.", matter="SmokeCoAlarm.DeviceMuted"
)

KINDS: dict[DeviceKind, KindSpec] = {
    k.kind: k
    for k in (
        KindSpec(
            DeviceKind.SMOKE_ALARM,
            "Photoelectric smoke alarm with a local sounder that can be interconnected.",
            matter="Smoke CO Alarm cluster 0x005C",
            supervision_s=600,
            state=(
                FieldSpec(
                    "expressed_state",
                    FieldType.ENUM,
                    "The most important condition the alarm is signalling now.",
                    values=(
                        "normal",
                        "smoke_alarm",
                        "interconnect_smoke",
                        "testing",
                        "battery_alert",
                        "hardware_fault",
                        "end_of_service",
                    ),
                    matter="SmokeCoAlarm.ExpressedState",
                ),
                FieldSpec(
                    "smoke_state",
                    FieldType.ENUM,
                    "Smoke level class.",
                    values=_LEVEL,
                    matter="SmokeCoAlarm.SmokeState",
                ),
                FieldSpec(
                    "obscuration_pct_per_m",
                    FieldType.NUMBER,
                    "Measured optical obscuration, percent per metre.",
                    minimum=0,
                    maximum=100,
                ),
                FieldSpec(
                    "interconnect",
                    FieldType.BOOL,
                    "Sounding because another alarm in the home detected smoke.",
                    matter="SmokeCoAlarm.InterconnectSmokeAlarm",
                ),
                _MUTED,
                _TEST,
                _FAULT,
                _EOS,
                _BATTERY_ALERT,
                _BATTERY,
            ),
        ),
        KindSpec(
            DeviceKind.GAS_DETECTOR,
            "Combustible gas detector (natural gas / LPG) with an optional shut-off valve.",
            supervision_s=600,
            state=(
                FieldSpec("gas_state", FieldType.ENUM, "Gas concentration class.", values=_LEVEL),
                FieldSpec(
                    "lel_pct",
                    FieldType.NUMBER,
                    "Concentration as percent of the lower explosive limit.",
                    minimum=0,
                    maximum=100,
                ),
                FieldSpec(
                    "valve",
                    FieldType.ENUM,
                    "Shut-off valve position.",
                    values=("open", "closed", "none"),
                ),
                _MUTED,
                _TEST,
                _FAULT,
                _EOS,
                _BATTERY,
            ),
        ),
        KindSpec(
            DeviceKind.FALL_DETECTOR,
            "Fall-detection sensor (mmWave radar or wearable accelerometer).",
            supervision_s=600,
            state=(
                FieldSpec("occupied", FieldType.BOOL, "Someone is present in the monitored area."),
                FieldSpec(
                    "fall_state",
                    FieldType.ENUM,
                    "Fall detection state.",
                    values=("normal", "fall_detected"),
                ),
                _FAULT,
                _BATTERY,
            ),
        ),
        KindSpec(
            DeviceKind.EMERGENCY_BUTTON,
            "Emergency-call (SOS) button, wall-mounted or worn.",
            matter="Generic Switch cluster 0x003B",
            supervision_s=1800,
            state=(
                FieldSpec(
                    "pressed",
                    FieldType.BOOL,
                    "The button is latched in the called state until reset.",
                ),
                _BATTERY,
            ),
        ),
        KindSpec(
            DeviceKind.WATER_LEAK,
            "Water-leak sensor.",
            matter="Boolean State cluster 0x0045",
            supervision_s=1800,
            state=(
                FieldSpec(
                    "leak",
                    FieldType.BOOL,
                    "Water detected.",
                    matter="BooleanState.StateValue",
                ),
                _BATTERY,
            ),
        ),
    )
}

_MEASURE = FieldSpec(
    "value", FieldType.NUMBER, "The reading that triggered the event.", minimum=0, maximum=100
)

EVENTS: dict[EventType, EventSpec] = {
    e.name: e
    for e in (
        EventSpec(
            EventType.SMOKE_ALARM,
            Priority.CRITICAL,
            "Smoke above the alarm threshold.",
            kinds=(DeviceKind.SMOKE_ALARM,),
            data=(_MEASURE,),
        ),
        EventSpec(
            EventType.GAS_ALARM,
            Priority.CRITICAL,
            "Combustible gas above the alarm threshold (% LEL).",
            kinds=(DeviceKind.GAS_DETECTOR,),
            data=(_MEASURE,),
        ),
        EventSpec(
            EventType.FALL_DETECTED,
            Priority.CRITICAL,
            "A person has fallen and not got up within the device's confirmation time.",
            kinds=(DeviceKind.FALL_DETECTOR,),
            data=(
                FieldSpec(
                    "confidence",
                    FieldType.NUMBER,
                    "Detector confidence 0..1.",
                    minimum=0,
                    maximum=1,
                ),
            ),
        ),
        EventSpec(
            EventType.EMERGENCY_CALL,
            Priority.CRITICAL,
            "Someone pressed the emergency-call button.",
            kinds=(DeviceKind.EMERGENCY_BUTTON,),
        ),
        EventSpec(
            EventType.WATER_LEAK,
            Priority.CRITICAL,
            "Water detected.",
            kinds=(DeviceKind.WATER_LEAK,),
        ),
        EventSpec(
            EventType.DEVICE_OFFLINE,
            Priority.ALERT,
            "The device has been silent longer than its kind's supervision interval. Raised by"
            " the hub, not the device.",
            data=(
                FieldSpec(
                    "silent_s", FieldType.NUMBER, "Seconds since the last message.", minimum=0
                ),
            ),
            raised_by_hub=True,
        ),
        EventSpec(EventType.BATTERY_LOW, Priority.INFO, "Battery needs replacing soon."),
        EventSpec(EventType.HARDWARE_FAULT, Priority.ALERT, "The device reports a fault."),
        EventSpec(
            EventType.END_OF_SERVICE, Priority.ALERT, "The sensor must be replaced (end of life)."
        ),
        EventSpec(EventType.TAMPER, Priority.ALERT, "The device was opened or removed."),
        EventSpec(
            EventType.SELF_TEST,
            Priority.INFO,
            "A self-test ran.",
            stateful=False,
            data=(FieldSpec("passed", FieldType.BOOL, "The self-test passed."),),
        ),
        EventSpec(
            EventType.ALARM_SILENCED,
            Priority.INFO,
            "A person silenced the local sounder (for example a cooking false alarm).",
            kinds=(DeviceKind.SMOKE_ALARM, DeviceKind.GAS_DETECTOR),
            stateful=False,
        ),
    )
}

COMMANDS: dict[CommandName, CommandSpec] = {
    c.name: c
    for c in (
        CommandSpec(CommandName.SELF_TEST, "Run the built-in self-test.", kinds=tuple(DeviceKind)),
        CommandSpec(
            CommandName.SILENCE,
            "Silence the local sounder; a device must keep reporting the condition.",
            kinds=(DeviceKind.SMOKE_ALARM, DeviceKind.GAS_DETECTOR),
        ),
        CommandSpec(
            CommandName.INTERCONNECT_START,
            "Sound because another alarm in the home detected smoke.",
            kinds=(DeviceKind.SMOKE_ALARM,),
            args=(FieldSpec("source_device", FieldType.STRING, "The device that detected smoke."),),
        ),
        CommandSpec(
            CommandName.INTERCONNECT_STOP,
            "Stop sounding for another alarm.",
            kinds=(DeviceKind.SMOKE_ALARM,),
        ),
        CommandSpec(
            CommandName.CLOSE_VALVE,
            "Close the gas shut-off valve.",
            kinds=(DeviceKind.GAS_DETECTOR,),
        ),
    )
}


def is_alarm(event: EventType) -> bool:
    """An event the community turns into an alarm: every stateful event is one."""
    return EVENTS[event].stateful


def event_allowed(kind: DeviceKind, event: EventType) -> bool:
    """Whether a device of ``kind`` may emit ``event`` (trouble events: every kind)."""
    spec = EVENTS[event]
    return not spec.kinds or kind in spec.kinds
