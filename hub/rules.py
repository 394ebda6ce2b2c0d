"""Local life-safety rules: a table of "when this event, send that command to those devices".

They run inside the hub on its bus, so they work with the uplink down — a fire in the kitchen
must start the bedroom sounder whether or not the internet is up. Adding a rule is adding a
row to :data:`RULES`; the engine below interprets the table and has no rule-specific code.

Every action is logged and announced with a context whose parent is the triggering event's
context, so the audit trail says which smoke event started which sounder.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from devices.catalog import CommandName, DeviceKind, EventType
from devices.messages import Ack
from hub.core import BusEvent, Context, EventBus
from hub.events import DeviceEventFired, RuleTriggered

_LOG = logging.getLogger(__name__)


class Target(StrEnum):
    """Which devices a rule acts on, relative to the device that triggered it."""

    #: Every other connected device of the trigger's kind (e.g. all the other smoke alarms).
    OTHERS_OF_KIND = "others_of_kind"
    #: The triggering device itself (e.g. a gas detector closing its own valve).
    SELF = "self"


class Arg(StrEnum):
    """Command arguments a rule can fill in from its trigger."""

    SOURCE_DEVICE = "source_device"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    event: EventType
    #: Match the raise (True) or the clear (False) of a stateful event.
    active: bool
    command: CommandName
    target: Target
    args: tuple[Arg, ...] = ()


RULES: tuple[Rule, ...] = (
    Rule(
        "interconnect",
        EventType.SMOKE_ALARM,
        active=True,
        command=CommandName.INTERCONNECT_START,
        target=Target.OTHERS_OF_KIND,
        args=(Arg.SOURCE_DEVICE,),
    ),
    Rule(
        "interconnect_clear",
        EventType.SMOKE_ALARM,
        active=False,
        command=CommandName.INTERCONNECT_STOP,
        target=Target.OTHERS_OF_KIND,
    ),
    Rule(
        "gas_shutoff",
        EventType.GAS_ALARM,
        active=True,
        command=CommandName.CLOSE_VALVE,
        target=Target.SELF,
    ),
)


class Commander(Protocol):
    """What the rules need from the hub: who is connected, and a way to send a command."""

    def connected_devices(self) -> Sequence[tuple[str, DeviceKind]]: ...

    def command(
        self, device_id: str, command: CommandName, args: dict[str, Any], context: Context
    ) -> Awaitable[Ack]: ...


_ARG_VALUES: dict[Arg, Callable[[DeviceEventFired], Any]] = {
    Arg.SOURCE_DEVICE: lambda fired: fired.device.device_id,
}


def _targets(rule: Rule, fired: DeviceEventFired, commander: Commander) -> list[str]:
    source = fired.device
    if rule.target is Target.SELF:
        connected = {device_id for device_id, _ in commander.connected_devices()}
        return [source.device_id] if source.device_id in connected else []
    return [
        device_id
        for device_id, kind in commander.connected_devices()
        if kind == source.kind and device_id != source.device_id
    ]


class RuleEngine:
    def __init__(self, rules: Sequence[Rule], commander: Commander, bus: EventBus) -> None:
        self._rules = tuple(rules)
        self._commander = commander
        self._bus = bus
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = bus.subscribe(DeviceEventFired, self._on_event)

    def _on_event(self, event: BusEvent[DeviceEventFired]) -> None:
        fired = event.data
        for rule in self._rules:
            if rule.event != fired.event.event or rule.active != fired.event.active:
                continue
            args = {str(arg): _ARG_VALUES[arg](fired) for arg in rule.args}
            for target in _targets(rule, fired, self._commander):
                context = event.context.child()
                _LOG.info(
                    "rule %s: %s %s -> %s %s (context %s, parent %s)",
                    rule.name,
                    fired.device.device_id,
                    fired.event.event,
                    target,
                    rule.command,
                    context.id,
                    context.parent_id,
                )
                self._bus.fire(
                    RuleTriggered(rule.name, fired.device.device_id, target, rule.command, args),
                    context,
                )
                task = asyncio.get_running_loop().create_task(
                    self._act(rule, target, args, context), name=f"rule:{rule.name}:{target}"
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _act(self, rule: Rule, target: str, args: dict[str, Any], context: Context) -> None:
        ack = await self._commander.command(target, rule.command, args, context)
        if ack.ok:
            _LOG.info("rule %s: %s acknowledged %s", rule.name, target, rule.command)
        else:
            _LOG.error("rule %s: %s %s failed: %s", rule.name, target, rule.command, ack.error)

    async def stop(self) -> None:
        self._unsubscribe()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
