"""Sealed fields end to end: a real hub, Mosquitto and community.

The resident shares fall details with family only. The fall still reaches the duty staff (the
emergency override, minimum fields), while its confidence travels sealed for the family: the
community stores bytes it cannot read and says who they are for; the family key opens them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from courtyard.demo.consent import Resident
from devices.catalog import DeviceKind, EventType
from hub.keys import load_or_create_hub_key
from privacy.audit import verify_file
from privacy.encoding import unb64url
from privacy.envelope import key_id
from privacy.sealed_fields import FieldContext, SealedValue, open_field
from privacy.sealing import SealError
from privacy.vocabulary import Category, Purpose, Recipient, RecipientRole
from tests.consent.support import LinkDevice, Site, site, until
from tests.support.mosquitto import Mosquitto

CONFIDENCE = 0.937251
FAMILY = Recipient(RecipientRole.FAMILY, "li")


def _stored_falls(s: Site) -> list[dict[str, Any]]:
    rows = s.community._store.read(
        "SELECT message, sealed FROM events WHERE event = 'fall_detected' ORDER BY rowid"
    )
    return [
        {"message": json.loads(r["message"]), "sealed": json.loads(r["sealed"] or "[]")}
        for r in rows
    ]


def _value(entry: dict[str, str]) -> SealedValue:
    binary = {k: unb64url(entry[k]) for k in ("wrapped", "nonce", "ciphertext")}
    return SealedValue(
        field=entry["field"],
        recipient=entry["recipient"],
        key_id=entry["key_id"],
        suite=entry["suite"],
        **binary,
    )


def _context(s: Site, message: dict[str, Any]) -> FieldContext:
    hub_key = load_or_create_hub_key(s.hub_dir / "hub_key.pem")
    return FieldContext(
        hub="hub-1",
        device=message["device_id"],
        event_type=message["event"],
        seq=message["seq"],
        ts=message["ts"],
        key_id=key_id(hub_key.public_key()),
    )


@pytest.mark.timeout(90)
async def test_family_only_details_travel_sealed_and_only_the_family_opens_them(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    family_key = X25519PrivateKey.generate()
    community_key = X25519PrivateKey.generate()
    resident = Resident("r-1", "home-1")
    async with site(mosquitto, tmp_path, resident_id="r-1", community_consent="enforce") as s:
        s.hub.consent.register_resident("r-1", resident.key.public_key())
        s.hub.consent.record(
            resident.grant(
                (Category.FALL_EVENTS,), recipients=(FAMILY,), purpose=Purpose.FAMILY_NOTIFICATION
            )
        )
        token = Path(s.hub.admin_token_path).read_text().strip()
        base = f"http://127.0.0.1:{s.hub.http_port}/api/privacy/recipients"
        pem = family_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            for bad in (
                {"recipient": "family:li", "public_key": "not a key"},
                {"recipient": "property_duty:duty", "public_key": pem.decode()},
                {"recipient": "family:li"},
            ):
                async with http.post(base, json=bad) as resp:
                    assert resp.status == 400, bad
            async with http.post(
                base, json={"recipient": "family:li", "public_key": pem.decode()}
            ) as resp:
                assert resp.status == 200
                registered = await resp.json()
            assert registered.pop("mailbox_token")  # shown once, never listed
            async with http.get(base) as resp:
                assert (await resp.json())["recipients"] == [registered]

            fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Grandma bath", "bath")
            await fall.connect()
            try:
                await fall.event(EventType.FALL_DETECTED, data={"confidence": CONFIDENCE})
                await until(lambda: len(_stored_falls(s)) == 1, what="the sealed fall")
                async with http.delete(base + "/family:li") as resp:
                    assert resp.status == 200
                await fall.event(EventType.FALL_DETECTED, active=False, data={"confidence": 0.5})
                await until(lambda: len(_stored_falls(s)) == 2, what="the unsealed clear")
            finally:
                await fall.close()

        first, second = _stored_falls(s)
        assert first["message"]["data"] == {} and second["message"]["data"] == {}
        assert second["sealed"] == []
        [entry] = first["sealed"]
        assert (entry["field"], entry["recipient"]) == ("confidence", "family:li")
        assert entry["key_id"] == registered["key_id"]
        sealed = _value(entry)
        context = _context(s, first["message"])
        assert open_field(sealed, family_key, context) == CONFIDENCE
        with pytest.raises(SealError):
            open_field(sealed, community_key, context)
        [alarm] = s.community.alarms()
        assert alarm["sealed"] == [{"field": "confidence", "recipients": ["family:li"]}]
        assert s.hub.consent.counts().sealed == 1
        assert s.hub.consent.counts().overrides == 2
    hub_audit = sqlite3.connect(tmp_path / "hub" / "audit.db")
    with hub_audit:
        disclosed = hub_audit.execute(
            "SELECT actor, detail FROM audit_log WHERE action = 'disclose'"
        ).fetchall()
    hub_audit.close()
    assert [actor for actor, _ in disclosed] == ["family:li"]
    assert "sealed confidence for family:li" in disclosed[0][1]
    assert verify_file(tmp_path / "hub" / "audit.db").ok
    raw = (tmp_path / "community" / "community.db").read_bytes()
    wal = tmp_path / "community" / "community.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert str(CONFIDENCE).encode() not in raw and b"Grandma" not in raw


@pytest.mark.timeout(60)
async def test_without_a_registered_key_a_family_only_field_is_dropped_as_before(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    resident = Resident("r-1", "home-1")
    async with site(mosquitto, tmp_path, resident_id="r-1") as s:
        s.hub.consent.register_resident("r-1", resident.key.public_key())
        s.hub.consent.record(
            resident.grant(
                (Category.FALL_EVENTS,), recipients=(FAMILY,), purpose=Purpose.FAMILY_NOTIFICATION
            )
        )
        fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Bath", "bath")
        await fall.connect()
        try:
            await fall.event(EventType.FALL_DETECTED, data={"confidence": CONFIDENCE})
            await until(lambda: len(_stored_falls(s)) == 1, what="the fall")
        finally:
            await fall.close()
        [stored] = _stored_falls(s)
        assert stored["message"]["data"] == {} and stored["sealed"] == []
        assert s.community.alarms()[0]["sealed"] == []
