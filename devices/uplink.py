"""The record a hub sends up to its community: one interop message plus where it came from.

It is the payload inside a signed envelope (``privacy.envelope``). ``hub_id`` + ``seq`` (the
hub's outbox sequence) is the idempotency key: a hub retries a record until the community
acknowledges that exact key, and the community stores each key once.

The other direction is the downlink: a :class:`DownlinkCommand` the community signs with its
own key and publishes on :func:`topic_down`; the hub executes each ``command_id`` once and
reports how it went up as a ``command_result`` record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar

from devices.catalog import PRIORITY_RANK, SPEC_VERSION, CommandName, DeviceKind, Priority
from devices.messages import (
    DEVICE_ID_RE,
    MAX_INT,
    Command,
    DeviceReport,
    ErrorCode,
    Event,
    Heartbeat,
    InteropError,
    Message,
    State,
    decode_json,
    is_unicode,
    parse_message,
    to_dict,
)

UPLINK_VERSION: Final = "1.0"
_E = TypeVar("_E", bound=StrEnum)
TOPIC_ROOT: Final = "courtyard/v1/hub"


def topic_up(hub_id: str) -> str:
    """Hub → community records (QoS 1, signed envelopes)."""
    return f"{TOPIC_ROOT}/{hub_id}/up"


def topic_ack(hub_id: str) -> str:
    """Community → hub: keys the community has durably stored (QoS 1)."""
    return f"{TOPIC_ROOT}/{hub_id}/ack"


def topic_status(hub_id: str) -> str:
    """Retained ``online``/``offline``; ``offline`` is the hub's MQTT last will."""
    return f"{TOPIC_ROOT}/{hub_id}/status"


def topic_down(hub_id: str) -> str:
    """Community → hub commands (QoS 1, envelopes signed by the community's key)."""
    return f"{TOPIC_ROOT}/{hub_id}/down"


class RecordKind(StrEnum):
    """A device report, the hub's own proof of life, or how a downlink command went."""

    REPORT = "report"
    HUB_HEARTBEAT = "hub_heartbeat"
    COMMAND_RESULT = "command_result"


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What became of one downlink command: the device's ack, or why there was none."""

    command_id: str
    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """How the resident named the device and where it is; shown to the duty staff."""

    device_id: str
    kind: DeviceKind
    name: str
    room: str


@dataclass(frozen=True, slots=True)
class UplinkRecord:
    """One outbox entry of a hub, as the community receives it."""

    hub_id: str
    seq: int
    ts: int
    kind: RecordKind
    priority: Priority
    device: DeviceInfo | None = None
    message: DeviceReport | None = None
    #: For hub heartbeats: devices paired / online.
    summary: dict[str, int] | None = None
    #: For command results: the outcome of a downlink command.
    result: CommandOutcome | None = None

    @property
    def key(self) -> str:
        return idempotency_key(self.hub_id, self.seq)


def idempotency_key(hub_id: str, seq: int) -> str:
    """``"<hub_id>:<seq>"``: the community stores each key once and acks it by ``seq``."""
    return f"{hub_id}:{seq}"


def priority_of(message: Message) -> Priority:
    """Alarms travel first: an event keeps its priority, everything else is telemetry."""
    if isinstance(message, Event):
        return message.priority
    return Priority.INFO


def report(
    hub_id: str, seq: int, ts: int, device: DeviceInfo, message: DeviceReport
) -> UplinkRecord:
    """The record for one device report; its priority is derived from the message."""
    return UplinkRecord(
        hub_id=hub_id,
        seq=seq,
        ts=ts,
        kind=RecordKind.REPORT,
        priority=priority_of(message),
        device=device,
        message=message,
    )


def command_result(hub_id: str, seq: int, ts: int, outcome: CommandOutcome) -> UplinkRecord:
    """The record reporting a downlink command's outcome. It travels as an alert: a safety
    cut's acknowledgement must not wait behind telemetry, nor be shed with it."""
    return UplinkRecord(
        hub_id=hub_id,
        seq=seq,
        ts=ts,
        kind=RecordKind.COMMAND_RESULT,
        priority=Priority.ALERT,
        result=outcome,
    )


