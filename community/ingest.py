"""The community's MQTT side: receive hub records, and acknowledge only what is on disk.

paho-mqtt runs its network loop in its own thread. Its callbacks do nothing but hand each
message to the asyncio loop (``call_soon_threadsafe``); one consumer task takes them in
arrival order, runs the pipeline on the single writer thread, and only after the commit
sends the MQTT PUBACK (``manual_ack=True``) and the application ack the hub waits for. A
crash at any point before the commit leaves the message unacknowledged, so the broker (which
keeps our persistent session, ``clean_session=False``) and the hub both deliver it again;
after the commit a redelivery is a duplicate that is re-acknowledged, never re-processed.

The queue between the threads is not bounded here because the broker bounds it: it sends at
most its in-flight window of unacknowledged QoS 1 messages to one client.

A rejected message is acknowledged too (and counted, and logged in one line): it will never
become valid, and redelivering it forever would only block the messages behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from community.config import CommunityConfig
from community.pipeline import Outcome, Pipeline, Verdict, hub_from_topic
from community.store import HubChange
from devices.uplink import TOPIC_ROOT, topic_ack

log = logging.getLogger(__name__)

SUBSCRIPTIONS: Final = ((f"{TOPIC_ROOT}/+/up", 1), (f"{TOPIC_ROOT}/+/status", 1))
KEEPALIVE_S: Final = 30
Writer = Callable[..., Awaitable[Any]]


@dataclass(slots=True)
class IngestStats:
    """Counters since this process started (the stored history is in the database)."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    acked: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    #: Which broker connection delivered it; a PUBACK is only valid on that connection.
    connection: int


class MqttIngest:
    def __init__(
        self,
        config: CommunityConfig,
        pipeline: Pipeline,
        writer: Writer,
        on_outcome: Callable[[Outcome], None],
        on_hub: Callable[[HubChange], None],
    ) -> None:
        self._config = config
        self._pipeline = pipeline
        self._writer = writer
        self._on_outcome = on_outcome
        self._on_hub = on_hub
        self.stats = IngestStats()
        self._connection = 0
        self._subscribe_mid: int | None = None
        self._subscribed = False
        self._last_refusal: str | None = None
        self._queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"community-{config.community_id}",
            clean_session=False,
            manual_ack=True,
        )
        self._client.username_pw_set(config.mqtt_username, config.mqtt_password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client.on_socket_open = _no_delay
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected())

    @property
    def subscribed(self) -> bool:
        """Connected and the broker confirmed our subscriptions: records now flow in."""
        return self._subscribed and self.connected

    async def start(self) -> None:
        """Start connecting in the background; a broker that is down now is retried."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._consume(), name="community-ingest")
        self._client.connect_async(self._config.mqtt_host, self._config.mqtt_port, KEEPALIVE_S)
        self._client.loop_start()

    async def stop(self) -> None:
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # --- paho thread -----------------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: Any,
        properties: object,
    ) -> None:
        if reason.is_failure:
            text = str(reason)
            if text != self._last_refusal:
                log.error("broker refused the community's connection: %s", text)
                self._last_refusal = text
            return
        self._last_refusal = None
        self._connection += 1
        log.info("connected to the broker (session present: %s)", flags.session_present)
        self._subscribed = False
        _result, self._subscribe_mid = client.subscribe(list(SUBSCRIPTIONS))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[Any],
        properties: object,
    ) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("broker refused the community's subscriptions: %s", ", ".join(refused))
            return
        self._subscribed = True

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: Any,
        properties: object,
    ) -> None:
        self._subscribed = False
        if reason.is_failure:
            log.warning("lost the broker connection (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        item = Incoming(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._connection)
        loop = self._loop
        if loop is None:
            return
        # If the loop is shutting down the message stays unacknowledged and comes again.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

    # --- event loop ------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._handle(item)
            except Exception:
                log.exception(
                    "could not process a message on %r; left unacknowledged", item.topic[:160]
                )

    async def _handle(self, item: Incoming) -> None:
        if hub_from_topic(item.topic, "status") is not None:
            change = await self._writer(self._pipeline.handle_status, item.topic, item.payload)
            self._puback(item)
            if change is not None:
                self._on_hub(change)
            return
        self.stats.received += 1
        outcome: Outcome = await self._writer(self._pipeline.handle_up, item.topic, item.payload)
        if outcome.verdict is Verdict.REJECTED:
            self.stats.rejected += 1
            log.warning("rejected a message on %r: %s", item.topic[:160], outcome.reason)
            if outcome.hub_id:  # refused as a replay or for lack of consent: final
                self._app_ack(outcome.hub_id, outcome.seq)
        else:
            if outcome.verdict is Verdict.STORED:
                self.stats.stored += 1
            else:
                self.stats.duplicates += 1
            self._app_ack(outcome.hub_id, outcome.seq)
        self._puback(item)
        self._on_outcome(outcome)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish one QoS 1 message (a downlink command); False if paho refused it now."""
        info = self._client.publish(topic, payload, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def _app_ack(self, hub_id: str, seq: int) -> None:
        """Tell the hub the record is durable; paho queues it if the broker is away."""
        payload = json.dumps({"acked": [seq]}, separators=(",", ":"))
        self._client.publish(topic_ack(hub_id), payload, qos=1)
        self.stats.acked += 1

    def _puback(self, item: Incoming) -> None:
        # A message from an earlier connection is redelivered on the new one, and the
        # redelivery (a duplicate by then) is acknowledged instead.
        if item.qos > 0 and item.connection == self._connection:
            self._client.ack(item.mid, item.qos)


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Send each small alarm packet at once: with Nagle's algorithm on, a PUBLISH can wait
    ~40 ms for the peer's delayed ACK, which the latency benchmark showed as most of the
    end-to-end time against Mosquitto."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
