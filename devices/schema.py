"""JSON Schema (draft 2020-12) of the interop model, generated from the catalog.

A device maker validates against these files instead of reading our parser, so they must
accept exactly what :func:`devices.messages.parse_message` and
:func:`devices.uplink.decode_record` accept. The per-kind, per-event and per-command rules come
straight from ``devices.catalog``; the top-level fields of each message are declared once here
(``MESSAGE_FIELDS``, ``UPLINK_FIELDS``) and the spec document renders the same tables. The test
suite throws generated valid and invalid messages at both the parser and the schema and fails
on any disagreement.

Some rules live in the JSON text, below what a schema can see; ``docs/interop-spec.md`` lists
them (size limit, no NaN/Infinity, integers written without a fraction or exponent, no unpaired
surrogate escapes, the record's ``device.device_id`` equal to its message's).

Regenerate the committed files with ``python -m devices.generate --write``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from devices.catalog import (
    COMMANDS,
    EVENTS,
    KINDS,
    SPEC_VERSION,
    DeviceKind,
    EventType,
    FieldSpec,
    FieldType,
    Priority,
    event_allowed,
)
from devices.messages import DEVICE_ID_RE, MAX_INT, MAX_NUMBER, ErrorCode, MessageType
from devices.service import MAX_BODY_BYTES, MAX_DEPTH, REQUEST_ID_RE
from devices.service import NAME_RE as SERVICE_NAME_RE
from devices.uplink import UPLINK_VERSION, ReceiptStatus, RecordKind, RequestAction

Schema = dict[str, Any]

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
#: The combined schema: any interop message, discriminated by ``type``.
MESSAGE_SCHEMA_FILE: Final = "interop-message.schema.json"
UPLINK_SCHEMA_FILE: Final = "uplink-record.schema.json"
#: Where the committed files live; they ship inside the package.
PUBLISHED_DIR: Final = Path(__file__).with_name("schema")

#: End of text in both ECMA-262 and Python ``re``: Python's ``$`` also matches before a final
#: newline, so a validator written in Python would accept ``"hub-1\n"`` with a plain ``$``.
_END: Final = r"(?![\s\S])"
_MAJOR: Final = SPEC_VERSION.split(".")[0]


def _anchored(pattern: str) -> str:
    """A ``^...$`` pattern with ``$`` replaced by a true end-of-text assertion."""
    if not pattern.endswith("$"):
        raise ValueError(f"pattern {pattern!r} is not anchored at the end")
    return pattern[:-1] + _END


DEVICE_ID: Final[Schema] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": _anchored(DEVICE_ID_RE.pattern),
}
UINT: Final[Schema] = {"type": "integer", "minimum": 0, "maximum": MAX_INT}


def _text(min_length: int, max_length: int) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def _enum(values: Iterable[str]) -> Schema:
    return {"type": "string", "enum": [str(v) for v in values]}


@dataclass(frozen=True, slots=True)
class WireField:
    """One top-level field of a message or record: its schema and whether it must be present."""

    name: str
    schema: Schema
    description: str
    required: bool = True
    #: JSON text of the value a receiver assumes when the field is absent ("" = none).
    default: str = ""
    #: For uplink records: the record ``kind`` this field belongs to ("" = every kind).
    when: str = ""


def _v_field() -> WireField:
    return WireField(
        "v",
        {"type": "string", "pattern": f"^{_MAJOR}(?![^.])"},
        f'Spec version. Send "{SPEC_VERSION}"; receivers accept any "{_MAJOR}.<minor>".',
    )


def _type_field(mtype: MessageType) -> WireField:
    return WireField("type", {"type": "string", "const": str(mtype)}, "Message type.")


_DEVICE_ID = WireField("device_id", DEVICE_ID, "The device's id, unique within its hub.")
_KIND = WireField("kind", _enum(DeviceKind), "The device's kind.")
_SEQ = WireField(
    "seq",
    UINT,
    "Per-device sequence number: greater than every earlier one, kept across reboots.",
)
_TS = WireField("ts", UINT, "When it happened, in milliseconds since the Unix epoch (UTC).")
_REF = WireField(
    "ref",
    _text(0, 64),
    'What this answers: the seq (as a string) of a device message, "hello", or a command_id.',
    required=False,
    default='""',
)

MESSAGE_FIELDS: Final[dict[MessageType, tuple[WireField, ...]]] = {
    MessageType.HELLO: (
        _v_field(),
        _type_field(MessageType.HELLO),
        _DEVICE_ID,
        _KIND,
        WireField("model", _text(1, 64), "Manufacturer and model."),
        WireField("firmware", _text(1, 32), "Firmware version."),
    ),
    MessageType.STATE: (
        _v_field(),
        _type_field(MessageType.STATE),
        _DEVICE_ID,
        _KIND,
        _SEQ,
        _TS,
        WireField(
            "state",
            {"type": "object", "minProperties": 1},
            "One or more state fields of the kind; fields left out keep their last value.",
        ),
    ),
    MessageType.EVENT: (
        _v_field(),
        _type_field(MessageType.EVENT),
        _DEVICE_ID,
        _KIND,
        _SEQ,
        _TS,
        WireField("event", _enum(EventType), "What happened; must be an event of the kind."),
        WireField(
            "active",
            {"type": "boolean"},
            "For stateful events: true = the condition started (or continues), false = it"
            " ended. One-off events are always true.",
            required=False,
            default="true",
        ),
        WireField(
            "priority",
            _enum(Priority),
            "The event's fixed priority. Optional on input; if present it must match.",
            required=False,
        ),
        WireField(
            "data",
            {"type": "object"},
            "The event's data fields (all optional).",
            required=False,
            default="{}",
        ),
    ),
    MessageType.HEARTBEAT: (
        _v_field(),
        _type_field(MessageType.HEARTBEAT),
        _DEVICE_ID,
        _KIND,
        _SEQ,
        _TS,
    ),
    MessageType.COMMAND: (
        _v_field(),
        _type_field(MessageType.COMMAND),
        _DEVICE_ID,
        WireField("command_id", _text(1, 64), "Unique id of this command; the ack's ref."),
        WireField("command", _enum(COMMANDS), "The command; must be one the device's kind takes."),
        WireField(
            "args",
            {"type": "object"},
            "The command's arguments.",
            required=False,
            default="{}",
        ),
    ),
    MessageType.ACK: (
        _v_field(),
        _type_field(MessageType.ACK),
        _REF,
        WireField(
            "ok",
            {"type": "boolean"},
            "false when a command could not be carried out.",
            required=False,
            default="true",
        ),
        WireField(
            "error",
            _text(0, 256),
            "Why a command failed (for people).",
            required=False,
            default='""',
        ),
    ),
    MessageType.ERROR: (
        _v_field(),
        _type_field(MessageType.ERROR),
        WireField("code", _enum(ErrorCode), "Stable error code."),
        WireField("message", _text(1, 256), "What was wrong (for people)."),
        _REF,
    ),
}

#: Who sends each message and why; the spec document and schema titles use it.
MESSAGE_PURPOSE: Final[dict[MessageType, tuple[str, str]]] = {
    MessageType.HELLO: ("device → hub", "First message on a link: who the device is."),
    MessageType.STATE: ("device → hub", "A full or partial report of the device's state."),
    MessageType.EVENT: ("device → hub", "Something happened, or a condition started or ended."),
    MessageType.HEARTBEAT: ("device → hub", "Proof of life; resets the hub's supervision timer."),
    MessageType.COMMAND: ("hub → device", "Asks the device to act."),
    MessageType.ACK: ("both", "Accepts a device message, or reports a command's outcome."),
    MessageType.ERROR: ("hub → device", "Refuses a message, with a stable code."),
}

DEVICE_INFO_FIELDS: Final[tuple[WireField, ...]] = (
    WireField("device_id", DEVICE_ID, "Equal to the message's device_id."),
    WireField("kind", _enum(DeviceKind), "Equal to the message's kind."),
    WireField("name", _text(1, 64), "The name the resident gave the device."),
    WireField("room", _text(1, 64), "The room it is in."),
)

UPLINK_FIELDS: Final[tuple[WireField, ...]] = (
    WireField("v", {"type": "string", "const": UPLINK_VERSION}, "Uplink record version."),
    WireField("hub_id", DEVICE_ID, "The sending hub; equal to the envelope's sender."),
    WireField(
        "seq",
        UINT,
        "The hub's outbox sequence number; with hub_id, the idempotency key.",
    ),
    WireField("ts", UINT, "When the hub recorded it, in milliseconds since the Unix epoch."),
    WireField(
        "kind",
        _enum(RecordKind),
        "A device report, the hub's own heartbeat, a downlink command's result, a"
        " resident's request, a notice receipt or a request to a property service.",
    ),
    WireField(
        "priority",
        {},
        "The record's priority (an event's priority, else info). Informative: receivers"
        " derive it from the message and do not check it.",
        required=False,
    ),
    WireField(
        "device",
        {"$ref": "#/$defs/device_info"},
        "The device the message came from, as the resident named it.",
        when=RecordKind.REPORT,
    ),
    WireField(
        "message",
        {"oneOf": [{"$ref": f"#/$defs/{t}"} for t in ("state", "event", "heartbeat")]},
        "The device's state, event or heartbeat message, exactly as the hub accepted it.",
        when=RecordKind.REPORT,
    ),
    WireField(
        "summary",
        {"type": "object", "maxProperties": 16, "additionalProperties": {"type": "integer"}},
        'Counts, such as {"devices": 4, "online": 3}.',
        required=False,
        default="{}",
        when=RecordKind.HUB_HEARTBEAT,
    ),
    WireField(
        "result",
        {
            "type": "object",
            "required": ["command_id", "ok"],
            "properties": {
                "command_id": _text(1, 64),
                "ok": {"type": "boolean"},
                "error": {**_text(0, 256), "default": ""},
            },
        },
        "How a downlink command went: the device's ack (ok, error), or why there was none.",
        when=RecordKind.COMMAND_RESULT,
    ),
    WireField(
        "request",
        {
            "type": "object",
            "required": ["request_id", "action", "port_id"],
            "properties": {
                "request_id": DEVICE_ID,
                "action": _enum(RequestAction),
                "port_id": DEVICE_ID,
            },
        },
        "A resident's request to start or stop charging on a port of the community's"
        " charging shed; the community answers with a charging notice naming request_id.",
        when=RecordKind.RESIDENT_REQUEST,
    ),
    WireField(
        "receipt",
        {
            "type": "object",
            "required": ["notice_id", "status"],
            "properties": {"notice_id": DEVICE_ID, "status": _enum(ReceiptStatus)},
        },
        "A community notice reached the hub (delivered) or the resident read it (read).",
        when=RecordKind.NOTICE_RECEIPT,
    ),
    WireField(
        "service",
        {
            "type": "object",
            "required": ["service", "action", "request_id"],
            "properties": {
                "service": {"type": "string", "pattern": f"^{SERVICE_NAME_RE.pattern}$"},
                "action": {"type": "string", "pattern": f"^{SERVICE_NAME_RE.pattern}$"},
                "request_id": {"type": "string", "pattern": f"^{REQUEST_ID_RE.pattern}$"},
                "body": {
                    "type": "object",
                    "description": f"Plain JSON, at most {MAX_BODY_BYTES} bytes and"
                    f" {MAX_DEPTH} levels deep; each service defines its members.",
                    "default": {},
                },
            },
        },
        "A resident's request to a property service (work_order, visitor_pass, care, ...);"
        " the community answers with a service notice naming request_id.",
        when=RecordKind.SERVICE_REQUEST,
    ),
)


# --- catalog fields ----------------------------------------------------------------------


def _bounds(low: float | None, high: float | None) -> Schema:
    out: Schema = {}
    if low is not None:
        out["minimum"] = low
    if high is not None:
        out["maximum"] = high
    return out


_FIELD_TYPES: Final[dict[FieldType, Callable[[FieldSpec], Schema]]] = {
    FieldType.BOOL: lambda s: {"type": "boolean"},
    FieldType.INT: lambda s: {"type": "integer", **_bounds(s.minimum, s.maximum)},
    # An unbounded number still has to fit a double: the parser holds it to +-MAX_NUMBER.
    FieldType.NUMBER: lambda s: {
        "type": "number",
        **_bounds(
            -MAX_NUMBER if s.minimum is None else s.minimum,
            MAX_NUMBER if s.maximum is None else s.maximum,
        ),
    },
    FieldType.ENUM: lambda s: _enum(s.values),
    FieldType.STRING: lambda s: _text(1, s.max_length),
}


def field_schema(spec: FieldSpec) -> Schema:
    """Schema of one catalog field, with its Matter attribute as an ``x-matter`` annotation."""
    out = _FIELD_TYPES[spec.type](spec)
    out["description"] = spec.description
    if spec.matter:
        out["x-matter"] = spec.matter
    return out


def _closed_object(specs: Iterable[FieldSpec], **extra: Any) -> Schema:
    """An object that may hold only these fields (the parser rejects any other)."""
    return {
        "type": "object",
        **extra,
        "properties": {s.name: field_schema(s) for s in specs},
        "additionalProperties": False,
    }


def _when(key: str, value: str, then: Schema) -> Schema:
    return {"if": {"properties": {key: {"const": value}}, "required": [key]}, "then": then}


def _property(name: str, schema: Schema) -> Schema:
    return {"properties": {name: schema}}


# --- per-message rules that depend on the kind, event or command -------------------------

Rules = tuple[list[Schema], Schema]


def _state_rules() -> Rules:
    rules = [_when("kind", k, _property("state", {"$ref": f"#/$defs/state_{k}"})) for k in KINDS]
    defs = {f"state_{k}": _closed_object(spec.state, minProperties=1) for k, spec in KINDS.items()}
    return rules, defs


def _event_rules() -> Rules:
    rules = [
        _when("kind", k, _property("event", _enum(e for e in EVENTS if event_allowed(k, e))))
        for k in KINDS
    ]
    for name, spec in EVENTS.items():
        then: Schema = {
            "properties": {
                "priority": {"const": str(spec.priority)},
                "data": {"$ref": f"#/$defs/data_{name}"},
            }
        }
        if not spec.stateful:
            then["properties"]["active"] = {"const": True}
        rules.append(_when("event", name, then))
    defs = {f"data_{name}": _closed_object(spec.data) for name, spec in EVENTS.items()}
    return rules, defs


def _command_rules() -> Rules:
    rules = [
        _when("command", c, _property("args", {"$ref": f"#/$defs/args_{c}"})) for c in COMMANDS
    ]
    defs = {f"args_{c}": _closed_object(spec.args) for c, spec in COMMANDS.items()}
    return rules, defs


_RULES: Final[dict[MessageType, Callable[[], Rules]]] = {
    MessageType.STATE: _state_rules,
    MessageType.EVENT: _event_rules,
    MessageType.COMMAND: _command_rules,
}


def _object(fields: Iterable[WireField]) -> Schema:
    """An object with these properties; others are allowed (the parsers ignore them)."""
    fields = tuple(fields)
    properties: Schema = {}
    for f in fields:
        prop = {"description": f.description, **f.schema}
        if f.default:
            prop["default"] = json.loads(f.default)
        properties[f.name] = prop
    out: Schema = {"type": "object"}
    required = [f.name for f in fields if f.required]
    if required:
        out["required"] = required
    out["properties"] = properties
    return out


def message_schema(mtype: MessageType) -> tuple[Schema, Schema]:
    """The schema of one message type, and the ``$defs`` its ``$ref``s point into."""
    direction, purpose = MESSAGE_PURPOSE[mtype]
    body: Schema = {
        "title": f"Courtyard interop {mtype} message ({direction})",
        "description": purpose,
        **_object(MESSAGE_FIELDS[mtype]),
    }
    rules, defs = _RULES[mtype]() if mtype in _RULES else ([], {})
    if rules:
        body["allOf"] = rules
    return body, defs


def _document(schema_id: str, body: Schema, defs: Schema) -> Schema:
    out: Schema = {"$schema": DRAFT, "$id": schema_id, **body}
    if defs:
        out["$defs"] = defs
    return out


def message_document(mtype: MessageType) -> Schema:
    """A standalone schema file for one message type."""
    body, defs = message_schema(mtype)
    return _document(f"urn:courtyard:interop:{SPEC_VERSION}:{mtype}", body, defs)


def _message_defs(types: Iterable[MessageType]) -> Schema:
    defs: Schema = {}
    for mtype in types:
        body, extra = message_schema(mtype)
        defs[str(mtype)] = body
        defs.update(extra)
    return defs


def combined_document() -> Schema:
    """Any interop message: exactly one branch, chosen by ``type``."""
    body: Schema = {
        "title": f"Courtyard interop message v{SPEC_VERSION}",
        "description": "Any message of the device <-> hub interop model, chosen by 'type'.",
        "type": "object",
        "required": ["v", "type"],
        "properties": {"type": _enum(MessageType)},
        "oneOf": [{"$ref": f"#/$defs/{t}"} for t in MessageType],
    }
    return _document(
        f"urn:courtyard:interop:{SPEC_VERSION}:message", body, _message_defs(MessageType)
    )


def _same_kind_rules() -> list[Schema]:
    """device.kind and message.kind must agree (device_id equality cannot be expressed)."""
    return [
        {
            "if": {
                "properties": {
                    "device": {"properties": {"kind": {"const": k}}, "required": ["kind"]}
                },
                "required": ["device"],
            },
            "then": _property("message", _property("kind", {"const": k})),
        }
        for k in KINDS
    ]


def uplink_document() -> Schema:
    """The record a hub signs and publishes to its community."""
    common = [f for f in UPLINK_FIELDS if not f.when]
    rules: list[Schema] = []
    for kind in RecordKind:
        then = _object(f for f in UPLINK_FIELDS if f.when == kind)
        del then["type"]
        if kind is RecordKind.REPORT:
            then["allOf"] = _same_kind_rules()
        rules.append(_when("kind", kind, then))
    body: Schema = {
        "title": f"Courtyard uplink record v{UPLINK_VERSION}",
        "description": "The body of a signed envelope a hub publishes to its community. A"
        " report's device.device_id must equal its message.device_id (not expressible here).",
        **_object(common),
        "allOf": rules,
    }
    defs = _message_defs((MessageType.STATE, MessageType.EVENT, MessageType.HEARTBEAT))
    defs["device_info"] = {
        "title": "Device as named by the resident",
        **_object(DEVICE_INFO_FIELDS),
    }
    return _document(f"urn:courtyard:uplink:{UPLINK_VERSION}:record", body, defs)


def schema_documents() -> dict[str, Schema]:
    """Every published schema, by file name."""
    out = {f"{t}.schema.json": message_document(t) for t in MessageType}
    out[MESSAGE_SCHEMA_FILE] = combined_document()
    out[UPLINK_SCHEMA_FILE] = uplink_document()
    return out


def published(name: str = MESSAGE_SCHEMA_FILE) -> Schema:
    """A committed schema file as shipped, for serving it or validating against it."""
    loaded: Schema = json.loads((PUBLISHED_DIR / name).read_text(encoding="utf-8"))
    return loaded


def dumps(schema: Schema) -> str:
    """The committed text of a schema file (stable, so ``--check`` can compare it)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    from devices.generate import main

    raise SystemExit(main())
