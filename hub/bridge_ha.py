"""Home Assistant discovery for every Courtyard device, published to the home broker.

A resident who already runs Home Assistant sees each device (native or bridged) appear with
its alarm binary sensors and battery, in the room the hub knows. Everything is retained, so
Home Assistant finds it whenever it starts; on every (re)connect the whole picture is
published again (retained messages make that idempotent), and a removed device's entities
are deleted with empty retained payloads.

The messages themselves come from ``devices.adapters.ha_discovery`` / ``ha_state``; this
module only decides when to publish them.
"""

from __future__ import annotations

from collections.abc import Callable

from devices.adapters import ha_discovery, ha_remove, ha_state
from devices.adapters.homeassistant import default_topics
from devices.uplink import DeviceInfo
from hub.bridged import ActiveAlarms
from hub.core import StateMachine
from hub.registry import DeviceRegistry

#: ``publish(topic, payload, retain)``; False if it could not be queued (broker down).
Publish = Callable[[str, bytes, bool], bool]

ONLINE = b"online"
OFFLINE = b"offline"


class HomeAssistantMirror:
    def __init__(
        self,
        *,
        hub_id: str,
        prefix: str,
        registry: DeviceRegistry,
        states: StateMachine,
        alarms: ActiveAlarms,
        publish: Publish,
    ) -> None:
        self._hub_id = hub_id
        self._prefix = prefix
        self._registry = registry
        self._states = states
        self._alarms = alarms
        self._publish = publish
        #: What Home Assistant was last told about each device (to notice renames/removals).
        self._announced: dict[str, DeviceInfo] = {}

    def publish_all(self) -> None:
        """The broker (re)connected: configs, state and availability of every device."""
        self._announced.clear()
        for device in self._registry.all():
            self.device_changed(device.device_id)

    def device_changed(self, device_id: str) -> None:
        """Added, renamed, moved or removed: (re)publish its configs, or delete them."""
        if self._registry.get(device_id) is None:
            self._remove(device_id)
            return
        info = self._registry.info(device_id)
        if self._announced.get(device_id) != info:
            configs = ha_discovery(info, hub_id=self._hub_id, prefix=self._prefix)
            if not all(self._publish(topic, payload, True) for topic, payload in configs):
                return  # not connected: publish_all runs again on connect
            self._announced[device_id] = info
        self.state_changed(device_id)

    def state_changed(self, device_id: str) -> None:
        """Its state, alarms or liveness changed: the state and availability topics."""
        if device_id not in self._announced:
            if self._registry.get(device_id) is not None:
                self.device_changed(device_id)
            return
        info = self._announced[device_id]
        state = self._states.get(device_id)
        topics = default_topics(self._hub_id, device_id)
        payload = ha_state(info.kind, state.state, self._alarms.of(device_id))
        self._publish(topics.state, payload, True)
        self._publish(topics.availability, ONLINE if state.online else OFFLINE, True)

    def _remove(self, device_id: str) -> None:
        info = self._announced.pop(device_id, None)
        if info is None:
            return
        for topic, payload in ha_remove(info, hub_id=self._hub_id, prefix=self._prefix):
            self._publish(topic, payload, True)
        topics = default_topics(self._hub_id, device_id)
        self._publish(topics.state, b"", True)
        self._publish(topics.availability, b"", True)
