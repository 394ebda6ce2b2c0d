"""The record a hub sends up to its community: one interop message plus where it came from.

It is the payload inside a signed envelope (``privacy.envelope``). ``hub_id`` + ``seq`` (the
hub's outbox sequence) is the idempotency key: a hub retries a record until the community
acknowledges that exact key, and the community stores each key once.

The other direction is the downlink: a :class:`DownlinkCommand` the community signs with its
own key and publishes on :func:`topic_down`; the hub executes each ``command_id`` once and
reports how it went up as a ``command_result`` record.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
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
from devices.service import ServiceRequest, check_object, parse_service_request

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
    #: A resident asks the community for something (start/stop a charging session).
    RESIDENT_REQUEST = "resident_request"
    #: A hub confirms a community notice arrived, or that the resident read it.
    NOTICE_RECEIPT = "notice_receipt"
    #: A resident asks one of the property services for something (devices.service).
    SERVICE_REQUEST = "service_request"


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


# --- the sealed slot: event data only named recipients can read --------------------------

#: At most this many sealed entries in one record.
MAX_SEALED_ENTRIES: Final = 16
#: Largest ciphertext of one sealed field (the value's JSON plus the 16-byte tag).
MAX_SEALED_CIPHERTEXT: Final = 4096
#: HPKE ``enc`` (32 bytes) then the wrapped 32-byte data key and its 16-byte tag.
SEALED_WRAPPED_BYTES: Final = 80
SEALED_NONCE_BYTES: Final = 12
_SEALED_KEYS: Final = frozenset(
    {"field", "recipient", "key_id", "suite", "wrapped", "nonce", "ciphertext"}
)
_FIELD_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: Mirrors ``privacy.sealing.RECIPIENT_RE`` (devices/ imports nothing of ours).
_RECIPIENT_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
_KEY_ID_RE: Final = re.compile(r"[0-9a-f]{16}")
_SUITE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_B64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class SealedEntry:
    """One event data field sealed for one recipient; opaque to everyone else.

    The hub moves a field the resident shares with ``recipient`` (a family member, a care
    provider) but not with the community out of the clear message into an entry like this
    one, built by ``privacy.sealed_fields``. Servers in between store and forward it without
    being able to read it; ``field`` and ``recipient`` stay in clear so they can say what is
    there and for whom. ``key_id`` names the recipient's X25519 key.
    """

    field: str
    recipient: str
    key_id: str
    suite: str
    wrapped: bytes
    nonce: bytes
    ciphertext: bytes

    def to_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "recipient": self.recipient,
            "key_id": self.key_id,
            "suite": self.suite,
            "wrapped": _b64url(self.wrapped),
            "nonce": _b64url(self.nonce),
            "ciphertext": _b64url(self.ciphertext),
        }


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
    #: For event reports: data fields sealed for recipients other than the community.
    sealed: tuple[SealedEntry, ...] = ()
    #: For resident requests: what the resident asked for.
    request: ResidentRequest | None = None
    #: For notice receipts: which notice, delivered or read.
    receipt: NoticeReceipt | None = None
    #: For service requests: which service, what action, and its body.
    service: ServiceRequest | None = None

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
    if isinstance(record.message, Event) or record.kind in _NEVER_SHED:
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
    if record.request is not None:
        body["request"] = _request_json(record.request)
    if record.receipt is not None:
        body["receipt"] = _receipt_json(record.receipt)
    if record.service is not None:
        body["service"] = record.service.to_dict()
    if record.sealed:
        body["sealed"] = [entry.to_dict() for entry in record.sealed]
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
    if kind in _RESIDENT_KINDS:
        return _resident_record(obj, hub_id, seq, ts, kind)
    if kind is RecordKind.SERVICE_REQUEST:
        return service_request(hub_id, seq, ts, parse_service_request(obj.get("service")))
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
        sealed=_sealed_slot(obj.get("sealed", []), message),
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(value: object, name: str) -> bytes:
    """Strict base64url without padding: a text that does not re-encode to itself is refused."""
    if not isinstance(value, str) or not _B64URL_RE.fullmatch(value):
        raise _bad(f"'sealed[].{name}' must be base64url text without padding")
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise _bad(f"'sealed[].{name}' must be base64url text without padding") from None
    if _b64url(data) != value:
        raise _bad(f"'sealed[].{name}' is not canonical base64url")
    return data


def _sealed_slot(raw: object, message: Message) -> tuple[SealedEntry, ...]:
    """The sealed entries of a report: bounded, well-formed, only on events, and never a
    field the clear message also carries. Nothing is decrypted here."""
    if not isinstance(raw, list) or len(raw) > MAX_SEALED_ENTRIES:
        raise _bad(f"'sealed' must be a list of at most {MAX_SEALED_ENTRIES} entries")
    if raw and not isinstance(message, Event):
        raise _bad("'sealed' is allowed on event reports only")
    entries = tuple(parse_sealed_entry(item) for item in raw)
    pairs = {(e.field, e.recipient) for e in entries}
    if len(pairs) != len(entries):
        raise _bad("'sealed' holds the same field for the same recipient twice")
    if isinstance(message, Event) and any(e.field in message.data for e in entries):
        raise _bad("a sealed field must not also travel in clear")
    return entries


def parse_sealed_entry(item: object) -> SealedEntry:
    if not isinstance(item, dict) or set(item) != _SEALED_KEYS:
        raise _bad("each 'sealed' entry must have exactly " + ", ".join(sorted(_SEALED_KEYS)))
    texts = (("field", _FIELD_RE), ("recipient", _RECIPIENT_RE), ("key_id", _KEY_ID_RE))
    for name, pattern in (*texts, ("suite", _SUITE_RE)):
        value = item[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise _bad(f"'sealed[].{name}' is not valid")
    wrapped = _unb64url(item["wrapped"], "wrapped")
    nonce = _unb64url(item["nonce"], "nonce")
    ciphertext = _unb64url(item["ciphertext"], "ciphertext")
    if len(wrapped) != SEALED_WRAPPED_BYTES or len(nonce) != SEALED_NONCE_BYTES:
        raise _bad("'sealed[].wrapped' or 'sealed[].nonce' has the wrong length")
    if not 16 <= len(ciphertext) <= MAX_SEALED_CIPHERTEXT:
        raise _bad(f"'sealed[].ciphertext' must be 16..{MAX_SEALED_CIPHERTEXT} bytes")
    return SealedEntry(
        field=item["field"],
        recipient=item["recipient"],
        key_id=item["key_id"],
        suite=item["suite"],
        wrapped=wrapped,
        nonce=nonce,
        ciphertext=ciphertext,
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


# --- resident requests, notices and their receipts --------------------------------------------
#
# Two record kinds travel up for the resident: a ``resident_request`` (start or stop a charging
# session on a port of the community's charging shed) and a ``notice_receipt`` (a notice reached
# the hub, or the resident read it). One downlink form travels down beside commands: a
# ``notice``, told apart from a command by ``"type": "notice"`` (a command has no ``type``).
# A notice is idempotent by ``notice_id``: the community resends it until the hub's receipt
# arrives, and the hub stores each id once and answers every copy with its current receipt.

ID_LIMIT: Final = 64
TITLE_LIMIT: Final = 200
BODY_LIMIT: Final = 4000
MAX_PARAMS: Final = 16
PARAM_LIMIT: Final = 128


class RequestAction(StrEnum):
    START = "start"
    STOP = "stop"


class ReceiptStatus(StrEnum):
    """How far a notice got; a receipt never moves a notice backwards."""

    DELIVERED = "delivered"
    READ = "read"


class ChargingCode(StrEnum):
    """What a charging notice says. ``started``/``refused``/``stopped`` answer a request
    (``params.request_id``); ``full``/``cut``/``ended`` report the port's own end."""

    STARTED = "started"
    REFUSED = "refused"
    START_FAILED = "start_failed"
    STOPPED = "stopped"
    STOP_FAILED = "stop_failed"
    FULL = "full"
    CUT = "cut"
    ENDED = "ended"


