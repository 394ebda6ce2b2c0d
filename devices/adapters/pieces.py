"""Reusable decoder pieces: one vendor property in, interop state fields and events out.

An adapter definition is a list of these, in the spirit of zigbee-herdsman-converters'
``fromZigbee`` converters: ``boolean_alarm("smoke", event=EventType.SMOKE_ALARM, ...)``,
``battery_pct("battery")``, ``tamper("tamper")``. A piece reads only its own properties,
ignores a property that is absent or ``null`` (not reported yet), and raises
:class:`AdapterError` for a value of the wrong type or an unknown enum word.

Pieces never emit events directly. They report *conditions* (``smoke`` is on, from source
``smoke``) and *happenings* (a self-test ran); the session turns conditions into raise/clear
edges per device, so a payload repeated from Zigbee2MQTT's state cache does not raise twice.
Property names may be globs (``smoke:*/alarm``): every matching property is its own source,
and an alarm is active while any source is.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from devices.adapters.errors import AdapterError
from devices.adapters.values import as_bool, as_enum, as_number, as_text, timestamp_ms
from devices.catalog import KINDS, EventType, FieldSpec, FieldType

#: Every state field of the catalog by name (names mean the same in every kind).
FIELD_SPECS: Final[dict[str, FieldSpec]] = {
    spec.name: spec for kind in KINDS.values() for spec in kind.state
}


class CapabilityType(StrEnum):
    STATE = "state"
    EVENT = "event"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Capability:
    """One thing a definition can report or do, in interop terms (its ``exposes``)."""

    type: CapabilityType
    name: str

    def __str__(self) -> str:
        return f"{self.type}:{self.name}"


def state_cap(name: str) -> Capability:
    return Capability(CapabilityType.STATE, name)


def event_cap(event: EventType) -> Capability:
    return Capability(CapabilityType.EVENT, str(event))


@dataclass(frozen=True, slots=True)
class Expose:
    """One property a bridge says a device has (Zigbee2MQTT ``exposes`` entry, flattened)."""

    prop: str
    type: str = "binary"
    access: int = 1
    values: tuple[str, ...] = ()
    value_on: Any = True
    value_off: Any = False

    @property
    def writable(self) -> bool:
        return bool(self.access & 2)


@dataclass(frozen=True, slots=True)
class Condition:
    """A stateful event's condition as one source sees it in this message."""

    event: EventType
    source: str
    active: bool
    #: State field that mirrors the condition (set to ``on`` while any source is active).
    field: str = ""
    on: Any = True
    off: Any = False


@dataclass(frozen=True, slots=True)
class Happening:
    """An event to emit as is (``active`` true): a one-off, or a momentary alarm trigger."""

    event: EventType
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Effects:
    """What the pieces made of one message, before the session turns it into messages."""

    state: dict[str, Any] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)
    happenings: list[Happening] = field(default_factory=list)
    ts: int | None = None


@dataclass(frozen=True, slots=True)
class DecodeContext:
    """What a piece may know besides the payload: the caller's clock and the bridge's
    description of the device (used to read ``value_on``/``value_off`` and access bits)."""

    now_ms: int
    exposes: Mapping[str, Expose] = field(default_factory=dict)

    def boolean(self, prop: str, value: object, what: str) -> bool | None:
        """A boolean, honouring the bridge's declared ``value_on``/``value_off`` first."""
        expose = self.exposes.get(prop)
        if expose is not None and expose.type == "binary" and value is not None:
            if value == expose.value_on and type(value) is type(expose.value_on):
                return True
            if value == expose.value_off and type(value) is type(expose.value_off):
                return False
        return as_bool(value, what)


Memory = dict[str, Any]


def matching(props: Mapping[str, Any], pattern: str) -> list[tuple[str, Any]]:
    """The properties named by ``pattern`` (a plain name or a glob), present in ``props``."""
    if not any(c in pattern for c in "*?["):
        return [(pattern, props[pattern])] if pattern in props else []
    return [(k, v) for k, v in props.items() if fnmatch.fnmatchcase(k, pattern)]


