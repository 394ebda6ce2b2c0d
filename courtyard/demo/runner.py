"""Compose a whole community on one machine and play the incident timeline.

Everything is the real thing except the devices: a real MQTT broker (the embedded one), a real
community server with its SQLite file and dashboard, one real hub per home with its own SQLite
file, and firmware stubs speaking the native device protocol over real WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from community import CommunityConfig, CommunityServer
from courtyard.broker import Broker
from courtyard.demo import staff
from courtyard.demo.accounts import BrokerAccounts
from courtyard.demo.consent import (
    CONSENT_STEPS,
    ConsentStep,
    DemoConsents,
    receipt_id,
    resident_id,
)
from courtyard.demo.escalation import write_rules
from courtyard.demo.family import fetch_mailboxes
from courtyard.demo.field import (
    FIELD_SITES,
    FIELD_TIMELINE,
    FieldLog,
    FieldStep,
    field_rules,
    make_field_devices,
)
from courtyard.demo.field import act as field_act
from courtyard.demo.layout import HOME_DEVICES, Home, homes
from courtyard.demo.monitor import AlarmMonitor
from courtyard.demo.newdevice import NewDevice
from courtyard.demo.property import SCENES, PropertyStep, Scene
from courtyard.demo.report import build_report, write_cap
from courtyard.demo.timeline import STAFF, TIMELINE, StaffStep, Step
from devices.catalog import KINDS
from devices.messages import Event
from firmware_stubs import SimulatedDevice, make_device
from hub import Hub, HubConfig
from hub.core import BusEvent
from hub.events import DeviceEventFired, Origin
from hub.keys import load_or_create_hub_key

COMMUNITY_USER = "community"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    homes: int = 20
    duration: float = 30.0
    headless: bool = True
    report: Path | None = None
    data_dir: Path | None = None
    port: int = 8600
    seed: int = 7


@dataclass(frozen=True, slots=True)
class Timing:
    """Compressed time so the whole story fits the run, derived from one number: the duration."""

    supervision_scale: float
    device_heartbeat_s: float
    telemetry_s: float
    hub_heartbeat_s: float
    #: Escalation delays are multiplied by this (a 30 s tier becomes 1.5 s in a 30 s demo).
    escalation_scale: float

    @classmethod
    def for_duration(cls, duration: float) -> Timing:
        fastest = min(k.supervision_s for k in KINDS.values())
        offline_after = max(2.0, duration * 0.12)
        return cls(
            supervision_scale=offline_after / fastest,
            device_heartbeat_s=offline_after / 4,
            telemetry_s=max(1.0, duration / 8),
            hub_heartbeat_s=max(1.0, duration / 10),
            escalation_scale=duration / 600,
        )

    def describe(self) -> str:
        smoke = KINDS[next(iter(KINDS))].supervision_s
        offline = smoke * self.supervision_scale
        return (
            f"time is compressed: a device is declared offline after {offline:.1f} s "
            f"of silence instead of {smoke // 60} min; devices send a heartbeat every "
            f"{self.device_heartbeat_s:.1f} s"
        )


@dataclass
class Community:
    """The running parts, kept together so they can be stopped in reverse order."""

    broker: Broker
    server: CommunityServer
    hubs: dict[str, Hub] = field(default_factory=dict)
    devices: dict[tuple[int, str], SimulatedDevice] = field(default_factory=dict)
    homes: list[Home] = field(default_factory=list)
    #: Events the hubs raised themselves (supervision's device_offline), as the report's origin.
    hub_raised: list[Event] = field(default_factory=list)
    new_devices: list[NewDevice] = field(default_factory=list)
    consents: DemoConsents = field(default_factory=DemoConsents)
    #: The community's own gateways (charging shed, lift and lane) and their devices.
    field_hubs: dict[str, Hub] = field(default_factory=dict)
    field_devices: dict[str, SimulatedDevice] = field(default_factory=dict)
    field_log: FieldLog = field(default_factory=FieldLog)
    #: The property services' scenes of this run (courtyard.demo.property).
    scenes: list[Scene] = field(default_factory=list)

    def all_hubs(self) -> list[Hub]:
        return [*self.hubs.values(), *self.field_hubs.values()]

    def all_devices(self) -> list[SimulatedDevice]:
        return [*self.devices.values(), *self.field_devices.values()]

    def record_hub_event(self, fired: BusEvent[DeviceEventFired]) -> None:
        if fired.data.origin is Origin.HUB:
            self.hub_raised.append(fired.data.event)


def _say(text: str) -> None:
    print(text, flush=True)


def _gateway(
    community: Community,
    accounts: BrokerAccounts,
    data_dir: Path,
    timing: Timing,
    hub_id: str,
    area: str,
    *,
    building: str,
    unit: str = "",
    common_area: bool = False,
    **config: Any,
) -> Hub:
    """First boot of a gateway: it makes its signing key, the community enrolls that key and
    issues the hub its own broker password, and the hub is built (started later).

    A home hub passes its consent settings in ``config``; a gateway without a resident
    (the shed, the lift and lane) is enrolled as a ``common_area``.
    """
    server = community.server
    hub_dir = data_dir / "hubs" / hub_id
    hub_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = load_or_create_hub_key(hub_dir / "hub_key.pem")
    password = server.enroll_hub(
        hub_id,
        area,
        key.public_key(),
        building=building,
        unit=unit,
        common_area=common_area,
    )
    accounts.add(hub_id, password)
    hub = Hub(
        HubConfig(
            hub_id=hub_id,
            home_id=area,
            data_dir=hub_dir,
            mqtt_host="127.0.0.1",
            mqtt_port=community.broker.port,
            mqtt_password=password,
            supervision_scale=timing.supervision_scale,
            heartbeat_s=timing.hub_heartbeat_s,
            ack_timeout_s=2.0,
            # Enrollment also hands the hub the key its community signs commands with.
            community_public_key_hex=server.community_public_key_hex,
            **config,
        )
    )
    hub.bus.subscribe(DeviceEventFired, community.record_hub_event)
    return hub


async def _start(options: DemoOptions, data_dir: Path, timing: Timing) -> Community:
    accounts = BrokerAccounts()
    community_password = secrets.token_urlsafe(24)
    accounts.add(COMMUNITY_USER, community_password, superuser=True)
    broker = Broker(host="127.0.0.1", port=0, authenticator=accounts, acl=accounts)
    await broker.start()

    server = CommunityServer(
        CommunityConfig(
            community_id="demo",
            data_dir=data_dir / "community",
            mqtt_host="127.0.0.1",
            mqtt_port=broker.port,
            mqtt_username=COMMUNITY_USER,
            mqtt_password=community_password,
            http_port=options.port,
            hub_offline_after_s=timing.hub_heartbeat_s * 3,
            escalation_file=write_rules(data_dir / "escalation.json", timing.escalation_scale),
            cap_utc_offset_min=480,
            consent="enforce",
        ),
        field_rules=field_rules(),
    )
    community = Community(broker=broker, server=server, homes=homes(options.homes))
    for home in community.homes:
        community.hubs[home.hub_id] = _gateway(
            community,
            accounts,
            data_dir,
            timing,
            home.hub_id,
            home.home_id,
            building=home.building,
            unit=home.unit,
            consent="enforce",
            resident_id=resident_id(home.home_id),
            # Residents pair new devices in the first home of an interactive demo.
            discovery=not options.headless and home.index == 0,
        )
    for site in FIELD_SITES:
        community.field_hubs[site.hub_id] = _gateway(
            community,
            accounts,
            data_dir,
            timing,
            site.hub_id,
            site.area,
            building=site.building,
            common_area=True,
            # No resident lives in the shed, the lift or the lane: no consent governs what
            # their gateways report (the community treats them as common areas too).
            consent="open",
        )

    await server.start()
    await asyncio.gather(*(hub.start() for hub in community.all_hubs()))
    await community.consents.enroll(community, family_dir=data_dir / "family")
    for home in community.homes:  # every demo home has signed the shed's rules of use
        await server.set_charging(home.home_id, True)

    for home in community.homes:
        hub = community.hubs[home.hub_id]
        url = f"ws://127.0.0.1:{hub.http_port}/api/device/ws"
        for n, role in enumerate(HOME_DEVICES):
            device_id = home.device_id(role)
            token = hub.provision_device(device_id, role.kind, role.name, role.room)
            device = make_device(
                role.kind,
                device_id,
                url,
                token,
                heartbeat_s=timing.device_heartbeat_s,
                telemetry_s=timing.telemetry_s,
                state_file=data_dir / "devices" / f"{device_id}.json",
                rng=random.Random(options.seed * 1000 + home.index * 10 + n),
            )
            community.devices[(home.index, role.role)] = device
    for site in FIELD_SITES:
        hub = community.field_hubs[site.hub_id]
        tokens = {
            d.device_id: hub.provision_device(d.device_id, d.kind, d.name, d.room)
            for d in site.devices
        }
        url = f"ws://127.0.0.1:{hub.http_port}/api/device/ws"
        community.field_devices.update(
            make_field_devices(site, url, tokens, data_dir, timing, options.seed)
        )
    (data_dir / "devices").mkdir(parents=True, exist_ok=True)
    await asyncio.gather(*(d.start() for d in community.all_devices()))
    await asyncio.gather(*(d.wait_connected(20) for d in community.all_devices()))
    community.scenes = [make() for make in SCENES]
    for scene in community.scenes:
        await scene.setup(community, options.duration)
    return community


async def _stop(community: Community) -> None:
    for new in community.new_devices:
        with contextlib.suppress(Exception):
            await new.stop()
    for device in community.all_devices():
        with contextlib.suppress(Exception):
            await device.stop()
    for hub in community.all_hubs():
        with contextlib.suppress(Exception):
            await hub.stop()
    with contextlib.suppress(Exception):
        await community.server.stop()
    with contextlib.suppress(Exception):
        await community.broker.stop()


async def _play(community: Community, options: DemoOptions, started: float) -> None:
    """Play the device timeline and, headless, the scripted staff, in time order."""
    steps: list[Step | StaffStep | ConsentStep | FieldStep | PropertyStep] = [
        *TIMELINE,
        *FIELD_TIMELINE,
        *CONSENT_STEPS,
        *(STAFF if options.headless else ()),
        *(step for scene in community.scenes for step in scene.steps()),
    ]
    for step in sorted(steps, key=lambda s: s.at):
        await asyncio.sleep(max(0.0, started + step.at * options.duration - time.monotonic()))
        if isinstance(step, Step):
            _act(community, step, options.duration)
        elif isinstance(step, FieldStep):
            field_act(community.field_devices[step.device_id], step, options.duration)
            community.field_log.record(step)
            _say(f"  >> {'field':>7}  {step.says}")
        elif isinstance(step, PropertyStep):
            await step.run(community, options.duration)
            _say(f"  >> {'property':>7}  {step.says}")
        elif isinstance(step, ConsentStep):
            home_id = await community.consents.apply(community, step)
            _say(f"  >> {home_id:>7}  {step.says}")
        else:
            base = f"http://127.0.0.1:{community.server.http_port}"
            count = await staff.act(base, community.server.manager_token, step.action)
            _say(f"  >> staff    {step.says} ({count})")


def _act(community: Community, step: Step, duration: float) -> None:
    home = community.homes[step.home % len(community.homes)]
    device = community.devices[(home.index, step.role)]
    getattr(device, step.action)(**step.kwargs(duration))
    _say(f"  >> {home.home_id:>7}  {step.says}")


async def _drain(community: Community, within_s: float) -> None:
    """Wait until every device event is acked by its hub and every hub outbox is empty."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        pending_devices = sum(d.pending_events() for d in community.all_devices())
        pending_hubs = sum(h.outbox_pending() for h in community.all_hubs())
        if pending_devices == 0 and pending_hubs == 0:
            return
        await asyncio.sleep(0.2)