def is_telemetry(record: UplinkRecord) -> bool:
    """Telemetry may be shed under pressure; alarms, trouble events and results never are."""
    if isinstance(record.message, Event) or record.kind is RecordKind.COMMAND_RESULT:
        return False
    return PRIORITY_RANK[record.priority] >= PRIORITY_RANK[Priority.INFO]


def encode_record(record: UplinkRecord) -> bytes:
    """Compact UTF-8 JSON of a record: the body a hub signs into an envelope."""
    body: dict[str, Any] = {
        "v": UPLINK_VERSION,
        "hub_id": record.hub_id,
        "seq": record.seq,
        "ts": record.ts,
        "kind": str(record.kind),
        "priority": str(record.priority),
    }
    if record.device is not None:
        body["device"] = {
            "device_id": record.device.device_id,
            "kind": str(record.device.kind),
            "name": record.device.name,
            "room": record.device.room,
        }
    if record.message is not None:
        body["message"] = to_dict(record.message)
    if record.summary is not None:
        body["summary"] = record.summary
    if record.result is not None:
        body["result"] = {
            "command_id": record.result.command_id,
            "ok": record.result.ok,
            "error": record.result.error,
        }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _bad(reason: str) -> InteropError:
    return InteropError(ErrorCode.BAD_FIELD, reason)


def _text(obj: dict[str, Any], key: str, limit: int = 64) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value or len(value) > limit or not is_unicode(value):
        raise _bad(f"'{key}' must be a non-empty string of at most {limit} characters")
    return value


def _member(enum: type[_E], value: object) -> _E | None:
    """The enum member named by a JSON string, or None (never ``str()`` of untrusted data)."""
    if not isinstance(value, str):
        return None
    try:
        return enum(value)
    except ValueError:
        return None


def decode_record(raw: bytes) -> UplinkRecord:
    """Validate an uplink record from untrusted bytes; raises :class:`InteropError` only."""
    obj = decode_json(raw)
    if obj.get("v") != UPLINK_VERSION:
        raise InteropError(ErrorCode.UNSUPPORTED_VERSION, f"uplink 'v' must be {UPLINK_VERSION!r}")
    hub_id = _text(obj, "hub_id")
    if not DEVICE_ID_RE.fullmatch(hub_id):
        raise _bad("'hub_id' has invalid characters")
    seq, ts = obj.get("seq"), obj.get("ts")
    for name, value in (("seq", seq), ("ts", ts)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            raise _bad(f"'{name}' must be an integer in 0..2^53-1")
    assert isinstance(seq, int) and isinstance(ts, int)
    kind = _member(RecordKind, obj.get("kind"))
    if kind is None:
        raise _bad("'kind' must be one of " + ", ".join(RecordKind))
    if kind is RecordKind.HUB_HEARTBEAT:
        summary = obj.get("summary", {})
        if (
            not isinstance(summary, dict)
            or len(summary) > 16
            or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                for k, v in summary.items()
            )
        ):
            raise _bad("'summary' must be an object of integers")
        return UplinkRecord(
            hub_id=hub_id, seq=seq, ts=ts, kind=kind, priority=Priority.INFO, summary=summary
        )
    if kind is RecordKind.COMMAND_RESULT:
        return UplinkRecord(
            hub_id=hub_id,
            seq=seq,
            ts=ts,
            kind=kind,
            priority=Priority.ALERT,
            result=_outcome(obj.get("result")),
        )
    dev = obj.get("device")
    if not isinstance(dev, dict):
        raise _bad("'device' must be an object")
    raw_message = obj.get("message")
    if not isinstance(raw_message, dict):
        raise _bad("'message' must be an object")
    message = parse_message(raw_message)
    if not isinstance(message, State | Event | Heartbeat):
        raise _bad("'message' must be a state, event or heartbeat")
    dev_kind = _member(DeviceKind, dev.get("kind"))
    if dev_kind is None:
        raise InteropError(ErrorCode.UNKNOWN_KIND, "'device.kind' is not a known kind")
    info = DeviceInfo(
        device_id=_text(dev, "device_id"),
        kind=dev_kind,
        name=_text(dev, "name", 64),
        room=_text(dev, "room", 64),
    )
    if info.device_id != message.device_id or info.kind != message.kind:
        raise InteropError(ErrorCode.WRONG_DEVICE, "'device' does not match the message's device")
    return UplinkRecord(
        hub_id=hub_id,
        seq=seq,
        ts=ts,
        kind=kind,
        priority=priority_of(message),
        device=info,
        message=message,
    )


