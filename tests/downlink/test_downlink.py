"""Community -> hub -> device commands: signed, executed once, and answered back up."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from community.community_key import KEY_FILE
from devices.catalog import CommandName
from devices.uplink import DownlinkCommand, encode_downlink, topic_down
from firmware_stubs.charging_physics import ChargerLoad
from privacy.envelope import seal
from privacy.keys import load_signing_private_key
from tests.downlink.conftest import HUB_ID, PORT_ID, Stack, wait_for


def _cuts(stack: Stack) -> list[str]:
    return [c.command_id for c in stack.port.commands_received if c.command is CommandName.PORT_CUT]


def _genuine(stack: Stack, command_id: str, command: CommandName, args: dict[str, str]) -> bytes:
    """An envelope exactly as the community would sign it (its key from its data folder)."""
    key = load_signing_private_key(stack.community_config.data_dir / KEY_FILE)
    cmd = DownlinkCommand("estate-1", 99, 1, command_id, PORT_ID, command, args)
    return seal("estate-1", key, encode_downlink(cmd))


async def test_a_cut_reaches_the_port_and_its_ack_comes_back(stack: Stack) -> None:
    stack.port.plug_in(ChargerLoad(soc=0.4))
    await wait_for(lambda: stack.port.port_state == "charging", "charging")

    test_id = await stack.community.send_command(HUB_ID, PORT_ID, "self_test")
    assert (await stack.settled(test_id))["status"] == "acked"

    cut_id = await stack.community.send_command(
        HUB_ID, PORT_ID, "port_cut", {"reason": "overtemperature"}
    )
    settled = await stack.settled(cut_id)
    assert settled["status"] == "acked" and settled["error"] == ""
    assert settled["attempts"] >= 1
    assert stack.port.port_state == "stopped" and stack.port.stop_reason == "cut"
    assert len(_cuts(stack)) == 1


async def test_a_refused_command_is_settled_as_failed_with_the_reason(stack: Stack) -> None:
    stack.port.plug_in(ChargerLoad(soc=0.4))
    stack.port.short()
    enable = await stack.community.send_command(HUB_ID, PORT_ID, "port_enable")
    settled = await stack.settled(enable)
    assert settled["status"] == "failed" and "shorted" in settled["error"]

    # A device the hub does not know: the hub refuses the call, nothing reaches any device.
    unknown = await stack.community.send_command(HUB_ID, "no-such-port", "port_enable")
    settled = await stack.settled(unknown)
    assert settled["status"] == "failed" and settled["error"].startswith("refused:")


async def test_a_deaf_station_is_not_marked_acknowledged(stack: Stack) -> None:
    stack.port.acknowledge_commands = False
    cut = await stack.community.send_command(HUB_ID, PORT_ID, "port_cut", {"reason": "overpower"})
    settled = await stack.settled(cut)
    assert settled["status"] == "failed" and settled["error"] == "timeout"


async def test_bad_commands_are_refused_by_the_community_before_anything_is_sent(
    stack: Stack,
) -> None:
    with pytest.raises(ValueError, match="not enrolled"):
        await stack.community.send_command("hub-nobody", PORT_ID, "port_enable")
    with pytest.raises(ValueError, match="unknown command"):
        await stack.community.send_command(HUB_ID, PORT_ID, "self_destruct")
    with pytest.raises(ValueError, match="invalid command"):
        await stack.community.send_command(HUB_ID, PORT_ID, "port_cut", {"reason": "because"})
    assert stack.community.commands._store.read("SELECT * FROM downlink_commands") == []


async def test_forged_unsigned_and_replayed_downlinks_are_refused(stack: Stack) -> None:
    topic = topic_down(HUB_ID)
    args = {"reason": "manual"}
    cmd = DownlinkCommand("estate-1", 1, 1, "forged-1", PORT_ID, CommandName.PORT_CUT, args)
    # Signed by a key that is not the community's, under the community's name.
    stack.publish(topic, seal("estate-1", Ed25519PrivateKey.generate(), encode_downlink(cmd)))
    # Not signed at all.
    stack.publish(topic, encode_downlink(cmd))
    # Garbage.
    stack.publish(topic, b"\x00not json")
    # A genuine command published three times (a replay by anyone who saw it).
    genuine = _genuine(stack, "replayed-1", CommandName.PORT_CUT, args)
    for _ in range(3):
        stack.publish(topic, genuine)
    # A later genuine command proves the hub has handled everything published before it.
    marker = await stack.community.send_command(HUB_ID, PORT_ID, "self_test")
    assert (await stack.settled(marker))["status"] == "acked"
    await wait_for(lambda: len(_cuts(stack)) >= 1, "the genuine cut")
    assert len(_cuts(stack)) == 1, "the replayed cut ran more than once"
    forged = [c for c in stack.port.commands_received if c.command is CommandName.PORT_CUT]
    assert len(forged) == 1


async def test_a_hub_restart_never_reexecutes_an_executed_command(stack: Stack) -> None:
    cut = await stack.community.send_command(HUB_ID, PORT_ID, "port_cut", {"reason": "too_long"})
    assert (await stack.settled(cut))["status"] == "acked"
    assert len(_cuts(stack)) == 1
    await stack.restart_hub()
    await stack.port.wait_connected(30)
    # The same command id again, as the community's retry or a replay would deliver it.
    stack.publish(
        topic_down(HUB_ID), _genuine(stack, cut, CommandName.PORT_CUT, {"reason": "too_long"})
    )
    marker = await stack.community.send_command(HUB_ID, PORT_ID, "self_test")
    assert (await stack.settled(marker))["status"] == "acked"
    assert len(_cuts(stack)) == 1
    assert stack.status(cut)["status"] == "acked"


async def test_a_hub_without_the_community_key_refuses_every_downlink(stack: Stack) -> None:
    await stack.restart_hub(community_public_key_hex=None)
    await stack.port.wait_connected(30)
    stack.publish(topic_down(HUB_ID), _genuine(stack, "nokey-1", CommandName.PORT_CUT, {}))
    enable = await stack.community.send_command(HUB_ID, PORT_ID, "port_enable")
    # Nothing comes back: the command stays pending at the community, and nothing ran.
    stack.port.plug_in()
    await wait_for(lambda: stack.port.port_state == "charging", "charging")
    assert stack.status(enable)["status"] == "pending"
    assert not any(c.command_id for c in stack.port.commands_received)


async def test_a_pending_command_survives_a_community_restart(stack: Stack) -> None:
    await stack.stop_hub()
    cut = await stack.community.send_command(HUB_ID, PORT_ID, "port_cut", {"reason": "manual"})
    assert stack.status(cut)["status"] == "pending"
    await stack.restart_community()
    assert stack.status(cut)["status"] == "pending"
    await stack.start_hub()
    await stack.port.wait_connected(30)
    settled = await stack.settled(cut)
    # The hub may get the command before the port has relinked: a refused cut, said so.
    assert settled["status"] == "acked" or settled["error"] == "not_connected"
    assert len(_cuts(stack)) <= 1
    assert settled["command"] == "port_cut"


async def test_an_unanswered_command_is_retried_and_reported_overdue_once(stack: Stack) -> None:
    desk = stack.community.commands
    desk.retry_s, desk.unacknowledged_after_s = 0.2, 0.6
    overdue: list[dict[str, object]] = []
    desk.on_unacknowledged = overdue.append
    await stack.stop_hub()
    cut = await stack.community.send_command(HUB_ID, PORT_ID, "port_cut", {"reason": "overpower"})
    await wait_for(lambda: overdue, "the overdue report")
    await wait_for(lambda: stack.status(cut)["attempts"] >= 3, "retries")
    row = stack.status(cut)
    assert row["status"] == "pending" and row["overdue"] == 1
    assert [r["command_id"] for r in overdue] == [cut]
    await stack.start_hub()
    await stack.port.wait_connected(30)
    await stack.settled(cut)
    assert len(overdue) == 1
    assert len(_cuts(stack)) <= 1