class Refusal(StrEnum):
    """Why the community refused a resident's charging request (``params.reason``)."""

    UNKNOWN_HOME = "unknown_home"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_PORT = "unknown_port"
    PORT_BUSY = "port_busy"
    PORT_FAULT = "port_fault"
    HOME_BUSY = "home_busy"
    NOT_YOUR_SESSION = "not_your_session"
    NO_SESSION = "no_session"


class NoticeCategory(StrEnum):
    """Charging notices answer the resident's own requests or report the port's rules;
    property notices are the manager's announcements."""

    CHARGING = "charging"
    PROPERTY = "property"
    #: The answer to a service request (``params.request_id``), or news from a service
    #: (an order's progress, a parcel to collect, a care check); ``params.service`` names it.
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class ResidentRequest:
    """A resident's request; ``request_id`` comes back in the notice that answers it."""

    request_id: str
    action: RequestAction
    port_id: str


@dataclass(frozen=True, slots=True)
class NoticeReceipt:
    notice_id: str
    status: ReceiptStatus


_NEVER_SHED: Final = frozenset(
    {
        RecordKind.COMMAND_RESULT,
        RecordKind.RESIDENT_REQUEST,
        RecordKind.NOTICE_RECEIPT,
        RecordKind.SERVICE_REQUEST,
    }
)
_RESIDENT_KINDS: Final = frozenset({RecordKind.RESIDENT_REQUEST, RecordKind.NOTICE_RECEIPT})


