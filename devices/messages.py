"""Typed interop messages and the one parser every boundary uses.

A device (or an adapter speaking for one) sends ``hello``, ``state``, ``event`` and
``heartbeat`` messages; a hub sends ``command``; both send ``ack`` and ``error``. Every
message from a device carries the device id, its kind, a per-device monotonic sequence number
and a timestamp in milliseconds since the Unix epoch.

``parse_message`` accepts untrusted bytes and either returns a fully validated message or
raises :class:`InteropError` with a stable ``code`` and a human-readable reason. It never
raises anything else, whatever the input (the property tests throw arbitrary bytes at it).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeVar

from devices.catalog import (
    COMMANDS,
    EVENTS,
    KINDS,
    MAX_MESSAGE_BYTES,
    SPEC_VERSION,
    CommandName,
    DeviceKind,
    EventType,
    FieldSpec,
    FieldType,
    Priority,
    event_allowed,
)

DEVICE_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_INT: Final = 2**53 - 1  # JSON-safe integer range
#: Largest magnitude of a ``number`` field: a finite IEEE-754 double, so every receiver can hold
#: it (NaN and Infinity are not JSON; an integer literal beyond this would overflow a double).
MAX_NUMBER: Final = sys.float_info.max
_E = TypeVar("_E", bound=StrEnum)


class ErrorCode(StrEnum):
    """Stable reasons a message is refused; ``error`` messages and ``InteropError`` carry one."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_KIND = "unknown_kind"
    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_COMMAND = "unknown_command"
    BAD_FIELD = "bad_field"
    SEQUENCE_REGRESSION = "sequence_regression"
    UNKNOWN_DEVICE = "unknown_device"
    WRONG_DEVICE = "wrong_device"


#: What each code means, for people: the spec document's error table is generated from this.
ERROR_MEANINGS: Final[dict[ErrorCode, str]] = {
    ErrorCode.MALFORMED: "Not UTF-8, not JSON (NaN and Infinity are not JSON, nesting too deep),"
    " or not a JSON object.",
    ErrorCode.TOO_LARGE: f"More than {MAX_MESSAGE_BYTES} bytes of UTF-8.",
    ErrorCode.UNSUPPORTED_VERSION: f"'v' is missing or its major version is not"
    f" {SPEC_VERSION.split('.')[0]}.",
    ErrorCode.UNKNOWN_TYPE: "'type' is missing or not a message type of this spec.",
    ErrorCode.UNKNOWN_KIND: "'kind' is missing or not a device kind of this spec.",
    ErrorCode.UNKNOWN_EVENT: "'event' is missing, not an event of this spec, or not one this"
    " kind of device may emit.",
    ErrorCode.UNKNOWN_COMMAND: "'command' is missing or not a command of this spec.",
    ErrorCode.BAD_FIELD: "A field is missing, has the wrong type or is out of range; or"
    " 'state', 'data' or 'args' holds a field this kind, event or command does not define.",
    ErrorCode.SEQUENCE_REGRESSION: "'seq' is not greater than the last one the receiver"
    " accepted from this device, and is not a resend of a message it already accepted.",
    ErrorCode.UNKNOWN_DEVICE: "The receiver has no device with this id.",
    ErrorCode.WRONG_DEVICE: "The message names a different device or kind than the connection"
    " (or the uplink record) it arrived on was set up for.",
}


class InteropError(ValueError):
    """A message that does not follow the interop spec.

    ``code`` is stable and goes on the wire; ``reason`` is for people and logs.
    """

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class MessageType(StrEnum):
    HELLO = "hello"
    STATE = "state"
    EVENT = "event"
    HEARTBEAT = "heartbeat"
    COMMAND = "command"
    ACK = "ack"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Hello:
    """First message on a native link: who the device is and what it runs."""

    device_id: str
    kind: DeviceKind
    model: str
    firmware: str
    type: MessageType = field(default=MessageType.HELLO, init=False)


@dataclass(frozen=True, slots=True)
class State:
    """A (possibly partial) report of state fields; absent fields keep their last value."""

    device_id: str
    kind: DeviceKind
    seq: int
    ts: int
    state: dict[str, Any]
    type: MessageType = field(default=MessageType.STATE, init=False)


@dataclass(frozen=True, slots=True)
class Event:
    """Something happened. ``active`` is False when a stateful condition has ended."""

    device_id: str
    kind: DeviceKind
    seq: int
    ts: int
    event: EventType
    active: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    type: MessageType = field(default=MessageType.EVENT, init=False)

    @property
    def priority(self) -> Priority:
        return EVENTS[self.event].priority


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Proof of life: resets the hub's supervision timer for the device."""

    device_id: str
    kind: DeviceKind
    seq: int
    ts: int
    type: MessageType = field(default=MessageType.HEARTBEAT, init=False)


@dataclass(frozen=True, slots=True)
class Command:
    """Hub to device; the device answers with an ``ack`` whose ``ref`` is ``command_id``."""

    device_id: str
    command_id: str
    command: CommandName
    args: dict[str, Any] = field(default_factory=dict)
    type: MessageType = field(default=MessageType.COMMAND, init=False)


