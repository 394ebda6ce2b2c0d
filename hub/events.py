"""What the hub announces on its bus: one frozen payload class per kind of happening.

Listeners subscribe by class (``bus.subscribe(DeviceEventFired, ...)``), so a payload's fields
are checked by mypy at every listener instead of being looked up by string keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from devices.catalog import CommandName
from devices.messages import Ack, Event
from devices.uplink import DeviceInfo


class Origin(StrEnum):
    """Who produced an event: the device itself, or the hub speaking about the device."""

    DEVICE = "device"
    HUB = "hub"


@dataclass(frozen=True, slots=True)
class DeviceEventFired:
    """A device event is on disk (event log and, unless refused, the outbox)."""

    device: DeviceInfo
    event: Event
    origin: Origin
    #: The outbox row carrying it up; None when the outbox refused it (full of alarms).
    outbox_seq: int | None


@dataclass(frozen=True, slots=True)
class StateChanged:
    device_id: str
    changed: dict[str, Any]
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceConnected:
    device_id: str


@dataclass(frozen=True, slots=True)
class DeviceDisconnected:
    device_id: str


@dataclass(frozen=True, slots=True)
class RuleTriggered:
    """A local rule decided to act; fired with a context whose parent is the trigger's."""

    rule: str
    trigger_device: str
    target_device: str
    command: CommandName
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A command finished: the device's ack, or a hub-made failure (timeout, not connected)."""

    device_id: str
    command: CommandName
    ack: Ack


@dataclass(frozen=True, slots=True)
class UplinkConnected:
    pass


@dataclass(frozen=True, slots=True)
class UplinkDisconnected:
    pass


@dataclass(frozen=True, slots=True)
class UplinkDelivered:
    """The community acknowledged these outbox rows; they are deleted."""

    seqs: tuple[int, ...]
