"""A simulated device speaking the native device link to a hub.

The protocol side is the same for every kind, so it lives here once; a kind adds its
state fields, physics and commands (``firmware_stubs.kinds``). What the link guarantees,
seen from the device:

* ``hello`` first, with ``Authorization: Bearer <token>``; nothing else is sent before the
  hub's ``ack`` for it. An ``error`` or a refused token means back off and try again.
* Every state, event and heartbeat takes a fresh sequence number (see ``memory``), so the
  hub can tell a retry from a replay.
* Events stay in a bounded store until the hub acknowledges them, and are resent with the
  same seq, oldest first, on every new link, before anything newer. The hub acks an event
  only once it is on disk, so an acked event is never lost. Telemetry is not kept: a fresh
  full state report follows every ``hello`` instead. An event the hub rejects for good
  (``sequence_regression``, or a validation error) is logged and dropped, not resent forever.
* Every command is answered with an ``ack`` (``ok=false`` and a reason if unsupported).
* Reconnects back off exponentially with jitter; nothing the hub sends can crash the device.

All public methods must be called from the event loop the device runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from devices.catalog import KINDS, CommandName, DeviceKind, EventType
from devices.messages import (
    Ack,
    Command,
    Error,
    ErrorCode,
    Event,
    Heartbeat,
    InteropError,
    Message,
    State,
    encode,
    parse_message,
)
from firmware_stubs.backoff import Backoff
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.memory import DeviceMemory, now_ms
from firmware_stubs.pending import PendingEvents
from firmware_stubs.physics import BATTERY, BatteryPhysics

_LOG = logging.getLogger("firmware_stubs")

#: Errors that reject an event for good: resending the same bytes (same seq) can only get
#: the same answer, so the event is dropped with a log line instead of resent forever.
#: ``unknown_device`` is not final: the device may be provisioned again and then deliver.
FINAL_REJECTIONS: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.SEQUENCE_REGRESSION,
        ErrorCode.MALFORMED,
        ErrorCode.TOO_LARGE,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.UNKNOWN_TYPE,
        ErrorCode.UNKNOWN_KIND,
        ErrorCode.UNKNOWN_EVENT,
        ErrorCode.BAD_FIELD,
        ErrorCode.WRONG_DEVICE,
    }
)

#: What a command handler returns: None when done, else the reason it was refused.
CommandHandler = Callable[[dict[str, Any]], str | None]


class HelloRejectedError(Exception):
    """The hub answered our ``hello`` with an ``error``."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


