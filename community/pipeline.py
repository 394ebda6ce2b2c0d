"""What happens to one MQTT message from a hub, independent of MQTT itself.

``handle_up`` is the trust boundary between hubs and the community: the envelope must verify
against the key the community enrolled for the sending hub, the topic's hub, the envelope's
sender and the record's ``hub_id`` must all be the same hub (a hub can only publish on its own
topic, and the community refuses to believe a record about another hub), and the record must
follow the uplink spec. It must also be fresh (``community.replay``: within the time window,
and not a device message already received under another key) and allowed by consent. Only then
is it stored, once, whatever number of times it arrives.

Runs on the single writer thread; the caller acknowledges according to the returned verdict.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from community.clock import Clock, now_ms
from community.field_engine import FieldEngine
from community.store import HubChange, Store
from devices.messages import InteropError
from devices.uplink import TOPIC_ROOT, UplinkRecord, decode_record
from privacy.envelope import EnvelopeError, open_signed

log = logging.getLogger(__name__)

_ROOT_PARTS: Final = tuple(TOPIC_ROOT.split("/"))
_STATUSES: Final = frozenset({"online", "offline"})
_MAX_STATUS_BYTES: Final = 1024


class Verdict(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    #: Who to acknowledge (stored or duplicate records only).
    hub_id: str = ""
    seq: int = 0
    #: Why a record was rejected; safe to log (never contains the payload or a secret).
    reason: str = ""
    alarms: tuple[dict[str, Any], ...] = ()
    hub: dict[str, Any] | None = None


def hub_from_topic(topic: str, leaf: str) -> str | None:
    """``courtyard/v1/hub/<hub>/<leaf>`` -> ``<hub>``, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) != len(_ROOT_PARTS) + 2 or tuple(parts[: len(_ROOT_PARTS)]) != _ROOT_PARTS:
        return None
    hub_id, last = parts[len(_ROOT_PARTS)], parts[-1]
    return hub_id if hub_id and last == leaf else None


def _rejected(reason: str) -> Outcome:
    return Outcome(Verdict.REJECTED, reason=reason)


class Pipeline:
    def __init__(
        self,
        store: Store,
        lookup: Callable[[str], Ed25519PublicKey | None],
        clock: Clock = now_ms,
        consent: Callable[[UplinkRecord], str | None] | None = None,
        field: FieldEngine | None = None,
        replay: Callable[[UplinkRecord], str | None] | None = None,
        resident: Sequence[Callable[[UplinkRecord, int], None]] = (),
        scrub: Sequence[Callable[[UplinkRecord], UplinkRecord]] = (),
    ) -> None:
        self._store = store
        self._lookup = lookup
        self._clock = clock
        #: Why a record may not be stored for lack of consent (None: it may).
        self._consent = consent or (lambda record: None)
        #: The field-device safety rules, applied to every newly stored record.
        self._field = field
        #: Why a record is not fresh (None: it is, or its key is already stored).
        self._replay = replay or (lambda record: None)
        #: Residents' requests and notice receipts (community.charging_sessions, .notices):
        #: applied before the record is stored, each idempotent by its key or its state.
        self._resident = tuple(resident)
        #: Secrets the services above needed and the community must not keep (a parcel's
        #: pickup code, community.parcels): removed after them, before the record is stored.
        self._scrub = tuple(scrub)

    def handle_up(self, topic: str, payload: bytes) -> Outcome:
        """Verify, decode and store one uplink record; never raises for bad input."""
        topic_hub = hub_from_topic(topic, "up")
        if topic_hub is None:
            return _rejected("not an uplink topic")
        try:
            opened = open_signed(payload, self._lookup)
        except EnvelopeError as exc:
            return _rejected(f"envelope: {exc}")
        if opened.sender != topic_hub:
            return _rejected(f"envelope sender {opened.sender!r} is not the topic's hub")
        try:
            record = decode_record(opened.body)
        except InteropError as exc:
            return _rejected(f"record: {exc}")
        if record.hub_id != opened.sender:
            return _rejected(f"record hub_id {record.hub_id!r} is not the envelope's sender")
        refusal = self._replay(record) or self._consent(record)
        if refusal is not None:
            # Final (a replay or no consent): acknowledged so the hub stops resending, never
            # stored.
            return Outcome(Verdict.REJECTED, hub_id=record.hub_id, seq=record.seq, reason=refusal)
        if self._field is not None:  # fire lanes: a plate is hashed before anything stores it
            record = self._field.before_store(record)
        try:
            for apply in self._resident:
                apply(record, self._clock())
        except Exception:
            # Not acknowledged: the hub resends it, and each step is idempotent.
            log.exception("could not apply %s %s", record.kind, record.key)
            return _rejected("the record could not be applied; it will be resent")
        for scrub in self._scrub:
            record = scrub(record)
        digest = hashlib.sha256(opened.body).hexdigest()
        persisted = self._store.persist(record, digest, self._clock())
        if persisted.conflicting:
            log.warning("hub %s reused key %s for a different record", record.hub_id, record.key)
        verdict = Verdict.DUPLICATE if persisted.duplicate else Verdict.STORED
        alarms = persisted.alarms
        if self._field is not None and not persisted.duplicate:
            try:
                alarms = (*alarms, *self._field.observe(record, self._clock()))
            except Exception:
                # The record is stored and is acknowledged; the next one re-evaluates the rules.
                log.exception("field rules failed on %s", record.key)
        return Outcome(
            verdict,
            hub_id=record.hub_id,
            seq=record.seq,
            alarms=alarms,
            hub=persisted.hub,
        )

    def handle_status(self, topic: str, payload: bytes) -> HubChange | None:
        """Apply a hub's retained ``online``/``offline`` (or last will); returns the change.

        The broker's ACL lets only the hub itself (and the community) publish on its status
        topic, so the topic names the hub; unknown hubs and unreadable payloads are ignored.
        """
        hub_id = hub_from_topic(topic, "status")
        if hub_id is None or not payload or len(payload) > _MAX_STATUS_BYTES:
            return None
        try:
            status = json.loads(payload).get("status")
        except (ValueError, AttributeError, RecursionError):
            status = None
        if status not in _STATUSES:
            log.info("ignored an unreadable status from %r", hub_id[:64])
            return None
        return self._store.set_hub_status(hub_id, str(status), self._clock())
