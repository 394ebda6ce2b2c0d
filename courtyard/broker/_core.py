"""Routing and session bookkeeping, independent of sockets.

The core owns every session, the subscription index and the retained store.
Connections call into it; it never awaits, so each operation (attach a
client, route a publish, subscribe) is atomic with respect to the event loop
and no message can fall between two sessions' states.
"""

from __future__ import annotations

import logging

from ._acl import Acl
from ._packets import SUBACK_FAILURE
from ._retained import RetainedStore
from ._session import Message, Peer, Session
from ._stats import BrokerStats
from ._topics import SubscriptionTree, is_valid_topic_filter

__all__ = ["MAX_DELIVERY_QOS", "BrokerCore"]

_log = logging.getLogger("courtyard.broker")

#: Outbound QoS 2 is not implemented: subscriptions are granted at most QoS 1
#: and QoS 2 publishes are forwarded at QoS 1. For the alarm path that changes
#: nothing (consumers are idempotent and acknowledge end-to-end anyway).
MAX_DELIVERY_QOS = 1


class BrokerCore:
    __slots__ = (
        "_acl",
        "_max_inflight",
        "_queue_limit",
        "retained",
        "sessions",
        "stats",
        "stopping",
        "subscriptions",
    )

    def __init__(self, *, acl: Acl, queue_limit: int, max_inflight: int) -> None:
        self._acl = acl
        self._queue_limit = queue_limit
        self._max_inflight = max_inflight
        self.sessions: dict[str, Session] = {}
        self.subscriptions = SubscriptionTree()
        self.retained = RetainedStore()
        self.stats = BrokerStats()
        #: Set while the broker shuts down: connections then close without wills.
        self.stopping = False

    # -- authorisation -----------------------------------------------------

    def can_publish(self, username: str | None, client_id: str, topic: str) -> bool:
        try:
            return self._acl.can_publish(username, client_id, topic) is True
        except Exception:
            _log.exception("ACL can_publish raised; denying %r for %r", topic, client_id)
            return False

    def _can_subscribe(self, username: str | None, client_id: str, topic_filter: str) -> bool:
        try:
            return self._acl.can_subscribe(username, client_id, topic_filter) is True
        except Exception:
            _log.exception("ACL can_subscribe raised; denying %r for %r", topic_filter, client_id)
            return False

    # -- sessions ----------------------------------------------------------

    def attach(self, client_id: str, clean: bool, peer: Peer) -> tuple[Session, bool]:
        """Bind ``peer`` to the session for ``client_id``; returns (session, session_present).

        An existing connection with the same client id is disconnected first
        (MQTT 3.1.1 section 3.1.4). It never sent DISCONNECT, so its will is
        published. The stored session is resumed only if both the old and the
        new connection asked for a persistent session.
        """
        session = self.sessions.get(client_id)
        if session is not None and session.peer is not None:
            previous = session.peer
            session.peer = None
            _log.info("client %r connected again; closing its previous connection", client_id)
            will = previous.evict()
            if will is not None:
                self.publish_will(will)
        if session is not None and (clean or session.clean):
            self._discard(session)
            session = None
        present = session is not None
        if session is None:
            session = Session(
                client_id,
                clean=clean,
                queue_limit=self._queue_limit,
                max_inflight=self._max_inflight,
            )
            self.sessions[client_id] = session
        session.peer = peer
        return session, present

    def detach(self, session: Session, peer: Peer, will: Message | None) -> None:
        """The connection ``peer`` ended; publish ``will`` if it is given."""
        if session.peer is peer:
            session.peer = None
            if session.clean:
                self._discard(session)
            else:
                self._count_offline_drops(session.drop_qos0())
        if will is not None:
            self.publish_will(will)

    def _discard(self, session: Session) -> None:
        for topic_filter in session.subscriptions:
            self.subscriptions.remove(topic_filter, session.client_id)
        session.subscriptions.clear()
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def reset(self) -> None:
        """Forget all state (the broker is in-memory and was stopped)."""
        self.sessions.clear()
        self.subscriptions = SubscriptionTree()
        self.retained.clear()

    # -- routing -----------------------------------------------------------

    def publish(self, message: Message) -> None:
        """Route one application message to every matching session."""
        if message.retain:
            self.retained.update(message)
        for client_id, granted in self.subscriptions.match(message.topic).items():
            session = self.sessions[client_id]
            qos = min(message.qos, granted)
            self._deliver(session, message.topic, message.payload, qos, retain=False)

    def publish_will(self, will: Message) -> None:
        self.stats.wills_published += 1
        _log.debug("publishing will on %r", will.topic)
        self.publish(will)

    def _deliver(
        self, session: Session, topic: str, payload: bytes, qos: int, retain: bool
    ) -> None:
        if qos == 0 and not session.online:
            self._count_offline_drops(1)
            return
        dropped = session.enqueue(topic, payload, qos, retain)
        if dropped:
            self.stats.messages_dropped += dropped
            self.stats.messages_dropped_queue_full += dropped
        if session.peer is not None:
            session.peer.notify()

    def _count_offline_drops(self, count: int) -> None:
        self.stats.messages_dropped += count
        self.stats.messages_dropped_offline_qos0 += count

    # -- subscriptions -----------------------------------------------------

    def subscribe(
        self, session: Session, username: str | None, requests: tuple[tuple[str, int], ...]
    ) -> list[int]:
        """Apply a SUBSCRIBE; returns the SUBACK return codes.

        Retained messages matching the new filters are queued afterwards,
        each topic once at the highest QoS any of the filters grants.
        """
        codes: list[int] = []
        replay: dict[str, tuple[Message, int]] = {}
        client_id = session.client_id
        for topic_filter, requested in requests:
            if not is_valid_topic_filter(topic_filter) or not self._can_subscribe(
                username, client_id, topic_filter
            ):
                self.stats.subscriptions_denied += 1
                _log.debug("client %r: subscription to %r refused", client_id, topic_filter)
                codes.append(SUBACK_FAILURE)
                continue
            granted = min(requested, MAX_DELIVERY_QOS)
            session.subscriptions[topic_filter] = granted
            self.subscriptions.add(topic_filter, client_id, granted)
            codes.append(granted)
            for message in self.retained.matching(topic_filter):
                qos = min(message.qos, granted)
                previous = replay.get(message.topic)
                if previous is None or qos > previous[1]:
                    replay[message.topic] = (message, qos)
        for message, qos in replay.values():
            self._deliver(session, message.topic, message.payload, qos, retain=True)
        return codes

    def unsubscribe(self, session: Session, topic_filters: tuple[str, ...]) -> None:
        for topic_filter in topic_filters:
            if session.subscriptions.pop(topic_filter, None) is not None:
                self.subscriptions.remove(topic_filter, session.client_id)
