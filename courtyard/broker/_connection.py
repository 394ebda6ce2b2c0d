"""One client connection: the MQTT protocol state machine over a stream.

Each connection runs two tasks. The reader task (the ``asyncio.start_server``
callback) handles CONNECT, then decodes and answers packets until the client
leaves. The sender task writes queued deliveries from the session whenever it
is notified, so a slow subscriber only ever slows itself down: publishers
hand messages to the session queue and move on.

Every way a connection can end funnels into :meth:`Connection.run`'s
``finally`` block, which detaches the session and publishes the will unless
the client sent DISCONNECT, was taken over, or the broker is shutting down.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from ._auth import Authenticator
from ._core import BrokerCore
from ._packets import (
    PINGRESP,
    Ack,
    ConnackCode,
    Connect,
    Disconnect,
    Packet,
    PacketTooLargeError,
    PacketType,
    PingReq,
    ProtocolError,
    Publish,
    Subscribe,
    Unsubscribe,
    UnsupportedProtocolLevelError,
    decode_connect,
    decode_packet,
    encode_ack,
    encode_connack,
    encode_publish,
    encode_suback,
    encode_unsuback,
    read_packet,
)
from ._session import Message, Session

__all__ = ["Connection", "ConnectionSettings"]

_log = logging.getLogger("courtyard.broker")

#: Keepalive grace factor required by MQTT 3.1.1 section 3.1.2.10.
KEEPALIVE_FACTOR = 1.5


@dataclass(slots=True, frozen=True)
class ConnectionSettings:
    authenticator: Authenticator
    allow_anonymous: bool
    max_packet_size: int
    connect_timeout: float


class Connection:
    """Serves one network connection; implements the session ``Peer`` protocol."""

    __slots__ = (
        "_client_id",
        "_closing",
        "_core",
        "_counted",
        "_disconnected_cleanly",
        "_evicted",
        "_keepalive",
        "_label",
        "_reader",
        "_sender",
        "_session",
        "_settings",
        "_username",
        "_wake",
        "_will",
        "_writer",
    )

    def __init__(
        self,
        core: BrokerCore,
        settings: ConnectionSettings,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self._core = core
        self._settings = settings
        self._reader = reader
        self._writer = writer
        self._session: Session | None = None
        self._client_id = ""
        self._username: str | None = None
        self._will: Message | None = None
        self._keepalive = 0
        self._closing = False
        self._evicted = False
        self._disconnected_cleanly = False
        self._counted = False
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._label = f"connection from {writer.get_extra_info('peername')}"

    # -- Peer protocol -----------------------------------------------------

    def notify(self) -> None:
        self._wake.set()

    def evict(self) -> Message | None:
        will, self._will = self._will, None
        self._closing = True
        self._evicted = True
        self._wake.set()
        self._writer.transport.abort()
        return will

    # -- lifecycle control from the broker ----------------------------------

    def close(self) -> None:
        """Close gracefully (flushing what was written); used on shutdown."""
        self._closing = True
        self._wake.set()
        self._writer.close()

    def abort(self) -> None:
        self._closing = True
        self._writer.transport.abort()

    # -- main loop -----------------------------------------------------------

    async def run(self) -> None:
        stats = self._core.stats
        try:
            if self._core.stopping:
                return
            if await self._handshake():
                await self._serve()
        except asyncio.IncompleteReadError:
            _log.debug("%s: connection closed by peer", self._label)
        except TimeoutError:
            if self._session is None:
                _log.info(
                    "%s: no CONNECT within %.1f s", self._label, self._settings.connect_timeout
                )
            else:
                stats.keepalive_timeouts += 1
                _log.info("%s: keepalive of %d s expired", self._label, self._keepalive)
        except PacketTooLargeError as exc:
            stats.protocol_errors += 1
            _log.warning("%s: %s; closing connection", self._label, exc)
        except ProtocolError as exc:
            stats.protocol_errors += 1
            _log.info("%s: protocol error: %s; closing connection", self._label, exc)
        except OSError as exc:
            _log.debug("%s: connection error: %s", self._label, exc)
        except Exception:
            stats.internal_errors += 1
            _log.exception("%s: unexpected error; closing connection", self._label)
        finally:
            await self._teardown()

    async def _handshake(self) -> bool:
        settings = self._settings
        async with asyncio.timeout(settings.connect_timeout):
            first, body = await read_packet(self._reader, settings.max_packet_size)
        try:
            connect = decode_connect(first, body)
        except UnsupportedProtocolLevelError as exc:
            self._refuse(ConnackCode.UNACCEPTABLE_PROTOCOL_VERSION, str(exc))
            return False
        client_id = connect.client_id
        if not client_id:
            if not connect.clean_session:
                self._refuse(ConnackCode.IDENTIFIER_REJECTED, "empty client id needs clean session")
                return False
            client_id = f"auto-{secrets.token_hex(8)}"
        self._label = f"client {client_id!r}"
        code = self._authenticate(connect, client_id)
        if code is not ConnackCode.ACCEPTED:
            self._refuse(code, "authentication failed")
            return False
        will = connect.will
        if will is not None and not self._core.can_publish(connect.username, client_id, will.topic):
            self._core.stats.publishes_denied += 1
            self._refuse(ConnackCode.NOT_AUTHORIZED, f"will topic {will.topic!r} not permitted")
            return False

        self._client_id = client_id
        self._username = connect.username
        self._keepalive = connect.keepalive
        session, present = self._core.attach(client_id, connect.clean_session, self)
        self._session = session
        if will is not None:
            self._will = Message(will.topic, will.payload, will.qos, will.retain)
        self._core.stats.clients_connected += 1
        self._counted = True
        self._writer.write(encode_connack(present, ConnackCode.ACCEPTED))
        # MQTT 3.1.1 section 4.4: resend unacknowledged PUBLISHes, in order, with DUP set.
        for delivery in session.inflight.values():
            self._writer.write(
                encode_publish(
                    delivery.topic, delivery.payload, 1, delivery.retain, True, delivery.packet_id
                )
            )
            self._core.stats.messages_redelivered += 1
        _log.debug(
            "%s connected (clean=%s, session_present=%s, keepalive=%d, redelivered=%d)",
            self._label,
            connect.clean_session,
            present,
            connect.keepalive,
            len(session.inflight),
        )
        self._sender = asyncio.create_task(self._send_loop(session), name=f"mqtt-send-{client_id}")
        self.notify()
        await self._writer.drain()
        return True

    def _authenticate(self, connect: Connect, client_id: str) -> ConnackCode:
        if connect.username is None:
            if self._settings.allow_anonymous:
                return ConnackCode.ACCEPTED
            return ConnackCode.NOT_AUTHORIZED
        try:
            accepted = self._settings.authenticator.authenticate(
                client_id, connect.username, connect.password
            )
        except Exception:
            _log.exception("%s: authenticator raised; refusing", self._label)
            return ConnackCode.NOT_AUTHORIZED
        return ConnackCode.ACCEPTED if accepted is True else ConnackCode.BAD_USERNAME_OR_PASSWORD

    def _refuse(self, code: ConnackCode, reason: str) -> None:
        self._core.stats.connections_refused += 1
        _log.info("%s: refused with CONNACK %d (%s)", self._label, code, reason)
        self._writer.write(encode_connack(False, code))

    async def _serve(self) -> None:
        timeout = self._keepalive * KEEPALIVE_FACTOR if self._keepalive else None
        max_size = self._settings.max_packet_size
        while True:
            async with asyncio.timeout(timeout):
                first, body = await read_packet(self._reader, max_size)
            if self._closing:
                return
            packet = decode_packet(first, body)
            if isinstance(packet, Disconnect):
                self._disconnected_cleanly = True
                _log.debug("%s disconnected", self._label)
                return
            self._dispatch(packet)
            await self._writer.drain()

    def _dispatch(self, packet: Packet) -> None:
        session = self._session
        assert session is not None
        write = self._writer.write
        if isinstance(packet, Publish):
            self._on_publish(session, packet)
        elif isinstance(packet, Ack):
            if packet.kind is PacketType.PUBACK:
                if session.acknowledge(packet.packet_id):
                    self.notify()
                else:
                    _log.debug("%s: PUBACK for unknown id %d", self._label, packet.packet_id)
            elif packet.kind is PacketType.PUBREL:
                session.incoming_qos2.discard(packet.packet_id)
                write(encode_ack(PacketType.PUBCOMP, packet.packet_id))
            else:
                # The broker never sends QoS 2, so PUBREC/PUBCOMP can only be stale.
                _log.debug("%s: ignoring unexpected %s", self._label, packet.kind.name)
        elif isinstance(packet, Subscribe):
            codes = self._core.subscribe(session, self._username, packet.requests)
            write(encode_suback(packet.packet_id, codes))
        elif isinstance(packet, Unsubscribe):
            self._core.unsubscribe(session, packet.topic_filters)
            write(encode_unsuback(packet.packet_id))
        elif isinstance(packet, PingReq):
            write(PINGRESP)
        elif isinstance(packet, Connect):
            raise ProtocolError("second CONNECT on one connection")
        else:  # pragma: no cover - Disconnect is handled by the caller
            raise ProtocolError(f"unexpected packet {packet!r}")

    def _on_publish(self, session: Session, packet: Publish) -> None:
        write = self._writer.write
        if packet.qos == 2 and packet.packet_id in session.incoming_qos2:
            # Retransmission before PUBREL: acknowledge again, do not deliver twice.
            write(encode_ack(PacketType.PUBREC, packet.packet_id))
            return
        if self._core.can_publish(self._username, self._client_id, packet.topic):
            self._core.stats.messages_received += 1
            self._core.publish(Message(packet.topic, packet.payload, packet.qos, packet.retain))
        else:
            # Acknowledged anyway, as Mosquitto does: a 3.1.1 client has no way
            # to learn about the denial and would otherwise retry forever.
            self._core.stats.publishes_denied += 1
            _log.debug("%s: publish to %r denied by ACL", self._label, packet.topic)
        if packet.qos == 1:
            write(encode_ack(PacketType.PUBACK, packet.packet_id))
        elif packet.qos == 2:
            session.incoming_qos2.add(packet.packet_id)
            write(encode_ack(PacketType.PUBREC, packet.packet_id))

    async def _send_loop(self, session: Session) -> None:
        stats = self._core.stats
        writer = self._writer
        try:
            while not self._closing:
                await self._wake.wait()
                self._wake.clear()
                while not self._closing:
                    delivery = session.pop_next()
                    if delivery is None:
                        break
                    writer.write(
                        encode_publish(
                            delivery.topic,
                            delivery.payload,
                            delivery.qos,
                            delivery.retain,
                            False,
                            delivery.packet_id,
                        )
                    )
                    stats.messages_delivered += 1
                    await writer.drain()
        except OSError as exc:
            _log.debug("%s: send failed: %s", self._label, exc)
            writer.transport.abort()
        except Exception:
            stats.internal_errors += 1
            _log.exception("%s: unexpected error while sending", self._label)
            writer.transport.abort()

    async def _teardown(self) -> None:
        self._closing = True
        session = self._session
        if session is not None:
            publish_will = not (self._disconnected_cleanly or self._core.stopping)
            will, self._will = self._will, None
            self._core.detach(session, self, will if publish_will else None)
        if self._counted:
            self._core.stats.clients_connected -= 1
            self._counted = False
        if not self._evicted:
            self._writer.close()
        sender = self._sender
        if sender is not None:
            sender.cancel()
            await asyncio.wait([sender])
