"""The one path every device report takes into the hub, whether a device sent it or the hub
derived it (``device_offline`` from supervision).

The path is split in two so the caller can put the device's ack exactly where the promise is
kept: :meth:`Intake.commit` writes the event log row, the outbox row and the state in ONE
transaction and returns what happened; the link then acks the device; then
:meth:`Intake.announce` fires the bus (local rules listen there) and wakes the uplink.

Sequence numbers: a report is FRESH if its seq is after the last accepted one, a DUPLICATE
(acked again, not processed again) if the device already got it accepted — an event in the
event log, or the very last message — and a REGRESSION otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from devices.catalog import EventType
from devices.messages import DeviceReport, Event, Heartbeat, SequenceTracker, State
from devices.uplink import UplinkRecord, report
from hub.core import Context, DeviceState, EventBus, StateMachine, now_ms
from hub.events import DeviceEventFired, Origin, StateChanged
from hub.outbox import Outbox, OutboxFullError
from hub.registry import DeviceRegistry
from hub.store import EventLogRow, Store, StoredDevice, StoredState

_LOG = logging.getLogger(__name__)
_MISSING = object()


class Verdict(StrEnum):
    FRESH = "fresh"
    DUPLICATE = "duplicate"
    REGRESSION = "regression"


@dataclass(frozen=True, slots=True)
class Committed:
    """What a committed report means for the rest of the hub, announced after the ack."""

    announcements: tuple[tuple[object, Context], ...] = ()
    outbox_seqs: tuple[int, ...] = ()


class Intake:
    def __init__(
        self,
        *,
        hub_id: str,
        store: Store,
        registry: DeviceRegistry,
        states: StateMachine,
        outbox: Outbox,
        bus: EventBus,
        wake_uplink: Callable[[], None],
        admit: Callable[[UplinkRecord], UplinkRecord | None] | None = None,
        protect: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self._hub_id = hub_id
        #: Consent: what may leave the home (None = withheld, kept in the local log only).
        self._admit = admit or (lambda record: record)
        #: What the local event log may keep of a payload (ciphertext, when enforced).
        self._protect = protect or (lambda device_id, data: data)
        self._store = store
        self._registry = registry
        self._states = states
        self._outbox = outbox
        self._bus = bus
        self._wake_uplink = wake_uplink
        self._tracker = SequenceTracker(
            {s.device_id: s.last_seq for s in states.all() if s.last_seq is not None}
        )

    # --- sequence ------------------------------------------------------------------------

    def verdict(self, message: DeviceReport) -> Verdict:
        """FRESH, DUPLICATE or REGRESSION, for the report's device and seq.

        An event is a duplicate only if the event log holds the same event under that seq, so
        a different event reusing an old seq (a device bug) is refused out loud, not dropped.
        """
        device_id, seq = message.device_id, message.seq
        last = self._tracker.last(device_id)
        if last is None or seq > last:
            return Verdict.FRESH
        if isinstance(message, Event):
            seen = self._store.has_device_event(device_id, seq, str(message.event), message.active)
        else:
            seen = seq == last
        return Verdict.DUPLICATE if seen else Verdict.REGRESSION

    # --- commit --------------------------------------------------------------------------

    def commit(self, device: StoredDevice, message: DeviceReport, context: Context) -> Committed:
        """Persist a FRESH report from ``device``; raises only on storage failure."""
        now = now_ms()
        prev = self._states.get(device.device_id)
        state = dict(prev.state)
        announcements: list[tuple[object, Context]] = []
        seqs: list[int] = []
        with self._store.transaction():
            if isinstance(message, Event):
                fired, seq = self._log_event(device, message, Origin.DEVICE, context, now)
                announcements.append((fired, context))
                if seq is not None:
                    seqs.append(seq)
            elif isinstance(message, State):
                changed = {k: v for k, v in message.state.items() if state.get(k, _MISSING) != v}
                if changed:
                    state.update(changed)
                    partial = dataclasses.replace(message, state=changed)
                    admitted = self._admit(
                        report(self._hub_id, 0, now, self._registry.info(device.device_id), partial)
                    )
                    seq = self._outbox.add(admitted) if admitted is not None else None
                    if seq is not None:
                        seqs.append(seq)
                    announcements.append(
                        (StateChanged(device.device_id, changed, dict(state)), context)
                    )
            else:
                assert isinstance(message, Heartbeat)
            self._store.save_state(
                StoredState(device.device_id, state, message.seq, now, online=True)
            )
        self._tracker.accept(device.device_id, message.seq)
        self._states.set(
            DeviceState(device.device_id, state, now, message.seq, online=True, context=context)
        )
        return Committed(tuple(announcements), tuple(seqs))

    def _log_event(
        self, device: StoredDevice, event: Event, origin: Origin, context: Context, now: int
    ) -> tuple[DeviceEventFired, int | None]:
        info = self._registry.info(device.device_id)
        admitted = self._admit(report(self._hub_id, 0, now, info, event))
        outbox_seq = self._outbox.add(admitted) if admitted is not None else None
        if outbox_seq is None and admitted is not None and origin is Origin.DEVICE:
            raise OutboxFullError(f"no room for {event.event} from {device.device_id}")
        self._store.log_event(
            EventLogRow(
                device_id=device.device_id,
                seq=event.seq,
                origin=str(origin),
                ts=event.ts,
                received=now,
                event=str(event.event),
                active=event.active,
                priority=str(event.priority),
                data=self._protect(device.device_id, event.data),
                outbox_seq=outbox_seq,
                context_id=context.id,
                parent_id=context.parent_id,
            )
        )
        return DeviceEventFired(info, event, origin, outbox_seq), outbox_seq

    def announce(self, committed: Committed) -> None:
        """After the ack: tell the bus (and so the rules), then let the uplink publish."""
        for data, context in committed.announcements:
            self._bus.fire(data, context)
        if committed.outbox_seqs:
            self._wake_uplink()

    def accept(
        self, device: StoredDevice, message: DeviceReport, context: Context | None = None
    ) -> Verdict:
        """The whole path for a report that nobody acknowledges: one the hub decoded itself
        from a bridged (vendor) device. Only a FRESH report changes anything: heard, commit,
        announce, exactly as for a native device. Storage errors and OutboxFullError propagate
        (nothing was committed)."""
        verdict = self.verdict(message)
        if verdict is Verdict.FRESH:
            context = context or Context()
            self.heard(device, context)
            self.announce(self.commit(device, message, context))
        return verdict

    # --- liveness ------------------------------------------------------------------------

    def heard(self, device: StoredDevice, context: Context, *, persist: bool = False) -> None:
        """The device spoke. If supervision had declared it offline, clear that first.

        ``persist`` records ``last_seen`` even when nothing else changes (a hello carries no
        seq, so no report will write it).
        """
        prev = self._states.get(device.device_id)
        if prev.online and not persist:
            return
        if not prev.online and prev.last_seen is not None:
            self._offline_event(device, prev, active=False, silent_s=None, context=context.child())
            return
        now = now_ms()
        with self._store.transaction():
            self._store.save_state(
                StoredState(device.device_id, dict(prev.state), prev.last_seq, now, online=True)
            )
        self._states.set(dataclasses.replace(prev, last_seen=now, online=True))

    def raise_offline(self, device: StoredDevice, silent_s: float) -> None:
        """Supervision found the device silent too long: a ``device_offline`` trouble event."""
        prev = self._states.get(device.device_id)
        if not prev.online:
            return
        self._offline_event(device, prev, active=True, silent_s=silent_s, context=Context())

    def _offline_event(
        self,
        device: StoredDevice,
        prev: DeviceState,
        *,
        active: bool,
        silent_s: float | None,
        context: Context,
    ) -> None:
        """A hub-made event about the device, through the same log + outbox path.

        Its seq is the device's last accepted seq (0 if none): the interop Event needs one and
        it tells the community where in the device's stream the silence began. It is NOT an
        idempotency key — the uplink record's own seq (the outbox seq) is.
        """
        now = now_ms()
        data: dict[str, Any] = {"silent_s": round(silent_s, 3)} if silent_s is not None else {}
        event = Event(
            device_id=device.device_id,
            kind=device.kind,
            seq=prev.last_seq or 0,
            ts=now,
            event=EventType.DEVICE_OFFLINE,
            active=active,
            data=data,
        )
        last_seen = prev.last_seen if active else now
        with self._store.transaction():
            fired, seq = self._log_event(device, event, Origin.HUB, context, now)
            self._store.save_state(
                StoredState(
                    device.device_id, dict(prev.state), prev.last_seq, last_seen, not active
                )
            )
        self._states.set(
            dataclasses.replace(prev, last_seen=last_seen, online=not active, context=context)
        )
        if active:
            _LOG.warning("device %s silent for %.1f s: offline", device.device_id, silent_s or 0)
        else:
            _LOG.info("device %s is back online", device.device_id)
        self.announce(Committed(((fired, context),), (seq,) if seq is not None else ()))
