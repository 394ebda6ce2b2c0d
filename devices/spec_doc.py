"""Renders ``docs/interop-spec.md`` from the catalog, the schema tables and the examples.

The document is what a device maker implements from, so every table in it comes from the same
data the hub validates against, and every example is a real message passed through
:func:`devices.messages.encode`. Prose that no table can carry (the link protocol, the uplink
rules) lives here, next to the tables it explains.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from devices.catalog import (
    COMMANDS,
    EVENTS,
    KINDS,
    MAX_MESSAGE_BYTES,
    SPEC_VERSION,
    CommandName,
    DeviceKind,
    EventSpec,
    FieldSpec,
    FieldType,
    Priority,
    event_allowed,
)
from devices.examples import (
    MESSAGE_EXAMPLES,
    STATE_EXAMPLES,
    TEST_KEY_SEED,
    UPLINK_EXAMPLES,
    envelope_vector,
)
from devices.messages import (
    DEVICE_ID_RE,
    ERROR_MEANINGS,
    MAX_INT,
    MAX_NUMBER,
    MessageType,
    encode,
)
from devices.pairing import (
    CODE_DIGITS,
    CONFIRMATION_BYTES,
    DEVICE_ID_PREFIX,
    DEVICE_SERVICE,
    DEVICE_SIGNATURE_LABEL,
    DEVICE_TXT,
    FINGERPRINT_HEX,
    FRAMES,
    HUB_ID_PREFIX,
    HUB_SERVICE,
    HUB_SIGNATURE_LABEL,
    HUB_TXT,
    KEYS_INFO,
    LABEL,
    MAX_FAILURES,
    MAX_FRAME_BYTES,
    MAX_QR_CHARS,
    MAX_TXT_BYTES,
    MAX_WINDOW_S,
    PAIR_PATH,
    PAIRING_ERROR_MEANINGS,
    PAKE_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    QR_PREFIX,
    QR_VERSION,
    STEP_TIMEOUT_S,
    TRIVIAL_CODES,
    FrameType,
    Role,
    SessionKeys,
    device_instance,
    fingerprint,
    qr_payload,
    seal_box,
    transcript_hash,
)
from devices.schema import (
    DEVICE_ID,
    DEVICE_INFO_FIELDS,
    MESSAGE_FIELDS,
    MESSAGE_PURPOSE,
    MESSAGE_SCHEMA_FILE,
    UPLINK_FIELDS,
    UPLINK_SCHEMA_FILE,
    Schema,
    WireField,
)
from devices.uplink import (
    DOWNLINK_VERSION,
    MAX_SEALED_CIPHERTEXT,
    MAX_SEALED_ENTRIES,
    SEALED_NONCE_BYTES,
    SEALED_WRAPPED_BYTES,
    TOPIC_ROOT,
    UPLINK_VERSION,
    DownlinkCommand,
    DownlinkNotice,
    NoticeCategory,
    SealedEntry,
    encode_downlink,
    encode_notice,
    encode_record,
)
from devices.uplink import ChargingCode as _ChargingCode
from devices.uplink import Refusal as _Refusal

#: Where the document lives, relative to the repository root.
DOC_PATH: Final = "docs/interop-spec.md"
#: Mirrors ``privacy.envelope.MAX_ENVELOPE_BYTES`` (devices/ imports nothing of ours; a test
#: keeps the two equal).
MAX_ENVELOPE_BYTES: Final = 64 * 1024

_PRIORITY_MEANING: Final[dict[Priority, str]] = {
    Priority.CRITICAL: "A life-safety alarm (fire, gas, a fall, an emergency call, a leak)."
    " Handled first everywhere and never dropped.",
    Priority.ALERT: "Trouble that needs a person soon (offline, fault, end of life, tamper)."
    " Never dropped.",
    Priority.INFO: "Information: info events, and all state and heartbeat messages"
    " (telemetry). Telemetry is the first thing shed when a queue is full.",
}


_MESSAGE_NOTES: Final[dict[MessageType, str]] = {
    MessageType.STATE: "Which fields `state` may hold depends on `kind`: see"
    " [Device kinds](#device-kinds).",
    MessageType.EVENT: "Which events a kind may send, and their `data` fields, are in"
    " [Events](#events). Senders write `priority` so a reader can triage without the tables;"
    " a receiver derives it when it is absent and refuses an event whose `priority` differs"
    " from the table.",
    MessageType.COMMAND: "Which `args` a command takes is in [Commands](#commands).",
    MessageType.ACK: 'A hub acks `hello` with `ref` `"hello"` and a state, event or heartbeat'
    " with `ref` = its `seq` as a decimal string; a device acks a command with `ref` ="
    " `command_id`.",
}


# --- small renderers ---------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _code(value: object) -> str:
    return f"`{value}`"


def _json_block(text: str) -> list[str]:
    return ["```json", text, "```", ""]


def _num(value: float) -> str:
    if value == MAX_INT:
        return "2^53-1"
    return str(int(value)) if float(value).is_integer() else repr(value)


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{_num(low)} … {_num(high)}"
    if low is not None:
        return f"≥ {_num(low)}"
    if high is not None:
        return f"≤ {_num(high)}"
    return "any"


def _length(schema: Schema) -> str:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    return f"{low} to {high} characters" if low else f"at most {high} characters"


def describe(schema: Schema) -> str:
    """A wire field's type and constraint in a few words, for the field tables."""
    kind = schema.get("type")
    if "const" in schema:
        return _code(json.dumps(schema["const"]))
    if "enum" in schema:
        return "one of " + ", ".join(_code(v) for v in schema["enum"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1].replace("_", " ") + " object (below)"
    if "oneOf" in schema:
        return "a " + " / ".join(s["$ref"].rsplit("/", 1)[-1] for s in schema["oneOf"]) + " message"
    if schema.get("pattern") == DEVICE_ID["pattern"]:
        return "device id (see Conventions)"
    if kind == "string" and "pattern" in schema:
        return f'string "{SPEC_VERSION.split(".")[0]}.<minor>"'
    if kind == "string":
        return "string, " + _length(schema)
    if kind in ("integer", "number"):
        return f"{kind} {_range(schema.get('minimum'), schema.get('maximum'))}"
    if kind == "boolean":
        return "true or false"
    if kind == "object":
        if "additionalProperties" in schema:
            return f"object of integers, at most {schema['maxProperties']} entries"
        return "object, at least one field" if schema.get("minProperties") else "object"
    return "any"


def _field_kind(spec: FieldSpec) -> tuple[str, str]:
    """(type, values or range) of a catalog field."""
    values: dict[FieldType, Callable[[FieldSpec], str]] = {
        FieldType.BOOL: lambda s: "true / false",
        FieldType.INT: lambda s: _range(s.minimum, s.maximum),
        FieldType.NUMBER: lambda s: _range(s.minimum, s.maximum),
        FieldType.ENUM: lambda s: ", ".join(_code(v) for v in s.values),
        FieldType.STRING: lambda s: f"1 to {s.max_length} characters",
    }
    return str(spec.type), values[spec.type](spec)


def _wire_rows(fields: Iterable[WireField]) -> list[list[str]]:
    return [
        [
            _code(f.name),
            "yes" if f.required else f"no (default {_code(f.default)})" if f.default else "no",
            describe(f.schema),
            f.description,
        ]
        for f in fields
    ]


def _wire_table(fields: Iterable[WireField]) -> list[str]:
    return _table(("field", "required", "type", "meaning"), _wire_rows(fields))


def _catalog_table(specs: Iterable[FieldSpec], *, matter: bool) -> list[str]:
    headers = ["field", "type", "values / range", "meaning"] + (["Matter"] if matter else [])
    rows = []
    for spec in specs:
        kind, values = _field_kind(spec)
        row = [_code(spec.name), kind, values, spec.description]
        rows.append(row + ([spec.matter or "—"] if matter else []))
    return _table(headers, rows)


def _emitters(spec: EventSpec) -> str:
    if spec.raised_by_hub:
        return "the hub, for a device of any kind"
    if not spec.kinds:
        return "any kind"
    return ", ".join(_code(k) for k in spec.kinds)


def _data_summary(spec: EventSpec) -> str:
    return ", ".join(_code(f.name) for f in spec.data) or "—"


# --- sections ----------------------------------------------------------------------------


def _front() -> list[str]:
    return [
        f"# Courtyard interop specification v{SPEC_VERSION}",
        "",
        "> Generated from `devices/catalog.py` by `python -m devices.generate --write`."
        " Do not edit by hand.",
        "",
        "This document is everything a device maker needs to connect a life-safety device"
        " (smoke alarm, gas detector, fall detector, emergency-call button, water-leak sensor)"
        " to a Courtyard home hub, and everything a hub or community implementer needs to"
        " carry its messages on. The key words MUST, MUST NOT, SHOULD and MAY are used as in"
        " RFC 2119.",
        "",
        "Machine-readable JSON Schema (draft 2020-12) ships with it in `devices/schema/`:"
        f" `{MESSAGE_SCHEMA_FILE}` (any message), one `<type>.schema.json` per message type,"
        f" and `{UPLINK_SCHEMA_FILE}`. A few rules live below what a schema can express; they"
        " are listed under"
        " [What the JSON Schema cannot check](#what-the-json-schema-cannot-check).",
        "",
    ]


def _conventions() -> list[str]:
    major = SPEC_VERSION.split(".")[0]
    lines = [
        "## Conventions",
        "",
        f"- **Encoding.** A message is one JSON object (RFC 8259), encoded as UTF-8, at most"
        f" {MAX_MESSAGE_BYTES} bytes. `NaN`, `Infinity` and `-Infinity` are not JSON and are"
        " refused, as are strings holding an unpaired surrogate escape such as `\\ud800`.",
        f'- **Version.** Every message carries `"v": "{SPEC_VERSION}"`. A receiver accepts'
        f' any version whose part before the first `.` is `{major}` (`"{major}"`,'
        f' `"{major}.3"`), and refuses others with `unsupported_version`.',
        "- **Unknown fields.** A receiver ignores top-level fields it does not know, so a later"
        " minor version can add optional ones. Inside `state`, `data` and `args` every field"
        " must be one the spec defines for that kind, event or command: anything else is"
        " refused with `bad_field`.",
        "- **Device ids** are 1 to 64 characters: a letter or digit, then letters, digits, `_`,"
        " `.`, `:` or `-` (regular expression"
        f" `{DEVICE_ID_RE.pattern}`). Hub ids follow the same"
        " rule. An id is unique within its hub and never reused for another device.",
        f"- **Integers** (`seq`, `ts`, integer fields) are 0 … 2^53-1 ({MAX_INT}) unless a"
        " field says otherwise, and MUST be written as JSON integers: `5`, never `5.0` or"
        " `5e0`.",
        "- **Numbers** (number fields) are finite, within the field's range, and at most"
        f" {MAX_NUMBER!r} in magnitude (an IEEE-754 double).",
        "- **Strings** have the lengths given in the tables, counted in Unicode code points.",
        "- **Timestamps.** `ts` is when the thing happened, in milliseconds since the Unix epoch"
        " (UTC), from the device's clock. Devices SHOULD keep their clock synchronised"
        " (SNTP through the hub's network).",
        "- **Sequence numbers.** `seq` is one counter per device, shared by its `state`,"
        " `event` and `heartbeat` messages: every new message gets a larger `seq` than any"
        " before it. The counter MUST survive reboots and battery changes (store it, or store"
        " a reserved block ahead of use), as Matter event numbers do: a hub treats a `seq` that"
        " goes backwards as a replay or a fault, never as a restart. A resent message keeps"
        " its original `seq`.",
        "- **Partial state.** A `state` message carries one or more of the kind's state"
        " fields; fields left out keep their last reported value. The first report after a"
        " hello SHOULD carry every field.",
        "",
        "### Priorities",
        "",
        "Every event has a fixed priority; the community uses it as the alarm's severity, and"
        " every queue on the way up delivers critical before alert before info.",
        "",
    ]
    lines += _table(
        ("priority", "meaning", "events"),
        (
            [
                _code(p),
                _PRIORITY_MEANING[p],
                ", ".join(_code(e) for e, s in EVENTS.items() if s.priority is p),
            ]
            for p in Priority
        ),
    )
    lines += [
        "### Stateful and one-off events",
        "",
        'A **stateful** event is a condition that starts and ends. `"active": true` raises'
        " it (sending it again while the condition lasts is allowed and counted as a repeat);"
        ' `"active": false` ends it, and a device MUST send that when the condition clears.'
        " The community keeps one alarm per device and stateful event, raised by the first"
        " active message and cleared by the inactive one.",
        "",
        "A **one-off** event (an info happening such as a self-test result) has no end:"
        " `active` is always `true` and may be left out; `false` is refused with `bad_field`.",
        "",
    ]
    return lines


def _messages() -> list[str]:
    lines = ["## Messages", ""]
    lines += _table(
        ("type", "direction", "purpose"),
        ([_code(t), d, p] for t, (d, p) in MESSAGE_PURPOSE.items()),
    )
    for mtype, fields in MESSAGE_FIELDS.items():
        direction, purpose = MESSAGE_PURPOSE[mtype]
        lines += [f"### `{mtype}` ({direction})", "", purpose, ""]
        lines += _wire_table(fields)
        if mtype in _MESSAGE_NOTES:
            lines += [_MESSAGE_NOTES[mtype], ""]
        example = next(e for e in MESSAGE_EXAMPLES if e.message.type is mtype)
        lines += _json_block(encode(example.message))
    return lines


def _exchange() -> list[str]:
    lines = [
        "## Example exchange",
        "",
        "One evening in a home, message by message, as sent on the native link:",
        "",
    ]
    for number, example in enumerate(MESSAGE_EXAMPLES, start=1):
        lines += [f"{number}. {example.title}", ""]
        lines += ["   " + line if line else line for line in _json_block(encode(example.message))]
    return lines


def _kinds() -> list[str]:
    lines = ["## Device kinds", ""]
    for kind, spec in KINDS.items():
        events = [e for e in EVENTS if event_allowed(kind, e) and not EVENTS[e].raised_by_hub]
        commands = [c for c, s in COMMANDS.items() if kind in s.kinds]
        lines += [
            f"### `{kind}`",
            "",
            spec.description,
            "",
            f"- Matter: {spec.matter or 'no Matter cluster; follows the same shape'}.",
            f"- Supervision: the hub raises `device_offline` after {spec.supervision_s} s"
            f" ({spec.supervision_s // 60} min) without any message from the device.",
            "- Events it may send: " + ", ".join(_code(e) for e in events) + ".",
            "- Commands it must accept: " + ", ".join(_code(c) for c in commands) + ".",
            "",
            "State fields (all optional in each report):",
            "",
        ]
        lines += _catalog_table(spec.state, matter=True)
        lines += ["A full state report:", ""]
        lines += _json_block(encode(STATE_EXAMPLES[kind]))
    return lines


def _events() -> list[str]:
    lines = ["## Events", ""]
    lines += _table(
        ("event", "priority", "stateful", "sent by", "data", "meaning"),
        (
            [
                _code(name),
                _code(spec.priority),
                "stateful" if spec.stateful else "one-off",
                _emitters(spec),
                _data_summary(spec),
                spec.description,
            ]
            for name, spec in EVENTS.items()
        ),
    )
    lines += [
        "Data fields are optional; a field not listed for the event is refused.",
        "",
    ]
    for name, spec in EVENTS.items():
        if spec.data:
            lines += [f"`{name}` data:", ""]
            lines += _catalog_table(spec.data, matter=False)
    return lines


def _commands() -> list[str]:
    lines = [
        "## Commands",
        "",
        "A hub sends a command only to a device whose kind takes it. The device carries it out"
        " and answers with an `ack` whose `ref` is the `command_id`: `ok: true` when done,"
        " `ok: false` with a short `error` when it cannot. A device that is still alarming"
        " keeps reporting the condition after `silence`.",
        "",
    ]
    lines += _table(
        ("command", "kinds", "args", "meaning"),
        (
            [
                _code(name),
                ", ".join(_code(k) for k in spec.kinds),
                ", ".join(_code(a.name) for a in spec.args) or "—",
                spec.description,
            ]
            for name, spec in COMMANDS.items()
        ),
    )
    for name, spec in COMMANDS.items():
        if spec.args:
            lines += [f"`{name}` args (optional):", ""]
            lines += _catalog_table(spec.args, matter=False)
    return lines


def _native_link() -> list[str]:
    return [
        "## Native link protocol (device ↔ hub)",
        "",
        "### Connecting",
        "",
        "1. The device opens a WebSocket to `GET /api/device/ws` on the hub's HTTP port, with"
        " the header `Authorization: Bearer <device_token>`. The hub provisions every device"
        " with its own random token (32 random bytes, URL-safe base64) and stores only its"
        " SHA-256 hash. An unknown or missing token gets HTTP 401 and no WebSocket.",
        "2. Every WebSocket frame is a text frame holding exactly one message.",
        '3. The device MUST send `hello` first. The hub answers `ack` with `ref` `"hello"`,'
        " or, if the hello's `device_id` or `kind` differs from what the token was provisioned"
        " for, an `error` with code `wrong_device`, and closes the connection.",
        "",
        "### Reports and acknowledgements",
        "",
        "1. The device sends `state`, `event` and `heartbeat` messages with increasing `seq`.",
        "2. The hub validates each one, stores it, and only then answers `ack` with `ref` ="
        " the message's `seq` as a decimal string. For an `event` the ack means the event is"
        " on the hub's disk, in the outbox that carries it to the community: until the ack"
        " arrives the device MUST keep the event.",
        "3. A resend of a message the hub already accepted (same `device_id` and `seq`) is"
        " acknowledged again and not processed twice. A device can always resend safely.",
        "4. A `seq` not greater than the last accepted one, that the hub has not seen, is"
        " refused with `error` code `sequence_regression`, `ref` = that `seq`.",
        "5. Any other invalid message (malformed, too large, unknown kind or event, bad"
        " field) is refused with an `error` carrying its code and `ref` = the message's `seq`"
        ' if it could be read, else `""`. Nothing changes on the hub and the connection'
        " stays open; after 20 consecutive errors the hub may close it.",
        "6. A valid message the hub cannot store (a storage failure, or an outbox already full"
        " of alarms it has not yet delivered) gets no ack: the hub closes the connection, and"
        " the device keeps the event and resends it after reconnecting, like any other"
        " unacknowledged event.",
        "",
        "### Commands",
        "",
        "The hub sends `command` messages at any time after the hello is acknowledged, each"
        " with a fresh `command_id` (a UUID4 as 32 lowercase hex digits). The device answers"
        " each with `ack` `ref` = `command_id`, `ok` true or false.",
        "",
        "### Staying connected",
        "",
        "- After a reconnect (and hello), the device resends every unacknowledged event, with"
        " its original `seq`, in `seq` order, before anything new.",
        "- Reconnect with exponential backoff and random jitter: wait about 0.2 s after the"
        " first failure, doubling after each further failure up to 10 s; start again from"
        " 0.2 s once a hello is acknowledged.",
        "- Supervision: a hub raises `device_offline` (priority alert) when a device has sent"
        " nothing for its kind's supervision interval, and clears it (`active: false`) when"
        " the device is heard from again. A device with nothing to report SHOULD send a"
        " `heartbeat` at least every third of its interval.",
        "",
    ]


# --- discovery and pairing ------------------------------------------------------------------

_VECTOR_CODE: Final = "24681357"


def _pairing_vector() -> list[list[str]]:
    """A fixed key schedule run, so an implementation can check its bytes."""
    spake_key = bytes(range(32))
    p_a = b"A" + bytes(range(32, 64))
    p_b = b"B" + bytes(range(64, 96))
    transcript = transcript_hash("hub-1", "smoke-1", p_a, p_b)
    keys = SessionKeys.derive(spake_key, transcript)
    box = seal_box(keys.box_device, 1, FrameType.DONE, transcript, {"ok": True})
    public = Ed25519PrivateKey.from_private_bytes(TEST_KEY_SEED).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return [
        ["hub_id, device_id", "`hub-1`, `smoke-1`"],
        ["SPAKE2 key K", spake_key.hex()],
        ["pA (33 bytes)", p_a.hex()],
        ["pB (33 bytes)", p_b.hex()],
        ["transcript", transcript.hex()],
        ["confirm_hub", keys.confirm_hub.hex()],
        ["confirm_device", keys.confirm_device.hex()],
        ["box_hub", keys.box_hub.hex()],
        ["box_device", keys.box_device.hex()],
        ["cA", keys.hub_confirmation().hex()],
        ["cB", keys.device_confirmation().hex()],
        ['`done` box of `{"ok":true}`', f"`{box}`"],
        ["Ed25519 public key (seed 00 01 … 1f)", raw.hex()],
        ["its fingerprint", f"`{fingerprint(raw)}`"],
        [
            "QR payload",
            f"`{qr_payload('smoke-1', DeviceKind.SMOKE_ALARM, fingerprint(raw), _VECTOR_CODE)}`",
        ],
    ]


def _frame_rows() -> list[list[str]]:
    rows: list[list[str]] = []
    for n, spec in enumerate(FRAMES, 1):
        arrow = "hub → device" if spec.sender is Role.HUB else "device → hub"
        if spec.box_key is None:
            fields = "; ".join(f"`{f.name}`: {f.meaning}" for f in spec.fields)
        else:
            inner = "; ".join(f"`{f.name}`: {f.meaning}" for f in spec.fields)
            fields = (
                f"`box`: sealed with `box_{spec.box_key}`, counter {spec.box_counter}, holding"
                f" {{{inner}}}"
            )
        rows.append([str(n), _code(spec.type), arrow, fields])
    return rows


def _pairing() -> list[str]:
    window_min = int(MAX_WINDOW_S // 60)
    lines = [
        "## Discovery and pairing",
        "",
        "A new device reaches its hub without anyone typing a token: it advertises itself on"
        " the home LAN, the resident enters (or scans) the setup code printed on it, and the"
        " hub and device run a password-authenticated key exchange over that code. The code"
        " never crosses the network in any form, so someone who records the exchange learns"
        " nothing to test guesses against offline; each guess costs a live session, and the"
        f" device allows {MAX_FAILURES}.",
        "",
        "### mDNS / DNS-SD",
        "",
        f"An unpaired device in pairing mode registers the service `{DEVICE_SERVICE}` with"
        f" instance name `{device_instance('<fingerprint>')}` (unique per key, so a copycat"
        " claiming another device's id shows up as a second entry instead of replacing it),"
        " an IPv4 address, and the port of its pairing endpoint. It stops advertising when"
        " its pairing window closes.",
        "",
        f"TXT record (keys are case-insensitive; the whole record at most {MAX_TXT_BYTES} bytes;"
        " every value 1..max printable UTF-8 characters; unknown keys are ignored):",
        "",
    ]
    lines += _table(
        ("key", "required", "max characters", "meaning"),
        (
            [_code(t.key), "yes" if t.required else "no", str(t.max_chars), t.meaning]
            for t in DEVICE_TXT
        ),
    )
    lines += [
        "A hub refuses (logs once and ignores) a record with a required key missing, an"
        " unknown kind, a device id that does not match the device id pattern, a fingerprint"
        f" that is not 16 lowercase hex digits, a `pv` other than `{PROTOCOL_VERSION}`, a value"
        " that is not UTF-8, or too many bytes. Nothing in the record is trusted: the"
        " fingerprint is checked against the key the device proves it holds during pairing.",
        "",
        f"A hub registers `{HUB_SERVICE}` (instance `<hub_id>.{HUB_SERVICE}`, port = its HTTP"
        " port) so phones and tools can find it:",
        "",
    ]
    lines += _table(
        ("key", "max characters", "meaning"),
        ([_code(t.key), str(t.max_chars), t.meaning] for t in HUB_TXT),
    )
    lines += [
        "### Label: fingerprint, setup code, QR payload",
        "",
        f"- **Fingerprint**: the first {FINGERPRINT_HEX} lowercase hex digits of SHA-256 over"
        " the device's raw 32-byte Ed25519 public key.",
        f"- **Setup code**: {CODE_DIGITS} ASCII digits, drawn from a cryptographically secure"
        f" random source, unique per device. These codes are never issued and a hub refuses"
        f" them: {', '.join(_code(c) for c in sorted(TRIVIAL_CODES))}. A resident may type"
        " spaces or dashes between digits; the hub removes them.",
        f"- **QR payload**: one line of printable ASCII, at most {MAX_QR_CHARS} characters:"
        f" `{QR_PREFIX}<device_id>/<kind>/<fingerprint>/<setup code>`. `{QR_VERSION}` is the"
        " payload version. `/` cannot occur in any field, so the fields split without"
        " escaping. A hub pairing from a QR code requires the device's proven key to have"
        " that fingerprint, which authenticates the device and not only the code.",
        "",
        "### Pairing window",
        "",
        f"- A device's pairing window lasts at most {window_min} minutes from when it opened"
        " (pairing mode entered), then closes and advertising stops.",
        "- It is single use: once a hub has paired the device it closes.",
        f"- It closes for good after {MAX_FAILURES} wrong attempts. Every session that got a"
        " `pake_b` answer without then proving the code counts, including one the peer"
        " abandoned, since that answer is exactly what one guess needs.",
        "- One session at a time: while a session runs, another gets `busy`.",
        "- A closed window answers any new session with `window_closed`; only a new pairing"
        " mode (a resident's action on the device) opens a new window.",
        "- The hub keeps the same rules on its side for each advertisement it has seen"
        " (opened when first seen), so a hub never spends more than the device allows.",
        "",
        "### Session",
        "",
        f"The hub opens a WebSocket to `ws://<device address>:<port>{PAIR_PATH}` from the"
        " advertisement. Every frame is one JSON text frame of at most"
        f' {MAX_FRAME_BYTES} bytes: an object with `"v": {PROTOCOL_VERSION}`, `"type"` and'
        " the fields below. Binary values are standard base64 with padding. Either side"
        f" waits at most {STEP_TIMEOUT_S:.0f} s for the next frame (`timeout`).",
        "",
        "Roles and identities: SPAKE2 over the Ed25519 group with the M and N points of the"
        " python-spake2 0.9 library (`ParamsEd25519`); the hub is side A, the device side B."
        " The password is the setup code as 8 ASCII bytes; the identities are"
        f" idA = `{HUB_ID_PREFIX.decode()}<hub_id>`, idB = `{DEVICE_ID_PREFIX.decode()}"
        f"<device_id>`. A SPAKE2 message is {PAKE_MESSAGE_BYTES} bytes: the side byte"
        " (`A` = 0x41 or `B` = 0x42) then the 32-byte group element. The SPAKE2 key is"
        " K = SHA-256(SHA-256(password) ‖ SHA-256(idA) ‖ SHA-256(idB) ‖ X ‖ Y ‖ Z), X and Y"
        " the two elements without side byte, Z the shared element. Each session uses fresh"
        " randomness, so a replayed frame yields a different key and fails confirmation.",
        "",
        "Transcript and key schedule:",
        "",
        f"- transcript = SHA-256(`{LABEL.decode()}` ‖ lp(hub_id) ‖ lp(device_id) ‖ lp(pA) ‖"
        " lp(pB)), where lp(x) is x's length as 4 bytes big-endian followed by x, and pA, pB"
        " are the full SPAKE2 messages including the side byte.",
        f"- HKDF-SHA-256 with input K, salt = transcript, info = `{KEYS_INFO.decode()}`, 128"
        " bytes, split into four 32-byte keys in this order: `confirm_hub`, `confirm_device`,"
        " `box_hub`, `box_device`.",
        "- cA = HMAC-SHA-256(`confirm_hub`, transcript); cB = HMAC-SHA-256(`confirm_device`,"
        f" transcript); each {CONFIRMATION_BYTES} bytes, compared in constant time.",
        "- A box is ChaCha20-Poly1305 with the sender's box key (`box_hub` or `box_device`),"
        " nonce = the counter as 12 bytes big-endian, associated data = transcript ‖ the frame"
        " type in ASCII, plaintext = compact JSON (no spaces); `box` is base64 of ciphertext"
        " and tag.",
        f"- The device signs `{DEVICE_SIGNATURE_LABEL.decode()}` ‖ transcript and the hub signs"
        f" `{HUB_SIGNATURE_LABEL.decode()}` ‖ transcript with their long-term Ed25519 keys.",
        "",
        "Frames, in order:",
        "",
    ]
    lines += _table(("#", "type", "direction", "fields"), _frame_rows())
    lines += [
        "Checks, in order, and what fails them:",
        "",
        "1. Device, on `pake_a`: window open (`window_closed`), no other session (`busy`),"
        " `device_id` is its own (`wrong_device`), `hub_id` a valid id and `pA`"
        f" {PAKE_MESSAGE_BYTES} bytes (`bad_message`). From here the session counts as a wrong"
        " attempt unless the hub proves the code.",
        "2. Hub, on `pake_b`: cB must match, else it sends `error` `wrong_code` and stops"
        " before revealing anything derived from K.",
        "3. Device, on `confirm`: cA must match, else `wrong_code`; if it matches, the attempt"
        " is no longer counted.",
        "4. Hub, on `device_key`: the box opens and the signature verifies (`bad_message`),"
        " and the key's fingerprint equals the advertised one, or the QR code's when pairing"
        " from a QR code (`fingerprint_mismatch`). If the hub already holds this device id"
        " with another key it sends `already_paired`.",
        "5. Device, on `credentials`: the box opens, `hub_id` equals `pake_a`'s, the hub's"
        " signature verifies with `hub_public_key`, `hub_url` starts with `ws://` or"
        " `wss://`, the token is 16..512 characters (`bad_message`). The device stores the"
        " credentials durably before sending `done`.",
        "6. Hub, on `done`: the box opens and holds `ok: true`; the device is then paired.",
        "",
        "`error` frame, from either side, ends the session: `code`, `message` (at most 200"
        " characters, for people) and, from a device, `attempts_left`. Codes:",
        "",
    ]
    lines += _table(("code", "meaning"), ([_code(c), m] for c, m in PAIRING_ERROR_MEANINGS.items()))
    lines += [
        "### Credentials and removal",
        "",
        "- `credentials` carries what the device needs for the"
        " [native link](#native-link-protocol-device--hub): `hub_url` (the link's WebSocket"
        " URL as the device can reach it), its own `token` (sent as the Bearer token), and the"
        " hub's id and Ed25519 public key, which the device keeps to recognise its hub. The"
        " hub stores only the token's SHA-256 hash and the device's public key.",
        "- The device then connects to `hub_url` and sends `hello` as usual; a device"
        " restarted later reconnects with the stored credentials, without pairing again.",
        "- Pairing a device id the hub already holds with the same key re-pairs it: a new"
        " token replaces the old one and the old link is closed.",
        "- Removing a device (on the hub, optionally with a short grace period during which"
        " the removal can be undone) revokes its token and forgets its key; an open link is"
        " closed with WebSocket close code 4003 and later connections get HTTP 401. A device"
        " that gets HTTP 401 SHOULD drop its credentials and wait for a resident to put it"
        " into pairing mode again; it keeps its key and setup code.",
        "",
        "### Test vector",
        "",
        "The key schedule and label from fixed inputs (not a real SPAKE2 run; hex unless quoted):",
        "",
    ]
    lines += _table(("what", "value"), _pairing_vector())
    return lines


def _errors() -> list[str]:
    lines = [
        "## Error codes",
        "",
        "Codes are stable; the `message` next to them is for people and may change.",
        "",
    ]
    lines += _table(("code", "meaning"), ([_code(c), m] for c, m in ERROR_MEANINGS.items()))
    return lines


def _uplink() -> list[str]:
    hub = "<hub_id>"
    lines = [
        "## Uplink (hub → community)",
        "",
        "A hub forwards what its devices report to its community server over MQTT, as"
        " uplink records inside signed envelopes.",
        "",
        "### Uplink record",
        "",
        f'UTF-8 JSON, at most {MAX_MESSAGE_BYTES} bytes, `v` exactly `"{UPLINK_VERSION}"`.'
        ' `hub_id` + `seq` is the record\'s idempotency key, written `"<hub_id>:<seq>"`: a hub'
        " retries a record until that key is acknowledged, and the community stores each key"
        " once. Unknown top-level fields, and fields that do not belong to the record's"
        " `kind`, are ignored.",
        "",
    ]
    rows = _wire_rows(UPLINK_FIELDS)
    for row, f in zip(rows, UPLINK_FIELDS, strict=True):
        row.insert(1, f"`{f.when}` only" if f.when else "all")
    lines += _table(("field", "record kind", "required", "type", "meaning"), rows)
    lines += ["`device` object:", ""]
    lines += _wire_table(DEVICE_INFO_FIELDS)
    for title, record in UPLINK_EXAMPLES:
        lines += [title, ""]
        lines += _json_block(encode_record(record).decode())
    lines += [
        "### MQTT",
        "",
        "MQTT 3.1.1. Each hub connects with client id = username = its `hub_id` and the"
        " password its community issued at enrollment, `clean_session` false, and may use only"
        f" topics under `{TOPIC_ROOT}/{hub}/`.",
        "",
    ]
    lines += _table(
        ("topic", "direction", "QoS", "retained", "payload"),
        (
            [
                _code(f"{TOPIC_ROOT}/{hub}/up"),
                "hub → community",
                "1",
                "no",
                "a signed envelope holding one uplink record",
            ],
            [
                _code(f"{TOPIC_ROOT}/{hub}/ack"),
                "community → hub",
                "1",
                "no",
                '`{"acked": [seq, ...]}`: records durably stored',
            ],
            [
                _code(f"{TOPIC_ROOT}/{hub}/down"),
                "community → hub",
                "1",
                "no",
                "a signed envelope holding one downlink command (see [Downlink](#downlink))",
            ],
            [
                _code(f"{TOPIC_ROOT}/{hub}/status"),
                "hub → community",
                "1",
                "yes",
                '`{"status":"online"}` on connect; `{"status":"offline"}` as the last will',
            ],
        ),
    )
    lines += [
        "- The hub writes every record to a durable outbox before acknowledging the device,"
        " publishes pending records critical first, then alert, then info (by `seq` within a"
        " priority), and deletes a record only when its `seq` comes back on the ack topic."
        " Unacknowledged records are published again after 5 s and on every reconnect; the"
        " outbox survives restarts.",
        "- The outbox is bounded. When full, the oldest telemetry (info records that are not"
        " events) is dropped first; events are never dropped for telemetry. A hub whose outbox"
        " is full of events does not acknowledge a device's next event (the device keeps it"
        " and resends it), and logs an error: never silently.",
        "- The hub publishes a `hub_heartbeat` record every 30 s (by default).",
        "- The community subscribes to `up` and `status` of every hub with a persistent"
        " session. For each `up` message it opens the envelope with the hub's enrolled key,"
        " requires topic hub id = envelope sender = record `hub_id`, decodes the record,"
        " stores it in one transaction unless its key is already stored, and only then"
        " acknowledges it (MQTT PUBACK and the `ack` topic). A duplicate is acknowledged"
        " again but not processed again.",
        "- A record with a new key must also be fresh: its `ts` at most 10 minutes ahead of"
        " the community's clock and within its backlog window behind it (a week by default),"
        " and its message's `seq` one the community never stored for that device (a device's"
        " older report may still arrive after a newer alarm, since alarms go first). A stale"
        " or replayed record is refused, stored nowhere, and acknowledged all the same.",
        "",
    ]
    return lines


_DOWNLINK_EXAMPLE: Final = DownlinkCommand(
    community_id="demo",
    seq=12,
    ts=1795289401123,
    command_id="5f0c2b6e9a3d4f7e8b1c2d3e4f5a6b7c",
    device_id="shed-1-port-3",
    command=CommandName.PORT_CUT,
    args={"reason": "overtemperature"},
)


def _downlink() -> list[str]:
    """Community → hub commands: what a hub must check before it touches a device."""
    lines = [
        "## Downlink (community → hub)",
        "",
        "A community asks a hub to send a command to one of its devices (cutting a charging"
        " port, holding an elevator's doors) with a downlink command inside an envelope signed"
        " by the community's own Ed25519 key (the [signed envelope](#signed-envelope) above,"
        " with the community as sender), published at QoS 1 on"
        f" `{TOPIC_ROOT}/<hub_id>/down`.",
        "",
        f'UTF-8 JSON, `v` exactly `"{DOWNLINK_VERSION}"`, with `community_id`, `seq` (the'
        " community's counter for that hub), `ts` (ms), `command_id` (the idempotency key),"
        " `device_id`, `command` and `args`. The command, its `args` and the device id get"
        " exactly the checks of a native `command` message (see [Commands](#commands)).",
        "",
    ]
    lines += _json_block(encode_downlink(_DOWNLINK_EXAMPLE).decode())
    lines += [
        "- The hub refuses every downlink unless it was enrolled with its community's public"
        " key, the envelope verifies against that key, and the envelope's sender equals"
        " `community_id`.",
        "- The hub records each `command_id` durably before asking the device, and executes"
        " an id at most once: a repeat gets the stored result reported again; a command cut"
        " off by a hub restart is reported as interrupted, never run again.",
        "- The outcome goes up as an uplink record of kind `command_result` (priority"
        " `alert`, never shed) with `command_id`, `ok` and `error`. The community resends a"
        " command with the same `command_id` until it hears the result, and treats one still"
        " unanswered after its deadline as failed.",
        "",
    ]
    return lines


_NOTICE_EXAMPLE: Final = DownlinkNotice(
    community_id="demo",
    seq=7,
    ts=1795289401123,
    notice_id="9b2e4c1d7a3f4e8b9c0d1e2f3a4b5c6d",
    category=NoticeCategory.CHARGING,
    code=str(_ChargingCode.CUT),
    params={"port": "shed-1-port-3", "port_name": "port 3", "reason": "overtemperature"},
    title="Charging cut on port 3: overtemperature",
)


def _notices() -> list[str]:
    """Community → home notices and the two resident records that go with them."""
    lines = [
        "## Notices and resident requests",
        "",
        "The community tells the residents of a home things on the same downlink topic, as a"
        ' notice: the downlink body with `"type": "notice"` (a command has no `type`), signed'
        " and verified exactly like a command. Fields: `v`, `type`, `community_id`, `seq`,"
        " `ts`, `notice_id` (the idempotency key), `category` (`"
        + "`, `".join(NoticeCategory)
        + "`), `code` (what happened, an identifier a hub can translate), `params` (at most"
        " 16 string values of at most 128 characters), `title` (at most 200 characters) and"
        " `body` (at most 4000): the words to show when the hub has none of its own for"
        " `code`.",
        "",
        "```text",
        encode_notice(_NOTICE_EXAMPLE).decode(),
        "```",
        "",
        "- The hub stores each `notice_id` once and answers every copy with an uplink record"
        " of kind `notice_receipt` (`receipt`: `notice_id`, `status` `delivered`, or `read`"
        " once the resident has read it). The community resends a notice until a receipt"
        " arrives (skipping a hub it knows is offline), so a hub that was off gets it when it"
        " returns, once; a receipt never moves a notice back.",
        "- A resident asks for a charging session with an uplink record of kind"
        " `resident_request` (`request`: `request_id`, `action` `start` or `stop`, `port_id`)."
        " The community answers with a `charging` notice whose `params.request_id` names the"
        " request. Charging codes: "
        + ", ".join(f"`{c}`" for c in _ChargingCode)
        + ". A `refused` notice's `params.reason` is one of "
        + ", ".join(f"`{r}`" for r in _Refusal)
        + "; `full`, `cut` and `ended` carry the reason the session ended (a `port_cut`"
        " reason, or the port's `charge_session_ended` reason). Both records are `info` and,"
        " like command results, never shed.",
        "",
    ]
    return lines


#: An illustrative entry: real bytes come from ``privacy.sealed_fields.seal_field``.
_SEALED_EXAMPLE: Final = SealedEntry(
    field="confidence",
    recipient="family:li",
    key_id="e3fc42e259ea8a9b",
    suite="HPKE-X25519-SHA256-ChaCha20Poly1305",
    wrapped=bytes(range(SEALED_WRAPPED_BYTES)),
    nonce=bytes(range(SEALED_NONCE_BYTES)),
    ciphertext=bytes(range(100, 120)),
)


def _sealed() -> list[str]:
    """The optional ``sealed`` slot of a report: what a receiver checks, what it cannot."""
    lines = [
        "### Sealed fields",
        "",
        "A `report` record whose message is an `event` may carry `sealed`: a list of at most"
        f" {MAX_SEALED_ENTRIES} entries, each one event data field encrypted for one recipient"
        " (a family member, a care provider) whom the resident shares it with but not the"
        " community. The field is absent from `message.data`; the event, its kind and `active`"
        " stay in clear. The list is omitted when empty; a record without it is unchanged.",
        "",
    ]
    lines += _table(
        ("entry field", "value"),
        (
            ["`field`", "the event data field's name (`[a-z][a-z0-9_]{0,63}`)"],
            ["`recipient`", "`role:name`, e.g. `family:li` (1 to 128 characters)"],
            ["`key_id`", "the recipient's X25519 key id: 16 lowercase hex digits"],
            ["`suite`", "`HPKE-X25519-SHA256-ChaCha20Poly1305`"],
            [
                "`wrapped`",
                f"base64url, {SEALED_WRAPPED_BYTES} bytes: HPKE `enc` and the wrapped data key",
            ],
            ["`nonce`", f"base64url, {SEALED_NONCE_BYTES} bytes"],
            [
                "`ciphertext`",
                f"base64url, 16 to {MAX_SEALED_CIPHERTEXT} bytes: the value's JSON and its tag",
            ],
        ),
    )
    lines += [
        "Base64url is without `=` padding and must re-encode to itself. A receiver refuses"
        " (`bad_field`) a slot on anything but an event report, an entry with other or missing"
        " keys, a bad length, the same `field` for the same `recipient` twice, or a `field`"
        " that also travels in clear. It cannot and does not decrypt: it stores the entries as"
        ' they came and may show `field` and `recipient` ("sealed for family:li").',
        "",
        "The associated data binds each entry to its record: uplink `v`, `hub_id`, the"
        " message's `device_id`, `event`, `seq` and `ts`, the hub's envelope key id and the"
        " field name, and the wrap binds the recipient id and key id, so an entry moved to"
        " another record, field or recipient does not open. The construction is in"
        " `docs/privacy.md` (sealed fields).",
        "",
        "One entry of the list (illustrative bytes, so no example reader would open it):",
        "",
        "```text",
        json.dumps(_SEALED_EXAMPLE.to_dict(), separators=(",", ":")),
        "```",
        "",
    ]
    return lines


def _envelope() -> list[str]:
    vector = envelope_vector()
    lines = [
        "### Signed envelope",
        "",
        "Every `up` payload is a JSON object that carries the record's exact bytes and the"
        " hub's Ed25519 signature over them, so nothing is re-serialised before checking it."
        f" At most {MAX_ENVELOPE_BYTES} bytes.",
        "",
    ]
    lines += _table(
        ("field", "value"),
        (
            ["`v`", "`1` (a JSON integer)"],
            ["`alg`", '`"Ed25519"`'],
            ["`from`", "the sender's id (the hub id), at most 64 characters"],
            [
                "`kid`",
                "key id: the first 16 lowercase hex digits of SHA-256 of the sender's raw"
                " 32-byte Ed25519 public key",
            ],
            ["`body`", "the record bytes, base64url (RFC 4648 §5) without `=` padding"],
            ["`sig`", "the 64-byte Ed25519 signature, base64url without padding"],
        ),
    )
    lines += [
        "The signature is over the domain-separated bytes",
        "",
        "```text",
        '"courtyard-envelope-v1" 0x00 UTF-8(from) 0x00 ASCII(kid) 0x00 body',
        "```",
        "",
        "A receiver looks the sender up among its enrolled hubs and refuses the envelope,"
        " before reading the body, if the sender is unknown, `kid` is not the key id of the"
        " enrolled key, or the signature does not verify.",
        "",
        "Test vector (the private key is the 32 bytes 0x00 … 0x1f, published and worthless):",
        "",
    ]
    lines += _table(
        ("value", "hex / text"),
        (
            ["private key seed", TEST_KEY_SEED.hex()],
            ["public key", vector.public_key.hex()],
            ["kid", vector.key_id],
            ["signature", vector.signature.hex()],
        ),
    )
    lines += ["Envelope (its body is the first uplink example above):", ""]
    lines += _json_block(vector.envelope.decode())
    return lines


def _limits() -> list[str]:
    lines = ["## Size limits", ""]
    rows: list[list[str]] = [
        ["native message", f"{MAX_MESSAGE_BYTES} bytes of UTF-8"],
        ["uplink record", f"{MAX_MESSAGE_BYTES} bytes of UTF-8"],
        ["signed envelope", f"{MAX_ENVELOPE_BYTES} bytes"],
        ["device id, hub id", "1 to 64 characters"],
    ]
    for mtype, fields in MESSAGE_FIELDS.items():
        rows += [
            [f"`{mtype}.{f.name}`", _length(f.schema)]
            for f in fields
            if f.schema.get("type") == "string"
            and "maxLength" in f.schema
            and "pattern" not in f.schema
        ]
    rows += [
        [f"`device.{f.name}`", _length(f.schema)]
        for f in DEVICE_INFO_FIELDS
        if "pattern" not in f.schema and "maxLength" in f.schema
    ]
    rows += [
        [f"`{c}` arg `{a.name}`", f"1 to {a.max_length} characters"]
        for c, spec in COMMANDS.items()
        for a in spec.args
        if a.type is FieldType.STRING
    ]
    rows += [
        ["`summary`", "at most 16 entries"],
        ["`sealed`", f"at most {MAX_SEALED_ENTRIES} entries"],
        ["nesting", "no message needs more than 3 levels; receivers may refuse deep nesting"],
    ]
    lines += _table(("what", "limit"), rows)
    return lines


def _gaps() -> list[str]:
    return [
        "## What the JSON Schema cannot check",
        "",
        "The schema files check the JSON data. A receiver also refuses, and a sender MUST avoid:",
        "",
        f"- a message or record larger than {MAX_MESSAGE_BYTES} bytes (`too_large`);",
        "- `NaN`, `Infinity` or anything else that is not strict JSON (`malformed`);",
        '- an integer written with a fraction or exponent, such as `"seq": 5.0`: JSON Schema'
        " treats 5.0 as an integer, a receiver does not (`bad_field`);",
        "- a string holding an unpaired surrogate escape such as `\\ud800`, which cannot be"
        " stored as UTF-8 (`bad_field`);",
        "- a report record whose `device.device_id` differs from its `message.device_id`"
        " (`wrong_device`); the schema does check that the two `kind`s agree.",
        "",
    ]


SECTIONS: Final[tuple[Callable[[], list[str]], ...]] = (
    _front,
    _conventions,
    _messages,
    _exchange,
    _kinds,
    _events,
    _commands,
    _native_link,
    _pairing,
    _errors,
    _uplink,
    _sealed,
    _envelope,
    _downlink,
    _notices,
    _limits,
    _gaps,
)


def render() -> str:
    """The whole document, deterministic so ``--check`` can compare it byte for byte."""
    lines: list[str] = []
    for section in SECTIONS:
        lines += section()
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
