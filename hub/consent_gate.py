"""The hub's consent gate: nothing about a resident leaves the home unless a consent allows it.

Every device report passes :meth:`ConsentGate.admit` before it may enter the outbox. The gate
asks the resident's :class:`privacy.consent.ConsentPolicy` (built from the hub's consent
ledger, deny by default) whether the record's data category may go to the community's
property duty staff, and for which fields:

* allowed by a consent: the record goes up carrying only the fields that consent names;
* one of the four emergencies with no consent: the bounded override (``vital_interests``)
  lets it reach responders with the minimum fields only (the resident's device name is
  replaced by the device kind, readings are dropped), and the use is audited;
* anything else is withheld: it stays in the hub's own event log and state, is never
  uplinked, and the refusal is audited.

A record that goes up may also carry *sealed* fields: event data of a sensitive category that
a consent shares with a registered recipient (family, a care provider; ``hub.recipients``) but
not with the community moves out of the clear message into the record's ``sealed`` slot,
encrypted to that recipient's X25519 key (``privacy.sealed_fields``). The event, its kind and
active flag still go up in clear, so responders are still reached as before.

Decisions are made per record against the ledger as it is at that moment, so a withdrawal
appended to the ledger governs the very next message. In mode ``open`` the gate passes every
record unchanged (the behaviour of hubs configured before consent existed).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from devices.catalog import DeviceKind
from devices.messages import Event, State
from devices.uplink import UPLINK_VERSION, RecordKind, SealedEntry, UplinkRecord
from hub.recipients import SEALING_PURPOSE, RecipientKeys
from hub.resident_data import ResidentData
from privacy.atrest import DeletionReceipt
from privacy.audit import MAX_FIELD, AuditAction, AuditLog
from privacy.consent import (
    ConsentError,
    ConsentPolicy,
    ConsentRecord,
    ConsentStatus,
    Decision,
    SignedConsent,
)
from privacy.consent_ledger import ConsentLedger, audit_consent
from privacy.keys import key_id
from privacy.override import OVERRIDE_RULES
from privacy.sealed_fields import FieldContext, seal_field
from privacy.sealing import SealError
from privacy.vocabulary import (
    EVENT_CATEGORY,
    SENSITIVE,
    Category,
    Purpose,
    Recipient,
    RecipientRole,
)

_LOG = logging.getLogger(__name__)

#: Who reads what a hub uplinks: the community's property duty staff.
COMMUNITY_DUTY: Final = Recipient(RecipientRole.PROPERTY_DUTY, "duty")
#: The category of a state report (device telemetry: battery, test results, readings).
STATE_CATEGORY: Final = Category.DEVICE_HEALTH
#: Kinds whose state says whether someone is at home and moving (care checks): presence,
#: sensitive, never device health.
PRESENCE_KINDS: Final[dict[DeviceKind, Category]] = {
    DeviceKind.DOOR_SENSOR: Category.PRESENCE,
    DeviceKind.MOTION_SENSOR: Category.PRESENCE,
}
_RESIDENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ConsentMode(StrEnum):
    """``enforce``: deny by default. ``open``: every record goes up unchanged."""

    ENFORCE = "enforce"
    OPEN = "open"


@dataclasses.dataclass(frozen=True, slots=True)
class GateCounts:
    """What the gate decided since the hub started (for the demo report and the UI)."""

    disclosed: int
    overrides: int
    withheld: dict[str, int]
    #: Records that carried fields sealed for a recipient other than the community.
    sealed: int = 0


def category_of(record: UplinkRecord) -> Category | None:
    """The data category of a device report; None for a message nobody has classified."""
    if isinstance(record.message, Event):
        return EVENT_CATEGORY.get(str(record.message.event))
    if isinstance(record.message, State):
        kind = record.device.kind if record.device is not None else None
        return PRESENCE_KINDS.get(kind, STATE_CATEGORY) if kind is not None else STATE_CATEGORY
    return None


def minimise(record: UplinkRecord, fields: frozenset[str]) -> UplinkRecord:
    """The record with only ``fields``: event data outside them dropped, and the resident's
    own device name replaced by the device kind unless ``name`` is allowed."""
    device = record.device
    if device is not None and "name" not in fields:
        device = dataclasses.replace(device, name=str(device.kind))
    message = record.message
    if isinstance(message, Event):
        message = dataclasses.replace(
            message, data={k: v for k, v in message.data.items() if k in fields}
        )
    return dataclasses.replace(record, device=device, message=message)


def _describe(record: ConsentRecord) -> str:
    categories = ", ".join(str(g.category) for g in record.categories)
    return f"{categories} -> {', '.join(r.id for r in record.recipients)} for {record.purpose}"


class ConsentGate:
    """The consent ledger, resident keys and audit log of one hub, and its decisions."""

    def __init__(
        self,
        data_dir: Path,
        *,
        home_id: str,
        subject: str,
        mode: ConsentMode | str,
        receipt_key: Ed25519PrivateKey | None = None,
        store_id: str = "hub",
    ) -> None:
        self.home_id, self.subject, self.mode = home_id, subject, ConsentMode(mode)
        self._keys_dir = data_dir / "residents"
        self._ledger_path = data_dir / "consent.db"
        self.audit = AuditLog(data_dir / "audit.db")
        self._trusted = self._load_keys()
        self._ledger = ConsentLedger(self._ledger_path, self._trusted)
        self._policy: ConsentPolicy | None = None
        self._withheld: Counter[str] = Counter()
        #: (device_id, event, device seq, active) of every event withheld since start.
        self.withheld_events: list[tuple[str, str, int, bool]] = []
        self._disclosed = 0
        self._overrides = 0
        self._sealed = 0
        #: Who sealed fields may be for (registered by the resident).
        self.recipients = RecipientKeys(data_dir)
        #: The hub's envelope signing key id, bound into every sealed field.
        self.signing_key_id = "" if receipt_key is None else key_id(receipt_key.public_key())
        #: Payloads at rest under the resident's key, while privacy is enforced.
        self.resident_data = (
            ResidentData(
                data_dir,
                subject=subject,
                receipt_key=receipt_key,
                store_id=store_id,
                audit=self.audit,
            )
            if self.mode is ConsentMode.ENFORCE and receipt_key is not None
            else None
        )

    def close(self) -> None:
        if self.resident_data is not None:
            self.resident_data.close()
        self._ledger.close()
        self.audit.close()

    # --- residents and their consents ----------------------------------------------------

    def _load_keys(self) -> dict[str, Ed25519PublicKey]:
        trusted: dict[str, Ed25519PublicKey] = {}
        if not self._keys_dir.is_dir():
            return trusted
        for path in sorted(self._keys_dir.glob("*.pub")):
            try:
                key = serialization.load_pem_public_key(path.read_bytes())
            except (OSError, ValueError):
                _LOG.error("resident key %s is unreadable; consents it signed are ignored", path)
                continue
            if isinstance(key, Ed25519PublicKey):
                trusted[key_id(key)] = key
        return trusted

    def register_resident(self, subject: str, public_key: Ed25519PublicKey) -> str:
        """Trust ``public_key`` to sign consents (the resident's own key); returns its key id."""
        if not isinstance(subject, str) or not _RESIDENT_ID.fullmatch(subject):
            raise ValueError("resident id must be 1..64 letters, digits, '_', '.' or '-'")
        self._keys_dir.mkdir(mode=0o700, exist_ok=True)
        pem = public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (self._keys_dir / f"{subject}.pub").write_bytes(pem)
        kid = key_id(public_key)
        self._trusted[kid] = public_key
        self._ledger.close()
        self._ledger = ConsentLedger(self._ledger_path, self._trusted)
        self._policy = None
        return kid

    def resident_key(self, signer: str) -> Ed25519PublicKey | None:
        """The registered resident key with id ``signer`` (to check an erasure request)."""
        return self._trusted.get(signer)

    def record(self, signed: SignedConsent) -> int:
        """Append a resident-signed grant or withdrawal; ConsentError stores nothing.

        The next record the gate sees is decided under it.
        """
        record = signed.record
        if record.home != self.home_id:
            raise ConsentError(f"consent {record.consent_id} is for another home")
        try:
            seq = self._ledger.append(signed)
        except ConsentError as exc:
            audit_consent(self.audit, record, AuditAction.REFUSE, f"consent refused: {exc}")
            raise
        withdrawn = record.status is ConsentStatus.WITHDRAWN
        action = AuditAction.WITHDRAW if withdrawn else AuditAction.GRANT
        audit_consent(self.audit, record, action, _describe(record))
        self._policy = None
        return seq

    def signed_records(self) -> list[SignedConsent]:
        return self._ledger.signed_records(self.home_id, self.subject)

    def policy(self) -> ConsentPolicy:
        if self._policy is None:
            self._policy = self._ledger.policy(self.home_id, self.subject, audit=self.audit)
        return self._policy

    # --- the resident's data at rest ------------------------------------------------------

    def protect(self, device_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """What the hub's event log may keep of an event payload."""
        if self.resident_data is None:
            return data
        return self.resident_data.protect(device_id, data)

    def reveal(self, device_id: str, stored: dict[str, Any]) -> dict[str, Any]:
        if self.resident_data is None:
            return stored
        return self.resident_data.reveal(device_id, stored)

    def erase(self) -> DeletionReceipt:
        """Erase the resident's data at the hub (crypto-shredding); the signed receipt."""
        if self.resident_data is None:
            raise ValueError("erasure needs privacy enforced (consent = 'enforce')")
        return self.resident_data.erase()

    # --- the gate ------------------------------------------------------------------------

    def admit(self, record: UplinkRecord) -> UplinkRecord | None:
        """The record as it may leave the home, or None if it must stay here."""
        if self.mode is ConsentMode.OPEN or record.kind is not RecordKind.REPORT:
            return record
        category = category_of(record)
        event = str(record.message.event) if isinstance(record.message, Event) else None
        ref = self._ref(record)
        if category is None:
            self._withhold(record, "unclassified", f"no data category for {event}", ref)
            return None
        decision = self._decide(record, category, event, ref)
        if not decision.allowed:
            self._withhold(record, str(category), decision.reason, ref)
            return None
        if decision.override is not None:
            self._overrides += 1
        else:
            self._disclosed += 1
            self.audit.append(
                actor=COMMUNITY_DUTY.id,
                role=str(COMMUNITY_DUTY.role),
                purpose=str(Purpose.SAFETY_MONITORING),
                legal_basis=str(decision.basis),
                action=AuditAction.DISCLOSE,
                record_ids=[ref],
                detail=f"{category}: {decision.reason}"[:MAX_FIELD],
            )
        sealed = self._seal(record, category, decision.fields_allowed, ref)
        minimal = minimise(record, decision.fields_allowed)
        return dataclasses.replace(minimal, sealed=sealed) if sealed else minimal

    def _seal(
        self, record: UplinkRecord, category: Category, shared: frozenset[str], ref: str
    ) -> tuple[SealedEntry, ...]:
        """Sealed entries for the event data the community may not read but a registered
        recipient may, each audited as a disclosure to that recipient."""
        message = record.message
        if category not in SENSITIVE or not isinstance(message, Event):
            return ()
        hidden = {k: v for k, v in message.data.items() if k not in shared}
        recipients = self.recipients.all() if hidden else []
        if not recipients:
            return ()
        now = datetime.now(UTC)
        event_at = min(datetime.fromtimestamp(message.ts / 1000, UTC), now)
        context = FieldContext(
            hub=record.hub_id,
            device=message.device_id,
            event_type=str(message.event),
            seq=message.seq,
            ts=message.ts,
            key_id=self.signing_key_id,
            version=UPLINK_VERSION,
        )
        entries: list[SealedEntry] = []
        for registered in recipients:
            who = registered.recipient
            purpose = SEALING_PURPOSE[who.role]
            decision = self.policy().decide(
                category, purpose, who, str(message.event), now, event_at=event_at
            )
            fields = sorted(set(hidden) & decision.fields_allowed)
            if not decision.allowed or decision.override is not None or not fields:
                continue
            try:
                values = [
                    seal_field(name, hidden[name], who.id, registered.public_key, context)
                    for name in fields
                ]
            except SealError as exc:
                _LOG.error("could not seal %s for %s: %s", ref, who.id, exc)
                continue
            entries += [
                SealedEntry(
                    field=v.field,
                    recipient=v.recipient,
                    key_id=v.key_id,
                    suite=v.suite,
                    wrapped=v.wrapped,
                    nonce=v.nonce,
                    ciphertext=v.ciphertext,
                )
                for v in values
            ]
            self.audit.append(
                actor=who.id,
                role=str(who.role),
                purpose=str(purpose),
                legal_basis=str(decision.basis),
                action=AuditAction.DISCLOSE,
                record_ids=[ref],
                detail=f"sealed {', '.join(fields)} for {who.id}: {decision.reason}"[:MAX_FIELD],
            )
        self._sealed += bool(entries)
        return tuple(entries)

    def _decide(
        self, record: UplinkRecord, category: Category, event: str | None, ref: str
    ) -> Decision:
        now = datetime.now(UTC)
        ts = record.message.ts if record.message is not None else record.ts
        # A device clock running ahead must not cost a resident their emergency override.
        event_at = min(datetime.fromtimestamp(ts / 1000, UTC), now)
        policy = self.policy()
        decision = policy.decide(
            category, Purpose.SAFETY_MONITORING, COMMUNITY_DUTY, event, now, event_at=event_at
        )
        if decision.allowed or event not in OVERRIDE_RULES:
            return decision
        return policy.decide(
            category,
            Purpose.EMERGENCY_RESPONSE,
            COMMUNITY_DUTY,
            event,
            now,
            event_at=event_at,
            context_id=ref,
        )

    def _withhold(self, record: UplinkRecord, category: str, reason: str, ref: str) -> None:
        self._withheld[category] += 1
        if isinstance(record.message, Event):
            message = record.message
            self.withheld_events.append(
                (message.device_id, str(message.event), message.seq, message.active)
            )
        self.audit.append(
            actor=COMMUNITY_DUTY.id,
            role=str(COMMUNITY_DUTY.role),
            purpose=str(Purpose.SAFETY_MONITORING),
            legal_basis="none",
            action=AuditAction.REFUSE,
            record_ids=[ref],
            detail=f"withheld {category}: {reason}"[:MAX_FIELD],
        )
        _LOG.info("withheld %s from the community: %s", ref, reason)

    @staticmethod
    def _ref(record: UplinkRecord) -> str:
        device = record.device.device_id if record.device is not None else record.hub_id
        seq = record.message.seq if record.message is not None else record.seq
        return f"{device}:{seq}"

    def counts(self) -> GateCounts:
        return GateCounts(self._disclosed, self._overrides, dict(self._withheld), self._sealed)
