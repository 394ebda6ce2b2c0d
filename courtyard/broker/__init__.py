"""An embedded, pure-Python asyncio MQTT 3.1.1 broker.

``courtyard demo`` runs this broker in-process so the demo needs no system
services; production deployments use Mosquitto. It speaks MQTT 3.1.1
(protocol level 4, and 3.1 "MQIsdp" level 3) well enough for unmodified
paho-mqtt clients::

    broker = Broker(
        authenticator=PasswordAuthenticator({"hub-17": secret}),
        acl=PatternAcl(["pattern readwrite courtyard/v1/hub/%u/#"]),
    )
    async with broker:
        print(broker.port)

What it does:

* CONNECT with username/password checked by an explicit :class:`Authenticator`
  (CONNACK 4 for bad credentials, 5 when credentials are missing and
  ``allow_anonymous`` is off, which is the default).
* Topic authorisation by an explicit :class:`Acl`. A refused subscription gets
  SUBACK 0x80; a refused publish is acknowledged and discarded, as Mosquitto
  does. A will whose topic the client may not publish to refuses the CONNECT.
* QoS 0 and 1 in both directions. QoS 2 publishes from clients complete the
  PUBREC/PUBREL/PUBCOMP handshake and are delivered once; outbound delivery is
  capped at QoS 1 (subscriptions are granted at most QoS 1).
* ``+``/``#`` wildcards (not matching ``$`` topics at the first level);
  overlapping subscriptions deliver once at the highest granted QoS.
* Retained messages, last wills (with QoS and retain), keepalive enforcement
  at 1.5x the client's interval.
* Persistent sessions (``clean_session=False``): subscriptions survive, QoS 1
  messages queue while the client is offline (QoS 0 ones are dropped), and
  unacknowledged QoS 1 messages are resent with DUP on reconnect. Each session
  queue is bounded (``session_queue_limit``); when full the oldest QoS 0
  message is dropped first, then the oldest QoS 1, with a warning and a
  counter. At most ``max_inflight`` QoS 1 messages per client are
  unacknowledged; the rest wait, in order.
* A second CONNECT with the same client id disconnects the first connection
  and publishes its will (it never sent DISCONNECT).
* Packets above ``max_packet_size`` and malformed packets close only the
  offending connection.

What it deliberately is not: durable. Sessions, queued messages and retained
messages live in memory and vanish when the broker stops. That is acceptable
because hubs keep a durable outbox and retry each alarm until the community
server acknowledges it end-to-end, so a broker restart delays messages but
loses none. Persistent sessions never expire while the broker runs.
"""

from ._acl import Acl, AclRule, AllowAllAcl, PatternAcl
from ._auth import Authenticator, PasswordAuthenticator
from ._server import DEFAULT_MAX_PACKET_SIZE, Broker
from ._topics import is_valid_topic_filter, is_valid_topic_name, topic_matches

__all__ = [
    "DEFAULT_MAX_PACKET_SIZE",
    "Acl",
    "AclRule",
    "AllowAllAcl",
    "Authenticator",
    "Broker",
    "PasswordAuthenticator",
    "PatternAcl",
    "is_valid_topic_filter",
    "is_valid_topic_name",
    "topic_matches",
]