async def _offer_pairing(community: Community, data_dir: Path, timing: Timing) -> None:
    """Put a new, unpaired smoke alarm beside the first home and say how to pair it."""
    home = community.homes[0]
    hub = community.hubs[home.hub_id]
    new = NewDevice(
        f"{home.home_id}-new-smoke",
        data_dir / "devices",
        _say,
        heartbeat_s=timing.device_heartbeat_s,
        telemetry_s=timing.telemetry_s,
    )
    community.new_devices.append(new)
    code = await new.start()
    token = (await asyncio.to_thread(Path(hub.admin_token_path).read_text)).strip()
    _say(
        f"  Pair a new smoke alarm as the resident of {home.home_id} would: open "
        f"http://127.0.0.1:{hub.http_port}/login?token={token} and enter setup code {code}"
    )


async def run_demo(options: DemoOptions) -> int:
    temp: str | None = None
    if options.data_dir is None:
        temp = tempfile.mkdtemp(prefix="courtyard-demo-")
        data_dir = Path(temp)
    else:
        data_dir = options.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
    timing = Timing.for_duration(options.duration)
    _say(
        f"Courtyard demo: {options.homes} homes, {options.homes * len(HOME_DEVICES)} devices, "
        f"timeline of {options.duration:.0f} s"
    )
    _say(f"  {timing.describe()}")
    try:
        community = await _start(options, data_dir, timing)
    except BaseException:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        raise
    monitor = AlarmMonitor(
        f"http://127.0.0.1:{community.server.http_port}", community.server.manager_token, _say
    )
    outcome = 0
    try:
        await monitor.start()
        base = f"http://127.0.0.1:{community.server.http_port}"
        _say(f"  broker: embedded on 127.0.0.1:{community.broker.port}; data in {data_dir}")
        # The one-time login link carries this run's manager token: it is shown only here,
        # on the operator's own terminal, never logged.
        _say(f"  dashboard: {base}/login?token={community.server.manager_token}")
        _say(monitor.header())
        started = time.monotonic()
        await _play(community, options, started)
        await asyncio.sleep(max(0.0, started + options.duration - time.monotonic()))
        await _drain(community, within_s=20)
        # Family members' apps fetch and open their sealed fields (courtyard.demo.family).
        consents = community.consents
        consents.family_mailbox = await fetch_mailboxes(community, consents.family)
        receipt = await community.consents.erase(community)
        _say(
            f"  >> {receipt.resident_id:>7}  erased at the hub (data key destroyed); "
            f"deletion receipt {receipt_id(receipt)}"
        )
        erased = community.consents.erasure or {}
        if erased.get("community_receipt_id"):  # the community erased its copy too
            _say(f"  >> {'':>7}  erased at the community; receipt {erased['community_receipt_id']}")
        await monitor.settle(community.server, within_s=10)
        if options.report is not None:
            report = await build_report(community, monitor, timing)
            options.report.write_text(json.dumps(report, indent=2, ensure_ascii=False))
            _say(
                f"report: {options.report}  injected={report['alarms_injected']} "
                f"delivered={report['alarms_delivered']} duplicates={report['duplicates']} "
                f"lost={report['lost']} latency p50={report['latency_ms']['p50']} ms "
                f"p99={report['latency_ms']['p99']} ms"
            )
            outcome = 1 if report["lost"] or report["duplicates"] else 0
            cap_dir = write_cap(options.report, community.server.cap_messages())
            _say(f"CAP 1.2 messages: {cap_dir}/ ({len(list(cap_dir.iterdir()))} files)")
        if not options.headless:
            await _offer_pairing(community, data_dir, timing)
            _say("The timeline has played. The dashboard stays up: press Ctrl-C to stop.")
            await asyncio.Event().wait()
    finally:
        await monitor.stop()
        await _stop(community)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return outcome
