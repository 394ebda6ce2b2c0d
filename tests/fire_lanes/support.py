"""A real community store with the escalation engine, the plate registry and resident-signed
consents (real SQLite files), fed fire-lane records as the pipeline feeds them, on a clock the
test moves."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from community.config import Channel, NotifyTarget
from community.consent_check import DUTY, ConsentCheck
from community.escalation import EscalationEngine
from community.escalation_rules import Audience, EscalationRules, Whose
from community.field_engine import FieldEngine
from community.field_rules import FieldRules
from community.notify import Notifier
from community.plates import PlateRegistry, consent_decider
from community.store import Store
from devices.catalog import DeviceKind
from devices.messages import State
from devices.uplink import DeviceInfo, UplinkRecord, encode_record, report
from privacy.consent import (
    CollectionMethod,
    ConsentRecord,
    SignedConsent,
    category_grant,
    new_consent_id,
    notice_hash,
    sign_consent,
)
from privacy.vocabulary import Category, LegalBasis, Purpose

FIELD_HUB = "hub-field"
OWNER_HOME = "home-101"
OTHER_HOME = "home-202"
SUBJECT = "li"
NEIGHBOUR = "wang"
T0 = 1_790_000_000_000
LANE = DeviceKind.FIRE_LANE_SENSOR
SECRET = "s" * 32
NOTICE = "Your plate is matched to your home so we can tell you when it blocks a fire lane."


def _hook(name: str, audience: Audience, homes: tuple[str, ...] = ()) -> NotifyTarget:
    return NotifyTarget(
        name, Channel.WEBHOOK, f"https://{name}.example/", (audience,), homes, secret=SECRET
    )


TARGETS = (
    _hook("owner-101", Audience.RESIDENT, (OWNER_HOME,)),
    _hook("owner-202", Audience.RESIDENT, (OTHER_HOME,)),
    _hook("duty", Audience.DUTY_STAFF),
    _hook("manager", Audience.MANAGER),
)


def plate_consent(
    key: Ed25519PrivateKey,
    *,
    home: str = OWNER_HOME,
    subject: str = SUBJECT,
    fields: tuple[str, ...] = ("plate",),
    granted_at: int = T0 - 86_400_000,
    lasts_ms: int = 30 * 86_400_000,
    purpose: Purpose = Purpose.SAFETY_MONITORING,
) -> ConsentRecord:
    at = datetime.fromtimestamp(granted_at / 1000, UTC)
    return ConsentRecord(
        consent_id=new_consent_id(),
        revision=0,
        subject=subject,
        home=home,
        purpose=purpose,
        legal_basis=LegalBasis.CONSENT,
        categories=(category_grant(Category.VEHICLE_PLATE, fields, 365),),
        recipients=(DUTY,),
        granted_at=at,
        expires_at=at + timedelta(milliseconds=lasts_ms),
        collection_method=CollectionMethod.API,
        notice_version="1",
        notice_hash=notice_hash(NOTICE),
    )


@dataclass
class Lanes:
    data_dir: Path
    rules: FieldRules = field(default_factory=FieldRules)
    now: int = T0
    seqs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.notifier = Notifier(
            TARGETS,
            community_id="test",
            clock=lambda: self.now,
            retry_s=1.0,
            attempts=1,
            poll_s=1.0,
        )
        self.escalation = EscalationEngine(
            EscalationRules(),
            self.notifier,
            clock=lambda: self.now,
            poll_s=1.0,
            resolvers={
                Whose.VEHICLE_OWNER: lambda db, a, now: self.field.vehicle_owner(db, a, now)
            },
        )
        self.store = Store(self.data_dir / "community.db", observers=(self.escalation,))
        self.escalation.attach(self.store)
        self.consent = ConsentCheck(self.data_dir, mode="open", home_of=lambda hub: None)
        self.plates = PlateRegistry(self.store, self.data_dir, consent_decider(self.consent))
        self.field = FieldEngine(self.store, self.rules, self.plates)
        for hub_id, home in (
            (FIELD_HUB, "field"),
            ("hub-101", OWNER_HOME),
            ("hub-202", OTHER_HOME),
        ):
            self.store.upsert_hub(
                hub_id=hub_id,
                home_id=home,
                building="1",
                unit="1",
                public_key_hex="00" * 32,
                key_id=hub_id,
                password_hash=None,
                now=self.now,
            )
        self.resident_key = Ed25519PrivateKey.generate()
        self.consent.register_resident(OWNER_HOME, SUBJECT, self.resident_key.public_key())
        self.consent.register_resident(OTHER_HOME, NEIGHBOUR, self.resident_key.public_key())

    def close(self) -> None:
        self.consent.close()
        self.store.close()

    # --- consent and plates ------------------------------------------------------------------

    def grant(self, **kw: Any) -> SignedConsent:
        signed = sign_consent(plate_consent(self.resident_key, **kw), self.resident_key)
        self.consent.record(signed)
        return signed

    def withdraw(self, signed: SignedConsent) -> None:
        at = datetime.fromtimestamp(self.now / 1000, UTC)
        self.consent.record(sign_consent(signed.record.withdraw(at), self.resident_key))

    def register(self, plate: str, home: str = OWNER_HOME, subject: str = SUBJECT) -> Any:
        return self.plates.register(home, subject, plate, "manager", self.now)

    # --- telemetry and time ------------------------------------------------------------------

    def _feed(self, record: UplinkRecord) -> tuple[dict[str, Any], ...]:
        digest = hashlib.sha256(encode_record(record)).hexdigest()
        record = self.field.before_store(record)  # as the ingest pipeline does
        persisted = self.store.persist(record, digest, self.now)
        return (*persisted.alarms, *self.field.observe(record, self.now))

    def lane(self, device_id: str = "lane-1", **values: Any) -> tuple[dict[str, Any], ...]:
        seq = next(self.seqs)
        info = DeviceInfo(device_id, LANE, device_id, "North gate")
        message = State(device_id, LANE, seq, self.now, values)
        return self._feed(report(FIELD_HUB, seq, self.now, info, message))

    def park(self, plate: str | None, zone: str = "z1", device_id: str = "lane-1") -> None:
        values: dict[str, Any] = {"zone_id": zone, "vehicle_present": True}
        if plate is not None:
            values["plate"] = plate
        self.lane(device_id, **values)

    def leave(self, zone: str = "z1", device_id: str = "lane-1") -> None:
        self.lane(device_id, zone_id=zone, vehicle_present=False, object_present=False)

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)
        self.field.tick(self.now)
        self.escalation.fire_due(self.now)

    # --- views -------------------------------------------------------------------------------

    def alarms(self) -> list[dict[str, Any]]:
        return self.store.read(
            "SELECT * FROM alarms WHERE kind = 'fire_lane_obstructed' ORDER BY id"
        )

    def alarm(self, alarm_id: int) -> dict[str, Any]:
        found = self.store.alarm(alarm_id)
        assert found is not None
        return found

    def steps(self, alarm_id: int) -> list[dict[str, Any]]:
        return self.escalation.steps(alarm_id)

    def deliveries(self, alarm_id: int) -> list[dict[str, Any]]:
        return self.store.read(
            "SELECT tier, audience, target, payload FROM deliveries WHERE alarm_id = ? ORDER BY id",
            [alarm_id],
        )
