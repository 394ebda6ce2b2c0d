"""The home bridge: the resident's own MQTT broker (Zigbee2MQTT, Shelly, Tasmota) into the hub.

Homes already have life-safety devices on a broker of their own. The bridge is one more
client there, separate from the community uplink: it subscribes to what the loaded adapters
understand, decodes each vendor message with one :class:`~devices.adapters.AdapterSession`,
and hands every resulting interop message to :meth:`hub.intake.Intake.accept` — the same
verdict, commit (event log + outbox in one transaction) and announcement as a native device's
report, so a bridged smoke alarm reaches the community and triggers the local rules like any
other. Commands for bridged devices go back out through the adapters' encoders.

Threads: paho runs its network loop in its own thread, as in :mod:`hub.uplink`; its callbacks
only hand messages to the event loop, which does all decoding and storage. A bounded number of
messages may wait there; beyond that paho's thread waits, so a flood from the home broker
slows the TCP connection instead of growing memory. The hub starts fine with the home broker
down; paho reconnects with an exponential backoff (1 s doubling to 30 s). The session is
persistent and subscribed at QoS 1, so the home broker keeps for the hub what was published
at QoS 1 while it was away (Zigbee2MQTT publishes at QoS 0 unless configured otherwise).

Alarm edges live in the adapter session's memory, which a restart empties; the hub's event
log does not forget, so :meth:`HomeBridge._reconcile` clears an alarm the log holds active as
soon as the device's next report says it is over.

Bad vendor payloads raise :class:`~devices.adapters.AdapterError`: one log line per topic per
minute, nothing changes, and the bridge carries on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from devices.adapters import AdapterError, AdapterSession, load_adapters
from devices.catalog import CommandName, DeviceKind
from devices.messages import Ack, Command, DeviceReport, Event
from hub.bridge_config import HomeMqttConfig
from hub.bridge_ha import HomeAssistantMirror
from hub.bridged import ActiveAlarms, BridgedDevices, NotBridgeableError, VendorDevice
from hub.config import ConfigError
from hub.core import BusEvent, EventBus, StateMachine, now_ms
from hub.events import DeviceEventFired, StateChanged
from hub.intake import Intake, Verdict
from hub.registry import DeviceRegistry
from hub.resident_events import DeviceChanged, DeviceRemoved
from hub.store import Store

_LOG = logging.getLogger(__name__)

RECONNECT_MIN_S: Final = 1
RECONNECT_MAX_S: Final = 30
KEEPALIVE_S: Final = 30
#: Messages handed to the event loop and not yet handled, before paho's thread waits.
MAX_IN_FLIGHT: Final = 1000
#: A Zigbee2MQTT ``bridge/devices`` list of a large network is a few hundred KiB.
MAX_PAYLOAD_BYTES: Final = 4 * 1024 * 1024
#: One complaint per topic per this many seconds; at most this many topics remembered.
COMPLAINT_EVERY_S: Final = 60.0
MAX_COMPLAINT_KEYS: Final = 1024


class BridgeConfigError(ConfigError):
    """The ``home_mqtt`` settings do not fit the loaded adapters (unknown protocol or param)."""


@dataclass(slots=True)
class BridgeStats:
    """Counters for operators and tests; read from any thread."""

    received: int = 0
    handled: int = 0
    refused: int = 0
    reports: int = 0


class Complaints:
    """Rate-limited log lines, one key (a topic, a device) at a time."""

    def __init__(self, every_s: float = COMPLAINT_EVERY_S) -> None:
        self._every_s = every_s
        self._last: dict[str, tuple[float, int]] = {}

    def warn(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last[0] < self._every_s:
            self._last[key] = (last[0], last[1] + 1)
            return
        suppressed = last[1] if last is not None else 0
        self._last.pop(key, None)
        if len(self._last) >= MAX_COMPLAINT_KEYS:
            self._last.pop(next(iter(self._last)))
        self._last[key] = (now, 0)
        if suppressed:
            _LOG.warning(message + " (%d similar suppressed)", *args, suppressed)
        else:
            _LOG.warning(message, *args)


class HomeBridge:
    def __init__(
        self,
        *,
        hub_id: str,
        config: HomeMqttConfig,
        store: Store,
        registry: DeviceRegistry,
        states: StateMachine,
        intake: Intake,
        bus: EventBus,
    ) -> None:
        """Load the adapters and prepare the client; raises BridgeConfigError for bad params."""
        self._hub_id = hub_id
        self._config = config
        self._registry = registry
        self._states = states
        self._intake = intake
        self._bus = bus
        adapters, loaded = load_adapters(folder=config.adapter_folder)
        for problem in loaded.problems:
            _LOG.error("adapter %s skipped: %s", problem.source, problem.reason)
        for protocol, params in config.params.items():
            try:
                adapters = adapters.with_params(protocol, **params)
            except ValueError as exc:
                raise BridgeConfigError(f"home_mqtt.params: {exc}") from None
        self._session = AdapterSession(adapters)
        self._bridged = BridgedDevices(store, registry, states)
        self._alarms = ActiveAlarms(store)
        self._complaints = Complaints()
        self._connect_complaints = Complaints()  # used from paho's thread only
        self.stats = BridgeStats()
        self._ha = (
            HomeAssistantMirror(
                hub_id=hub_id,
                prefix=config.ha_prefix,
                registry=registry,
                states=states,
                alarms=self._alarms,
                publish=self._publish,
            )
            if config.publish_ha_discovery
            else None
        )
        self._own_prefixes = (f"{config.ha_prefix}/", "courtyard/")
        self._connected = False
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"courtyard-{hub_id}",
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        if config.username:
            self._client.username_pw_set(config.username, config.password or None)
        self._client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client.on_connect = self._mqtt_connected
        self._client.on_disconnect = self._mqtt_disconnected
        self._client.on_message = self._mqtt_message
        self._client.on_subscribe = self._mqtt_subscribed
        self._client.on_connect_fail = self._mqtt_connect_failed

    # --- views ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Connected to the home broker and subscribed (the broker confirmed)."""
        return self._connected

    @property
    def session(self) -> AdapterSession:
        return self._session

    def is_bridged(self, device_id: str) -> bool:
        return self._bridged.is_bridged(device_id)

    def reachable(self) -> list[tuple[str, DeviceKind]]:
        """Bridged devices a command could reach now (broker up, device not offline)."""
        if not self._connected:
            return []
        found = (self._registry.get(d) for d in self._bridged.ids())
        return [
            (d.device_id, d.kind)
            for d in found
            if d is not None and self._states.get(d.device_id).online
        ]

    # --- lifecycle (event loop) ------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._unsubscribe = [
            self._bus.subscribe(DeviceEventFired, self._on_device_event),
            self._bus.subscribe(StateChanged, self._on_state_changed),
            self._bus.subscribe(DeviceChanged, self._on_device_changed),
            self._bus.subscribe(DeviceRemoved, self._on_device_removed),
        ]
        self._client.connect_async(self._config.host, self._config.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        _LOG.info(
            "home bridge: connecting to %s:%d (%d adapter topic filters)",
            self._config.host,
            self._config.port,
            len(self._session.subscriptions()),
        )

    async def stop(self) -> None:
        """Stop taking messages (those already handed to the loop are still handled while
        the hub stops), then say goodbye to the home broker."""
        self._stopping.set()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        was_connected, self._connected = self._connected, False
        self._loop = None
        self._client.disconnect()
        if was_connected:
            await asyncio.to_thread(self._client.loop_stop)
        else:
            # paho's thread may be asleep in its reconnect backoff; it sees the stop flag
            # when it wakes and never connects again, so don't wait for it.
            threading.Thread(target=self._client.loop_stop, daemon=True).start()

    # --- vendor messages (event loop) ------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            self._handle(topic, payload)
        except Exception:
            _LOG.exception("home bridge: message on %r not handled", topic[:120])
        finally:
            self.stats.handled += 1
            self._slots.release()

    def _handle(self, topic: str, payload: bytes) -> None:
        if topic.startswith(self._own_prefixes):
            return
        if len(payload) > MAX_PAYLOAD_BYTES:
            self._refuse(topic, f"payload of {len(payload)} bytes is too large")
            return
        try:
            messages = self._session.decode(
                topic, payload, now_ms=now_ms(), seq=self._bridged.next_seq
            )
        except AdapterError as exc:
            self._refuse(topic, exc.reason)
            return
        for message in messages:
            self._ingest(message)
        for device_id in {m.device_id for m in messages}:
            self._reconcile(device_id, messages)

    def _refuse(self, topic: str, reason: str) -> None:
        self.stats.refused += 1
        self._complaints.warn(topic, "home bridge: cannot decode %r: %s", topic[:120], reason)

    def _ingest(self, message: DeviceReport) -> None:
        """One decoded message through the hub's one intake path."""
        state = self._session.state_of(message.device_id)
        vendor = VendorDevice(
            device_id=message.device_id,
            kind=message.kind,
            protocol=state.protocol if state else "",
            vendor_name=state.name if state else message.device_id,
            adapter=state.definition if state else "",
        )
        try:
            device = self._bridged.device(vendor)
        except NotBridgeableError as exc:
            self._complaints.warn(message.device_id, "home bridge: ignoring %s", exc)
            return
        try:
            verdict = self._intake.accept(device, message)
        except Exception as exc:
            # A vendor device never resends: this report is lost, and that must be loud.
            _LOG.error(
                "home bridge: %s %s seq %d NOT stored: %s",
                message.device_id,
                message.type,
                message.seq,
                exc,
            )
            return
        if verdict is not Verdict.FRESH:
            _LOG.error(
                "home bridge: %s seq %d is a %s; dropped", message.device_id, message.seq, verdict
            )
            return
        self.stats.reports += 1

    def _reconcile(self, device_id: str, emitted: list[DeviceReport]) -> None:
        """Clear alarms the hub holds active that the adapter now positively knows are over.

        The adapter session remembers alarm edges in memory only: after a hub restart, a
        smoke detector's ``smoke: false`` is not an edge to it, while the hub's event log still
        holds ``smoke_alarm`` active. When the session has seen the condition's source and
        finds it inactive, the hub clears the alarm itself, through the same intake path.
        """
        state = self._session.state_of(device_id)
        device = self._registry.get(device_id)
        if state is None or state.kind is None or device is None:
            return
        if not self._bridged.is_bridged(device_id):
            return
        said = {m.event for m in emitted if isinstance(m, Event) and m.device_id == device_id}
        held = self._alarms.of(device_id)
        for event, sources in state.active.items():
            if sources or event not in held or event in said:
                continue
            clear = Event(
                device_id, state.kind, self._bridged.next_seq(device_id), now_ms(), event, False
            )
            _LOG.info("home bridge: %s %s is over (reconciled)", device_id, event)
            self._ingest(clear)

    # --- commands ------------------------------------------------------------------------

    async def send_command(
        self, device_id: str, command: CommandName, args: dict[str, Any], wait_s: float
    ) -> Ack:
        """Encode a command with the device's adapter and publish it to the home broker.

        ``ok=True`` means the home broker accepted every publish (QoS 1): vendor devices have
        no command ack; their state reports show the effect. Failures: "not_connected",
        "unsupported" (the adapter cannot express it), "timeout".
        """
        command_id = uuid.uuid4().hex
        if not self._connected:
            return Ack(ref=command_id, ok=False, error="not_connected")
        try:
            outbound = self._session.encode(Command(device_id, command_id, command, args))
        except AdapterError as exc:
            _LOG.info("home bridge: %s %s: %s", device_id, command, exc.reason)
            return Ack(ref=command_id, ok=False, error="unsupported")
        infos = [
            self._client.publish(o.topic, o.payload, qos=o.qos, retain=o.retain) for o in outbound
        ]
        deadline = time.monotonic() + wait_s
        for info in infos:
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return Ack(ref=command_id, ok=False, error="not_connected")
            remaining = max(deadline - time.monotonic(), 0.0)
            try:
                await asyncio.to_thread(info.wait_for_publish, remaining)
            except (RuntimeError, ValueError):
                return Ack(ref=command_id, ok=False, error="not_connected")
            if not info.is_published():
                return Ack(ref=command_id, ok=False, error="timeout")
        _LOG.info("home bridge: %s sent to %s", command, device_id)
        return Ack(ref=command_id, ok=True)

    # --- bus (event loop): alarm view and Home Assistant -------------------------------------

    def _on_device_event(self, event: BusEvent[DeviceEventFired]) -> None:
        fired = event.data
        self._alarms.note(fired.device.device_id, fired.event.event, fired.event.active)
        if self._ha is not None:
            self._ha.state_changed(fired.device.device_id)

    def _on_state_changed(self, event: BusEvent[StateChanged]) -> None:
        if self._ha is not None:
            self._ha.state_changed(event.data.device_id)

    def _on_device_changed(self, event: BusEvent[DeviceChanged]) -> None:
        if self._ha is not None:
            self._ha.device_changed(event.data.device_id)

    def _on_device_removed(self, event: BusEvent[DeviceRemoved]) -> None:
        self._alarms.forget(event.data.device_id)
        if self._ha is not None:
            self._ha.device_changed(event.data.device_id)

    def _publish(self, topic: str, payload: bytes, retain: bool) -> bool:
        if not self._connected:
            return False
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    # --- facts from paho's thread, handled on the loop ---------------------------------------

    def _on_connected(self) -> None:
        self._connected = True
        _LOG.info("home bridge connected to %s:%d", self._config.host, self._config.port)
        if self._ha is not None:
            self._ha.publish_all()

    def _on_disconnected(self) -> None:
        if self._connected:
            _LOG.warning("home bridge: lost the home broker; reconnecting")
        self._connected = False

    # --- paho callbacks (paho's thread) ------------------------------------------------------

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> bool:
        loop = self._loop
        if loop is None:
            return False
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closing
            return False
        return True

    def _mqtt_connected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            _LOG.warning("home bridge: refused by the home broker: %s", reason)
            return
        filters = self._session.subscriptions()
        if filters:
            client.subscribe([(f, 1) for f in filters])  # connected once the broker confirms
        else:
            self._to_loop(self._on_connected)

    def _mqtt_subscribed(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        self._to_loop(self._on_connected)

    def _mqtt_connect_failed(self, client: mqtt.Client, userdata: Any) -> None:
        self._connect_complaints.warn(
            "connect",
            "home bridge: cannot reach the home broker at %s:%d; retrying",
            self._config.host,
            self._config.port,
        )

    def _mqtt_disconnected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._to_loop(self._on_disconnected)

    def _mqtt_message(self, client: mqtt.Client, userdata: Any, message: Any) -> None:
        try:
            topic, payload = str(message.topic), bytes(message.payload)
        except UnicodeDecodeError:
            return  # not a valid MQTT topic; nothing could route it
        while not self._slots.acquire(timeout=0.5):
            if self._stopping.is_set():
                return
        self.stats.received += 1
        if self._stopping.is_set() or not self._to_loop(self._on_message, topic, payload):
            self.stats.received -= 1
            self._slots.release()
