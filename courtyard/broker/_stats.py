"""Broker counters, kept in one place so ``Broker.stats()`` is a cheap snapshot."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["BrokerStats"]


@dataclass(slots=True)
class BrokerStats:
    #: Connections currently past a successful CONNACK.
    clients_connected: int = 0
    #: TCP/TLS connections accepted, including ones later refused.
    connections_total: int = 0
    #: CONNECTs answered with a non-zero CONNACK return code.
    connections_refused: int = 0
    #: Connections closed because of malformed, oversized or forbidden packets.
    protocol_errors: int = 0
    #: Connections closed because the keepalive expired.
    keepalive_timeouts: int = 0
    #: PUBLISH packets accepted from clients (QoS 2 duplicates not counted).
    messages_received: int = 0
    #: PUBLISH packets written to clients, first transmissions only.
    messages_delivered: int = 0
    #: QoS 1 PUBLISH packets resent with DUP after a reconnect.
    messages_redelivered: int = 0
    #: Deliveries discarded for any reason (sum of the two counters below).
    messages_dropped: int = 0
    #: Deliveries discarded because a session queue was full.
    messages_dropped_queue_full: int = 0
    #: QoS 0 deliveries discarded because the subscriber was offline.
    messages_dropped_offline_qos0: int = 0
    #: PUBLISH packets (and wills) the ACL refused.
    publishes_denied: int = 0
    #: Topic filters the ACL (or validation) refused with SUBACK 0x80.
    subscriptions_denied: int = 0
    #: Wills published.
    wills_published: int = 0
    #: Unexpected exceptions caught while serving a client (should stay 0).
    internal_errors: int = 0

    def snapshot(self) -> dict[str, int]:
        return asdict(self)
