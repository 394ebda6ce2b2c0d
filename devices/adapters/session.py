"""Decoding with memory: one session per hub, pure (no I/O, no clock of its own).

Vendor formats report *levels* (``smoke: true`` in every publish while it lasts, repeated
from a bridge's state cache); the interop model wants *edges* (``smoke_alarm`` raised once,
cleared once). The session keeps, per device, which alarm conditions are active and from
which source, what each piece remembers, what the bridge said about the device, and which
definition it matched, so the same payload twice raises once.

Sequence numbers belong to the caller (the hub persists them): ``decode`` asks ``seq`` for
each message it emits, and only after the whole message decoded cleanly, so an
:class:`AdapterError` consumes nothing and changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, TypeVar

from devices.adapters.adapterset import AdapterSet
from devices.adapters.definition import (
    AdapterDefinition,
    Availability,
    DeviceDescription,
    DeviceFacts,
    Ignored,
    Inventory,
    Outbound,
    Protocol,
    Report,
    Route,
    Routed,
)
from devices.adapters.errors import AdapterError
from devices.adapters.ids import device_id as make_device_id
from devices.adapters.pieces import DecodeContext, Effects, Expose
from devices.catalog import COMMANDS, KINDS, DeviceKind, EventType, event_allowed
from devices.messages import (
    Command,
    DeviceReport,
    Event,
    Heartbeat,
    InteropError,
    State,
    parse_message,
    to_dict,
)

log = logging.getLogger(__name__)

#: Gives the next sequence number for a device id; the caller owns and persists it.
SeqSource = Callable[[str], int]

#: Alarms a device sounds during its own self-test: not raised while a test runs.
HELD_DURING_TEST: Final = frozenset({EventType.SMOKE_ALARM, EventType.GAS_ALARM})

#: The state field whose value goes into an alarm event's ``data.value``.
_ALARM_VALUE: Final = {
    EventType.SMOKE_ALARM: "obscuration_pct_per_m",
    EventType.GAS_ALARM: "lel_pct",
}

_T = TypeVar("_T")


class SequenceCounter:
    """A simple in-memory ``SeqSource`` (for tools and tests; a hub persists its own)."""

    def __init__(self, start: int = 1) -> None:
        self._next: dict[str, int] = {}
        self._start = start

    def __call__(self, device_id: str) -> int:
        value = self._next.get(device_id, self._start)
        self._next[device_id] = value + 1
        return value


@dataclass(slots=True)
class DecoderState:
    """What the session remembers about one vendor device."""

    device_id: str
    protocol: str
    name: str
    definition: str = ""
    kind: DeviceKind | None = None
    model: str = ""
    address: str = ""
    online: bool | None = None
    active: dict[EventType, frozenset[str]] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class BridgedDevice:
    """A vendor device the session has matched to a definition (for the hub's registry)."""

    device_id: str
    kind: DeviceKind
    protocol: str
    name: str
    definition: str
    model: str
    online: bool | None


def _guard(what: str, call: Callable[[], _T]) -> _T:
    """Run adapter code; anything but AdapterError (a plugin's bug) becomes one."""
    try:
        return call()
    except AdapterError:
        raise
    except Exception as exc:
        log.warning("adapter %s failed: %s", what, type(exc).__name__)
        raise AdapterError(f"{what}: internal error ({type(exc).__name__})") from None


class AdapterSession:
    """Decodes vendor MQTT messages into interop messages and encodes commands back."""

    def __init__(self, adapters: AdapterSet, *, only: str = "") -> None:
        self._adapters = adapters
        self._only_definition: AdapterDefinition | None = None
        self._protocols: list[Protocol] = list(adapters.protocols.values())
        if only:
            found = adapters.find(only)
            if found is None:
                raise ValueError(f"no adapter named {only!r}")
            if isinstance(found, AdapterDefinition):
                self._only_definition = found
                self._protocols = [adapters.protocols[found.protocol]]
            else:
                self._protocols = [found]
        self._states: dict[tuple[str, str], DecoderState] = {}
        self._by_id: dict[str, tuple[str, str]] = {}
        self._inventory: dict[str, dict[str, DeviceDescription]] = {}

    @property
    def adapters(self) -> AdapterSet:
        return self._adapters

    # --- routing -------------------------------------------------------------------------

    def subscriptions(self) -> list[str]:
        """Topic filters to subscribe to on the home broker."""
        return [f for p in self._protocols for f in p.topic_filters()]

    def _route(self, topic: str) -> tuple[Protocol, Route, dict[str, str]]:
        for protocol in self._protocols:
            found = protocol.route(topic)
            if found is not None:
                return protocol, found[0], found[1]
        raise AdapterError(f"no adapter handles topic {topic[:80]!r}")

    def handles(self, topic: str) -> bool:
        return any(p.route(topic) is not None for p in self._protocols)

    # --- decoding ------------------------------------------------------------------------

    def decode(
        self, topic: str, payload: bytes | str, *, now_ms: int, seq: SeqSource
    ) -> list[DeviceReport]:
        """Interop messages for one vendor message, or AdapterError (and nothing changes)."""
        protocol, route, captures = self._route(topic)
        routed: Routed = _guard(protocol.name, lambda: route.read(captures, payload))
        if isinstance(routed, Ignored):
            return []
        if isinstance(routed, Inventory):
            self._take_inventory(protocol.name, routed)
            return []
        if isinstance(routed, Availability):
            return self._availability(protocol.name, routed, now_ms, seq)
        if isinstance(routed, Report):
            return self._report(protocol, topic, routed, now_ms, seq)
        raise AdapterError(f"{protocol.name}: reader returned {type(routed).__name__}")

    def _take_inventory(self, protocol: str, inventory: Inventory) -> None:
        known = {} if inventory.complete else dict(self._inventory.get(protocol, {}))
        for desc in inventory.devices:
            known[desc.device] = desc
        self._inventory[protocol] = known

    def _state(self, protocol: str, name: str) -> DecoderState:
        key = (protocol, name)
        st = self._states.get(key)
        if st is None:
            dev_id = make_device_id(name)
            if dev_id in self._by_id and self._by_id[dev_id] != key:
                dev_id = make_device_id(f"{protocol}:{name}")
            st = DecoderState(device_id=dev_id, protocol=protocol, name=name)
        return st

    def _commit(self, st: DecoderState) -> None:
        self._states[(st.protocol, st.name)] = st
        self._by_id[st.device_id] = (st.protocol, st.name)

    def _facts(
        self, st: DecoderState, topic: str = "", report: Report | None = None
    ) -> DeviceFacts:
        desc = self._inventory.get(st.protocol, {}).get(st.name)
        exposes = {e.prop: e for e in desc.exposes} if desc else {}
        props = report.props if report else {}
        return DeviceFacts(
            name=st.name,
            topic=topic,
            model=(desc.model if desc else "") or (report.model if report else "") or st.model,
            model_id=desc.model_id if desc else "",
            description=desc.description if desc else "",
            exposes=exposes,
            props={**dict.fromkeys(st.seen), **props},
        )

    def _classify(
        self, protocol: str, facts: DeviceFacts, st: DecoderState
    ) -> AdapterDefinition | None:
        if self._only_definition is not None:
            return self._only_definition
        best, best_score = None, 0
        for definition in self._adapters.definitions_for(protocol):
            score = _guard(definition.name, partial(definition.matcher.score, facts))
            if score > best_score:
                best, best_score = definition, score
        if best is not None:
            return best
        if st.definition:
            latched = self._adapters.find(st.definition)
            if isinstance(latched, AdapterDefinition):
                return latched
        return None

    def _availability(
        self, protocol: str, avail: Availability, now_ms: int, seq: SeqSource
    ) -> list[DeviceReport]:
        st = dataclasses.replace(self._state(protocol, avail.device), online=avail.online)
        out: list[DeviceReport] = []
        if st.kind is not None:
            before = st.active.get(EventType.DEVICE_OFFLINE, frozenset())
            after = frozenset() if avail.online else frozenset({"availability"})
            st.active = {**st.active, EventType.DEVICE_OFFLINE: after}
            if bool(before) != bool(after):
                out.append(
                    Event(st.device_id, st.kind, 0, now_ms, EventType.DEVICE_OFFLINE, bool(after))
                )
            if avail.online:
                out.append(Heartbeat(st.device_id, st.kind, 0, now_ms))
        out = _finish(out, seq, st.definition or protocol)
        self._commit(st)
        return out

    def _report(
        self, protocol: Protocol, topic: str, report: Report, now_ms: int, seq: SeqSource
    ) -> list[DeviceReport]:
        st = self._state(protocol.name, report.device)
        st = dataclasses.replace(
            st,
            model=report.model or st.model,
            address=report.address or st.address,
            seen=st.seen | frozenset(report.props),
        )
        facts = self._facts(st, topic, report)
        definition = self._classify(protocol.name, facts, st)
        if definition is None:
            self._commit(st)  # remember what it sent; a later inventory may classify it
            return []
        if st.kind is not definition.kind:
            st.active, st.memory = {}, {}
        st.definition, st.kind = definition.name, definition.kind
        memory = dict(st.memory)
        ctx = DecodeContext(now_ms=now_ms, exposes=facts.exposes)
        effects = Effects()
        for piece in definition.decoders:
            _guard(definition.name, partial(piece.convert, report.props, memory, effects, ctx))
        out, active = _messages(st, definition.kind, effects, now_ms)
        out = _finish(out, seq, definition.name)
        st.memory, st.active = memory, active
        self._commit(st)
        return out

    # --- commands ------------------------------------------------------------------------

    def encode(self, command: Command) -> list[Outbound]:
        """The vendor publishes that carry out ``command``, or AdapterError."""
        key = self._by_id.get(command.device_id)
        st = self._states.get(key) if key else None
        if st is None or st.kind is None or not st.definition:
            raise AdapterError(f"no bridged device {command.device_id!r}")
        if st.kind not in COMMANDS[command.command].kinds:
            raise AdapterError(f"a {st.kind} does not take {command.command}")
        definition = self._adapters.find(st.definition)
        protocol = self._adapters.protocols.get(st.protocol)
        if not isinstance(definition, AdapterDefinition) or protocol is None:
            raise AdapterError(f"adapter {st.definition!r} is no longer loaded")
        facts = self._facts(st)
        for enc in definition.encoders:
            if enc.command is command.command and enc.applies(facts):
                return [
                    _guard(definition.name, partial(enc.build, command, facts, protocol.params))
                ]
        raise AdapterError(f"{definition.name}: {command.device_id} cannot {command.command}")

    # --- what the session knows ----------------------------------------------------------

    def devices(self) -> list[BridgedDevice]:
        return [
            BridgedDevice(
                st.device_id, st.kind, st.protocol, st.name, st.definition, st.model, st.online
            )
            for st in self._states.values()
            if st.kind is not None
        ]

    def state_of(self, device_id: str) -> DecoderState | None:
        key = self._by_id.get(device_id)
        return self._states.get(key) if key else None

    def describe(self, protocol: str, name: str) -> DeviceDescription | None:
        return self._inventory.get(protocol, {}).get(name)

    def exposes_of(self, protocol: str, name: str) -> Mapping[str, Expose]:
        desc = self.describe(protocol, name)
        return {e.prop: e for e in desc.exposes} if desc else {}


def _messages(
    st: DecoderState, kind: DeviceKind, effects: Effects, now_ms: int
) -> tuple[list[DeviceReport], dict[EventType, frozenset[str]]]:
    """Effects of one message as interop messages (seq 0 for now) and the new alarm state."""
    fields = KINDS[kind].fields_by_name
    ts = effects.ts if effects.ts is not None else now_ms
    state = {k: v for k, v in effects.state.items() if k in fields}
    testing = effects.state.get("test_in_progress") is True
    active = dict(st.active)
    touched: dict[EventType, frozenset[str]] = {}
    for cond in effects.conditions:
        if not event_allowed(kind, cond.event):
            continue
        if cond.active and testing and cond.event in HELD_DURING_TEST:
            continue
        before = active.get(cond.event, frozenset())
        touched.setdefault(cond.event, before)
        after = before | {cond.source} if cond.active else before - {cond.source}
        active[cond.event] = after
        if cond.field and cond.field in fields:
            state[cond.field] = cond.on if after else cond.off
    events: list[Event] = []
    for event, initially in touched.items():
        now_active = bool(active[event])
        if bool(initially) == now_active:
            continue
        data: dict[str, Any] = {}
        value_field = _ALARM_VALUE.get(event)
        if now_active and value_field in state:
            data["value"] = state[value_field]
        events.append(Event(st.device_id, kind, 0, ts, event, now_active, data))
    for happening in effects.happenings:
        if event_allowed(kind, happening.event):
            events.append(
                Event(st.device_id, kind, 0, ts, happening.event, True, dict(happening.data))
            )
    out: list[DeviceReport] = [State(st.device_id, kind, 0, ts, state)] if state else []
    out.extend(events)
    if not out:
        out.append(Heartbeat(st.device_id, kind, 0, ts))
    return out, active


def _finish(out: list[DeviceReport], seq: SeqSource, who: str) -> list[DeviceReport]:
    """Validate every message with the interop parser, then number them."""
    for msg in out:
        try:
            parse_message(to_dict(msg))
        except InteropError as exc:
            raise AdapterError(f"{who} produced an invalid message: {exc.reason}") from None
    return [dataclasses.replace(msg, seq=_guard("seq", partial(seq, msg.device_id))) for msg in out]