class SimulatedDevice:
    """One simulated device: identity, battery, trouble conditions and the native link.

    Subclasses set ``kind`` and extend :meth:`_snapshot`, :meth:`_step` and
    :meth:`_command_handlers`; a state change is reported by calling :meth:`_changed`.
    """

    #: The kind a subclass simulates; None accepts any identity (battery-only device).
    kind: ClassVar[DeviceKind | None] = None
    #: Seconds a self-test keeps ``test_in_progress`` set (kinds that have the field).
    self_test_s: float = 3.0

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        heartbeat_s: float = 60.0,
        telemetry_s: float = 30.0,
        state_file: Path | None = None,
        rng: random.Random | None = None,
        tick_s: float = 1.0,
        battery: BatteryPhysics = BATTERY,
        battery_pct: float = 100.0,
        max_pending: int = 1000,
        seq_block: int = 1000,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        hello_timeout_s: float = 10.0,
    ) -> None:
        if self.kind is not None and identity.kind is not self.kind:
            raise ValueError(f"{type(self).__name__} simulates {self.kind}, not {identity.kind}")
        for name, value in (("heartbeat_s", heartbeat_s), ("telemetry_s", telemetry_s)):
            if not value > 0:
                raise ValueError(f"{name} must be positive")
        if not tick_s > 0:
            raise ValueError("tick_s must be positive")
        self.identity = identity
        self.hub_url = hub_url
        self._token = token
        self.heartbeat_s = heartbeat_s
        self.telemetry_s = telemetry_s
        self.tick_s = tick_s
        self.rng = rng or random.Random()
        self.battery_physics = battery
        self._memory = DeviceMemory(state_file, block=seq_block)
        if self._memory.battery_pct is None:
            self._memory.battery_pct = min(100.0, max(0.0, battery_pct))
        self._battery_low = False
        self._hardware_fault = False
        self._end_of_service = False
        self._tampered = False
        self._test_ends_at: float | None = None
        self._sim_time = 0.0

        #: Every event the device emitted, in order (sent or still waiting for a link).
        self.sent_events: list[Event] = []
        #: Seqs of every report (state, event, heartbeat) the hub acknowledged.
        self.acked_seqs: set[int] = set()
        #: Every well-formed command the hub sent, in order.
        self.commands_received: list[Command] = []
        #: Errors the hub sent (after the hello), newest last, for diagnostics.
        self.errors_received: list[Error] = []
        #: Every reconnect delay drawn, in order.
        self.backoff_delays: list[float] = []
        #: Called with each event as it is emitted; an exception in it is logged, not raised.
        self.on_event: Callable[[Event], None] | None = None

        self._pending = PendingEvents(max_pending)
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, self.rng)
        self._hello_timeout_s = hello_timeout_s
        self._queue: asyncio.Queue[Message] | None = None
        self._reported: dict[str, Any] = {}
        self._connected = asyncio.Event()
        self._awake = asyncio.Event()
        self._awake.set()
        self._silenced = asyncio.Event()
        self._silent = False
        self._tasks: list[asyncio.Task[None]] = []

    # --- identity and status ---------------------------------------------------------------

    @property
    def device_id(self) -> str:
        return self.identity.device_id

    @property
    def connected(self) -> bool:
        """True between the hub's ack of our hello and the end of that link."""
        return self._connected.is_set()

    @property
    def battery_pct(self) -> int:
        return round(self._memory.battery_pct or 0.0)

    @property
    def next_seq(self) -> int:
        return self._memory.next_seq

    def pending_events(self) -> int:
        """Emitted events the hub has not acknowledged yet."""
        return len(self._pending)

    def pending(self) -> list[Event]:
        return list(self._pending)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.identity.describe()} connected={self.connected}>"

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (and keep reconnecting) and run the physics, in background tasks."""
        if self._tasks:
            return
        _LOG.info("%s: starting, hub %s", self.device_id, self.hub_url)
        self._check_battery()
        self._tasks = [
            asyncio.create_task(self._run_link(), name=f"{self.device_id}-link"),
            asyncio.create_task(self._run_physics(), name=f"{self.device_id}-physics"),
        ]

    async def stop(self) -> None:
        """Close the link, stop the physics and save the counter (a clean power-off)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._unlinked()
        self._memory.save()
        _LOG.info("%s: stopped (next seq %d)", self.device_id, self._memory.next_seq)

    async def wait_connected(self, timeout: float = 10) -> None:  # noqa: ASYNC109 - public API
        """Wait until the hub has acknowledged our hello; TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    def go_silent(self) -> None:
        """Play dead: drop the link and send nothing (not even a hello) until :meth:`resume`."""
        _LOG.info("%s: going silent", self.device_id)
        self._silent = True
        self._awake.clear()
        self._silenced.set()
        self._unlinked()

    def resume(self) -> None:
        _LOG.info("%s: resuming", self.device_id)
        self._silent = False
        self._silenced.clear()
        self._backoff.reset()
        self._awake.set()

    # --- battery and trouble conditions (every kind) ----------------------------------------

    def set_battery(self, pct: float) -> None:
        """Jump the battery to ``pct`` (the demo uses it to show a low-battery warning)."""
        self._memory.battery_pct = min(100.0, max(0.0, pct))
        self._check_battery()
        self._changed()

    def replace_battery(self) -> None:
        self.set_battery(100.0)

    def set_hardware_fault(self, active: bool = True) -> None:
        if active != self._hardware_fault:
            self._hardware_fault = active
            self._emit(EventType.HARDWARE_FAULT, active)
            self._changed()

    def set_end_of_service(self, expired: bool = True) -> None:
        if expired != self._end_of_service:
            self._end_of_service = expired
            self._emit(EventType.END_OF_SERVICE, expired)
            self._changed()

    def set_tamper(self, active: bool = True) -> None:
        if active != self._tampered:
            self._tampered = active
            self._emit(EventType.TAMPER, active)

    def start_self_test(self) -> str | None:
        """Run the built-in test; returns a reason if one cannot start now."""
        if self._test_ends_at is not None:
            return "a self-test is already running"
        if "test_in_progress" not in KINDS[self.identity.kind].fields_by_name:
            self._emit(EventType.SELF_TEST, data={"passed": not self._hardware_fault})
            return None
        self._test_ends_at = self._sim_time + self.self_test_s
        self._changed()
        return None

    # --- physics ---------------------------------------------------------------------------

    def tick(self, dt: float) -> None:
        """Advance the simulation by ``dt`` seconds (called by the tick loop; tests may too)."""
        self._sim_time += dt
        drained = (self._memory.battery_pct or 0.0) - self.battery_physics.drain_pct_per_s * dt
        self._memory.battery_pct = max(0.0, drained)
        self._check_battery()
        if self._test_ends_at is not None and self._sim_time >= self._test_ends_at:
            self._test_ends_at = None
            self._emit(EventType.SELF_TEST, data={"passed": not self._hardware_fault})
        self._step(dt)
        self._changed()

    def _step(self, dt: float) -> None:
        """Kind-specific physics for one tick; emit events for threshold crossings."""

    def _check_battery(self) -> None:
        low = self.battery_pct <= self.battery_physics.low_pct
        if low != self._battery_low:
            self._battery_low = low
            self._emit(EventType.BATTERY_LOW, low, {})

    @property
    def test_in_progress(self) -> bool:
        return self._test_ends_at is not None

    def _snapshot(self) -> dict[str, Any]:
        """The full state, restricted to the fields this kind declares in the catalog."""
        candidates: dict[str, Any] = {
            "battery_pct": self.battery_pct,
            "battery_alert": self.battery_physics.alert(self.battery_pct),
            "hardware_fault": self._hardware_fault,
            "end_of_service": "expired" if self._end_of_service else "normal",
            "test_in_progress": self.test_in_progress,
        }
        fields = KINDS[self.identity.kind].fields_by_name
        return {name: value for name, value in candidates.items() if name in fields}

    def _report_deltas(self) -> dict[str, float]:
        """Numeric fields reported only when they moved this much (a reporting deadband)."""
        return {"battery_pct": 1}

    def _changed(self) -> None:
        """Report the fields that changed since the last report, if any change matters."""
        if self._queue is None:
            return  # offline: a full report follows the next hello
        current = self._snapshot()
        changed = {k: v for k, v in current.items() if self._reported.get(k, ...) != v}
        if not changed:
            return
        deltas = self._report_deltas()
        worth_it = any(
            name not in deltas
            or name not in self._reported
            or abs(value - self._reported[name]) >= deltas[name]
            for name, value in changed.items()
        )
        if worth_it:
            self._send_state(changed)

    def _send_state(self, fields: dict[str, Any]) -> None:
        if self._queue is None:
            return
        self._reported.update(fields)
        state = State(self.device_id, self.identity.kind, self._memory.take(), now_ms(), fields)
        self._queue.put_nowait(state)

    async def _run_physics(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            try:
                self.tick(now - last)
            except Exception:
                _LOG.exception("%s: physics step failed", self.device_id)
            last = now

    # --- events ----------------------------------------------------------------------------

    def _emit(
        self, event: EventType, active: bool = True, data: dict[str, Any] | None = None
    ) -> Event:
        """Create an event with a fresh seq, keep it until acked, and queue it if linked."""
        ev = Event(
            device_id=self.device_id,
            kind=self.identity.kind,
            seq=self._memory.take(),
            ts=now_ms(),
            event=event,
            active=active,
            data=dict(data or {}),
        )
        self.sent_events.append(ev)
        dropped = self._pending.add(ev)
        if dropped is not ev and self._queue is not None:
            self._queue.put_nowait(ev)
        _LOG.info(
            "%s: event %s active=%s seq=%d (%s)", self.device_id, event, active, ev.seq, ev.priority
        )
        if self.on_event is not None:
            try:
                self.on_event(ev)
            except Exception:
                _LOG.exception("%s: on_event hook failed", self.device_id)
        return ev

    # --- commands --------------------------------------------------------------------------

    def _command_handlers(self) -> dict[CommandName, CommandHandler]:
        """Commands this device implements; subclasses add theirs to this table."""
        return {CommandName.SELF_TEST: lambda _args: self.start_self_test()}

    def _handle_command(self, command: Command) -> None:
        self.commands_received.append(command)
        handler = self._command_handlers().get(command.command)
        error: str | None
        if command.device_id != self.device_id:
            error = f"this is {self.device_id}, not {command.device_id}"
        elif handler is None:
            error = f"a {self.identity.kind} does not support {command.command}"
        else:
            try:
                error = handler(command.args)
            except Exception as exc:
                _LOG.exception("%s: command %s failed", self.device_id, command.command)
                error = f"command failed: {type(exc).__name__}"
        if error:
            _LOG.warning("%s: refusing %s: %s", self.device_id, command.command, error)
        if self._queue is not None:
            self._queue.put_nowait(Ack(command.command_id, ok=not error, error=(error or "")[:256]))

    # --- the link --------------------------------------------------------------------------

    async def _run_link(self) -> None:
        """Connect, serve, and reconnect with backoff, forever (until cancelled)."""
        async with aiohttp.ClientSession() as session:
            while True:
                await self._awake.wait()
                try:
                    await self._link(session)
                except HelloRejectedError as exc:
                    _LOG.error("%s: hub rejected hello: %s", self.device_id, exc)
                except aiohttp.WSServerHandshakeError as exc:
                    _LOG.warning("%s: hub refused the link (HTTP %s)", self.device_id, exc.status)
                except (aiohttp.ClientError, OSError, TimeoutError, ConnectionError) as exc:
                    _LOG.warning("%s: link failed: %s", self.device_id, type(exc).__name__)
                except Exception:
                    _LOG.exception("%s: link failed unexpectedly", self.device_id)
                if self._silent:
                    continue
                delay = self._backoff.next_delay()
                self.backoff_delays.append(delay)
                _LOG.info("%s: reconnecting in %.2f s", self.device_id, delay)
                await asyncio.sleep(delay)

    async def _link(self, session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        async with asyncio.timeout(self._hello_timeout_s):
            ws = await session.ws_connect(self.hub_url, headers=headers, autoping=True)
        async with ws:
            if self._silent:
                return
            await ws.send_str(encode(self.identity.hello()))
            async with asyncio.timeout(self._hello_timeout_s):
                await self._await_hello_ack(ws)
            if self._silent:
                return
            self._linked()
            try:
                await self._serve(ws)
            finally:
                self._unlinked()
        _LOG.info("%s: link closed", self.device_id)

    async def _await_hello_ack(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                _LOG.warning("%s: ignoring non-text frame before hello ack", self.device_id)
                continue
            try:
                msg = parse_message(frame.data)
            except InteropError as exc:
                _LOG.warning("%s: ignoring bad frame before hello ack: %s", self.device_id, exc)
                continue
            if isinstance(msg, Ack) and msg.ref == "hello":
                return
            if isinstance(msg, Error):
                raise HelloRejectedError(msg)
            _LOG.warning("%s: ignoring %s before hello ack", self.device_id, msg.type)
        raise ConnectionError("hub closed the link before acknowledging hello")

    def _linked(self) -> None:
        """Hello acked: queue every unacked event (oldest first), then a full state report."""
        self._queue = asyncio.Queue()
        for event in self._pending:
            self._queue.put_nowait(event)
        self._reported = {}
        self._send_state(self._snapshot())
        self._backoff.reset()
        self._connected.set()
        _LOG.info(
            "%s: linked to hub, resending %d unacked events", self.device_id, len(self._pending)
        )

    def _unlinked(self) -> None:
        self._queue = None
        self._connected.clear()

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        queue = self._queue
        assert queue is not None
        tasks = [
            asyncio.create_task(self._read(ws)),
            asyncio.create_task(self._write(ws, queue)),
            asyncio.create_task(self._every(self.heartbeat_s, self._send_heartbeat)),
            asyncio.create_task(self._every(self.telemetry_s, self._send_full_state)),
            asyncio.create_task(self._silenced.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            exc = task.exception()
            if exc is not None:
                raise exc

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type is aiohttp.WSMsgType.TEXT:
                self._on_frame(frame.data)
            else:
                _LOG.warning("%s: ignoring %s frame from hub", self.device_id, frame.type.name)

    async def _write(
        self, ws: aiohttp.ClientWebSocketResponse, queue: asyncio.Queue[Message]
    ) -> None:
        while True:
            msg = await queue.get()
            if self._silent or queue is not self._queue:
                return
            if isinstance(msg, Event) and msg.seq not in self._pending:
                continue  # acknowledged or dropped while it waited
            await ws.send_str(encode(msg))

    async def _every(self, interval: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval)
            action()

    def _send_heartbeat(self) -> None:
        if self._queue is not None:
            beat = Heartbeat(self.device_id, self.identity.kind, self._memory.take(), now_ms())
            self._queue.put_nowait(beat)

    def _send_full_state(self) -> None:
        self._send_state(self._snapshot())

    def _on_frame(self, text: str) -> None:
        """Dispatch one frame from the hub; anything unexpected is logged and ignored."""
        try:
            msg = parse_message(text)
        except InteropError as exc:
            _LOG.warning("%s: ignoring bad frame from hub: %s", self.device_id, exc)
            return
        if isinstance(msg, Ack):
            self._on_ack(msg)
        elif isinstance(msg, Error):
            self._on_error(msg)
        elif isinstance(msg, Command):
            self._handle_command(msg)
        else:
            _LOG.warning("%s: ignoring unexpected %s from hub", self.device_id, msg.type)

    def _on_ack(self, ack: Ack) -> None:
        seq = _as_seq(ack.ref)
        if seq is None or seq >= self._memory.next_seq:
            _LOG.debug("%s: ack for %r ignored", self.device_id, ack.ref)
            return
        if not ack.ok:
            _LOG.warning("%s: hub refused seq %d: %s", self.device_id, seq, ack.error)
            return
        self.acked_seqs.add(seq)
        self._pending.discard(seq)

    def _on_error(self, error: Error) -> None:
        self.errors_received.append(error)
        del self.errors_received[:-100]
        seq = _as_seq(error.ref)
        if seq is None or seq not in self._pending or error.code not in FINAL_REJECTIONS:
            _LOG.warning(
                "%s: hub error %s (ref %r): %s",
                self.device_id,
                error.code,
                error.ref,
                error.message,
            )
            return
        dropped = self._pending.discard(seq)
        assert dropped is not None
        _LOG.error(
            "%s: dropping %s seq %d: the hub will never accept it (%s: %s)",
            self.device_id,
            dropped.event,
            seq,
            error.code,
            error.message,
        )


def _as_seq(ref: str) -> int | None:
    return int(ref) if ref.isascii() and ref.isdigit() and len(ref) <= 16 else None
