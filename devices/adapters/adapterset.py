"""A set of protocols and definitions: what one hub (or one CLI call) can decode."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from devices.adapters.definition import AdapterDefinition, Protocol

Adapter = Protocol | AdapterDefinition


@dataclass(slots=True)
class AdapterSet:
    """Protocols in the order they are tried, and each protocol's definitions in order.

    Definitions added later are tried *before* earlier ones of equal evidence, so a plugin's
    definition for a model overrides the built-in generic one.
    """

    protocols: dict[str, Protocol] = field(default_factory=dict)
    definitions: dict[str, list[AdapterDefinition]] = field(default_factory=dict)

    def add(self, item: Adapter) -> None:
        """Add one protocol or definition; raises ValueError if it does not fit."""
        if isinstance(item, Protocol):
            if item.name in self.protocols:
                raise ValueError(f"protocol {item.name!r} is already loaded")
            self.protocols[item.name] = item
            self.definitions.setdefault(item.name, [])
            return
        if not isinstance(item, AdapterDefinition):
            raise ValueError(f"{item!r} is neither a Protocol nor an AdapterDefinition")
        item.check()
        if item.protocol not in self.protocols:
            raise ValueError(f"{item.name}: unknown protocol {item.protocol!r}")
        if self.find(item.name) is not None:
            raise ValueError(f"adapter {item.name!r} is already loaded")
        self.definitions[item.protocol].insert(0, item)

    def extend(self, items: Iterable[Adapter]) -> AdapterSet:
        """Add a batch: its protocols first, then its definitions ahead of those already
        loaded, keeping the batch's own order (specific models before generic ones)."""
        batch = list(items)
        for item in batch:
            if isinstance(item, Protocol):
                self.add(item)
        for item in reversed(batch):
            if not isinstance(item, Protocol):
                self.add(item)
        return self

    def find(self, name: str) -> Adapter | None:
        if name in self.protocols:
            return self.protocols[name]
        for defs in self.definitions.values():
            for d in defs:
                if d.name == name:
                    return d
        return None

    def definitions_for(self, protocol: str) -> list[AdapterDefinition]:
        return list(self.definitions.get(protocol, ()))

    def with_params(self, protocol: str, **params: str) -> AdapterSet:
        """A copy with one protocol's parameters changed (e.g. Zigbee2MQTT's base topic)."""
        if protocol not in self.protocols:
            raise ValueError(f"unknown protocol {protocol!r}")
        protocols = dict(self.protocols)
        protocols[protocol] = protocols[protocol].with_params(**params)
        return AdapterSet(protocols, {k: list(v) for k, v in self.definitions.items()})

    def __iter__(self) -> Iterator[Adapter]:
        for name, proto in self.protocols.items():
            yield proto
            yield from self.definitions.get(name, ())

    def copy(self) -> AdapterSet:
        return dataclasses.replace(
            self,
            protocols=dict(self.protocols),
            definitions={k: list(v) for k, v in self.definitions.items()},
        )
