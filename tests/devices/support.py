"""Shared helpers for the interop-model tests: verdicts of the parser and of the JSON Schema,
and hypothesis strategies built from the catalog (never from a hand-written list)."""

from __future__ import annotations

import json
import string
from functools import cache
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from devices.catalog import (
    COMMANDS,
    EVENTS,
    KINDS,
    CommandName,
    DeviceKind,
    EventType,
    FieldSpec,
    FieldType,
    Priority,
    event_allowed,
)
from devices.messages import (
    MAX_INT,
    MAX_NUMBER,
    ErrorCode,
    InteropError,
    MessageType,
    parse_message,
)
from devices.schema import MESSAGE_FIELDS, MESSAGE_SCHEMA_FILE, UPLINK_SCHEMA_FILE, schema_documents
from devices.uplink import decode_record

#: Moderate example counts: the whole tests/devices run stays well under a minute.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Obj = dict[str, Any]


# --- verdicts ------------------------------------------------------------------------------


@cache
def validator(name: str = MESSAGE_SCHEMA_FILE) -> Draft202012Validator:
    return Draft202012Validator(schema_documents()[name])


def to_text(obj: Any) -> str:
    """JSON text as a sloppy sender would write it: NaN and Infinity come out as bare tokens."""
    return json.dumps(obj, allow_nan=True, ensure_ascii=False)


def _reject_constant(token: str) -> Any:
    raise ValueError(token)


def schema_accepts(text: str, name: str = MESSAGE_SCHEMA_FILE) -> bool:
    """What a schema-based receiver says: strict JSON first (no NaN), then the schema."""
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    return bool(validator(name).is_valid(obj))


def parser_accepts(raw: bytes | str | Obj) -> bool:
    try:
        parse_message(raw)
    except InteropError:
        return False
    return True


def record_accepts(raw: bytes) -> bool:
    try:
        decode_record(raw)
    except InteropError:
        return False
    return True


def uplink_schema_accepts(text: str) -> bool:
    return schema_accepts(text, UPLINK_SCHEMA_FILE)


# --- valid values --------------------------------------------------------------------------

_ID_FIRST = string.ascii_letters + string.digits
_ID_REST = _ID_FIRST + "_.:-"

device_ids = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_ID_FIRST),
    st.text(alphabet=_ID_REST, max_size=63),
)
uints = st.integers(0, MAX_INT)
versions = st.one_of(
    st.just("1.0"),
    st.sampled_from(["1", "1.", "1.9", "1.0.2"]),
    st.text(max_size=6).map("1.".__add__),
)


