"""What an adapter is, as data.

Two shapes, both declarative:

- a :class:`Protocol` is one ecosystem's topic layout (Zigbee2MQTT, Shelly Gen1, Tasmota):
  a list of :class:`Route` rows, each a topic pattern and a reader that turns the payload into
  a :class:`Report` (a device's properties), an :class:`Availability`, an :class:`Inventory`
  (a bridge's device list) or :class:`Ignored`;
- an :class:`AdapterDefinition` is one kind of device within a protocol, like a
  zigbee-herdsman-converters definition: a :class:`Matcher` (model ids, device-name globs,
  exposed property names, action words), decoders (pieces), encoders and the resulting
  ``exposes``. Adding a device that resembles a known one is ``dataclasses.replace`` of a
  built-in definition with another name and model list.

Topic patterns use ``{name}`` for one topic level, ``{name+}`` for one or more levels, and
protocol parameters such as ``{base}`` (Zigbee2MQTT's configurable base topic).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from devices.adapters.errors import AdapterError
from devices.adapters.pieces import (
    Capability,
    CapabilityType,
    Expose,
    Piece,
    matching,
)
from devices.catalog import COMMANDS, KINDS, CommandName, DeviceKind, EventType, event_allowed
from devices.messages import Command

# --- what a route reads out of one message -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    """One device's properties, as a protocol read them from one message."""

    device: str
    props: Mapping[str, Any]
    #: A model id the message itself carries (legacy Zigbee2MQTT ``device.modelId``).
    model: str = ""
    #: The bridge's address of the device (IEEE address), when the message carries it.
    address: str = ""


@dataclass(frozen=True, slots=True)
class Availability:
    """A bridge's or device's own word that the device is online or offline."""

    device: str
    online: bool


@dataclass(frozen=True, slots=True)
class DeviceDescription:
    """What a bridge says about one device: names, model and exposed properties."""

    device: str
    model: str = ""
    model_id: str = ""
    vendor: str = ""
    description: str = ""
    address: str = ""
    exposes: tuple[Expose, ...] = ()


@dataclass(frozen=True, slots=True)
class Inventory:
    """A bridge's device list; ``complete`` means devices not in it are gone."""

    devices: tuple[DeviceDescription, ...]
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Ignored:
    """A topic of the protocol that carries nothing for the interop model."""

    reason: str


Routed = Report | Availability | Inventory | Ignored

#: A route's reader: the pattern's captures and the raw payload in, one routed value out.
Reader = Callable[[Mapping[str, str], bytes | str], Routed]


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str
    read: Reader
    description: str = ""


_PLACEHOLDER: Final = re.compile(r"\{([a-z_]+)(\+?)\}")


@lru_cache(maxsize=256)
def compile_pattern(pattern: str, params: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    """A topic pattern as a regex; protocol parameters are substituted literally."""
    values = dict(params)
    out, pos = [], 0
    for match in _PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[pos : match.start()]))
        name, many = match.group(1), match.group(2)
        if name in values:
            out.append(re.escape(values[name]))
        else:
            out.append(f"(?P<{name}>.+)" if many else f"(?P<{name}>[^/]+)")
        pos = match.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


def fill(template: str, params: Mapping[str, str]) -> str:
    """A topic template with its placeholders filled (unknown ones raise AdapterError)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise AdapterError(f"topic template {template!r} needs {{{name}}}")
        return params[name]

    return _PLACEHOLDER.sub(one, template)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching (``+`` one level, ``#`` the rest)."""
    want, have = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(want):
        if part == "#":
            return True
        if i >= len(have) or (part != "+" and part != have[i]):
            return False
    return len(want) == len(have)


