"""The family mailbox end to end: a real hub, Mosquitto and community, and the CLI.

The resident registers a family member's public key on the hub and gets a mailbox token to
hand on; a fall's family-only confidence travels sealed, lands in the family's mailbox at the
community, is fetched over HTTP with that token and opened with the family's own key — and by
nobody else. Wrong, missing, staff and revoked tokens are refused; another home cannot take
over or revoke the recipient.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from community.mailbox import parse_entry
from courtyard.demo.consent import Resident
from devices.catalog import DeviceKind, EventType
from hub import Hub, HubConfig
from hub.keys import load_or_create_hub_key
from hub.recipients import open_mailbox
from privacy.keys import KeyType, load_sealing_private_key, new_keypair
from privacy.sealed_fields import open_field
from privacy.sealing import SealError
from privacy.vocabulary import Category, Purpose, Recipient, RecipientRole
from tests.consent.support import LinkDevice, Site, site, until
from tests.support.mosquitto import Mosquitto

CONFIDENCE = 0.937251
FAMILY = Recipient(RecipientRole.FAMILY, "li")


def _open_field_cli(key: Path, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "courtyard.privacy_cli",
            "envelope",
            "open-field",
            "--key",
            str(key),
        ],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


async def _fetch(
    http: aiohttp.ClientSession, s: Site, recipient: str, token: str | None, after: int = 0
) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{s.community.http_port}/api/mailbox/{recipient}?after={after}"
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.json()


def _answer(hub: Hub, request_id: str) -> dict[str, Any] | None:
    found = hub.services.get(request_id)
    return found if found and found.get("answer") else None


@pytest.mark.timeout(120)
async def test_a_sealed_fall_reaches_the_family_mailbox_and_only_the_family_opens_it(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    family_files = new_keypair(tmp_path / "family", KeyType.X25519)
    family_key = load_sealing_private_key(family_files.private)
    community_files = new_keypair(tmp_path / "other", KeyType.X25519)
    resident = Resident("r-1", "home-1")
    async with site(mosquitto, tmp_path, resident_id="r-1", community_consent="enforce") as s:
        s.hub.consent.register_resident("r-1", resident.key.public_key())
        s.hub.consent.record(
            resident.grant(
                (Category.FALL_EVENTS,), recipients=(FAMILY,), purpose=Purpose.FAMILY_NOTIFICATION
            )
        )
        admin = Path(s.hub.admin_token_path).read_text().strip()
        base = f"http://127.0.0.1:{s.hub.http_port}/api/privacy/recipients"
        pem = family_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        async with aiohttp.ClientSession() as http:
            async with http.post(
                base,
                json={"recipient": "family:li", "public_key": pem.decode()},
                headers={"Authorization": f"Bearer {admin}"},
            ) as resp:
                assert resp.status == 200
                token = (await resp.json())["mailbox_token"]
            assert len(token) >= 40
            assert s.hub.services.list("recipients")[0]["action"] == "register"
            await until(
                lambda: s.community.mailbox.recipient_of(token) == "family:li",
                what="the recipient's registration at the community",
            )
            assert (await _fetch(http, s, "family:li", token))[1]["entries"] == []

            fall = LinkDevice(s.hub, "fall-1", DeviceKind.FALL_DETECTOR, "Grandma bath", "bath")
            await fall.connect()
            try:
                await fall.event(EventType.FALL_DETECTED, data={"confidence": CONFIDENCE})
                await until(
                    lambda: s.community._store.read("SELECT id FROM mailbox"),
                    what="the mailbox entry",
                )
            finally:
                await fall.close()

            status, body = await _fetch(http, s, "family:li", token)
            assert status == 200
            [item] = body["entries"]
            assert body["next_after"] == item["id"]
            sealed, context = parse_entry(item["entry"])
            assert (sealed.field, context.hub, context.device) == ("confidence", "hub-1", "fall-1")
            assert open_field(sealed, family_key, context) == CONFIDENCE
            with pytest.raises(SealError):
                open_field(sealed, load_sealing_private_key(community_files.private), context)
            assert (await _fetch(http, s, "family:li", token, after=item["id"]))[1]["entries"] == []

            # The CLI opens what was fetched, with the family's key only.
            good = _open_field_cli(family_files.private, json.dumps(item).encode())
            assert good.returncode == 0, good.stderr
            assert json.loads(good.stdout) == CONFIDENCE
            wrong = _open_field_cli(community_files.private, json.dumps(item).encode())
            assert wrong.returncode == 1 and len(wrong.stderr.decode().splitlines()) == 1
            assert b"Traceback" not in wrong.stderr and str(CONFIDENCE).encode() not in wrong.stdout

            # Nothing else opens the mailbox: no token, a wrong one, a staff token.
            for bad in (None, "not-the-token", token + "x", s.community.manager_token):
                status, body = await _fetch(http, s, "family:li", bad)
                assert status == 401 and set(body) == {"error"}
            assert (await _fetch(http, s, "family:wang", token))[0] == 401
            assert (await _fetch(http, s, "family:li", token, after=-1))[0] == 400

            # Removing the recipient on the hub revokes the token at the community.
            async with http.delete(
                base + "/family:li", headers={"Authorization": f"Bearer {admin}"}
            ) as resp:
                assert resp.status == 200
            await until(
                lambda: s.community.mailbox.recipient_of(token) is None, what="the revocation"
            )
            assert (await _fetch(http, s, "family:li", token))[0] == 401
        raw = (tmp_path / "community" / "community.db").read_bytes()
        assert token.encode() not in raw


@pytest.mark.timeout(120)
async def test_another_home_cannot_take_over_or_revoke_a_registered_recipient(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with site(mosquitto, tmp_path) as s:
        token = open_mailbox(s.hub.services.request, "family:li")
        await until(lambda: s.community.mailbox.recipient_of(token) == "family:li")
        other_dir = tmp_path / "hub-2"
        other_dir.mkdir()
        key = load_or_create_hub_key(other_dir / "hub_key.pem")
        password = s.community.enroll_hub("hub-2", "home-2", key.public_key())
        mosquitto.add_user("hub-2", password)
        other = Hub(
            HubConfig(
                hub_id="hub-2",
                home_id="home-2",
                data_dir=other_dir,
                mqtt_host=mosquitto.host,
                mqtt_port=mosquitto.port,
                mqtt_password=password,
                ack_timeout_s=1.0,
                community_public_key_hex=s.community.community_public_key_hex,
                consent="open",
            )
        )
        await other.start()
        try:
            await until(lambda: other.uplink_connected, what="hub-2's uplink")
            taken = open_mailbox(other.services.request, "family:li")
            asked = other.services.list("recipients")[0]["request_id"]
            await until(lambda: _answer(other, asked), what="the refusal")
            answer = _answer(other, asked)
            assert answer is not None and answer["answer"] == "refused"
            assert answer["params"]["reason"] == "recipient_taken"
            revoke = other.services.request("recipients", "revoke", {"recipient": "family:li"})
            await until(lambda: _answer(other, revoke), what="the refused revocation")
            answer = _answer(other, revoke)
            assert answer is not None and answer["params"]["reason"] == "not_yours"
        finally:
            await other.stop()
        assert s.community.mailbox.recipient_of(taken) is None
        assert s.community.mailbox.recipient_of(token) == "family:li"
        async with aiohttp.ClientSession() as http:
            assert (await _fetch(http, s, "family:li", taken))[0] == 401
            assert (await _fetch(http, s, "family:li", token))[0] == 200
