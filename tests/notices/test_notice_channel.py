"""The notice channel itself: signed, receipted, resent until a hub that was away has it,
stored once however often it arrives, and refused when not the community's."""

from __future__ import annotations

import asyncio
import json

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from devices.uplink import DownlinkNotice, NoticeCategory, encode_notice, topic_down
from privacy.envelope import seal
from tests.notices.conftest import Site, wait_for

HUB = "hub-home-1"


def _status(site: Site, notice_id: str) -> str:
    [row] = [d for d in site.deliveries(HUB) if d["notice_id"] == notice_id]
    return str(row["status"])


def _publish(site: Site, topic: str, payload: bytes) -> None:
    """Publish as a broker superuser that is not the community (an insider on the wire)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder")
    client.username_pw_set("intruder", "intruder-pw")
    client.connect(site.broker.host, site.broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


async def test_a_notice_to_a_hub_that_is_off_arrives_once_after_it_returns(site: Site) -> None:
    await site.stop_home(HUB)
    notice_id = await site.community.notices.notify_homes(
        ["home-1"],
        category=NoticeCategory.PROPERTY,
        code="announcement",
        title="Water off on Tuesday",
        body="Water is off 9:00-12:00 for pipe work.",
    )
    assert notice_id is not None
    await asyncio.sleep(2.5)  # a few resend rounds while the hub is away
    assert _status(site, notice_id) == "pending"

    hub = await site.start_home(HUB)
    await wait_for(lambda: _status(site, notice_id) == "delivered", "the delivery receipt")
    [notice] = hub.notices.list()
    assert notice["notice_id"] == notice_id and notice["title"] == "Water off on Tuesday"
    assert notice["category"] == "property" and not notice["read"]
    assert hub.notices.unread() == 1

    assert hub.notices.mark_read(notice_id)
    await wait_for(lambda: _status(site, notice_id) == "read", "the read receipt")
    await asyncio.sleep(1.5)  # late copies still in flight change nothing
    assert [n["notice_id"] for n in hub.notices.list()] == [notice_id]
    assert hub.notices.unread() == 0 and _status(site, notice_id) == "read"
    # Only home 1 was addressed.
    assert site.deliveries("hub-home-2") == []
    assert site.homes["hub-home-2"].notices.list() == []


async def test_a_restart_of_the_hub_keeps_its_notices_and_read_marks(site: Site) -> None:
    notice_id = await site.community.notices.notify_homes(
        ["home-1"], category=NoticeCategory.PROPERTY, code="announcement", title="Lift service"
    )
    assert notice_id is not None
    await wait_for(lambda: _status(site, notice_id) == "delivered", "delivery")
    assert site.homes[HUB].notices.mark_read(notice_id)
    await site.stop_home(HUB)
    hub = await site.start_home(HUB)
    [notice] = hub.notices.list()
    assert notice["read"] and hub.notices.unread() == 0
    await wait_for(lambda: _status(site, notice_id) == "read", "the read receipt")


async def test_forged_and_unsigned_notices_are_refused(site: Site) -> None:
    hub = site.homes[HUB]
    forged = DownlinkNotice(
        community_id="estate-1",
        seq=1,
        ts=1,
        notice_id="forged-1",
        category=NoticeCategory.PROPERTY,
        code="announcement",
        params={},
        title="Pay your fees to this account",
    )
    mallory = Ed25519PrivateKey.generate()
    _publish(site, topic_down(HUB), seal("estate-1", mallory, encode_notice(forged)))
    unsigned = encode_notice(DownlinkNotice(**{**_fields(forged), "notice_id": "unsigned-1"}))
    _publish(site, topic_down(HUB), unsigned)
    _publish(site, topic_down(HUB), json.dumps({"type": "notice"}).encode())

    # A genuine notice published after them arrives; the forgeries never do.
    real = await site.community.notices.notify_homes(
        ["home-1"], category=NoticeCategory.PROPERTY, code="announcement", title="Real"
    )
    await wait_for(lambda: any(n["notice_id"] == real for n in hub.notices.list()), "real")
    await asyncio.sleep(0.5)
    assert [n["notice_id"] for n in hub.notices.list()] == [real]


def _fields(notice: DownlinkNotice) -> dict[str, object]:
    return {name: getattr(notice, name) for name in DownlinkNotice.__dataclass_fields__}