class Piece:
    """Base of every decoder piece: the properties it reads and what it exposes."""

    __slots__ = ()

    @property
    def reads(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def exposes(self) -> tuple[Capability, ...]:
        raise NotImplementedError

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        raise NotImplementedError


def _in_range(name: str, value: float) -> Any | None:
    """``value`` as the catalog field wants it, or None when outside its range (a vendor
    sentinel such as -1 while warming up is 'no reading', not an error)."""
    spec = FIELD_SPECS[name]
    out: float | int = round(value) if spec.type is FieldType.INT else value
    if spec.minimum is not None and out < spec.minimum:
        return None
    if spec.maximum is not None and out > spec.maximum:
        return None
    return out


# --- stateful conditions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BooleanCondition(Piece):
    """A vendor boolean that is a stateful event (an alarm or a trouble condition)."""

    prop: str
    event: EventType
    field: str = ""
    on: Any = True
    off: Any = False
    invert: bool = False

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (event_cap(self.event), *((state_cap(self.field),) if self.field else ()))

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            value = ctx.boolean(key, raw, key)
            if value is None:
                continue
            active = value != self.invert
            out.conditions.append(Condition(self.event, key, active, self.field, self.on, self.off))


def boolean_alarm(
    prop: str,
    *,
    event: EventType,
    field: str = "",
    on: Any = True,
    off: Any = False,
    invert: bool = False,
) -> BooleanCondition:
    """``prop`` true raises ``event``, false clears it; ``field`` mirrors it in the state.

    ``invert`` is for wire formats where false means alarm (Tuya ``trueFalse0`` datapoints
    read raw). Zigbee2MQTT already inverts those, so its definitions never set it.
    """
    return BooleanCondition(prop, event, field, on, off, invert)


def tamper(prop: str = "tamper") -> BooleanCondition:
    return BooleanCondition(prop, EventType.TAMPER)


def battery_low_flag(prop: str = "battery_low") -> BooleanCondition:
    """Battery low as a trouble event, and Matter's BatteryAlert where the kind has it."""
    return BooleanCondition(prop, EventType.BATTERY_LOW, "battery_alert", "warning", "normal")


def hardware_fault(prop: str) -> BooleanCondition:
    return BooleanCondition(prop, EventType.HARDWARE_FAULT, "hardware_fault", True, False)


@dataclass(frozen=True, slots=True)
class EnumCondition(Piece):
    """A vendor enum that drives a stateful event and a level field.

    Each vendor word is listed once: it raises (with a field value), clears (with a field
    value), means a self-test is running, or says nothing new (``ignore``). Any other word
    is an :class:`AdapterError`: an unknown word on a life-safety property must be seen.
    """

    prop: str
    event: EventType
    field: str
    raise_on: Mapping[str, Any]
    clear_on: Mapping[str, Any]
    testing: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        return (*self.raise_on, *self.clear_on, *self.testing, *self.ignore)

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        caps = [event_cap(self.event), state_cap(self.field)]
        if self.testing:
            caps.append(state_cap("test_in_progress"))
        return tuple(caps)

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            word = as_enum(raw, key, self.words)
            if word is None:
                continue
            testing_key = f"testing:{key}"
            if word in self.testing:
                out.state["test_in_progress"] = True
                memory[testing_key] = True
                continue
            if memory.pop(testing_key, False):
                out.state["test_in_progress"] = False
            if word not in self.raise_on and word not in self.clear_on:
                continue
            active = word in self.raise_on
            if FIELD_SPECS[self.field].type is FieldType.BOOL:
                # A boolean field (hardware_fault) may have several sources: the session
                # sets it from all of them, like the event.
                out.conditions.append(Condition(self.event, key, active, self.field))
                continue
            out.conditions.append(Condition(self.event, key, active))
            out.state[self.field] = (self.raise_on if active else self.clear_on)[word]


def enum_alarm(
    prop: str,
    *,
    event: EventType,
    field: str,
    raise_on: Mapping[str, Any],
    clear_on: Mapping[str, Any],
    testing: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> EnumCondition:
    return EnumCondition(prop, event, field, raise_on, clear_on, tuple(testing), tuple(ignore))


@dataclass(frozen=True, slots=True)
class Threshold(Piece):
    """A measurement with no alarm flag of its own (an MQ-2 on an ADC pin): the adapter
    decides. Raises at ``alarm``, clears only below ``clear`` (hysteresis, no flapping)."""

    prop: str
    event: EventType
    field: str
    alarm: float
    clear: float
    levels: tuple[Any, Any] = ("critical", "normal")

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (event_cap(self.event), state_cap(self.field))

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            value = as_number(raw, key)
            if value is None:
                continue
            if value >= self.alarm:
                out.conditions.append(Condition(self.event, key, True))
                out.state[self.field] = self.levels[0]
            elif value < self.clear:
                out.conditions.append(Condition(self.event, key, False))
                out.state[self.field] = self.levels[1]


def threshold_alarm(
    prop: str, *, event: EventType, field: str, alarm: float, clear: float
) -> Threshold:
    if clear > alarm:
        raise ValueError("clear must not be above alarm")
    return Threshold(prop, event, field, alarm, clear)


# --- plain state fields -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Numeric(Piece):
    """A number (or numeric text) scaled into a catalog field; out of range = no reading."""

    prop: str
    field: str
    scale: float = 1.0
    convert_value: Callable[[float], float] | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (state_cap(self.field),) if self.field else ()

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            value = as_number(raw, key)
            if value is None or not self.field:
                continue
            value *= self.scale
            if self.convert_value is not None:
                try:
                    value = self.convert_value(value)
                except ArithmeticError:
                    raise AdapterError(f"{key}: {value:g} cannot be converted") from None
            scaled = _in_range(self.field, value) if math.isfinite(value) else None
            if scaled is not None:
                out.state[self.field] = scaled


def numeric(
    prop: str,
    field: str,
    *,
    scale: float = 1.0,
    convert: Callable[[float], float] | None = None,
) -> Numeric:
    """A number into ``field`` (times ``scale``, then through ``convert``)."""
    if field not in FIELD_SPECS:
        raise ValueError(f"{field!r} is not a state field of the catalog")
    return Numeric(prop, field, scale, convert)


def number_reading(prop: str) -> Numeric:
    """A vendor number the interop model has no field for: checked, not forwarded."""
    return Numeric(prop, "")


def db_per_m_to_pct(db_per_m: float) -> float:
    """Optical obscuration: dB/m (as some smoke sensors report) to percent per metre.

    Negative attenuation is not physical: it maps below 0 %, which the field's range drops.
    """
    if db_per_m < 0:
        return -1.0
    return (1 - 10 ** (-min(db_per_m, 1000.0) / 10)) * 100


def battery_pct(prop: str = "battery") -> Numeric:
    """Remaining battery in percent (floats such as Shelly's ``100.0`` are rounded)."""
    return Numeric(prop, "battery_pct")


@dataclass(frozen=True, slots=True)
class Flag(Piece):
    """A vendor boolean copied into a boolean state field (``silence`` -> ``muted``)."""

    prop: str
    field: str
    invert: bool = False

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (state_cap(self.field),)

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        values = [ctx.boolean(k, v, k) for k, v in matching(props, self.prop)]
        known = [v != self.invert for v in values if v is not None]
        if known:
            out.state[self.field] = any(known)


def flag(prop: str, field: str, *, invert: bool = False) -> Flag:
    if field not in FIELD_SPECS or FIELD_SPECS[field].type is not FieldType.BOOL:
        raise ValueError(f"{field!r} is not a boolean state field of the catalog")
    return Flag(prop, field, invert)


@dataclass(frozen=True, slots=True)
class EnumField(Piece):
    """A vendor enum mapped onto a catalog field; words mapped to None say nothing new."""

    prop: str
    field: str
    mapping: Mapping[str, Any]

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (state_cap(self.field),)

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            word = as_enum(raw, key, self.mapping)
            if word is not None and self.mapping[word] is not None:
                out.state[self.field] = self.mapping[word]


def enum_field(prop: str, field: str, mapping: Mapping[str, Any]) -> EnumField:
    return EnumField(prop, field, dict(mapping))


@dataclass(frozen=True, slots=True)
class Presence(Piece):
    """Presence words (``presence_state``): an open vocabulary, so anything not known to
    mean 'nobody' means somebody. Presence is comfort data, never an alarm."""

    prop: str
    absent: tuple[str, ...] = ("none", "unoccupied", "absence", "absent", "no_presence", "clear")

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (state_cap("occupied"),)

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            word = as_text(raw, key)
            if word:
                out.state["occupied"] = word.lower() not in self.absent


def presence_state(prop: str = "presence_state") -> Presence:
    return Presence(prop)


# --- self-tests ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestFlag(Piece):
    """A 'test running' boolean: ``test_in_progress``, and one ``self_test`` event when a
    test starts. A test is never an alarm (the session also holds back smoke and gas raises
    reported while a test runs)."""

    prop: str

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (state_cap("test_in_progress"), event_cap(EventType.SELF_TEST))

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            value = ctx.boolean(key, raw, key)
            if value is None:
                continue
            out.state["test_in_progress"] = value
            if value and not memory.get(f"test:{key}", False):
                out.happenings.append(Happening(EventType.SELF_TEST))
            memory[f"test:{key}"] = value


def test_flag(prop: str = "test") -> TestFlag:
    return TestFlag(prop)


@dataclass(frozen=True, slots=True)
class SelfTestResult(Piece):
    """A self-test status word: running, passed, failed, done (outcome unknown) or idle.

    A result emits ``self_test`` only when it changes from an earlier word: a result already
    in a bridge's state cache when the hub starts is history, not news.
    """

    prop: str
    running: tuple[str, ...] = ()
    passed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    done: tuple[str, ...] = ()
    idle: tuple[str, ...] = ()
    #: Also accept a boolean on the same property (Tuya gas sensors: ``self_test: true``).
    boolean: bool = False

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (state_cap("test_in_progress"), event_cap(EventType.SELF_TEST))

    @property
    def _words(self) -> tuple[str, ...]:
        return (*self.running, *self.passed, *self.failed, *self.done, *self.idle)

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            if raw is None:
                continue
            if self.boolean and not (isinstance(raw, str) and raw in self._words):
                TestFlag(key).convert({key: raw}, memory, out, ctx)
                continue
            word = as_enum(raw, key, self._words)
            before = memory.get(f"selftest:{key}")
            memory[f"selftest:{key}"] = word
            out.state["test_in_progress"] = word in self.running
            if before is None or before == word:
                continue
            if word in self.passed or word in self.failed:
                out.happenings.append(
                    Happening(EventType.SELF_TEST, {"passed": word in self.passed})
                )
            elif word in self.done:
                out.happenings.append(Happening(EventType.SELF_TEST))


def self_test_result(
    prop: str,
    *,
    running: Iterable[str] = (),
    passed: Iterable[str] = (),
    failed: Iterable[str] = (),
    done: Iterable[str] = (),
    idle: Iterable[str] = (),
    boolean: bool = False,
) -> SelfTestResult:
    return SelfTestResult(
        prop,
        tuple(running),
        tuple(passed),
        tuple(failed),
        tuple(done),
        tuple(idle),
        boolean,
    )


# --- momentary triggers -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trigger(Piece):
    """A momentary vendor signal (a button's ``action``) that raises a stateful event.

    It never clears the event: Zigbee2MQTT resets ``action`` to ``""`` right after a press,
    and that reset is not someone cancelling their call for help. Repeats within
    ``debounce_ms`` of the last trigger are one press (radios resend).
    """

    prop: str
    event: EventType
    words: tuple[str, ...] = ()
    debounce_ms: int = 2000
    #: Use the bridge's exposed action words (all but ``idle``) when it publishes them.
    from_exposes: bool = False
    idle: tuple[str, ...] = ("", "off", "release", "none", "stop")

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return (event_cap(self.event),)

    def _fired(self, key: str, raw: object, ctx: DecodeContext) -> bool:
        if not self.words:
            return bool(ctx.boolean(key, raw, key))
        text = as_text(raw, key)
        if not text:
            return False
        expose = ctx.exposes.get(key)
        if self.from_exposes and expose is not None and expose.values:
            return text in expose.values and text not in self.idle
        return text in self.words

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            if raw is None or not self._fired(key, raw, ctx):
                if not self.words:
                    memory[f"armed:{key}"] = True
                continue
            if not self.words and not memory.get(f"armed:{key}", True):
                continue  # a boolean still true from the last press
            memory[f"armed:{key}"] = False
            last = memory.get(f"fired:{key}")
            memory[f"fired:{key}"] = ctx.now_ms
            if isinstance(last, int) and 0 <= ctx.now_ms - last < self.debounce_ms:
                continue
            out.happenings.append(Happening(self.event))


def action_trigger(
    prop: str = "action",
    *,
    event: EventType = EventType.EMERGENCY_CALL,
    words: Iterable[str],
    debounce_ms: int = 2000,
    from_exposes: bool = False,
) -> Trigger:
    """An ``action`` word in ``words`` raises ``event``; other words are other buttons.

    With ``from_exposes``, a device whose bridge lists its action words (an SOS button of a
    model no definition names) triggers on any of them except idle words such as ``off``.
    """
    words = tuple(words)
    if not words:
        raise ValueError("action_trigger needs at least one word")
    return Trigger(prop, event, words, debounce_ms, from_exposes)


def boolean_trigger(
    prop: str, *, event: EventType = EventType.EMERGENCY_CALL, debounce_ms: int = 2000
) -> Trigger:
    """A boolean (``sos: true``) that raises ``event`` on each false-to-true change."""
    return Trigger(prop, event, (), debounce_ms)


@dataclass(frozen=True, slots=True)
class EventList(Piece):
    """A list of vendor event objects (Shelly Gen2 ``NotifyEvent``): each known word becomes
    a condition edge or a happening; unknown words are other components' business."""

    prop: str
    component: str
    conditions: Mapping[str, tuple[EventType, bool, str]] = field(default_factory=dict)
    happenings: Mapping[str, EventType] = field(default_factory=dict)

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        events = {e for e, _, _ in self.conditions.values()} | set(self.happenings.values())
        return tuple(event_cap(e) for e in sorted(events))

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for key, raw in matching(props, self.prop):
            if raw is None:
                continue
            if not isinstance(raw, list):
                raise AdapterError(f"{key}: expected a list of events")
            for item in raw:
                if not isinstance(item, dict):
                    raise AdapterError(f"{key}: every event must be a JSON object")
                component = as_text(item.get("component"), f"{key}.component") or ""
                word = as_text(item.get("event"), f"{key}.event")
                if word is None or not fnmatch.fnmatchcase(component, self.component):
                    continue
                if word in self.conditions:
                    event, active, source = self.conditions[word]
                    out.conditions.append(
                        Condition(event, source.format(component=component), active)
                    )
                elif word in self.happenings:
                    out.happenings.append(Happening(self.happenings[word]))


def event_list(
    prop: str,
    *,
    component: str = "*",
    conditions: Mapping[str, tuple[EventType, bool, str]] | None = None,
    happenings: Mapping[str, EventType] | None = None,
) -> EventList:
    return EventList(prop, component, dict(conditions or {}), dict(happenings or {}))


@dataclass(frozen=True, slots=True)
class Timestamp(Piece):
    """A payload timestamp (epoch s/ms or zoned ISO-8601) used as the messages' ``ts`` when
    plausible; otherwise the caller's clock stands."""

    prop: str

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.prop,)

    @property
    def exposes(self) -> tuple[Capability, ...]:
        return ()

    def convert(
        self, props: Mapping[str, Any], memory: Memory, out: Effects, ctx: DecodeContext
    ) -> None:
        for _key, raw in matching(props, self.prop):
            ts = timestamp_ms(raw, ctx.now_ms)
            if ts is not None:
                out.ts = ts


def timestamp(prop: str) -> Timestamp:
    return Timestamp(prop)