def resident_request(hub_id: str, seq: int, ts: int, request: ResidentRequest) -> UplinkRecord:
    """The record carrying a resident's request (info priority, never shed)."""
    return UplinkRecord(
        hub_id=hub_id,
        seq=seq,
        ts=ts,
        kind=RecordKind.RESIDENT_REQUEST,
        priority=Priority.INFO,
        request=request,
    )


def service_request(hub_id: str, seq: int, ts: int, request: ServiceRequest) -> UplinkRecord:
    """The record carrying a request to a property service (info priority, never shed)."""
    return UplinkRecord(
        hub_id=hub_id,
        seq=seq,
        ts=ts,
        kind=RecordKind.SERVICE_REQUEST,
        priority=Priority.INFO,
        service=request,
    )


def notice_receipt(hub_id: str, seq: int, ts: int, receipt: NoticeReceipt) -> UplinkRecord:
    """The record confirming a notice was delivered or read (info priority, never shed)."""
    return UplinkRecord(
        hub_id=hub_id,
        seq=seq,
        ts=ts,
        kind=RecordKind.NOTICE_RECEIPT,
        priority=Priority.INFO,
        receipt=receipt,
    )


def _request_json(request: ResidentRequest) -> dict[str, str]:
    return {
        "request_id": request.request_id,
        "action": str(request.action),
        "port_id": request.port_id,
    }


def _receipt_json(receipt: NoticeReceipt) -> dict[str, str]:
    return {"notice_id": receipt.notice_id, "status": str(receipt.status)}


def _ident(obj: dict[str, Any], key: str) -> str:
    value = _text(obj, key, ID_LIMIT)
    if not DEVICE_ID_RE.fullmatch(value):
        raise _bad(f"'{key}' has invalid characters")
    return value


def _resident_record(
    obj: dict[str, Any], hub_id: str, seq: int, ts: int, kind: RecordKind
) -> UplinkRecord:
    if kind is RecordKind.RESIDENT_REQUEST:
        raw = obj.get("request")
        if not isinstance(raw, dict):
            raise _bad("'request' must be an object")
        action = _member(RequestAction, raw.get("action"))
        if action is None:
            raise _bad("'request.action' must be one of " + ", ".join(RequestAction))
        request = ResidentRequest(_ident(raw, "request_id"), action, _ident(raw, "port_id"))
        return resident_request(hub_id, seq, ts, request)
    raw = obj.get("receipt")
    if not isinstance(raw, dict):
        raise _bad("'receipt' must be an object")
    status = _member(ReceiptStatus, raw.get("status"))
    if status is None:
        raise _bad("'receipt.status' must be one of " + ", ".join(ReceiptStatus))
    return notice_receipt(hub_id, seq, ts, NoticeReceipt(_ident(raw, "notice_id"), status))


