"""One community server: the store, the MQTT ingest, the live feed and the web side, wired.

The server owns the lifecycle and the threads: a single writer thread for every database
write (so writes are serialised and the event loop never waits on a disk flush), paho's
network thread (inside :class:`~community.ingest.MqttIngest`), and the event loop that runs
HTTP, WebSockets, the hub-presence timer, the escalation engine and the notification worker
(plus apprise's small thread pool).

The services that follow alarms — escalation and the CAP feed — are observers of the store,
so they see every change in the transaction that makes it, however it was made.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from community import field_views
from community.accounts import Accounts, Principal
from community.alarms import PersonAction, WorkAction
from community.cap import FEED_LIMIT, CapPublisher, atom_feed
from community.care import CareDesk  # daily care checks, care bookings
from community.charging_sessions import ChargingSessions
from community.clock import Clock, iso, now_ms
from community.commands import CommandDesk
from community.community_key import KEY_FILE, load_or_create_community_key
from community.config import CommunityConfig
from community.consent_check import ConsentCheck
from community.credentials import (
    hash_password,
    load_or_create_token,
    new_password,
    verify_password,
)
from community.elevator import KIND as ELEVATOR_KIND
from community.elevator import ElevatorDesk
from community.erasure import ErasureDesk
from community.escalation import EscalationEngine
from community.escalation_rules import Whose, load_rules
from community.estate import ESTATE_FILE  # property hierarchy names
from community.field_engine import FieldEngine
from community.field_rules import FieldRules
from community.ingest import MqttIngest
from community.live import LiveFeed
from community.mailbox import Mailbox  # sealed fields for family and carers
from community.mailbox_recipients import add_recipient_services
from community.notice_board import NoticeBoard  # the manager's notices
from community.notices import NoticeDesk
from community.notify import Notifier
from community.order_notify import OrderNotices  # overdue orders notified
from community.parcels import ParcelDesk  # parcels
from community.pipeline import Outcome, Pipeline
from community.plates import PlateRegistry, consent_decider
from community.queries import AlarmQuery, QueryError, clean_text, parse_alarm_query
from community.replay import ReplayGuard, ReplayWindow
from community.resident_keys import ResidentKeys
from community.resident_orders import ResidentOrders  # repairs from hubs
from community.services import ServiceDesk
from community.store import HubChange, Store
from community.visitors import VisitorDesk  # visitor passes
from community.web import PathOnlyAccessLogger, make_app
from community.web_care import add_care_routes  # daily care checks
from community.web_charging import add_charging_routes
from community.web_desk import add_desk_routes
from community.web_estate import Estate, add_estate_routes  # property hierarchy
from community.web_field import add_field_routes
from community.web_lanes import Lanes, add_lane_routes
from community.web_mailbox import add_mailbox_routes
from community.web_notices import add_notice_routes  # the manager's notices
from community.web_orders import OrderDesk, add_order_routes
from community.web_parcels import add_parcel_routes  # parcels
from community.web_visitors import add_visitor_routes  # visitor passes
from community.work_orders import WorkOrders
from devices.messages import DEVICE_ID_RE
from devices.uplink import UplinkRecord
from privacy.consent import SignedConsent
from privacy.envelope import key_id, public_bytes

log = logging.getLogger(__name__)

DB_FILE: Final = "community.db"
TOKEN_FILE: Final = "manager.token"  # noqa: S105 - a file name, not a secret
#: The read-only token of the CAP feed, for city platforms (it can read nothing else).
CAP_TOKEN_FILE: Final = "cap.token"  # noqa: S105 - a file name, not a secret
#: How often duration rules are checked without news (seconds).
FIELD_POLL_S: Final = 0.5
_T = TypeVar("_T")


class CommunityServer:
    def __init__(
        self,
        config: CommunityConfig,
        *,
        clock: Clock = now_ms,
        field_rules: FieldRules | None = None,
        replay_window: ReplayWindow | None = None,
    ) -> None:
        """Raises ValueError for an unusable configuration (escalation table, targets, CAP)."""
        self._config = config
        self._clock = clock
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._token = load_or_create_token(config.data_dir / TOKEN_FILE)
        self._cap_token = load_or_create_token(config.data_dir / CAP_TOKEN_FILE)
        self._notifier = Notifier(
            config.notify_targets,
            community_id=config.community_id,
            clock=clock,
            retry_s=config.notify_retry_s,
            attempts=config.notify_attempts,
            poll_s=config.escalation_poll_s,
        )
        self._escalation = EscalationEngine(
            load_rules(config.escalation_file),
            self._notifier,
            clock=clock,
            poll_s=config.escalation_poll_s,
            # Fire lanes: a blocked lane tells the vehicle's owner first (community.plates).
            resolvers={
                Whose.VEHICLE_OWNER: lambda db, a, now: self.field.vehicle_owner(db, a, now)
            },
        )
        self._cap = CapPublisher(
            community_id=config.community_id,
            sender=config.cap_sender,
            utc_offset_min=config.cap_utc_offset_min,
        )
        self._community_key = load_or_create_community_key(config.data_dir / KEY_FILE)
        #: Residents' data at rest under their own keys (community.resident_keys).
        self.resident_keys = ResidentKeys(config.data_dir, self._community_key)
        self._store = Store(
            config.data_dir / DB_FILE,
            observers=(self._escalation, self._cap),
            keys=self.resident_keys,
        )
        self._escalation.attach(self._store)
        self._keys: dict[str, Ed25519PublicKey] = {
            hub_id: Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key))
            for hub_id, hex_key in self._store.hub_public_keys().items()
        }
        self._feed = LiveFeed()
        self._common_areas = self._store.common_area_hubs()
        self.consent = ConsentCheck(config.data_dir, mode=config.consent, home_of=self._home_of)
        #: Safety rules for field devices: charging ports, the shed, fire lanes.
        #: Fire lanes: plate -> home under consent, stored as keyed hashes only.
        self.plates = PlateRegistry(self._store, config.data_dir, consent_decider(self.consent))
        self.field = FieldEngine(self._store, field_rules, self.plates)
        #: Elevator cars held for an e-bike, and their release.
        self.elevators = ElevatorDesk(self._store)
        #: Refuses stale and replayed records at ingest (community.replay).
        self.replay = ReplayGuard(
            self._store,
            replay_window
            or ReplayWindow(
                future_ms=config.replay_future_s * 1000,
                past_ms=config.replay_past_s * 1000,
                reorder=config.replay_reorder,
            ),
            clock,
            audit=lambda: self.consent.audit,
        )
        self._pipeline = Pipeline(
            self._store,
            self._keys.get,
            clock,
            self._consent_check,
            field=self.field,
            replay=self.replay.check,
            resident=(  # notices and charging are built below, once the key is loaded
                lambda record, now: self.notices.on_record(record, now),
                lambda record, now: self.charging.on_record(record, now),
                lambda record, now: self.services.on_record(record, now),
                lambda record, now: self.mailbox.on_record(record, now),
                lambda record, now: self.parcels.on_record(record, now),  # parcels
                lambda record, now: self.visitors.on_record(record, now),  # visitor passes
            ),
            scrub=(lambda record: self.parcels.scrub(record),),  # parcels: no code stored
        )
        self._ingest = MqttIngest(
            config, self._pipeline, self._write, self._publish, self._publish_hub
        )
        #: Commands to devices behind hubs (see community.commands).
        self.commands = CommandDesk(
            community_id=config.community_id,
            key=self._community_key,
            store=self._store,
            write=self._write,
            publish=self._ingest.publish,
            clock=clock,
            on_unacknowledged=lambda row: self._field_wake.set(),
        )
        #: Notices to homes; residents' charging sessions (community.notices, .charging_sessions)
        self.notices = NoticeDesk(
            community_id=config.community_id,
            key=self._community_key,
            store=self._store,
            write=self._write,
            publish=self._ingest.publish,
            clock=clock,
        )
        #: Residents' requests to property services, routed to the handler each registered.
        self.services = ServiceDesk(self._store, self.notices)
        ErasureDesk(self.resident_keys, self.consent).register(self.services)  # privacy/erase
        #: Sealed fields waiting for their recipients; who registered each (community.mailbox).
        self.mailbox = Mailbox(self._store, clock)
        add_recipient_services(self.services, self.mailbox)
        #: Daily care checks (alarm for staff, sealed message to family) and care bookings.
        self.care = CareDesk(self._store, self.mailbox)
        self.care.register(self.services)
        self.charging = ChargingSessions(
            store=self._store,
            notices=self.notices,
            send=self.commands.send,
            write=self._write,
            clock=clock,
        )
        #: Staff accounts and roles; work orders (repairs, complaints) and their SLA timer.
        self.accounts = Accounts(self._store, self._token, clock())
        self.work_orders = WorkOrders(self._store, self.accounts.role_of)
        #: The manager's notices; parcels in the lockers (community.notice_board, .parcels).
        self.notice_board = NoticeBoard(self._store, self.notices, self._write, clock)
        self.parcels = ParcelDesk(
            store=self._store,
            notices=self.notices,
            write=self._write,
            clock=clock,
            data_dir=config.data_dir,
        )
        self.order_desk = OrderDesk(
            self.work_orders,
            self.accounts,
            write=self._write,
            clock=clock,
            feed=self._feed,
            poll_s=config.escalation_poll_s,
        )
        # Residents' repair orders from their hubs, progress back to them; overdue orders are
        # delivered like alarm escalations (community.resident_orders, .order_notify).
        ResidentOrders(self.work_orders, self.notices).register(self.services)
        self.work_orders.watch(OrderNotices(self._notifier).on_change)
        self.order_desk.on_fired.append(self._notifier.wake)
        #: Visitor passes: issued to residents, checked offline at gates (community.visitors).
        self.visitors = VisitorDesk(
            community_id=config.community_id,
            data_dir=config.data_dir,
            store=self._store,
            services=self.services,
            notices=self.notices,
            send=self.commands.send,
            write=self._write,
            clock=clock,
        )
        self._field_wake = asyncio.Event()
        self._elevator_lock = asyncio.Lock()
        self._field_task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._runner: web.AppRunner | None = None
        self._presence: asyncio.Task[None] | None = None
        self._port = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve HTTP and start ingesting; a broker that is down is connected to later."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="community-db")
        app = make_app(self)
        add_desk_routes(app)
        add_lane_routes(  # fire lanes: plate registry and weekly report
            app,
            Lanes(
                self.plates, self._store, self._write, self._clock, self._config.cap_utc_offset_min
            ),
        )
        add_field_routes(app)
        add_charging_routes(app)  # which homes may charge
        add_order_routes(app)  # work orders, staff accounts
        add_estate_routes(  # the property's hierarchy (community.estate)
            app,
            Estate(
                self._config.community_id,
                self._config.data_dir / ESTATE_FILE,
                self._store.hubs,
                self._store.common_area_hubs,
                self._store.read,
                self._write,
            ),
        )
        add_care_routes(app)  # daily care checks, care bookings
        self.care.attach(self._alarms_changed)  # care alarms go out live
        add_notice_routes(app)  # the manager's notices
        add_parcel_routes(app)  # parcels
        add_visitor_routes(app)  # visitor passes
        add_mailbox_routes(app, self.mailbox, self._write)  # family members' sealed fields
        self._runner = web.AppRunner(app, access_log_class=PathOnlyAccessLogger)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._config.http_host, self._config.http_port)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])
        await self._notifier.start(self._store, self._write)
        # Steps that fell due while the server was down fire now, once.
        await self._escalation.start(self._write, self._escalated)
        await self._ingest.start()
        await self.commands.start()
        await self.notices.start()
        await self.charging.start()
        await self.order_desk.start()
        await self.parcels.start()  # parcels
        await self.visitors.start()  # visitor passes
        self._field_task = asyncio.create_task(self._watch_field(), name="community-field")
        self._presence = asyncio.create_task(self._watch_presence(), name="community-presence")
        log.info("community %s serving on port %d", self._config.community_id, self._port)

    async def stop(self) -> None:
        log.info("community %s stopping; since start: %s", self._config.community_id, self.stats())
        if self._field_task is not None:
            self._field_task.cancel()
            await asyncio.gather(self._field_task, return_exceptions=True)
            self._field_task = None
        await self.visitors.stop()  # visitor passes
        await self.parcels.stop()  # parcels
        await self.order_desk.stop()
        await self.charging.stop()
        await self.notices.stop()
        await self.commands.stop()
        await self._ingest.stop()
        if self._presence is not None:
            self._presence.cancel()
            await asyncio.gather(self._presence, return_exceptions=True)
            self._presence = None
        await self._escalation.stop()
        await self._notifier.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._executor is not None:
            await self._write(self.consent.close)
            await asyncio.to_thread(self._executor.shutdown, True)
            self._executor = None
        self._store.close()
        self.resident_keys.close()

    async def _write(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn`` on the single writer thread."""
        if self._executor is None:
            raise RuntimeError("the community server is not running")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _publish(self, outcome: Outcome) -> None:
        self._alarms_changed(outcome.alarms)
        self._field_wake.set()
        if outcome.hub is not None:
            self._feed.hub(outcome.hub)

    def _publish_hub(self, change: HubChange) -> None:
        self._feed.hub(change.hub)
        self._alarms_changed(change.alarms)

    def _push(self, alarm: dict[str, Any]) -> None:
        """Push one alarm to the live dashboards as the API shows it (with command status)."""
        self._feed.alarm(alarm if "command_status" in alarm else self._with_command(alarm))

    def _alarms_changed(self, alarms: tuple[dict[str, Any], ...]) -> None:
        """Push changed alarms live; a new alarm may have queued its first notifications."""
        for alarm in alarms:
            self._push(alarm)
        if alarms:
            self._escalation.wake()
            self._notifier.wake()

    def _escalated(self, alarms: list[dict[str, Any]]) -> None:
        for alarm in alarms:
            self._push(alarm)
        self._notifier.wake()

    async def _watch_field(self) -> None:
        """Fire duration rules that came due, alarm unacknowledged cuts, book asked-for cuts."""
        while True:
            try:
                await self._field_round()
            except Exception:
                log.exception("field rules round failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FIELD_POLL_S):
                    await self._field_wake.wait()
            self._field_wake.clear()

    async def _field_round(self) -> None:
        alarms = await self._write(self.field.tick, self._clock())
        self._alarms_changed(tuple(alarms))
        for cut in await self._write(self.field.unbooked):
            try:
                command_id = await self.commands.send(
                    cut.hub_id, cut.device_id, "port_cut", {"reason": cut.reason}
                )
            except ValueError as exc:
                log.warning("could not cut %s (%s): %s", cut.device_id, cut.reason, exc)
                continue
            await self._write(self.field.booked, cut, command_id)
            log.info("cut %s (%s): command %s", cut.device_id, cut.reason, command_id)
        await self._elevator_round()

    async def _elevator_round(self) -> None:
        """Hold cars with an e-bike alarm, release those cleared or released by staff.

        One round at a time (the field timer and a staff release both start rounds), so a
        decided command is sent once.
        """
        async with self._elevator_lock:
            await self._elevator_send()

    async def _elevator_send(self) -> None:
        await self._write(self.elevators.scan, self._clock())
        for pending in await self._write(self.elevators.pending):
            try:
                first = ""
                for command, args in pending.commands:
                    sent = await self.commands.send(
                        pending.hub_id, pending.device_id, str(command), args
                    )
                    first = first or sent
            except ValueError as exc:
                log.warning("could not %s %s: %s", pending.phase, pending.device_id, exc)
                continue
            await self._write(self.elevators.sent, pending, first)
            log.info("elevator %s: %s (command %s)", pending.device_id, pending.phase, first)

    async def _watch_presence(self) -> None:
        """A hub that stops heartbeating is offline, even if its last will never arrived; one
        that stays offline gets its trouble alarm."""
        after_ms = int(self._config.hub_offline_after_s * 1000)
        alarm_ms = int(self._config.hub_offline_alarm_after_s * 1000)
        interval = max(
            0.2,
            min(
                5.0,
                self._config.hub_offline_after_s / 4,
                self._config.hub_offline_alarm_after_s / 4,
            ),
        )
        while True:
            await asyncio.sleep(interval)
            try:
                silent = await self._write(self._store.mark_silent_hubs, self._clock(), after_ms)
                raised = await self._write(self._store.raise_hub_alarms, self._clock(), alarm_ms)
            except sqlite3.Error:
                log.exception("could not check hub presence")
                continue
            for alarm in raised:
                log.info("hub %s has been offline too long: trouble alarm raised", alarm["hub_id"])
            self._alarms_changed(tuple(raised))
            for change in silent:
                log.info(
                    "hub %s is offline: no heartbeat for %ss",
                    change.hub["hub_id"],
                    after_ms // 1000,
                )
                self._publish_hub(change)

    # --- public API ------------------------------------------------------------------------

    @property
    def http_port(self) -> int:
        return self._port

    @property
    def manager_token(self) -> str:
        return self._token

    @property
    def cap_token(self) -> str:
        """Read-only access to the CAP feed (``Authorization: Bearer``), nothing else."""
        return self._cap_token

    @property
    def feed(self) -> LiveFeed:
        return self._feed

    def principal(self, token: str) -> Principal | None:
        """Who a web token belongs to: a staff account (the manager token: property admin)."""
        return self.accounts.authenticate(token)

    def enroll_hub(
        self,
        hub_id: str,
        home_id: str,
        public_key: Ed25519PublicKey,
        *,
        building: str = "",
        unit: str = "",
        issue_password: bool = True,
        common_area: bool = False,
    ) -> str:
        """Register a hub and its signing key; return a fresh broker password for it.

        The password is stored only as a hash; enrolling again rotates it. With
        ``issue_password=False`` only the key and location are (re)registered, any stored
        password stays valid, and the empty string is returned. ``common_area`` marks a
        gateway the community runs itself (charging shed, lift, fire lane): no resident's
        home is behind it, so residents' consents do not apply to what it reports.
        """
        if not DEVICE_ID_RE.fullmatch(hub_id):
            raise ValueError("hub_id must be 1-64 letters, digits or ._:- and start alnum")
        try:
            home = clean_text(home_id, "home_id", 64).strip()
            building = clean_text(building, "building", 64).strip()
            unit = clean_text(unit, "unit", 64).strip()
        except QueryError as exc:
            raise ValueError(str(exc)) from None
        if not home:
            raise ValueError("home_id must not be empty")
        password = new_password() if issue_password else ""
        self._store.upsert_hub(
            hub_id=hub_id,
            home_id=home,
            building=building,
            unit=unit,
            public_key_hex=public_bytes(public_key).hex(),
            key_id=key_id(public_key),
            password_hash=hash_password(password) if issue_password else None,
            now=self._clock(),
            common_area=common_area,
        )
        self._keys[hub_id] = public_key
        if common_area:
            self._common_areas.add(hub_id)
        else:
            self._common_areas.discard(hub_id)
        return password

    def register_hub_key(
        self,
        hub_id: str,
        home_id: str,
        public_key: Ed25519PublicKey,
        *,
        building: str = "",
        unit: str = "",
        common_area: bool = False,
    ) -> None:
        """Register a hub's signing key without touching its broker password."""
        self.enroll_hub(
            hub_id,
            home_id,
            public_key,
            building=building,
            unit=unit,
            issue_password=False,
            common_area=common_area,
        )

    async def register_resident(
        self, home_id: str, subject: str, public_key: Ed25519PublicKey
    ) -> None:
        """Trust a resident's key to sign the consents of their home (see consent_check)."""
        await self._write(self.consent.register_resident, home_id, subject, public_key)
        await self._write(self.resident_keys.register, home_id, subject)

    async def record_consent(self, signed: SignedConsent) -> int:
        """Store a resident-signed grant or withdrawal; raises ConsentError, storing nothing."""
        return await self._write(self.consent.record, signed)

    def _consent_check(self, record: UplinkRecord) -> str | None:
        """Residents' consent governs what leaves a *home*; a common-area gateway the
        community runs itself (charging shed, lift, fire lane) carries the community's own
        operational data, so only home hubs are checked."""
        if record.hub_id in self._common_areas:
            return None
        return self.consent.check(record)

    def _home_of(self, hub_id: str) -> str | None:
        rows = self._store.read("SELECT home_id FROM hubs WHERE hub_id = ?", [hub_id])
        return str(rows[0]["home_id"]) if rows else None

    @property
    def community_public_key_hex(self) -> str:
        """What a hub is given at enrollment to verify the community's downlink commands."""
        return public_bytes(self._community_key.public_key()).hex()

    async def send_command(
        self, hub_id: str, device_id: str, command: str, args: dict[str, Any] | None = None
    ) -> str:
        """Send a command to a device behind a hub; returns its command_id (see commands)."""
        return await self.commands.send(hub_id, device_id, command, args)

    def command_status(self, command_id: str) -> dict[str, Any] | None:
        return self.commands.status(command_id)

    def verify_hub_password(self, hub_id: str, password: str) -> bool:
        """Check a hub's broker password against the stored hash (for a broker's auth hook)."""
        stored = self._store.hub_password_hash(hub_id)
        return stored is not None and verify_password(password, stored)

    def alarms(self, **filters: object) -> list[dict[str, Any]]:
        """Alarms as ``GET /api/alarms`` returns them; raises ValueError for bad filters."""
        alarms, _ = self._store.query_alarms(parse_alarm_query(filters))
        return [self._with_command(alarm) for alarm in alarms]

    def _with_command(self, alarm: dict[str, Any]) -> dict[str, Any]:
        """The alarm with ``command_status`` of the command it caused (None if none): the
        port cut of a field rule, or an elevator car's hold or release (also as ``hold``)."""
        alarm_id = int(alarm["id"])
        hold = self.elevators.hold(alarm_id) if alarm.get("kind") == ELEVATOR_KIND else None
        status = hold["command_status"] if hold else self.field.command_status(alarm_id)
        return {**alarm, "command_status": status, **({"hold": hold} if hold else {})}

    def events(self) -> list[dict[str, Any]]:
        """Every stored device event (key, hub, home, device, event, active, device_seq, ts)."""
        return self._store.events()

    def hubs(self) -> list[dict[str, Any]]:
        """Every enrolled hub as ``GET /api/hubs`` shows it (status, last seen, devices)."""
        return self._store.hubs()

    def alarm(self, alarm_id: int) -> dict[str, Any] | None:
        """One alarm as ``GET /api/alarms/{id}`` returns it (history, evidence, escalation)."""
        return self._alarm_detail(alarm_id)

    def cap_messages(self) -> list[tuple[str, bytes]]:
        """Every CAP message published so far, oldest first: (file name, XML document)."""
        rows = self._store.read(
            "SELECT identifier, xml FROM cap_messages ORDER BY sent_ms, alarm_id, n"
        )
        return [(f"{r['identifier']}.xml", bytes(r["xml"])) for r in rows]

    def stats(self) -> dict[str, int]:
        """received, stored, duplicates, rejected, acked — since this process started."""
        return self._ingest.stats.as_dict()

    # --- web backend -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "mqtt_connected": self._ingest.connected,
            "ingesting": self._ingest.subscribed,
        }

    async def list_alarms(self, query: AlarmQuery) -> tuple[list[dict[str, Any]], int]:
        alarms, total = await self._write(self._store.query_alarms, query)
        return [self._with_command(alarm) for alarm in alarms], total

    def _alarm_detail(self, alarm_id: int) -> dict[str, Any] | None:
        alarm = self._store.alarm(alarm_id)
        if alarm is None:
            return None
        alarm["escalation"] = self._escalation.steps(alarm_id)
        alarm["notifications"] = self._notifier.deliveries(alarm_id)
        alarm["work_orders"] = self.work_orders.for_alarm(alarm_id)
        return self._with_command(alarm)

    async def get_alarm(self, alarm_id: int) -> dict[str, Any] | None:
        return await self._write(self._alarm_detail, alarm_id)

    async def act(
        self, alarm_id: int, action: PersonAction, by: str, note: str | None
    ) -> tuple[dict[str, Any], bool]:
        alarm, changed = await self._write(
            self._store.act, alarm_id, action, by, note, self._clock()
        )
        if changed:
            self._push(alarm)
        return alarm, changed

    async def work(
        self, alarm_id: int, action: WorkAction, by: str, to: str | None, note: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Assign (``to``), start, or resolve (``note``); raises like ``Store.work``."""
        alarm, changed = await self._write(
            functools.partial(self._store.work, to=to, note=note),
            alarm_id,
            action,
            by,
            self._clock(),
        )
        if changed:
            self._push(alarm)
        return alarm, changed

    async def charging_homes(self) -> list[dict[str, Any]]:
        """The homes allowed to charge in the sheds (``GET /api/charging/homes``)."""
        rows = await self._write(
            self._store.read, "SELECT home_id, since_ms FROM charging_homes ORDER BY home_id"
        )
        return [{"home_id": r["home_id"], "since": iso(int(r["since_ms"]))} for r in rows]

    async def set_charging(self, home_id: str, allowed: bool) -> bool:
        """Allow or stop a home's charging; False if no enrolled home hub has that id."""
        homes = await self._write(
            self._store.read,
            "SELECT 1 FROM hubs WHERE home_id = ? AND coalesce(common_area, 0) = 0",
            [home_id],
        )
        if not homes:
            return False
        change = self.charging.allow if allowed else self.charging.disallow
        await self._write(change, home_id)
        return True

    async def release_elevator(self, alarm_id: int, by: str) -> dict[str, Any]:
        """Staff release a held car; raises AlarmNotFoundError or elevator.ReleaseError."""
        await self._write(self.elevators.release, alarm_id, by, self._clock())
        await self._elevator_round()
        alarm = await self.get_alarm(alarm_id)
        assert alarm is not None
        self._push(alarm)
        return alarm

    async def add_evidence(
        self, alarm_id: int, uri: str, sha256: str, kind: str, by: str
    ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        alarm, entry, added = await self._write(
            self._store.add_evidence, alarm_id, uri, sha256, kind, by, self._clock()
        )
        if added:
            self._push(alarm)
        return alarm, entry, added

    async def cap_feed(self, base_url: str) -> bytes:
        rows = await self._write(
            self._store.read,
            "SELECT identifier, msg_type, sent, sent_ms, headline, xml FROM cap_messages"
            " ORDER BY sent_ms DESC, alarm_id DESC, n DESC LIMIT ?",
            [FEED_LIMIT],
        )
        return atom_feed(self._cap.publisher, rows, base_url, self._clock())

    async def cap_message(self, identifier: str) -> bytes | None:
        rows = await self._write(
            self._store.read, "SELECT xml FROM cap_messages WHERE identifier = ?", [identifier]
        )
        return bytes(rows[0]["xml"]) if rows else None

    async def list_hubs(self) -> list[dict[str, Any]]:
        return await self._write(self._store.hubs)

    async def snapshot(self) -> dict[str, Any]:
        alarms = await self._write(self._store.open_alarms)
        hubs = await self._write(self._store.hubs)
        return {"alarms": alarms, "hubs": hubs, "server_time": iso(self._clock())}

    async def field_ports(self, view: field_views.FieldFilter) -> dict[str, Any]:
        """The charging shed page (``GET /api/field/ports``)."""
        return await self._write(field_views.ports, self._store, view, self._clock())

    async def field_lanes(self, view: field_views.FieldFilter) -> dict[str, Any]:
        """The fire lanes page (``GET /api/field/lanes``)."""
        return await self._write(
            field_views.lanes, self._store, self.field.rules, view, self._clock()
        )

    async def read_parcels(self, status: str, limit: int) -> dict[str, Any]:
        """The parcel desk's list (``GET /api/parcels``)."""
        return await self._write(self.parcels.view, status, limit)

    async def full_stats(self) -> dict[str, int]:
        counts = await self._write(self._store.counts)
        return {**self.stats(), **counts}