@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledges a device message (``ref`` = its seq) or a command (``ref`` = command_id)."""

    ref: str
    ok: bool = True
    error: str = ""
    type: MessageType = field(default=MessageType.ACK, init=False)


@dataclass(frozen=True, slots=True)
class Error:
    """A refused message: ``ref`` is its seq (or ``"hello"``) when that was readable."""

    code: ErrorCode
    message: str
    ref: str = ""
    type: MessageType = field(default=MessageType.ERROR, init=False)


DeviceReport = State | Event | Heartbeat
Message = Hello | State | Event | Heartbeat | Command | Ack | Error


def to_dict(msg: Message) -> dict[str, Any]:
    """Wire form of a message.

    Events also carry their (derived) priority, so a reader needs no table to triage them.
    """
    out: dict[str, Any] = {"v": SPEC_VERSION, "type": str(msg.type)}
    for name in msg.__dataclass_fields__:
        if name == "type":
            continue
        value = getattr(msg, name)
        out[name] = str(value) if isinstance(value, StrEnum) else value
    if isinstance(msg, Event):
        out["priority"] = str(msg.priority)
    return out


def encode(msg: Message) -> str:
    """Compact JSON text of a message, as sent on a native link."""
    return json.dumps(to_dict(msg), separators=(",", ":"), ensure_ascii=False)


# --- parsing -----------------------------------------------------------------------------


def _fail(code: ErrorCode, reason: str) -> InteropError:
    return InteropError(code, reason)


def is_unicode(text: str) -> bool:
    """False for text with an unpaired surrogate (legal as a JSON ``\\ud800`` escape).

    Such a string cannot be written as UTF-8, so accepting it would only move the failure to
    whoever next stores or forwards the message.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _preview(value: object) -> str:
    """A short, safe rendering of an untrusted value for an error reason."""
    return repr(value[:40]) if isinstance(value, str) else f"a JSON {type(value).__name__}"


