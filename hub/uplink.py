"""The uplink: carries outbox rows to the community over MQTT, and deletes them on its ack.

paho-mqtt runs its network loop in its own thread (``loop_start``); its callbacks only hand
facts to the event loop with ``call_soon_threadsafe``, and the event loop only queues
publishes (non-blocking in paho's threaded mode), so a slow or absent broker never stalls a
device link.

Delivery is at-least-once, end to end: a row is published (signed envelope, QoS 1) when it
is new, again after ``ack_timeout_s`` without the community's app ack, and again after every
reconnect. The community de-duplicates on ``hub_id:seq``. Order: alarms first (priority
rank), then by seq. The hub starts fine with the broker down; paho keeps reconnecting with an
exponential backoff, and the last will marks the hub offline if it dies without a goodbye.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from devices.uplink import topic_ack, topic_down, topic_status, topic_up
from hub.core import EventBus, now_ms
from hub.events import UplinkConnected, UplinkDelivered, UplinkDisconnected
from hub.outbox import Outbox
from privacy.envelope import seal

_LOG = logging.getLogger(__name__)

STATUS_ONLINE: Final = b'{"status":"online"}'
STATUS_OFFLINE: Final = b'{"status":"offline"}'
RECONNECT_MIN_S: Final = 1
RECONNECT_MAX_S: Final = 5
KEEPALIVE_S: Final = 30
BATCH: Final = 100
MAX_ACK_BYTES: Final = 64 * 1024
MAX_ACKED_SEQS: Final = 10_000


def parse_app_ack(payload: bytes) -> list[int] | None:
    """``{"acked": [seq, ...]}`` from the community, or None if it is not that."""
    if len(payload) > MAX_ACK_BYTES:
        return None
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    seqs = obj.get("acked") if isinstance(obj, dict) else None
    if not isinstance(seqs, list) or len(seqs) > MAX_ACKED_SEQS:
        return None
    if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in seqs):
        return None
    return seqs


class Uplink:
    def __init__(
        self,
        *,
        hub_id: str,
        host: str,
        port: int,
        password: str,
        key: Ed25519PrivateKey,
        outbox: Outbox,
        bus: EventBus,
        ack_timeout_s: float,
        on_down: Callable[[bytes], None] | None = None,
    ) -> None:
        self._hub_id = hub_id
        #: Receives each downlink payload on the event loop (see hub.downlink).
        self._on_down = on_down
        self._host = host
        self._port = port
        self._key = key
        self._outbox = outbox
        self._bus = bus
        self._ack_timeout_ms = int(ack_timeout_s * 1000)
        self._poll_s = min(max(ack_timeout_s / 4, 0.05), 1.0)
        self._connected = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=hub_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self._client.username_pw_set(hub_id, password)
        self._client.will_set(topic_status(hub_id), STATUS_OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client.on_socket_open = _no_delay
        self._client.on_connect = self._mqtt_connected
        self._client.on_disconnect = self._mqtt_disconnected
        self._client.on_message = self._mqtt_message

    @property
    def connected(self) -> bool:
        return self._connected

    def wake(self) -> None:
        """Something was added to the outbox: publish it now rather than at the next poll."""
        self._wake.set()

    # --- lifecycle (event loop) ------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self._host, self._port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        self._task = self._loop.create_task(self._run(), name="uplink")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._connected:
            # A graceful goodbye: the retained status says offline without waiting for the will.
            info = self._client.publish(topic_status(self._hub_id), STATUS_OFFLINE, 1, True)
            with contextlib.suppress(RuntimeError, ValueError):
                await asyncio.to_thread(info.wait_for_publish, 2.0)
        was_connected, self._connected = self._connected, False
        self._loop = None
        self._client.disconnect()
        if was_connected:
            await asyncio.to_thread(self._client.loop_stop)
        else:
            # paho's thread may be asleep in its reconnect backoff (up to 1 s per check); it
            # sees the stop flag when it wakes and never connects again, so don't wait for it.
            threading.Thread(target=self._client.loop_stop, daemon=True).start()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()
            if not self._connected:
                continue
            try:
                if self._flush():
                    self._wake.set()
            except Exception:
                _LOG.exception("uplink flush failed; retrying")

    def _flush(self) -> bool:
        """Publish due rows in order; True if there may be more due right now."""
        rows = self._outbox.next_batch(limit=BATCH, resend_after_ms=self._ack_timeout_ms)
        published: list[int] = []
        for row in rows:
            envelope = seal(self._hub_id, self._key, row.payload)
            info = self._client.publish(topic_up(self._hub_id), envelope, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            published.append(row.seq)
            if row.attempts:
                _LOG.info("uplink: resending seq %d (attempt %d)", row.seq, row.attempts + 1)
        if published:
            self._outbox.mark_sent(published, now_ms())
        return len(published) == BATCH

    # --- facts from paho's thread, handled on the loop -------------------------------------

    def _on_connected(self) -> None:
        self._connected = True
        _LOG.info("uplink connected to %s:%d", self._host, self._port)
        self._outbox.mark_all_due()
        self._bus.fire(UplinkConnected())
        self._wake.set()

    def _on_disconnected(self) -> None:
        if self._connected:
            _LOG.warning("uplink lost; outbox keeps %d record(s)", self._outbox.pending())
            self._bus.fire(UplinkDisconnected())
        self._connected = False

    def _on_acked(self, seqs: list[int]) -> None:
        deleted = self._outbox.ack(seqs)
        if deleted:
            self._bus.fire(UplinkDelivered(tuple(seqs)))

    # --- paho callbacks (paho's thread) ----------------------------------------------------

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(callback, *args)

    def _mqtt_connected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            _LOG.warning("uplink refused by the broker: %s", reason)
            return
        client.publish(topic_status(self._hub_id), STATUS_ONLINE, qos=1, retain=True)
        client.subscribe(topic_ack(self._hub_id), qos=1)
        if self._on_down is not None:
            client.subscribe(topic_down(self._hub_id), qos=1)
        self._to_loop(self._on_connected)

    def _mqtt_disconnected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._to_loop(self._on_disconnected)

    def _mqtt_message(self, client: mqtt.Client, userdata: Any, message: Any) -> None:
        if message.topic == topic_down(self._hub_id) and self._on_down is not None:
            self._to_loop(self._on_down, bytes(message.payload))
            return
        if message.topic != topic_ack(self._hub_id):
            return
        seqs = parse_app_ack(message.payload)
        if seqs is None:
            _LOG.warning("uplink: ignoring a malformed ack (%d bytes)", len(message.payload))
            return
        self._to_loop(self._on_acked, seqs)


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Send each small alarm packet at once: with Nagle's algorithm on, a PUBLISH can wait
    ~40 ms for the peer's delayed ACK, which the latency benchmark showed as most of the
    end-to-end time against Mosquitto."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
