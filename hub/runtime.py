"""One home hub: composes the store, core, device links, rules, supervision and uplink.

This module only wires parts together and owns their order of start and stop; each part's
behaviour lives in its own module. Start: HTTP server (device links, API), uplink,
supervision, heartbeat. Stop is the reverse, gracefully: device sockets are closed first so no
report is half-handled, then MQTT says goodbye, and the database is closed last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Coroutine, Sequence
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from devices.catalog import COMMANDS, CommandName, DeviceKind, Priority
from devices.messages import Ack, check_field
from devices.uplink import RecordKind, UplinkRecord
from hub.api import add_api_routes
from hub.bridge import HomeBridge
from hub.care import CareChecks  # daily care check
from hub.charging import ChargingRequests
from hub.config import HubConfig
from hub.consent_api import add_privacy_routes
from hub.consent_gate import ConsentGate
from hub.core import Context, DeviceState, EventBus, StateMachine, now_ms
from hub.device_keys import DeviceKeys
from hub.discovery import DiscoveredDevice, Discovery
from hub.downlink import Downlink, community_key
from hub.events import CommandResult
from hub.intake import Intake
from hub.keys import load_or_create_admin_token, load_or_create_hub_key, token_hash
from hub.link import WS_PATH, LinkClose, LinkServer
from hub.notices import NoticeBox
from hub.outbox import Outbox
from hub.pairing import Pairer, PairingError, PairRequest, Refusal, WindowView
from hub.pairing_session import Issued
from hub.registry import DeviceRecord, DeviceRegistry
from hub.removal import PendingRemoval, Removals
from hub.repairs import RepairBook  # repair orders
from hub.resident_events import DeviceChanged, DeviceRemoved, DiscoveryChanged
from hub.rules import RULES, RuleEngine
from hub.services import ServiceRequests
from hub.store import Store
from hub.supervision import Supervisor
from hub.uplink import Uplink
from hub.web import PathOnlyAccessLogger, add_resident_routes
from hub.web.care_api import add_care_routes  # daily care check
from hub.web.notices_api import add_notice_routes
from hub.web.repairs_api import add_repair_routes  # repair orders
from hub.web.visitors_api import add_visitor_routes  # visitor passes

_LOG = logging.getLogger(__name__)


class Hub:
    def __init__(self, config: HubConfig) -> None:
        """Open (or create) the data directory, store and key, and load the outbox."""
        self.config = config
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._key = load_or_create_hub_key(config.data_dir / "hub_key.pem")
        self._store = Store(config.data_dir / "hub.db", config.hub_id)
        self.bus = EventBus()
        self._states = StateMachine()
        for stored in self._store.load_states():
            self._states.set(
                DeviceState(
                    stored.device_id,
                    stored.state,
                    stored.last_seen,
                    stored.last_seq,
                    stored.online,
                )
            )
        self._registry = DeviceRegistry(self._store)
        self.consent = ConsentGate(
            config.data_dir,
            home_id=config.home_id,
            subject=config.resident_id or config.home_id,
            mode=config.consent,
            receipt_key=self._key,
            store_id=config.hub_id,
        )
        self._outbox = Outbox(self._store, config.outbox_limit)
        #: Community notices and the resident's charging requests (hub.notices, hub.charging).
        self.notices = NoticeBox(
            hub_id=config.hub_id,
            store=self._store,
            outbox=self._outbox,
            bus=self.bus,
            wake_uplink=lambda: self._uplink.wake(),
        )
        self.charging = ChargingRequests(
            hub_id=config.hub_id,
            store=self._store,
            outbox=self._outbox,
            wake_uplink=lambda: self._uplink.wake(),
        )
        self.notices.listen(self.charging.on_notice)
        #: Requests to the community's property services and their answers (hub.services).
        self.services = ServiceRequests(
            hub_id=config.hub_id,
            store=self._store,
            outbox=self._outbox,
            wake_uplink=lambda: self._uplink.wake(),
        )
        self.notices.listen(self.services.on_notice)
        #: The resident's daily care check (hub.care); ``care.set_clock`` compresses time.
        self.care = CareChecks(
            hub_id=config.hub_id,
            home_id=config.home_id,
            store=self._store,
            gate=self.consent,
            ask=self.services.request,
            bus=self.bus,
            kind_of=lambda d: r.kind if (r := self._registry.get(d)) is not None else None,
        )
        #: The resident's repair orders, kept from the community's notices (hub.repairs).
        self.repairs = RepairBook(store=self._store, services=self.services)
        self.notices.listen(self.repairs.on_notice)
        self._downlink = Downlink(
            hub_id=config.hub_id,
            community_key=community_key(config),
            store=self._store,
            outbox=self._outbox,
            execute=self.send_command,
            wake_uplink=lambda: self._uplink.wake(),
            on_notice=self.notices.receive,
        )
        self._uplink = Uplink(
            hub_id=config.hub_id,
            host=config.mqtt_host,
            port=config.mqtt_port,
            password=config.mqtt_password,
            key=self._key,
            outbox=self._outbox,
            bus=self.bus,
            ack_timeout_s=config.ack_timeout_s,
            on_down=self._downlink.receive,
        )
        self._intake = Intake(
            hub_id=config.hub_id,
            store=self._store,
            registry=self._registry,
            states=self._states,
            outbox=self._outbox,
            bus=self.bus,
            wake_uplink=self._uplink.wake,
            admit=self.consent.admit,
            protect=self.consent.protect,
        )
        self._links = LinkServer(registry=self._registry, intake=self._intake, bus=self.bus)
        self._supervisor = Supervisor(
            registry=self._registry,
            states=self._states,
            intake=self._intake,
            scale=config.supervision_scale,
        )
        self._bridge = (
            HomeBridge(
                hub_id=config.hub_id,
                config=config.home_mqtt,
                store=self._store,
                registry=self._registry,
                states=self._states,
                intake=self._intake,
                bus=self.bus,
            )
            if config.home_mqtt is not None
            else None
        )
        self._device_keys = DeviceKeys(self._store)
        self._discovery = (
            Discovery(
                hub_id=config.hub_id, host=config.http_host, on_change=self._discovery_changed
            )
            if config.discovery
            else None
        )
        self._pairer = Pairer(
            hub_id=config.hub_id,
            hub_key=self._key,
            candidates=self._pairing_candidates,
            admit=self._admit,
            check_free=self._check_free,
            window_s=config.pairing_window_s,
        )
        self._removals = Removals(self._remove_now)
        self._rules: RuleEngine | None = None
        self._runner: web.AppRunner | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._admin_token: str | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopped = False
        _LOG.info("hub %s: %d pending outbox record(s)", config.hub_id, self.outbox_pending())

    # --- identity and views --------------------------------------------------------------

    @property
    def hub_id(self) -> str:
        return self.config.hub_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def http_port(self) -> int:
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the hub is not started")
        return int(self._runner.addresses[0][1])

    @property
    def uplink_connected(self) -> bool:
        return self._uplink.connected

    @property
    def home_bridge(self) -> HomeBridge | None:
        return self._bridge

    @property
    def admin_token_path(self) -> str:
        return str(self.config.data_dir / "admin.token")

    def outbox_pending(self) -> int:
        return self._outbox.pending()

    def devices(self) -> list[DeviceRecord]:
        records = []
        for device in self._registry.all():
            state = self._states.get(device.device_id)
            records.append(
                DeviceRecord(
                    device_id=device.device_id,
                    kind=device.kind,
                    name=device.name,
                    room=device.room,
                    online=state.online,
                    last_seen=state.last_seen,
                    state=dict(state.state),
                    connected=self._links.is_connected(device.device_id),
                )
            )
        return records

    # --- provisioning and commands -------------------------------------------------------

    def provision_device(
        self, device_id: str, kind: DeviceKind, name: str, room: str, *, token: str | None = None
    ) -> str:
        """Register a device and return its token; re-provisioning rotates the token.

        A link still open with the old token is closed: the old token no longer proves
        anything. ``token`` lets a configuration file choose the token (at least 16 chars).
        """
        before = self._registry.get(device_id)
        issued = self._registry.provision(device_id, kind, name, room, token)
        if before is not None and before.token_hash != token_hash(issued):
            self._spawn(self._links.drop(device_id, LinkClose.TOKEN_ROTATED, "token rotated"))
        return issued

    # --- pairing and removal (the resident's side) ---------------------------------------

    def device(self, device_id: str) -> DeviceRecord | None:
        return next((d for d in self.devices() if d.device_id == device_id), None)

    def device_fingerprint(self, device_id: str) -> str | None:
        key = self._device_keys.get(device_id)
        return key.fingerprint if key else None

    def recent_events(self, device_id: str, limit: int = 5) -> list[dict[str, Any]]:
        return [
            {
                "event": row["event"],
                "active": bool(row["active"]),
                "priority": row["priority"],
                "ts": row["ts"],
                "origin": row["origin"],
                "data": self.consent.reveal(device_id, json.loads(row["data"])),
            }
            for row in self._store.recent_events(device_id, limit)
        ]

    def discovered(self) -> list[DiscoveredDevice]:
        """Unpaired devices advertising on the LAN (empty without ``discovery``)."""
        return self._discovery.devices() if self._discovery else []

    def pairing_window(self, device: DiscoveredDevice) -> WindowView:
        return self._pairer.window(device)

    async def pair_device(self, request: PairRequest) -> DeviceRecord:
        """Pair a discovered device with its setup code; raises PairingError with a reason."""
        device = await self._pairer.pair(request)
        self.bus.fire(DeviceChanged(device.device_id))
        record = self.device(device.device_id)
        assert record is not None
        return record

    def relabel_device(self, device_id: str, name: str, room: str) -> DeviceRecord:
        self._registry.relabel(device_id, name, room)
        self.bus.fire(DeviceChanged(device_id))
        record = self.device(device_id)
        assert record is not None
        return record

    async def remove_device(self, device_id: str, grace_s: float = 0) -> PendingRemoval | None:
        """Unpair a device, now or after ``grace_s`` (undo-able until then)."""
        if self._registry.get(device_id) is None:
            raise ValueError(f"unknown device {device_id!r}")
        pending = await self._removals.schedule(device_id, grace_s)
        if pending is not None:
            self.bus.fire(DeviceChanged(device_id))
        return pending

    def undo_remove(self, device_id: str) -> bool:
        undone = self._removals.undo(device_id)
        if undone:
            self.bus.fire(DeviceChanged(device_id))
        return undone

    def pending_removal(self, device_id: str) -> PendingRemoval | None:
        return self._removals.pending(device_id)

    async def _remove_now(self, device_id: str) -> None:
        """Revoke: the token stops working, the open link closes, the key is forgotten."""
        if self._registry.get(device_id) is None:
            return
        with self._store.transaction():
            self._device_keys.delete(device_id)
            self._registry.remove(device_id)
        self._states.set(DeviceState(device_id))
        await self._links.drop(device_id, LinkClose.TOKEN_ROTATED, "device removed")
        _LOG.info("device %s removed; its credential is revoked", device_id)
        self.bus.fire(DeviceRemoved(device_id))

    def _discovery_changed(self) -> None:
        self.bus.fire(DiscoveryChanged())

    def _pairing_candidates(self, device_id: str) -> list[DiscoveredDevice]:
        return [d for d in self.discovered() if d.device_id == device_id]

    def _check_free(self, device_id: str, fingerprint: str) -> None:
        if self._registry.get(device_id) is None:
            return
        key = self._device_keys.get(device_id)
        if key is None or key.fingerprint != fingerprint:
            raise PairingError(
                Refusal.ALREADY_PAIRED,
                f"{device_id} is already one of your devices (another key); remove it first",
            )

    def _admit(self, device: DiscoveredDevice, request: PairRequest, public_key: bytes) -> Issued:
        """The session proved the code and the key: register the device, issue its token."""
        known = self._device_keys.get(device.device_id)
        if self._registry.get(device.device_id) is not None and (
            known is None or known.public_key != public_key
        ):
            raise PairingError(
                Refusal.ALREADY_PAIRED, f"{device.device_id} is paired with another key"
            )
        try:
            with self._store.transaction():
                token = self.provision_device(
                    device.device_id, device.kind, request.name, request.room
                )
                self._device_keys.put(device.device_id, public_key)
        except ValueError as exc:
            raise PairingError(Refusal.BAD_REQUEST, str(exc)) from None
        return Issued(token=token, hub_url=self._link_url(device.host))

    def _link_url(self, device_host: str) -> str:
        """The native-link URL as the device can reach it."""
        host = self.config.http_host
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
            # The address this machine would use towards the device (no packet is sent).
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((device_host, 9))
                host = str(probe.getsockname()[0])
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.http_port}{WS_PATH}"

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()  # no loop: nothing is connected either
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def send_command(
        self,
        device_id: str,
        command: CommandName,
        args: dict[str, Any] | None = None,
        *,
        context: Context | None = None,
        wait_s: float | None = None,
    ) -> Ack:
        """Send a command and wait for the device's ack.

        A wrong call (unknown device, a command its kind lacks, bad args) raises ValueError.
        What the device or the network does comes back as the Ack: ``ok=False`` with
        ``error`` "timeout" (no ack within ``wait_s``, default ``ack_timeout_s``),
        "not_connected", "disconnected", or the device's own error.
        """
        device = self._registry.get(device_id)
        if device is None:
            raise ValueError(f"unknown device {device_id!r}")
        spec = COMMANDS[CommandName(command)]
        if device.kind not in spec.kinds:
            raise ValueError(f"a {device.kind} does not take {command}")
        args = dict(args or {})
        wanted = {a.name: a for a in spec.args}
        if set(args) != set(wanted):
            raise ValueError(f"{command} takes exactly the args {sorted(wanted)}")
        for name, value in args.items():
            check_field(wanted[name], value)
        wait = self.config.ack_timeout_s if wait_s is None else wait_s
        if self._bridge is not None and self._bridge.is_bridged(device_id):
            ack = await self._bridge.send_command(device_id, spec.name, args, wait)
        else:
            ack = await self._links.send_command(device_id, spec.name, args, wait)
        self.bus.fire(CommandResult(device_id, spec.name, ack), context or Context())
        return ack

    # what the rules need (hub.rules.Commander)
    def connected_devices(self) -> Sequence[tuple[str, DeviceKind]]:
        found = (self._registry.get(d) for d in self._links.connected())
        bridged = self._bridge.reachable() if self._bridge is not None else []
        return [(d.device_id, d.kind) for d in found if d is not None] + bridged

    async def command(
        self, device_id: str, command: CommandName, args: dict[str, Any], context: Context
    ) -> Ack:
        return await self.send_command(device_id, command, args, context=context)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._admin_token = load_or_create_admin_token(self.config.data_dir / "admin.token")
        app = web.Application()
        app.router.add_get(WS_PATH, self._links.handle)
        add_api_routes(app, self, self._admin)
        add_privacy_routes(app, self.consent, self, self._admin, ask=self.services.request)
        add_resident_routes(app, self, self.bus, self._admin)
        add_notice_routes(app, self.notices, self.charging, self._admin)
        add_care_routes(app, self.care, self.services, self._admin)  # daily care check
        add_repair_routes(  # the Repairs tab and the phone page
            app, self.repairs, self._admin, home=self, notices=self.notices
        )
        add_visitor_routes(app, self.services, self.notices, self._admin)  # the Visitors tab
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            shutdown_timeout=2.0,
            access_log_class=PathOnlyAccessLogger,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.http_host, self.config.http_port)
        await site.start()
        if self._discovery is not None:
            await self._discovery.start(self.http_port)
        self._rules = RuleEngine(RULES, self, self.bus)
        await self._uplink.start()
        self._supervisor.start()
        self.care.start()  # daily care check
        if self._bridge is not None:
            await self._bridge.start()
        self._heartbeat = asyncio.get_running_loop().create_task(
            self._heartbeats(), name="hub-heartbeat"
        )
        _LOG.info("hub %s listening on %s:%d", self.hub_id, self.config.http_host, self.http_port)

    def _admin(self) -> str:
        assert self._admin_token is not None
        return self._admin_token

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await self._removals.flush()
        await self._downlink.stop()
        if self._discovery is not None:
            await self._discovery.stop()
        await self._links.close_all()
        if self._bridge is not None:
            await self._bridge.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._rules is not None:
            await self._rules.stop()
        await self.bus.cancel_pending()
        for task in [*self._background, *([self._heartbeat] if self._heartbeat else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._supervisor.stop()
        await self.care.stop()  # daily care check
        if self._runner is not None:
            await self._uplink.stop()
        self._store.close()
        self.consent.close()
        _LOG.info("hub %s stopped", self.hub_id)

    async def _heartbeats(self) -> None:
        while True:
            try:
                self._queue_heartbeat()
            except Exception:
                _LOG.exception("hub heartbeat not queued")
            await asyncio.sleep(self.config.heartbeat_s)

    def _queue_heartbeat(self) -> None:
        records = self.devices()
        record = UplinkRecord(
            hub_id=self.hub_id,
            seq=0,
            ts=now_ms(),
            kind=RecordKind.HUB_HEARTBEAT,
            priority=Priority.INFO,
            summary={"devices": len(records), "online": sum(r.online for r in records)},
        )
        with self._store.transaction():
            self._outbox.drop_pending_heartbeats()
            self._outbox.add(record)
        self._uplink.wake()