NOTICE_TYPE: Final = "notice"


@dataclass(frozen=True, slots=True)
class DownlinkNotice:
    """A notice for the residents of one home, signed by the community.

    ``code`` names what happened (``started``, ``refused``, ``full``, ``cut`` ...) so a hub can
    say it in the resident's language; ``params`` fill it in (``port``, ``reason``). ``title``
    and ``body`` carry a manager's free text (property notices) and are the fallback wording.
    """

    community_id: str
    seq: int
    ts: int
    notice_id: str
    category: NoticeCategory
    code: str
    params: dict[str, str]
    title: str = ""
    body: str = ""
    #: Structured result for the hub (a signed visitor pass, an order's state); at most
    #: ``devices.service.MAX_BODY_BYTES`` of plain JSON. Sent only when not empty.
    data: dict[str, Any] = field(default_factory=dict)


def encode_notice(notice: DownlinkNotice) -> bytes:
    """Compact UTF-8 JSON of a notice: the body the community signs."""
    body = {
        "v": DOWNLINK_VERSION,
        "type": NOTICE_TYPE,
        "community_id": notice.community_id,
        "seq": notice.seq,
        "ts": notice.ts,
        "notice_id": notice.notice_id,
        "category": str(notice.category),
        "code": notice.code,
        "params": notice.params,
        "title": notice.title,
        "body": notice.body,
    }
    if notice.data:
        body["data"] = notice.data
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _free_text(obj: dict[str, Any], key: str, limit: int) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str) or len(value) > limit or not is_unicode(value):
        raise _bad(f"'{key}' must be a string of at most {limit} characters")
    return value


def _params(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict) or len(raw) > MAX_PARAMS:
        raise _bad(f"'params' must be an object of at most {MAX_PARAMS} strings")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not DEVICE_ID_RE.fullmatch(key):
            raise _bad("'params' keys must be identifiers")
        if not isinstance(value, str) or len(value) > PARAM_LIMIT or not is_unicode(value):
            raise _bad(f"'params' values must be strings of at most {PARAM_LIMIT} characters")
        out[key] = value
    return out


def decode_notice(raw: bytes) -> DownlinkNotice:
    """Validate a notice from untrusted bytes; raises :class:`InteropError` only."""
    obj = decode_json(raw)
    if obj.get("v") != DOWNLINK_VERSION:
        raise InteropError(
            ErrorCode.UNSUPPORTED_VERSION, f"downlink 'v' must be {DOWNLINK_VERSION!r}"
        )
    if obj.get("type") != NOTICE_TYPE:
        raise _bad(f"'type' must be {NOTICE_TYPE!r}")
    seq, ts = obj.get("seq"), obj.get("ts")
    for name, value in (("seq", seq), ("ts", ts)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            raise _bad(f"'{name}' must be an integer in 0..2^53-1")
    assert isinstance(seq, int) and isinstance(ts, int)
    category = _member(NoticeCategory, obj.get("category"))
    if category is None:
        raise _bad("'category' must be one of " + ", ".join(NoticeCategory))
    return DownlinkNotice(
        community_id=_ident(obj, "community_id"),
        seq=seq,
        ts=ts,
        notice_id=_ident(obj, "notice_id"),
        category=category,
        code=_ident(obj, "code"),
        params=_params(obj.get("params", {})),
        title=_free_text(obj, "title", TITLE_LIMIT),
        body=_free_text(obj, "body", BODY_LIMIT),
        data=check_object(obj.get("data", {}), "data"),
    )


def decode_down(raw: bytes) -> DownlinkCommand | DownlinkNotice:
    """A downlink body of either form: a notice if ``type`` is ``notice``, else a command."""
    obj = decode_json(raw)
    if obj.get("type") == NOTICE_TYPE:
        return decode_notice(raw)
    return decode_downlink(raw)