@dataclass(frozen=True, slots=True)
class Protocol:
    """One ecosystem's topic layout; routes are tried in order, the first match wins."""

    name: str
    description: str
    routes: tuple[Route, ...]
    #: Topic filters a bridge subscribes to (with parameters filled in).
    subscriptions: tuple[str, ...]
    params: Mapping[str, str] = field(default_factory=dict)

    def with_params(self, **params: str) -> Protocol:
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError(f"{self.name} has no parameter {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, params={**self.params, **params})

    def route(self, topic: str) -> tuple[Route, dict[str, str]] | None:
        params = tuple(sorted(self.params.items()))
        for route in self.routes:
            match = compile_pattern(route.pattern, params).fullmatch(topic)
            if match is not None:
                return route, match.groupdict()
        return None

    def topic_filters(self) -> tuple[str, ...]:
        return tuple(fill(s, self.params) for s in self.subscriptions)


# --- which definition a device gets ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """Everything known about a device when choosing its definition."""

    name: str
    topic: str = ""
    model: str = ""
    model_id: str = ""
    description: str = ""
    exposes: Mapping[str, Expose] = field(default_factory=dict)
    props: Mapping[str, Any] = field(default_factory=dict)

    def knows(self, prop: str) -> bool:
        """The property is exposed by the bridge or present in this message."""
        return bool(matching(self.exposes, prop)) or bool(matching(self.props, prop))


@dataclass(frozen=True, slots=True)
class Matcher:
    """Which devices a definition is for. The strongest kind of evidence wins: a model id
    (3), a device-name glob (2), then exposed properties, action words or a description (1).
    A definition with no matcher entries never matches on its own."""

    models: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    #: property -> words; matches when the message or the exposed enum holds one of them.
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    #: MQTT topic filters the message's topic must match (narrows, never matches alone).
    topics: tuple[str, ...] = ()

    def score(self, facts: DeviceFacts) -> int:
        if self.topics and not any(topic_matches(t, facts.topic) for t in self.topics):
            return 0
        if self.models and (facts.model in self.models or facts.model_id in self.models):
            return 3
        if any(fnmatch.fnmatchcase(facts.name, glob) for glob in self.names):
            return 2
        if any(facts.knows(p) for p in self.properties):
            return 1
        for prop, words in self.values.items():
            seen = facts.props.get(prop)
            expose = facts.exposes.get(prop)
            if (isinstance(seen, str) and seen in words) or (
                expose is not None and set(expose.values) & set(words)
            ):
                return 1
        if self.description and re.search(self.description, facts.description, re.IGNORECASE):
            return 1
        return 0


# --- commands -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outbound:
    """One MQTT publish an encoder asks for."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


#: Builds a vendor payload: a mapping or list becomes JSON, text is sent as UTF-8.
PayloadBuilder = Callable[[Command, DeviceFacts], Any]
Payload = Mapping[str, Any] | str | bytes | PayloadBuilder


def payload_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class CommandEncoder:
    """How one interop command is said in the vendor's words.

    ``requires`` names a vendor property the device must have (writable, when the bridge
    publishes access bits), so ``silence`` goes only to alarms that can be silenced.
    ``echo`` is what the device publishes once it carried the command out, and ``confirms``
    the interop state that echo must decode to: the conformance kit round-trips the pair.
    """

    command: CommandName
    topic: str
    payload: Payload
    requires: str = ""
    echo: tuple[str, Mapping[str, Any] | str] | None = None
    confirms: Mapping[str, Any] = field(default_factory=dict)

    def applies(self, facts: DeviceFacts) -> bool:
        if not self.requires:
            return True
        expose = facts.exposes.get(self.requires)
        if expose is not None:
            return expose.writable
        return facts.knows(self.requires)

    def build(self, command: Command, facts: DeviceFacts, params: Mapping[str, str]) -> Outbound:
        topic = fill(self.topic, {**params, "device": facts.name})
        value = self.payload(command, facts) if callable(self.payload) else self.payload
        return Outbound(topic, payload_bytes(value))


# --- the definition -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdapterDefinition:
    """One kind of device in one protocol: how to recognise it, read it and command it."""

    name: str
    vendor: str
    protocol: str
    kind: DeviceKind
    matcher: Matcher
    decoders: tuple[Piece, ...]
    encoders: tuple[CommandEncoder, ...] = ()
    description: str = ""

    @property
    def exposes(self) -> tuple[Capability, ...]:
        """What this definition can report and do, in interop names (deduplicated)."""
        fields = KINDS[self.kind].fields_by_name
        seen: dict[str, Capability] = {}
        for piece in self.decoders:
            for cap in piece.exposes:
                if cap.type is CapabilityType.STATE and cap.name not in fields:
                    continue  # a shared piece's field this kind does not have
                if cap.type is CapabilityType.EVENT and not event_allowed(
                    self.kind, EventType(cap.name)
                ):
                    continue
                seen.setdefault(str(cap), cap)
        for enc in self.encoders:
            cap = Capability(CapabilityType.COMMAND, str(enc.command))
            seen.setdefault(str(cap), cap)
        return tuple(seen.values())

    def check(self) -> None:
        """Refuse a definition that could never produce valid messages (raises ValueError)."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", self.name):
            raise ValueError(f"adapter name {self.name!r} must be lower-case [a-z0-9_.-]")
        if not isinstance(self.kind, DeviceKind):
            raise ValueError(f"{self.name}: kind must be a DeviceKind")
        for piece in self.decoders:
            if not isinstance(piece, Piece):
                raise ValueError(f"{self.name}: decoder {piece!r} is not a Piece")
        for enc in self.encoders:
            if self.kind not in COMMANDS[enc.command].kinds:
                raise ValueError(f"{self.name}: a {self.kind} does not take {enc.command}")

    def with_models(self, name: str, *models: str, vendor: str = "") -> AdapterDefinition:
        """This definition under another name for more model ids (a look-alike device)."""
        return dataclasses.replace(
            self,
            name=name,
            vendor=vendor or self.vendor,
            # Only the models: a look-alike must not compete with its generic original.
            matcher=Matcher(models=tuple(models)),
        )

    def extended(self, *decoders: Piece, name: str = "") -> AdapterDefinition:
        """This definition with more decoder pieces (read first, so they take precedence)."""
        return dataclasses.replace(
            self, name=name or self.name, decoders=(*decoders, *self.decoders)
        )
