"""Example messages and uplink records, built from the real dataclasses.

The spec document prints them with :func:`devices.messages.encode`, and the tests check that
each one passes the parser and the JSON Schema, so the examples a device maker copies can
never drift from what a hub accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from devices.catalog import CommandName, DeviceKind, EventType, Priority
from devices.messages import (
    Ack,
    Command,
    Error,
    ErrorCode,
    Event,
    Heartbeat,
    Hello,
    Message,
    State,
)
from devices.uplink import DeviceInfo, RecordKind, UplinkRecord, encode_record, report

#: 2026-11-21T19:30:01.123Z, so every example reads as one evening in one home.
T0: Final = 1_795_289_401_123
HUB_ID: Final = "hub-0042"


@dataclass(frozen=True, slots=True)
class Example:
    """One message with a sentence saying when it is sent."""

    title: str
    message: Message


#: One complete state report per kind: every field the kind defines.
STATE_EXAMPLES: Final[dict[DeviceKind, State]] = {
    DeviceKind.SMOKE_ALARM: State(
        "smoke-kitchen-1",
        DeviceKind.SMOKE_ALARM,
        seq=1041,
        ts=T0,
        state={
            "expressed_state": "normal",
            "smoke_state": "normal",
            "obscuration_pct_per_m": 0.4,
            "interconnect": False,
            "muted": False,
            "test_in_progress": False,
            "hardware_fault": False,
            "end_of_service": "normal",
            "battery_alert": "normal",
            "battery_pct": 87,
        },
    ),
    DeviceKind.GAS_DETECTOR: State(
        "gas-kitchen-1",
        DeviceKind.GAS_DETECTOR,
        seq=310,
        ts=T0,
        state={
            "gas_state": "normal",
            "lel_pct": 0,
            "valve": "open",
            "muted": False,
            "test_in_progress": False,
            "hardware_fault": False,
            "end_of_service": "normal",
            "battery_pct": 100,
        },
    ),
    DeviceKind.FALL_DETECTOR: State(
        "fall-bathroom-1",
        DeviceKind.FALL_DETECTOR,
        seq=77,
        ts=T0,
        state={
            "occupied": True,
            "fall_state": "normal",
            "hardware_fault": False,
            "battery_pct": 64,
        },
    ),
    DeviceKind.EMERGENCY_BUTTON: State(
        "sos-bedroom-1",
        DeviceKind.EMERGENCY_BUTTON,
        seq=12,
        ts=T0,
        state={"pressed": False, "battery_pct": 93},
    ),
    DeviceKind.WATER_LEAK: State(
        "leak-laundry-1",
        DeviceKind.WATER_LEAK,
        seq=5,
        ts=T0,
        state={"leak": False, "battery_pct": 71},
    ),
    DeviceKind.CHARGING_PORT: State(
        "shed-a-port-03",
        DeviceKind.CHARGING_PORT,
        seq=8812,
        ts=T0,
        state={
            "station_id": "shed-a",
            "port": 3,
            "port_state": "charging",
            "power_w": 182.5,
            "current_a": 0.83,
            "voltage_v": 221.4,
            "temperature_c": 31.2,
            "energy_wh": 264.0,
            "session_id": "s-20261121-0007",
            "stop_reason": "none",
            "hardware_fault": False,
        },
    ),
    DeviceKind.ELEVATOR_CAMERA: State(
        "lift-b2-car-1",
        DeviceKind.ELEVATOR_CAMERA,
        seq=402,
        ts=T0,
        state={"ebike_detected": False, "car_held": False, "hardware_fault": False},
    ),
    DeviceKind.SHED_SMOKE_DETECTOR: State(
        "shed-a-smoke-1",
        DeviceKind.SHED_SMOKE_DETECTOR,
        seq=96,
        ts=T0,
        state={
            "smoke_state": "normal",
            "obscuration_pct_per_m": 0.2,
            "test_in_progress": False,
            "hardware_fault": False,
            "end_of_service": "normal",
            "battery_alert": "normal",
            "battery_pct": 98,
        },
    ),
    DeviceKind.FIRE_LANE_SENSOR: State(
        "lane-north-cam-1",
        DeviceKind.FIRE_LANE_SENSOR,
        seq=3310,
        ts=T0,
        state={
            "zone_id": "north-gate",
            "vehicle_present": True,
            "object_present": False,
            "plate": "沪AD12345",
            "hardware_fault": False,
        },
    ),
    DeviceKind.VISITOR_GATE: State(  # visitor passes
        "gate-north-1",
        DeviceKind.VISITOR_GATE,
        seq=120,
        ts=T0,
        state={"pass_key_id": "3f9a0c1d2e4b5a6c", "revoked_passes": 2, "hardware_fault": False},
    ),
    DeviceKind.PARCEL_LOCKER: State(
        "locker-gate-1",
        DeviceKind.PARCEL_LOCKER,
        seq=52,
        ts=T0,
        state={
            "locker_id": "gate-1",
            "compartments": 24,
            "occupied_compartments": 3,
            "hardware_fault": False,
        },
    ),
    DeviceKind.DOOR_SENSOR: State(  # care checks
        "door-front-1",
        DeviceKind.DOOR_SENSOR,
        seq=7,
        ts=T0,
        state={"contact": True, "battery_pct": 90},
    ),
    DeviceKind.MOTION_SENSOR: State(  # care checks
        "motion-hall-1",
        DeviceKind.MOTION_SENSOR,
        seq=8,
        ts=T0,
        state={"occupancy": False, "battery_pct": 88},
    ),
}

_SMOKE = "smoke-kitchen-1"

#: A smoke alarm's evening, in order: at least one example of every message type.
MESSAGE_EXAMPLES: Final[tuple[Example, ...]] = (
    Example(
        "The device introduces itself right after the WebSocket opens.",
        Hello(_SMOKE, DeviceKind.SMOKE_ALARM, model="Acme PS-200", firmware="2.4.1"),
    ),
    Example("The hub accepts the hello.", Ack(ref="hello")),
    Example(
        "A partial state report: only the changed fields.",
        State(
            _SMOKE,
            DeviceKind.SMOKE_ALARM,
            seq=1042,
            ts=T0 + 1_000,
            state={
                "expressed_state": "smoke_alarm",
                "smoke_state": "critical",
                "obscuration_pct_per_m": 4.2,
            },
        ),
    ),
    Example("The hub accepts state seq 1042.", Ack(ref="1042")),
    Example(
        "Smoke alarm raised (a stateful, critical event).",
        Event(
            _SMOKE,
            DeviceKind.SMOKE_ALARM,
            seq=1043,
            ts=T0 + 1_000,
            event=EventType.SMOKE_ALARM,
            data={"value": 4.2},
        ),
    ),
    Example(
        "The hub sounds the other smoke alarms in the home.",
        Command(
            "smoke-hall-1",
            command_id="9f1c0b7e2d4a4c33a1e8f06b5d2c7a10",
            command=CommandName.INTERCONNECT_START,
            args={"source_device": _SMOKE},
        ),
    ),
    Example(
        "The other alarm confirms the command.",
        Ack(ref="9f1c0b7e2d4a4c33a1e8f06b5d2c7a10"),
    ),
    Example(
        "Someone silences the kitchen alarm (a one-off info event).",
        Event(
            _SMOKE,
            DeviceKind.SMOKE_ALARM,
            seq=1044,
            ts=T0 + 45_000,
            event=EventType.ALARM_SILENCED,
        ),
    ),
    Example(
        "The smoke has cleared: the same event with active=false ends the condition.",
        Event(
            _SMOKE,
            DeviceKind.SMOKE_ALARM,
            seq=1045,
            ts=T0 + 180_000,
            event=EventType.SMOKE_ALARM,
            active=False,
            data={"value": 0.3},
        ),
    ),
    Example(
        "A self-test result.",
        Event(
            _SMOKE,
            DeviceKind.SMOKE_ALARM,
            seq=1046,
            ts=T0 + 600_000,
            event=EventType.SELF_TEST,
            data={"passed": True},
        ),
    ),
    Example(
        "Nothing to report: a heartbeat keeps supervision satisfied.",
        Heartbeat(_SMOKE, DeviceKind.SMOKE_ALARM, seq=1047, ts=T0 + 900_000),
    ),
    Example(
        "A gas detector cannot carry out a command (for example a stuck valve).",
        Ack(ref="0b5e6a9d3c2f4e8a9d7c1b2a3f4e5d6c", ok=False, error="valve motor stalled"),
    ),
    Example(
        "The hub refuses a resend with an old seq it never accepted.",
        Error(ErrorCode.SEQUENCE_REGRESSION, "seq 1040 is not after 1047", ref="1040"),
    ),
)

_KITCHEN = DeviceInfo(_SMOKE, DeviceKind.SMOKE_ALARM, name="Kitchen smoke alarm", room="Kitchen")

#: A hub's outbox entries, as published: a critical report and a heartbeat.
UPLINK_EXAMPLES: Final[tuple[tuple[str, UplinkRecord], ...]] = (
    (
        "A device's event, carried up with the device's name and room.",
        report(
            HUB_ID,
            seq=58_113,
            ts=T0 + 1_012,
            device=_KITCHEN,
            message=Event(
                _SMOKE,
                DeviceKind.SMOKE_ALARM,
                seq=1043,
                ts=T0 + 1_000,
                event=EventType.SMOKE_ALARM,
                data={"value": 4.2},
            ),
        ),
    ),
    (
        "The hub's own heartbeat.",
        UplinkRecord(
            hub_id=HUB_ID,
            seq=58_114,
            ts=T0 + 30_000,
            kind=RecordKind.HUB_HEARTBEAT,
            priority=Priority.INFO,
            summary={"devices": 5, "online": 5},
        ),
    ),
)


# --- signed envelope test vector ----------------------------------------------------------

#: A published, worthless private key (bytes 0..31): only for checking an implementation.
TEST_KEY_SEED: Final = bytes(range(32))
_ENVELOPE_DOMAIN: Final = b"courtyard-envelope-v1\x00"


@dataclass(frozen=True, slots=True)
class EnvelopeVector:
    """Every intermediate value of signing one record, for a device maker's unit test."""

    sender: str
    public_key: bytes
    key_id: str
    body: bytes
    signed_bytes: bytes
    signature: bytes
    envelope: bytes


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def envelope_vector() -> EnvelopeVector:
    """Sign the first uplink example as the spec describes, independently of the hub's code.

    The tests check that ``privacy.envelope.seal`` produces the same bytes and that
    ``open_signed`` accepts them, so the published algorithm and the real one agree.
    """
    key = Ed25519PrivateKey.from_private_bytes(TEST_KEY_SEED)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = hashlib.sha256(public).hexdigest()[:16]
    body = encode_record(UPLINK_EXAMPLES[0][1])
    signed = _ENVELOPE_DOMAIN + HUB_ID.encode() + b"\x00" + kid.encode() + b"\x00" + body
    signature = key.sign(signed)
    envelope = {
        "v": 1,
        "alg": "Ed25519",
        "from": HUB_ID,
        "kid": kid,
        "body": _b64url(body),
        "sig": _b64url(signature),
    }
    return EnvelopeVector(
        sender=HUB_ID,
        public_key=public,
        key_id=kid,
        body=body,
        signed_bytes=signed,
        signature=signature,
        envelope=json.dumps(envelope, separators=(",", ":")).encode(),
    )
