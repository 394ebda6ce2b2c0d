"""The listening socket and the lifecycle of all connections."""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from types import TracebackType

from ._acl import Acl
from ._auth import Authenticator
from ._connection import Connection, ConnectionSettings
from ._core import BrokerCore

__all__ = ["DEFAULT_MAX_PACKET_SIZE", "Broker"]

_log = logging.getLogger("courtyard.broker")

DEFAULT_MAX_PACKET_SIZE = 256 * 1024
DEFAULT_SESSION_QUEUE_LIMIT = 10_000
DEFAULT_MAX_INFLIGHT = 100
DEFAULT_CONNECT_TIMEOUT = 10.0
#: How long stop() lets connections flush before cutting them off.
_STOP_GRACE = 2.0
#: Smallest useful limit: a CONNECT with a short client id and credentials.
_MIN_PACKET_SIZE = 64


class Broker:
    """An in-process MQTT 3.1.1 broker; see the package docstring for scope.

    :param host: address to bind; loopback by default so a demo never
        exposes itself to the network by accident.
    :param port: TCP port; 0 picks a free one, readable from :attr:`port`
        after :meth:`start`.
    :param authenticator: checks CONNECT credentials. Required: there is no
        built-in user or password.
    :param acl: topic authorisation. Required: pass :class:`AllowAllAcl`
        explicitly to opt out.
    :param allow_anonymous: accept CONNECTs without a username (they still
        face the ACL as username ``None``).
    :param max_packet_size: largest accepted packet in bytes, fixed header
        included; a bigger one closes that connection.
    :param session_queue_limit: per-session bound on queued (not yet sent)
        messages; see the package docstring for what is dropped first.
    :param max_inflight: unacknowledged QoS 1 messages per client before
        further deliveries wait.
    :param connect_timeout: seconds a new connection has to send CONNECT.
    :param ssl: server-side TLS context, handed to ``asyncio.start_server``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        authenticator: Authenticator,
        acl: Acl,
        allow_anonymous: bool = False,
        max_packet_size: int = DEFAULT_MAX_PACKET_SIZE,
        session_queue_limit: int = DEFAULT_SESSION_QUEUE_LIMIT,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        ssl: _ssl.SSLContext | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port}")
        if max_packet_size < _MIN_PACKET_SIZE:
            raise ValueError(f"max_packet_size must be at least {_MIN_PACKET_SIZE}")
        if session_queue_limit < 1:
            raise ValueError("session_queue_limit must be at least 1")
        if not 1 <= max_inflight <= 65535:
            raise ValueError("max_inflight must be between 1 and 65535")
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        self._host = host
        self._requested_port = port
        self._ssl = ssl
        self._core = BrokerCore(acl=acl, queue_limit=session_queue_limit, max_inflight=max_inflight)
        self._settings = ConnectionSettings(
            authenticator=authenticator,
            allow_anonymous=allow_anonymous,
            max_packet_size=max_packet_size,
            connect_timeout=connect_timeout,
        )
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._connections: set[Connection] = set()
        self._handlers: set[asyncio.Task[object]] = set()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``); only valid once started."""
        if self._port is None:
            raise RuntimeError("broker is not running")
        return self._port

    @property
    def running(self) -> bool:
        return self._server is not None

    def stats(self) -> dict[str, int]:
        """A snapshot of the broker's counters and gauges."""
        snapshot = self._core.stats.snapshot()
        snapshot["sessions"] = len(self._core.sessions)
        snapshot["subscriptions"] = len(self._core.subscriptions)
        snapshot["retained_messages"] = len(self._core.retained)
        snapshot["messages_queued"] = sum(s.queued for s in self._core.sessions.values())
        snapshot["messages_inflight"] = sum(len(s.inflight) for s in self._core.sessions.values())
        return snapshot

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("broker already started")
        self._core.stopping = False
        self._server = await asyncio.start_server(
            self._on_client, self._host, self._requested_port, ssl=self._ssl
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        _log.info(
            "MQTT broker listening on %s:%d%s",
            self._host,
            self._port,
            " (TLS)" if self._ssl else "",
        )

    async def stop(self) -> None:
        """Close the listener and every connection; state is discarded.

        Wills are not published: the clients did nothing wrong.
        """
        server = self._server
        if server is None:
            return
        self._server = None
        self._core.stopping = True
        server.close()
        for connection in list(self._connections):
            connection.close()
        pending = set(self._handlers)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=_STOP_GRACE)
        if pending:
            for connection in list(self._connections):
                connection.abort()
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=_STOP_GRACE)
        await server.wait_closed()
        self._core.reset()
        self._port = None
        _log.info("MQTT broker stopped")

    async def __aenter__(self) -> Broker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        connection = Connection(self._core, self._settings, reader, writer)
        self._connections.add(connection)
        if task is not None:
            self._handlers.add(task)
        self._core.stats.connections_total += 1
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
            if task is not None:
                self._handlers.discard(task)
