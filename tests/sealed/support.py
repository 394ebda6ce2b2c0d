"""Records with sealed fields, built the way a hub builds them."""

from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from devices.catalog import DeviceKind, EventType
from devices.messages import Event
from devices.uplink import UPLINK_VERSION, DeviceInfo, SealedEntry, UplinkRecord, report
from privacy.sealed_fields import FieldContext, SealedValue, seal_field

HUB_KEY_ID = "0b486d4e1f13c8f6"
TS = 1795289401123


def context_of(record: UplinkRecord, key_id: str = HUB_KEY_ID) -> FieldContext:
    """What a recipient rebuilds from the record the entry travelled in."""
    message = record.message
    assert isinstance(message, Event)
    return FieldContext(
        hub=record.hub_id,
        device=message.device_id,
        event_type=str(message.event),
        seq=message.seq,
        ts=message.ts,
        key_id=key_id,
        version=UPLINK_VERSION,
    )


def entry(value: SealedValue) -> SealedEntry:
    return SealedEntry(**{f.name: getattr(value, f.name) for f in dataclasses.fields(value)})


def fall_record(seq: int = 41, device_seq: int = 7, device_id: str = "fall-1") -> UplinkRecord:
    message = Event(device_id, DeviceKind.FALL_DETECTOR, device_seq, TS, EventType.FALL_DETECTED)
    info = DeviceInfo(device_id, DeviceKind.FALL_DETECTOR, "fall_detector", "bath")
    return report("hub-1", seq, TS + 5, info, message)


def sealed_fall(family: X25519PrivateKey, value: object = 0.937251) -> UplinkRecord:
    """A fall record whose confidence is sealed for ``family:li``."""
    record = fall_record()
    value_sealed = seal_field(
        "confidence", value, "family:li", family.public_key(), context_of(record)
    )
    return dataclasses.replace(record, sealed=(entry(value_sealed),))
