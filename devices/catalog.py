"""The interop model v1 as data: device kinds, their state fields, events and commands.

This table is the single source of truth. The runtime validator (``devices.messages``), the
published JSON Schema files and ``docs/interop-spec.md`` are all generated from it, so a device
maker reading the spec and the hub checking a message can never disagree.

Where Matter has the concept we use its names and value sets: the Smoke CO Alarm cluster
(0x005C: ExpressedState, SmokeState, BatteryAlert, TestInProgress, HardwareFaultAlert,
EndOfServiceAlert, DeviceMuted) and the Boolean State cluster (0x0045: StateValue). Gas, fall
detection and the emergency-call button have no Matter cluster; they follow the same shape.

Community safety services (e-bike charging shed, elevator, fire lanes) add four kinds:

- ``charging_port``: one device per charging *port*, not per station. Our field model is flat
  (a kind has one set of scalar state fields), and everything the community decides is per
  port: an over-temperature cut, a session's energy, an 8-hour limit, the acknowledgement of a
  cut. With one device per port, alarms keep the spine's "one active alarm per (device,
  event)" rule, a cut command addresses exactly one relay, and supervision notices a single
  dead port. The station a port belongs to is the ``station_id``/``port`` state pair, so a
  dashboard groups ports without a nested object. Station-wide happenings (smoke in the shed)
  come from the shed's own detector; the community cuts every port of the shed in response.
- ``elevator_camera``: one per car; detects an e-bike in the car and holds the doors.
- ``shed_smoke_detector``: the charging shed's smoke detector, with the smoke alarm's fields;
  its alarm is ``charging_shed_smoke`` so dashboards and CAP tell it from a home's smoke alarm.
- ``fire_lane_sensor``: a camera or ground sensor watching one fire-lane zone; it reports what
  is present, and the community decides when presence is an obstruction (per-zone dwell).

Some alarm kinds are *decisions*, not observations: the community raises them from its rules
(``raised_by_community``) on the device they concern, and a device never sends them (the hub
refuses one that does). ``hub_offline`` is one of these, raised on a hub's pseudo-device.
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
    CHARGING_PORT = "charging_port"
    ELEVATOR_CAMERA = "elevator_camera"
    SHED_SMOKE_DETECTOR = "shed_smoke_detector"
    FIRE_LANE_SENSOR = "fire_lane_sensor"
    VISITOR_GATE = "visitor_gate"  # visitor passes: checks signed passes offline
    PARCEL_LOCKER = "parcel_locker"  # parcels: a locker bank in a common area
    DOOR_SENSOR = "door_sensor"  # care checks: a sign of life at home
    MOTION_SENSOR = "motion_sensor"  # care checks: a sign of life at home


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
    CHARGER_OVERTEMPERATURE = "charger_overtemperature"
    CHARGER_OVERPOWER = "charger_overpower"
    CHARGER_ABNORMAL_LOAD = "charger_abnormal_load"
    CHARGE_TOO_LONG = "charge_too_long"
    CHARGING_SHED_SMOKE = "charging_shed_smoke"
    CHARGER_COMMAND_UNACKNOWLEDGED = "charger_command_unacknowledged"
    ELEVATOR_EBIKE = "elevator_ebike"
    FIRE_LANE_OBSTRUCTED = "fire_lane_obstructed"
    HUB_OFFLINE = "hub_offline"
    CHARGE_SESSION_ENDED = "charge_session_ended"
    VISITOR_ENTRY = "visitor_entry"  # visitor passes
    PARCEL_DELIVERED = "parcel_delivered"  # parcels
    PARCEL_PICKED_UP = "parcel_picked_up"  # parcels
    CARE_CHECK_MISSED = "care_check_missed"  # care checks


class CommandName(StrEnum):
    """Commands a hub may send to a device."""

    SELF_TEST = "self_test"
    SILENCE = "silence"
    INTERCONNECT_START = "interconnect_start"
    INTERCONNECT_STOP = "interconnect_stop"
    CLOSE_VALVE = "close_valve"
    PORT_CUT = "port_cut"
    PORT_ENABLE = "port_enable"
    HOLD_DOORS = "hold_doors"
    RELEASE_DOORS = "release_doors"
    PLAY_VOICE_PROMPT = "play_voice_prompt"
    REVOKE_PASS = "revoke_pass"  # noqa: S105 - visitor passes: a command, not a secret


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
    #: Raised by the community from its own rules or supervision; a device must never send it.
    raised_by_community: bool = False


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
#: Smoke readings shared by the home smoke alarm and the charging shed's detector.
_SMOKE_STATE = FieldSpec(
    "smoke_state",
    FieldType.ENUM,
    "Smoke level class.",
    values=_LEVEL,
    matter="SmokeCoAlarm.SmokeState",
)
_OBSCURATION = FieldSpec(
    "obscuration_pct_per_m",
    FieldType.NUMBER,
    "Measured optical obscuration, percent per metre.",
    minimum=0,
    maximum=100,
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
                _SMOKE_STATE,
                _OBSCURATION,
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
        KindSpec(
            DeviceKind.CHARGING_PORT,
            "One port of an e-bike charging station, with its own relay and meter (a station"
            " with N ports is N devices sharing a station_id).",
            supervision_s=300,
            state=(
                FieldSpec(
                    "station_id",
                    FieldType.STRING,
                    "The charging station this port belongs to.",
                    max_length=64,
                ),
                FieldSpec(
                    "port", FieldType.INT, "Port number on the station.", minimum=1, maximum=64
                ),
                FieldSpec(
                    "port_state",
                    FieldType.ENUM,
                    "idle: nothing charging; charging; full: the charger tapered off; stopped:"
                    " the relay is open (cut or stopped); fault: the port detected a fault"
                    " (short, relay failure).",
                    values=("idle", "charging", "full", "stopped", "fault"),
                ),
                FieldSpec(
                    "power_w",
                    FieldType.NUMBER,
                    "Active power through the port, watts (an e-bike charger draws 60-400 W).",
                    minimum=0,
                    maximum=10000,
                ),
                FieldSpec(
                    "current_a", FieldType.NUMBER, "RMS current, amperes.", minimum=0, maximum=63
                ),
                FieldSpec(
                    "voltage_v",
                    FieldType.NUMBER,
                    "RMS mains voltage, volts.",
                    minimum=0,
                    maximum=300,
                ),
                FieldSpec(
                    "temperature_c",
                    FieldType.NUMBER,
                    "Temperature at the plug/battery probe, degrees Celsius.",
                    minimum=-40,
                    maximum=150,
                ),
                FieldSpec(
                    "energy_wh",
                    FieldType.NUMBER,
                    "Energy delivered in the current (or last) session, watt-hours.",
                    minimum=0,
                    maximum=100000,
                ),
                FieldSpec(
                    "session_id",
                    FieldType.STRING,
                    "The current (or last) charging session; absent before the first one.",
                    max_length=64,
                ),
                FieldSpec(
                    "stop_reason",
                    FieldType.ENUM,
                    "Why the last session stopped: none (still charging or never started), full,"
                    " cut (a port_cut command), user, unplugged, fault.",
                    values=("none", "full", "cut", "user", "unplugged", "fault"),
                ),
                _FAULT,
            ),
        ),
        KindSpec(
            DeviceKind.ELEVATOR_CAMERA,
            "Camera in an elevator car that recognises e-bikes and can hold the car's doors.",
            supervision_s=300,
            state=(
                FieldSpec("ebike_detected", FieldType.BOOL, "An e-bike is in the car now."),
                FieldSpec(
                    "car_held",
                    FieldType.BOOL,
                    "The doors are held open and the car will not leave (hold_doors).",
                ),
                _FAULT,
            ),
        ),
        KindSpec(
            DeviceKind.SHED_SMOKE_DETECTOR,
            "Smoke detector in an e-bike charging shed (same readings as a smoke alarm).",
            supervision_s=600,
            state=(
                _SMOKE_STATE,
                _OBSCURATION,
                _TEST,
                _FAULT,
                _EOS,
                _BATTERY_ALERT,
                _BATTERY,
            ),
        ),
        KindSpec(
            DeviceKind.FIRE_LANE_SENSOR,
            "Camera or ground sensor watching one fire-lane zone for parked vehicles and objects.",
            supervision_s=600,
            state=(
                FieldSpec(
                    "zone_id", FieldType.STRING, "The fire-lane zone watched.", max_length=64
                ),
                FieldSpec("vehicle_present", FieldType.BOOL, "A vehicle is standing in the zone."),
                FieldSpec(
                    "object_present",
                    FieldType.BOOL,
                    "An object other than a vehicle (boxes, bikes, rubbish) is in the zone.",
                ),
                FieldSpec(
                    "plate",
                    FieldType.STRING,
                    "Licence plate of the vehicle present, or 'unreadable'; sent with"
                    " vehicle_present=true and meaningless once it is false. PERSONAL DATA: kept in"
                    " the community, never published, matched to a home only with the resident's"
                    " consent.",
                    max_length=16,
                ),
                _FAULT,
            ),
        ),
        # Care checks: contact and occupancy sensors only say "someone is about" (never an alarm).
        KindSpec(
            DeviceKind.DOOR_SENSOR,
            "Door or window contact sensor; opening and closing are signs of life for the daily"
            " care check.",
            matter="Boolean State cluster 0x0045",
            supervision_s=1800,
            state=(
                FieldSpec(
                    "contact",
                    FieldType.BOOL,
                    "The contact is made (the door is closed).",
                    matter="BooleanState.StateValue",
                ),
                _BATTERY,
            ),
        ),
        KindSpec(
            DeviceKind.MOTION_SENSOR,
            "Motion (occupancy) sensor; movement is a sign of life for the daily care check.",
            matter="Occupancy Sensing cluster 0x0406",
            supervision_s=1800,
            state=(
                FieldSpec(
                    "occupancy",
                    FieldType.BOOL,
                    "Someone is moving in the sensed area.",
                    matter="OccupancySensing.Occupancy",
                ),
                _BATTERY,
            ),
        ),
        # Parcels: one device per locker bank; deliveries and pickups are events.
        KindSpec(
            DeviceKind.PARCEL_LOCKER,
            "A bank of parcel compartments in a common area. A courier's delivery locks a"
            " parcel in a compartment for a home and makes a one-time pickup code; the code"
            " opens that compartment once.",
            supervision_s=900,
            state=(
                FieldSpec("locker_id", FieldType.STRING, "The locker bank's name.", max_length=64),
                FieldSpec(
                    "compartments",
                    FieldType.INT,
                    "How many compartments the bank has.",
                    minimum=1,
                    maximum=500,
                ),
                FieldSpec(
                    "occupied_compartments",
                    FieldType.INT,
                    "How many compartments hold a parcel now.",
                    minimum=0,
                    maximum=500,
                ),
                _FAULT,
            ),
        ),
        # Visitor passes: a gate reader that checks the community's signed passes offline.
        KindSpec(
            DeviceKind.VISITOR_GATE,
            "A visitor gate's pass reader: it verifies a pass's Ed25519 signature, validity"
            " window, entry count and the revocation list on its own, with no call home, and"
            " reports every accepted or refused pass as a visitor_entry event.",
            supervision_s=600,
            state=(
                FieldSpec(
                    "pass_key_id",
                    FieldType.STRING,
                    "Which pass-signing key the gate trusts (the key's id, not the key).",
                    max_length=64,
                ),
                FieldSpec(
                    "revoked_passes",
                    FieldType.INT,
                    "How many passes are on the gate's revocation list.",
                    minimum=0,
                    maximum=100000,
                ),
                _FAULT,
            ),
        ),
    )
}

_CONFIDENCE = FieldSpec(
    "confidence", FieldType.NUMBER, "Detector confidence 0..1.", minimum=0, maximum=1
)
_MEASURE = FieldSpec(
    "value", FieldType.NUMBER, "The reading that triggered the event.", minimum=0, maximum=100
)
_DURATION = FieldSpec(
    "duration_s", FieldType.NUMBER, "How long the condition has lasted, seconds.", minimum=0
)


_COMPARTMENT = FieldSpec(
    "compartment", FieldType.STRING, "The locker compartment's label.", max_length=16
)
_PARCEL_HOME = FieldSpec("home", FieldType.STRING, "The home the parcel is for.", max_length=64)
_PARCEL_ID = FieldSpec(
    "parcel_id", FieldType.STRING, "The courier's parcel (tracking) id.", max_length=64
)


def _port_reading(name: str, description: str, *, minimum: float, maximum: float) -> FieldSpec:
    """The port reading that made the community act, with the state field's own range."""
    return FieldSpec(name, FieldType.NUMBER, description, minimum=minimum, maximum=maximum)


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
            data=(_CONFIDENCE,),
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
        EventSpec(
            EventType.CHARGER_OVERTEMPERATURE,
            Priority.CRITICAL,
            "A charging port's temperature passed the cut limit (60 degC by default): a"
            " battery heading for thermal runaway. Raised by the community, which cuts the port.",
            kinds=(DeviceKind.CHARGING_PORT,),
            data=(
                _port_reading(
                    "temperature_c",
                    "Temperature that triggered the cut, degC.",
                    minimum=-40,
                    maximum=150,
                ),
            ),
            raised_by_community=True,
        ),
        EventSpec(
            EventType.CHARGER_OVERPOWER,
            Priority.ALERT,
            "A port drew more power than any single e-bike charger does. Raised by the community,"
            " which cuts the port.",
            kinds=(DeviceKind.CHARGING_PORT,),
            data=(
                _port_reading(
                    "power_w", "Power that triggered the cut, watts.", minimum=0, maximum=10000
                ),
            ),
            raised_by_community=True,
        ),
        EventSpec(
            EventType.CHARGER_ABNORMAL_LOAD,
            Priority.ALERT,
            "A port's load does not look like one charger (for example a power strip feeding"
            " several bikes). Raised by the community, which cuts the port.",
            kinds=(DeviceKind.CHARGING_PORT,),
            data=(
                _port_reading(
                    "power_w",
                    "Power when the profile was judged abnormal, W.",
                    minimum=0,
                    maximum=10000,
                ),
            ),
            raised_by_community=True,
        ),
        EventSpec(
            EventType.CHARGE_TOO_LONG,
            Priority.ALERT,
            "A charging session passed the maximum single charge (8 h by default). Raised by the"
            " community.",
            kinds=(DeviceKind.CHARGING_PORT,),
            data=(_DURATION,),
            raised_by_community=True,
        ),
        EventSpec(
            EventType.CHARGING_SHED_SMOKE,
            Priority.CRITICAL,
            "Smoke above the alarm threshold in an e-bike charging shed; the community cuts every"
            " port of the shed.",
            kinds=(DeviceKind.SHED_SMOKE_DETECTOR,),
            data=(_MEASURE,),
        ),
        EventSpec(
            EventType.CHARGER_COMMAND_UNACKNOWLEDGED,
            Priority.CRITICAL,
            "A safety command (a cut) to a charging port was not acknowledged in time, so the"
            " hazard it answered may still be live. Raised by the community.",
            kinds=(DeviceKind.CHARGING_PORT,),
            data=(
                FieldSpec(
                    "command", FieldType.STRING, "The command not acknowledged.", max_length=32
                ),
                FieldSpec("command_id", FieldType.STRING, "Its command id.", max_length=64),
            ),
            raised_by_community=True,
        ),
        EventSpec(
            EventType.ELEVATOR_EBIKE,
            Priority.ALERT,
            "An e-bike was detected in an elevator car (fire code forbids taking it upstairs).",
            kinds=(DeviceKind.ELEVATOR_CAMERA,),
            data=(_CONFIDENCE,),
        ),
        EventSpec(
            EventType.FIRE_LANE_OBSTRUCTED,
            Priority.ALERT,
            "A vehicle or object stayed in a fire-lane zone longer than the zone's dwell"
            " threshold; active=false is the obstruction cleared. Raised by the community.",
            kinds=(DeviceKind.FIRE_LANE_SENSOR,),
            data=(
                FieldSpec(
                    "obstruction",
                    FieldType.ENUM,
                    "What blocks the lane.",
                    values=("vehicle", "object"),
                ),
                _DURATION,
            ),
            raised_by_community=True,
        ),
        EventSpec(
            EventType.HUB_OFFLINE,
            Priority.ALERT,
            "A home hub stopped talking to the community (last will, or no heartbeat for too"
            " long). Raised by the community on the hub's pseudo-device.",
            raised_by_community=True,
        ),
        EventSpec(
            EventType.CHARGE_SESSION_ENDED,
            Priority.INFO,
            "A charging session ended, with why: the resident's notice (full, cut, ...).",
            kinds=(DeviceKind.CHARGING_PORT,),
            stateful=False,
            data=(
                FieldSpec(
                    "reason",
                    FieldType.ENUM,
                    "Why it ended.",
                    values=("full", "cut", "user", "unplugged", "fault"),
                ),
                FieldSpec(
                    "energy_wh",
                    FieldType.NUMBER,
                    "Energy delivered in the session, watt-hours.",
                    minimum=0,
                    maximum=100000,
                ),
                _DURATION,
            ),
        ),
        # Care checks: the community's alarm for the duty staff (home and time only).
        EventSpec(
            EventType.CARE_CHECK_MISSED,
            Priority.ALERT,
            "A resident who opted in to the daily care check showed no sign of life by their"
            " check time, did not answer the hub, and the family was told; the duty staff should"
            " look in. Raised by the community on the home hub's pseudo-device.",
            raised_by_community=True,
        ),
        # Parcels: info events, never alarms.
        EventSpec(
            EventType.PARCEL_DELIVERED,
            Priority.INFO,
            "A courier locked a parcel in a compartment for a home. ``code`` is the one-time"
            " pickup code, a secret for the resident: the community forwards it to the home"
            " and keeps only its hash.",
            kinds=(DeviceKind.PARCEL_LOCKER,),
            stateful=False,
            data=(
                _COMPARTMENT,
                _PARCEL_HOME,
                _PARCEL_ID,
                FieldSpec(
                    "code",
                    FieldType.STRING,
                    "The pickup code (digits). SECRET: never logged, stored only hashed.",
                    max_length=16,
                ),
            ),
        ),
        EventSpec(
            EventType.PARCEL_PICKED_UP,
            Priority.INFO,
            "A resident opened the parcel's compartment with its pickup code (once).",
            kinds=(DeviceKind.PARCEL_LOCKER,),
            stateful=False,
            data=(_COMPARTMENT, _PARCEL_HOME, _PARCEL_ID),
        ),
        # Visitor passes: every pass shown at a gate, accepted or not (info, never an alarm).
        EventSpec(
            EventType.VISITOR_ENTRY,
            Priority.INFO,
            "A visitor showed a pass at the gate; the gate accepted or refused it and says why."
            " Carries the pass id only (never a name or a plate).",
            kinds=(DeviceKind.VISITOR_GATE,),
            stateful=False,
            data=(
                FieldSpec(
                    "pass_id",
                    FieldType.STRING,
                    "The pass shown; absent when the pass could not be read or was forged.",
                    max_length=32,
                ),
                FieldSpec("accepted", FieldType.BOOL, "The gate let the visitor in."),
                FieldSpec(
                    "reason",
                    FieldType.ENUM,
                    "Why: accepted, or the first check the pass failed.",
                    values=(
                        "accepted",
                        "malformed",
                        "bad_signature",
                        "wrong_community",
                        "not_yet_valid",
                        "expired",
                        "used_up",
                        "revoked",
                        "wrong_plate",
                    ),
                ),
                FieldSpec(
                    "entry",
                    FieldType.INT,
                    "Which entry of the pass this was (0 when refused).",
                    minimum=0,
                    maximum=20,
                ),
            ),
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
        CommandSpec(
            CommandName.PORT_CUT,
            "Open the port's relay now and keep it open until port_enable; the session ends"
            " with stop_reason cut.",
            kinds=(DeviceKind.CHARGING_PORT,),
            args=(
                FieldSpec(
                    "reason",
                    FieldType.ENUM,
                    "Why the port is cut (shown to the resident).",
                    values=(
                        "full",
                        "overtemperature",
                        "overpower",
                        "abnormal_load",
                        "too_long",
                        "shed_smoke",
                        "manual",
                    ),
                ),
            ),
        ),
        CommandSpec(
            CommandName.PORT_ENABLE,
            "Allow the port to charge again after a cut.",
            kinds=(DeviceKind.CHARGING_PORT,),
        ),
        CommandSpec(
            CommandName.HOLD_DOORS,
            "Hold the car's doors open and keep the car from leaving.",
            kinds=(DeviceKind.ELEVATOR_CAMERA,),
        ),
        CommandSpec(
            CommandName.RELEASE_DOORS,
            "Release a held car (the e-bike left, or staff judged it a false alarm).",
            kinds=(DeviceKind.ELEVATOR_CAMERA,),
        ),
        CommandSpec(
            CommandName.PLAY_VOICE_PROMPT,
            "Play a recorded announcement in the car.",
            kinds=(DeviceKind.ELEVATOR_CAMERA,),
            args=(
                FieldSpec(
                    "prompt",
                    FieldType.ENUM,
                    "Which announcement.",
                    values=("ebike_not_allowed", "doors_released"),
                ),
            ),
        ),
        CommandSpec(  # visitor passes
            CommandName.REVOKE_PASS,
            "Put a pass on the gate's revocation list: the gate refuses it from now on.",
            kinds=(DeviceKind.VISITOR_GATE,),
            args=(FieldSpec("pass_id", FieldType.STRING, "The pass revoked.", max_length=32),),
        ),
    )
}


def is_alarm(event: EventType) -> bool:
    """An event the community turns into an alarm: every stateful event is one."""
    return EVENTS[event].stateful


def event_allowed(kind: DeviceKind, event: EventType) -> bool:
    """Whether a device of ``kind`` may emit ``event`` (trouble events: every kind).

    Events the community raises from its own rules are never a device's to send.
    """
    spec = EVENTS[event]
    return not spec.raised_by_community and (not spec.kinds or kind in spec.kinds)