def texts(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Valid Unicode text (hypothesis never generates unpaired surrogates by default)."""
    return st.text(min_size=min_size, max_size=max_size)


def field_values(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Any value the catalog allows for a field."""
    match spec.type:
        case FieldType.BOOL:
            return st.booleans()
        case FieldType.INT:
            low = None if spec.minimum is None else int(spec.minimum)
            high = None if spec.maximum is None else int(spec.maximum)
            return st.integers(low, high)
        case FieldType.NUMBER:
            low = -MAX_NUMBER if spec.minimum is None else spec.minimum
            high = MAX_NUMBER if spec.maximum is None else spec.maximum
            return st.one_of(
                st.integers(int(low), int(high)),
                st.floats(low, high, allow_nan=False, allow_infinity=False),
            )
        case FieldType.ENUM:
            return st.sampled_from(spec.values)
        case FieldType.STRING:
            return texts(1, spec.max_length)
    raise AssertionError(spec.type)


def field_sets(specs: tuple[FieldSpec, ...], *, min_size: int = 0) -> st.SearchStrategy[Obj]:
    """Any subset of the fields, each with a valid value."""
    return st.fixed_dictionaries({}, optional={s.name: field_values(s) for s in specs}).filter(
        lambda d: len(d) >= min_size
    )


#: Small JSON values of every type, for padding and for unknown fields.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def extras(known: set[str]) -> st.SearchStrategy[Obj]:
    """Unknown top-level fields, which both the parser and the schema must ignore."""
    return st.dictionaries(
        st.text(max_size=10).filter(lambda k: k not in known), json_values, max_size=2
    )


def _known(mtype: MessageType) -> set[str]:
    return {f.name for f in MESSAGE_FIELDS[mtype]}


@st.composite
def valid_messages(draw: st.DrawFn, types: tuple[MessageType, ...] = tuple(MessageType)) -> Obj:
    """A valid message of any type, kind, event and command, as a JSON object."""
    mtype = draw(st.sampled_from(types))
    out: Obj = {"v": draw(versions), "type": str(mtype)}
    if mtype in (MessageType.ACK, MessageType.ERROR):
        if mtype is MessageType.ERROR:
            out["code"] = draw(st.sampled_from(list(ErrorCode)))
            out["message"] = draw(texts(1, 256))
        else:
            out.update(
                draw(
                    st.fixed_dictionaries(
                        {}, optional={"ok": st.booleans(), "error": texts(0, 256)}
                    )
                )
            )
        out.update(draw(st.fixed_dictionaries({}, optional={"ref": texts(0, 64)})))
    else:
        out["device_id"] = draw(device_ids)
    if mtype is MessageType.COMMAND:
        command = draw(st.sampled_from(list(CommandName)))
        out |= {"command_id": draw(texts(1, 64)), "command": str(command)}
        if draw(st.booleans()):
            out["args"] = draw(field_sets(COMMANDS[command].args))
    if mtype in (MessageType.HELLO, MessageType.STATE, MessageType.EVENT, MessageType.HEARTBEAT):
        out["kind"] = kind = draw(st.sampled_from(list(DeviceKind)))
    if mtype is MessageType.HELLO:
        out |= {"model": draw(texts(1, 64)), "firmware": draw(texts(1, 32))}
    if mtype in (MessageType.STATE, MessageType.EVENT, MessageType.HEARTBEAT):
        out |= {"seq": draw(uints), "ts": draw(uints)}
    if mtype is MessageType.STATE:
        out["state"] = draw(field_sets(KINDS[kind].state, min_size=1))
    if mtype is MessageType.EVENT:
        event = draw(st.sampled_from([e for e in EventType if event_allowed(kind, e)]))
        spec = EVENTS[event]
        out["event"] = str(event)
        optional = {
            "active": st.booleans() if spec.stateful else st.just(True),
            "priority": st.just(str(spec.priority)),
            "data": field_sets(spec.data),
        }
        out |= draw(st.fixed_dictionaries({}, optional=optional))
    out |= draw(extras(_known(mtype) | set(out)))
    return {k: (str(v) if isinstance(v, DeviceKind | ErrorCode) else v) for k, v in out.items()}


# --- invalid values ------------------------------------------------------------------------

_WRONG_TYPES: dict[str, list[Any]] = {
    "string": [None, True, 0, 7, 1.5, [], ["x"], {}, {"a": "b"}],
    "integer": [None, True, False, 1.5, -0.5, "5", "", [], [1], {}, {"n": 1}],
    "boolean": [None, 0, 1, 1.5, "true", "", [], [True], {}],
    "object": [None, True, 0, 1.5, "x", [], [{}]],
}


def invalid_field_values(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Values the catalog does not allow for a field: wrong type, out of range, not JSON."""
    nan, inf = float("nan"), float("inf")
    bad: list[Any]
    match spec.type:
        case FieldType.BOOL:
            bad = _WRONG_TYPES["boolean"]
        case FieldType.INT:
            bad = [*_WRONG_TYPES["integer"], nan, inf, -inf]
            bad += [] if spec.minimum is None else [int(spec.minimum) - 1]
            bad += [] if spec.maximum is None else [int(spec.maximum) + 1, 10**400]
        case FieldType.NUMBER:
            bad = [None, True, False, "5", [], {}, nan, inf, -inf, -(10**400)]
            if spec.minimum is not None:
                bad += [spec.minimum - 1, spec.minimum - 0.001]
            bad += [10**400, 2e308 if spec.maximum is None else spec.maximum + 0.5]
        case FieldType.ENUM:
            bad = [None, True, 0, "", "NORMAL", " normal", "unknown", [spec.values[0]]]
        case FieldType.STRING:
            bad = [None, True, 5, "", "x" * (spec.max_length + 1), ["x"]]
    return st.sampled_from(bad)


bad_device_ids = st.sampled_from(
    [
        "",
        "x" * 65,
        "_abc",
        "-abc",
        ".abc",
        ":abc",
        "a b",
        "a/b",
        "a#b",
        "ä",
        "abc\n",
        "a\x00b",
        " a",
        "a\u00a0",
    ]
)
bad_versions = st.sampled_from(
    ["2.0", "0.9", "", "10", "10.0", "1a", "1\n", "v1", " 1.0", "1,0", 1, 1.5, None, True, ["1.0"]]
)


def _other_key(existing: set[str]) -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=12).filter(lambda k: k not in existing)


@st.composite
def invalid_messages(draw: st.DrawFn) -> Obj:
    """A valid message with exactly one thing broken; both parser and schema must refuse it."""
    msg = draw(valid_messages())
    mtype = MessageType(msg["type"])
    fields = {f.name: f for f in MESSAGE_FIELDS[mtype]}
    choices = ["missing", "wrong_type", "version", "type"]
    if "device_id" in fields:
        choices.append("device_id")
    if "kind" in fields:
        choices.append("kind")
    if "seq" in fields:
        choices.append("seq_ts")
    if any("maxLength" in f.schema and "pattern" not in f.schema for f in fields.values()):
        choices.append("length")
    if mtype is MessageType.STATE:
        choices += ["state_unknown", "state_value", "state_empty"]
    if mtype is MessageType.EVENT:
        choices += [
            "event_kind",
            "event_unknown",
            "priority",
            "one_off_inactive",
            "data_unknown",
            "data_value",
        ]
    if mtype is MessageType.COMMAND:
        choices += ["command_unknown", "args_unknown", "args_value"]
    if mtype is MessageType.ERROR:
        choices.append("error_code")
    how = draw(st.sampled_from(choices))
    nan_like = st.sampled_from([float("nan"), float("inf"), float("-inf")])
    match how:
        case "missing":
            del msg[draw(st.sampled_from([n for n, f in fields.items() if f.required]))]
        case "wrong_type":
            name = draw(st.sampled_from(sorted(fields)))
            json_type = fields[name].schema.get("type", "string")
            msg[name] = draw(st.sampled_from(_WRONG_TYPES[json_type]))
        case "version":
            msg["v"] = draw(bad_versions)
        case "type":
            msg["type"] = draw(st.sampled_from(["", "HELLO", "hello ", "report", "alarm"]))
        case "device_id":
            msg["device_id"] = draw(bad_device_ids)
        case "kind":
            msg["kind"] = draw(st.sampled_from(["", "smoke", "SMOKE_ALARM", "hub", "gas_alarm"]))
        case "seq_ts":
            bad = st.one_of(
                st.integers(max_value=-1),
                st.integers(min_value=MAX_INT + 1),
                st.sampled_from([True, False, 1.5, "1", None]),
                nan_like,
            )
            msg[draw(st.sampled_from(["seq", "ts"]))] = draw(bad)
        case "length":
            name = draw(
                st.sampled_from(
                    sorted(
                        n
                        for n, f in fields.items()
                        if "maxLength" in f.schema and "pattern" not in f.schema
                    )
                )
            )
            schema = fields[name].schema
            options = ["x" * (schema["maxLength"] + 1)] + ([""] if schema.get("minLength") else [])
            msg[name] = draw(st.sampled_from(options))
        case "state_unknown":
            kind_fields = set(KINDS[DeviceKind(msg["kind"])].fields_by_name)
            msg["state"][draw(_other_key(kind_fields))] = draw(json_values)
        case "state_value":
            spec = draw(st.sampled_from(KINDS[DeviceKind(msg["kind"])].state))
            msg["state"][spec.name] = draw(invalid_field_values(spec))
        case "state_empty":
            msg["state"] = {}
        case "event_kind":
            kind = DeviceKind(msg["kind"])
            event = draw(st.sampled_from([e for e in EventType if not event_allowed(kind, e)]))
            msg |= {"event": str(event), "data": {}, "active": True}
            msg.pop("priority", None)
        case "event_unknown":
            msg["event"] = draw(
                st.sampled_from(["", "fire", "SMOKE_ALARM", "smoke", "alarm_silenced "])
            )
        case "priority":
            right = EVENTS[EventType(msg["event"])].priority
            wrong = [str(p) for p in Priority if p is not right]
            msg["priority"] = draw(st.sampled_from([*wrong, "", "CRITICAL", None, 0, ["critical"]]))
        case "one_off_inactive":
            msg |= {"event": "self_test", "active": False, "data": {}}
            msg.pop("priority", None)
        case "data_unknown":
            spec_data = {f.name for f in EVENTS[EventType(msg["event"])].data}
            msg.setdefault("data", {})
            msg["data"] = {**msg["data"], draw(_other_key(spec_data)): draw(json_values)}
        case "data_value":
            msg |= {"event": "self_test", "active": True}
            msg.pop("priority", None)
            msg["data"] = {
                "passed": draw(invalid_field_values(EVENTS[EventType.SELF_TEST].data[0]))
            }
        case "command_unknown":
            msg["command"] = draw(st.sampled_from(["", "reboot", "SELF_TEST", "self-test"]))
        case "args_unknown":
            arg_names = {a.name for a in COMMANDS[CommandName(msg["command"])].args}
            msg["args"] = {**msg.get("args", {}), draw(_other_key(arg_names)): draw(json_values)}
        case "args_value":
            msg["command"] = "interconnect_start"
            spec = COMMANDS[CommandName.INTERCONNECT_START].args[0]
            msg["args"] = {spec.name: draw(invalid_field_values(spec))}
        case "error_code":
            msg["code"] = draw(st.sampled_from(["", "ok", "MALFORMED", "timeout", 0, None]))
    return msg


# --- uplink records -----------------------------------------------------------------------


@st.composite
def valid_records(draw: st.DrawFn) -> Obj:
    """A valid uplink record: a report around any valid device report, or a hub heartbeat."""
    out: Obj = {"v": "1.0", "hub_id": draw(device_ids), "seq": draw(uints), "ts": draw(uints)}
    if draw(st.booleans()):
        message = draw(
            valid_messages((MessageType.STATE, MessageType.EVENT, MessageType.HEARTBEAT))
        )
        out |= {
            "kind": "report",
            "device": {
                "device_id": message["device_id"],
                "kind": message["kind"],
                "name": draw(texts(1, 64)),
                "room": draw(texts(1, 64)),
            },
            "message": message,
        }
    else:
        out["kind"] = "hub_heartbeat"
        if draw(st.booleans()):
            out["summary"] = draw(st.dictionaries(st.text(max_size=10), st.integers(), max_size=16))
    if draw(st.booleans()):
        out["priority"] = draw(st.one_of(st.sampled_from([str(p) for p in Priority]), json_values))
    out |= draw(extras(set(out) | {"device", "message", "summary", "priority"}))
    return out