def _outcome(raw: object) -> CommandOutcome:
    if not isinstance(raw, dict):
        raise _bad("'result' must be an object")
    command_id = _text(raw, "command_id")
    ok = raw.get("ok")
    if not isinstance(ok, bool):
        raise _bad("'result.ok' must be true or false")
    error = raw.get("error", "")
    if not isinstance(error, str) or len(error) > 256 or not is_unicode(error):
        raise _bad("'result.error' must be a string of at most 256 characters")
    return CommandOutcome(command_id=command_id, ok=ok, error=error)


# --- the downlink ----------------------------------------------------------------------------

DOWNLINK_VERSION: Final = "1.0"


@dataclass(frozen=True, slots=True)
class DownlinkCommand:
    """A command the community asks a hub to send to one of its devices.

    ``command_id`` is the idempotency key: the community retries the same id until it hears
    the result, and the hub executes each id at most once. ``seq`` is the community's own
    counter per hub (for logs and ordering); ``ts`` is when it was issued, in ms.
    """

    community_id: str
    seq: int
    ts: int
    command_id: str
    device_id: str
    command: CommandName
    args: dict[str, Any]


def encode_downlink(cmd: DownlinkCommand) -> bytes:
    """Compact UTF-8 JSON of a downlink command: the body the community signs."""
    body = {
        "v": DOWNLINK_VERSION,
        "community_id": cmd.community_id,
        "seq": cmd.seq,
        "ts": cmd.ts,
        "command_id": cmd.command_id,
        "device_id": cmd.device_id,
        "command": str(cmd.command),
        "args": cmd.args,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def decode_downlink(raw: bytes) -> DownlinkCommand:
    """Validate a downlink command from untrusted bytes; raises :class:`InteropError` only.

    The command, its arguments and the device id get exactly the checks a native command
    message gets (the same parser), so a hub never executes what it would refuse to send.
    """
    obj = decode_json(raw)
    if obj.get("v") != DOWNLINK_VERSION:
        raise InteropError(
            ErrorCode.UNSUPPORTED_VERSION, f"downlink 'v' must be {DOWNLINK_VERSION!r}"
        )
    community_id = _text(obj, "community_id")
    command_id = _text(obj, "command_id")
    for name, text in (("community_id", community_id), ("command_id", command_id)):
        if not DEVICE_ID_RE.fullmatch(text):
            raise _bad(f"'{name}' has invalid characters")
    seq, ts = obj.get("seq"), obj.get("ts")
    for name, value in (("seq", seq), ("ts", ts)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            raise _bad(f"'{name}' must be an integer in 0..2^53-1")
    assert isinstance(seq, int) and isinstance(ts, int)
    message = parse_message(
        {
            "v": SPEC_VERSION,
            "type": "command",
            "device_id": obj.get("device_id"),
            "command_id": command_id,
            "command": obj.get("command"),
            "args": obj.get("args", {}),
        }
    )
    assert isinstance(message, Command)
    return DownlinkCommand(
        community_id=community_id,
        seq=seq,
        ts=ts,
        command_id=command_id,
        device_id=message.device_id,
        command=message.command,
        args=dict(message.args),
    )