def _str(
    obj: dict[str, Any], key: str, *, pattern: re.Pattern[str] | None = None, max_length: int = 128
) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value or len(value) > max_length or not is_unicode(value):
        raise _fail(
            ErrorCode.BAD_FIELD,
            f"'{key}' must be a non-empty string of at most {max_length} characters",
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise _fail(ErrorCode.BAD_FIELD, f"'{key}' has invalid characters")
    return value


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise _fail(ErrorCode.BAD_FIELD, f"'{key}' must be an integer in 0..2^53-1")
    return value


def _bool(obj: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _fail(ErrorCode.BAD_FIELD, f"'{key}' must be true or false")
    return value


def _enum(enum: type[_E], value: object, code: ErrorCode, what: str) -> _E:
    if not isinstance(value, str):
        raise _fail(code, f"'{what}' must be a string")
    try:
        return enum(value)
    except ValueError:
        raise _fail(code, f"unknown {what} {value[:40]!r}") from None


def check_field(spec: FieldSpec, value: object) -> None:
    """Validate one field value against its spec (shared with adapters)."""
    name = spec.name
    match spec.type:
        case FieldType.BOOL:
            ok = isinstance(value, bool)
        case FieldType.INT:
            ok = isinstance(value, int) and not isinstance(value, bool)
        case FieldType.NUMBER:
            # A comparison, not math.isfinite: that raises OverflowError on huge integers.
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and -MAX_NUMBER <= value <= MAX_NUMBER
            )
        case FieldType.ENUM:
            ok = isinstance(value, str) and value in spec.values
        case FieldType.STRING:
            ok = isinstance(value, str) and 0 < len(value) <= spec.max_length and is_unicode(value)
    if not ok:
        raise _fail(
            ErrorCode.BAD_FIELD,
            f"field '{name}' must be {spec.type}"
            + (f" one of {list(spec.values)}" if spec.values else ""),
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise _fail(ErrorCode.BAD_FIELD, f"field '{name}' below minimum {spec.minimum}")
        if spec.maximum is not None and value > spec.maximum:
            raise _fail(ErrorCode.BAD_FIELD, f"field '{name}' above maximum {spec.maximum}")


def _fields(
    obj: dict[str, Any], key: str, specs: tuple[FieldSpec, ...], *, allow_empty: bool = True
) -> dict[str, Any]:
    value = obj.get(key, {})
    if not isinstance(value, dict):
        raise _fail(ErrorCode.BAD_FIELD, f"'{key}' must be an object")
    by_name = {s.name: s for s in specs}
    for name, item in value.items():
        spec = by_name.get(name)
        if spec is None:
            raise _fail(ErrorCode.BAD_FIELD, f"'{key}' has unknown field {_preview(name)}")
        check_field(spec, item)
    if not allow_empty and not value:
        raise _fail(ErrorCode.BAD_FIELD, f"'{key}' must not be empty")
    return dict(value)


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def decode_json(raw: bytes | str) -> dict[str, Any]:
    """Bytes to a JSON object, with size, encoding and NaN checks; raises InteropError."""
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > MAX_MESSAGE_BYTES:
        raise _fail(ErrorCode.TOO_LARGE, f"{size} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        obj = json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _fail(ErrorCode.MALFORMED, f"not UTF-8 JSON ({type(exc).__name__})") from None
    if not isinstance(obj, dict):
        raise _fail(ErrorCode.MALFORMED, "a message must be a JSON object")
    return obj


def parse_message(raw: bytes | str | dict[str, Any]) -> Message:
    """Validate untrusted input into a typed message, or raise :class:`InteropError`."""
    obj = raw if isinstance(raw, dict) else decode_json(raw)
    version = obj.get("v")
    if not isinstance(version, str) or version.split(".")[0] != SPEC_VERSION.split(".")[0]:
        raise _fail(
            ErrorCode.UNSUPPORTED_VERSION,
            f"'v' must be a {SPEC_VERSION.split('.')[0]}.x version string",
        )
    mtype = _enum(MessageType, obj.get("type"), ErrorCode.UNKNOWN_TYPE, "type")
    if mtype in (MessageType.ACK, MessageType.ERROR):
        ref = obj.get("ref", "")
        if not isinstance(ref, str) or len(ref) > 64 or not is_unicode(ref):
            raise _fail(ErrorCode.BAD_FIELD, "'ref' must be a string of at most 64 characters")
        if mtype is MessageType.ACK:
            error = obj.get("error", "")
            if not isinstance(error, str) or len(error) > 256 or not is_unicode(error):
                raise _fail(
                    ErrorCode.BAD_FIELD, "'error' must be a string of at most 256 characters"
                )
            return Ack(ref=ref, ok=_bool(obj, "ok", True), error=error)
        code = _enum(ErrorCode, obj.get("code"), ErrorCode.BAD_FIELD, "error code")
        return Error(code=code, message=_str(obj, "message", max_length=256), ref=ref)

    device_id = _str(obj, "device_id", pattern=DEVICE_ID_RE, max_length=64)
    if mtype is MessageType.COMMAND:
        command = _enum(CommandName, obj.get("command"), ErrorCode.UNKNOWN_COMMAND, "command")
        args = _fields(obj, "args", COMMANDS[command].args)
        return Command(
            device_id=device_id,
            command_id=_str(obj, "command_id", max_length=64),
            command=command,
            args=args,
        )

    kind = _enum(DeviceKind, obj.get("kind"), ErrorCode.UNKNOWN_KIND, "kind")
    if mtype is MessageType.HELLO:
        return Hello(
            device_id=device_id,
            kind=kind,
            model=_str(obj, "model", max_length=64),
            firmware=_str(obj, "firmware", max_length=32),
        )
    seq = _int(obj, "seq")
    ts = _int(obj, "ts")
    if mtype is MessageType.HEARTBEAT:
        return Heartbeat(device_id=device_id, kind=kind, seq=seq, ts=ts)
    if mtype is MessageType.STATE:
        state = _fields(obj, "state", KINDS[kind].state, allow_empty=False)
        return State(device_id=device_id, kind=kind, seq=seq, ts=ts, state=state)
    event = _enum(EventType, obj.get("event"), ErrorCode.UNKNOWN_EVENT, "event")
    if not event_allowed(kind, event):
        raise _fail(ErrorCode.UNKNOWN_EVENT, f"a {kind} cannot emit {event}")
    spec = EVENTS[event]
    priority = obj.get("priority", str(spec.priority))
    if priority != spec.priority:
        raise _fail(
            ErrorCode.BAD_FIELD,
            f"'{event}' has priority {spec.priority}, not {_preview(priority)}",
        )
    active = _bool(obj, "active", True)
    if not spec.stateful and not active:
        raise _fail(ErrorCode.BAD_FIELD, f"'{event}' is a one-off event and cannot be inactive")
    data = _fields(obj, "data", spec.data)
    return Event(
        device_id=device_id, kind=kind, seq=seq, ts=ts, event=event, active=active, data=data
    )


class SequenceTracker:
    """Per-device last sequence number: a report whose seq does not increase is rejected.

    Devices persist their counter across reboots (as Matter event numbers do), so a
    regression is a replay or a fault, never a normal restart.
    """

    __slots__ = ("_last",)

    def __init__(self, initial: dict[str, int] | None = None) -> None:
        self._last: dict[str, int] = dict(initial or {})

    def check(self, device_id: str, seq: int) -> None:
        last = self._last.get(device_id)
        if last is not None and seq <= last:
            raise InteropError(
                ErrorCode.SEQUENCE_REGRESSION, f"seq {seq} is not after {last} for {device_id}"
            )

    def accept(self, device_id: str, seq: int) -> None:
        self.check(device_id, seq)
        self._last[device_id] = seq

    def last(self, device_id: str) -> int | None:
        return self._last.get(device_id)
