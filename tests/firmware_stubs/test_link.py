"""The device side of the native link against a real WebSocket server with injected faults."""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType

from devices.catalog import CommandName, DeviceKind, EventType
from devices.messages import Ack, Error, ErrorCode, Event, Hello, State, encode
from firmware_stubs import EmergencyButton, SmokeAlarm, WaterLeak, make_device
from firmware_stubs.backoff import Backoff
from tests.firmware_stubs.conftest import MakeDevice
from tests.firmware_stubs.fakehub import FakeHub


async def test_hello_first_with_bearer_token(hub: FakeHub, make_device: MakeDevice) -> None:
    leak = await make_device(WaterLeak, "leak-hello", heartbeat_s=0.05)
    await hub.wait_for(lambda: len(hub.heartbeats("leak-hello")) >= 1)
    token = leak._token
    assert hub.auth_headers == [f"Bearer {token}"]
    first = hub.first_frames[0].msg
    assert first == Hello("leak-hello", DeviceKind.WATER_LEAK, leak.identity.model, "1.0.0")
    # Right after hello: a full state report, nothing partial.
    after = hub.messages("leak-hello")[1]
    assert isinstance(after, State)
    assert set(after.state) == {"leak", "battery_pct"}
    assert leak.connected


async def test_unknown_token_backs_off_then_links_once_provisioned(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    button = await make_device(
        EmergencyButton,
        "sos-late",
        token="not-provisioned-yet",
        connect=False,
        backoff_initial_s=0.02,
        backoff_max_s=0.1,
    )
    button.press()  # an emergency while the hub does not know us yet: kept, not lost
    await hub.wait_for(lambda: hub.unauthorized >= 5)
    assert not button.connected
    delays = button.backoff_delays
    for attempt, delay in enumerate(delays[:5]):
        ceiling = min(0.1, 0.02 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    hub.add_token("not-provisioned-yet", "sos-late", DeviceKind.EMERGENCY_BUTTON)
    await button.wait_connected()
    await hub.wait_for(lambda: button.pending_events() == 0)
    assert [e.event for e in hub.events("sos-late")] == [EventType.EMERGENCY_CALL]


def test_backoff_doubles_from_0_2_to_10_with_jitter() -> None:
    backoff = Backoff()
    delays = [backoff.next_delay() for _ in range(12)]
    ceilings = [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10, 10, 10, 10, 10, 10]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.next_delay() <= 0.2


async def test_wrong_device_hello_is_refused_and_retried(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    token = hub.provision("someone-else", DeviceKind.WATER_LEAK)
    leak = await make_device(
        WaterLeak, "leak-impostor", token=token, connect=False, backoff_initial_s=0.02
    )
    await hub.wait_for(lambda: len(hub.first_frames) >= 3)
    assert not leak.connected
    assert hub.devices["someone-else"].hellos == 0
    assert len(leak.backoff_delays) >= 2


async def test_unacked_events_are_resent_with_same_seq_after_drop(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    leak = await make_device(WaterLeak, "leak-resend")
    hub.drop_acks = True  # the hub persists but the acks are lost
    leak.start_leak()
    await hub.wait_for(lambda: len(hub.events("leak-resend")) == 1)
    event = hub.events("leak-resend")[0]
    assert leak.pending_events() == 1
    states_before = {s.seq for s in hub.states("leak-resend")}

    hub.drop_acks = False
    await hub.drop("leak-resend")
    await hub.wait_for(lambda: hub.devices["leak-resend"].hellos == 2)
    await hub.wait_for(lambda: leak.pending_events() == 0)
    resent = [e for e in hub.events("leak-resend", include_resent=True) if e.seq == event.seq]
    assert len(resent) == 2
    assert resent[1] == event
    assert event.seq in leak.acked_seqs
    # Telemetry is never resent: the new link gets a fresh full state with a new seq.
    assert hub.devices["leak-resend"].resent == [event.seq]
    states_after = {s.seq for s in hub.states("leak-resend")} - states_before
    assert states_after and min(states_after) > event.seq


async def test_events_while_offline_are_delivered_oldest_first_before_anything_new(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    button = await make_device(EmergencyButton, "sos-offline")
    button.go_silent()
    await hub.wait_for(lambda: "sos-offline" not in hub.sockets)
    button.press()
    button.set_tamper(True)
    button.reset()
    assert button.pending_events() == 3
    frames_before = len(hub.messages("sos-offline"))
    button.resume()
    await button.wait_connected()
    await hub.wait_for(lambda: button.pending_events() == 0)
    after = hub.messages("sos-offline")[frames_before:]
    assert isinstance(after[0], Hello)
    kinds = [(m.event, m.active) if isinstance(m, Event) else m.type for m in after[1:5]]
    assert kinds == [
        (EventType.EMERGENCY_CALL, True),
        (EventType.TAMPER, True),
        (EventType.EMERGENCY_CALL, False),
        "state",
    ]


async def test_silent_device_sends_nothing_until_resumed(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    leak = await make_device(WaterLeak, "leak-dead", heartbeat_s=0.02, telemetry_s=0.03)
    await hub.wait_for(lambda: len(hub.heartbeats("leak-dead")) >= 2)
    leak.go_silent()
    assert not leak.connected
    await hub.wait_for(lambda: "leak-dead" not in hub.sockets)
    frames, attempts = len(hub.frames), hub.attempts
    leak.start_leak()
    await asyncio.sleep(0.3)  # ten heartbeat intervals of silence
    assert (len(hub.frames), hub.attempts) == (frames, attempts)
    leak.resume()
    await leak.wait_connected()
    await hub.wait_for(lambda: leak.pending_events() == 0)
    assert hub.events("leak-dead")[-1].event is EventType.WATER_LEAK


async def test_reconnects_after_hub_restart(hub: FakeHub, make_device: MakeDevice) -> None:
    smoke = await make_device(SmokeAlarm, "smoke-restart", backoff_initial_s=0.02)
    await hub.restart()
    smoke.start_fire(rise_per_s=50.0)
    await hub.wait_for(lambda: hub.devices["smoke-restart"].hellos == 2)
    await hub.wait_for(lambda: len(smoke.sent_events) == 1 and smoke.pending_events() == 0)
    assert [e.event for e in hub.events("smoke-restart")] == [EventType.SMOKE_ALARM]
    assert smoke.backoff_delays  # it had to wait for the hub to come back


async def test_hub_refusing_with_http_errors_is_retried(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    hub.refuse_status = 503
    leak = await make_device(WaterLeak, "leak-503", connect=False, backoff_initial_s=0.02)
    await hub.wait_for(lambda: hub.attempts >= 3)
    assert not leak.connected
    hub.refuse_status = None
    await leak.wait_connected()


async def test_sequence_regression_drops_the_event(hub: FakeHub, make_device: MakeDevice) -> None:
    leak = await make_device(WaterLeak, "leak-regress")
    leak.go_silent()
    await hub.wait_for(lambda: "leak-regress" not in hub.sockets)
    leak.start_leak()
    seq = leak.sent_events[-1].seq
    hub.devices["leak-regress"].last_seq = seq + 10**6  # the hub has seen later numbers
    leak.resume()
    await hub.wait_for(lambda: leak.pending_events() == 0)
    assert seq not in leak.acked_seqs
    assert any(
        e.code is ErrorCode.SEQUENCE_REGRESSION and e.ref == str(seq) for e in leak.errors_received
    )
    assert leak.connected


async def test_a_final_rejection_drops_the_event_but_unknown_device_does_not(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    leak = await make_device(WaterLeak, "leak-reject")
    hub.drop_acks = True
    leak.start_leak()
    leak.dry()
    await hub.wait_for(lambda: len(hub.events("leak-reject")) == 2)
    first, second = (e.seq for e in leak.sent_events)
    await hub.send_raw(
        "leak-reject", encode(Error(ErrorCode.UNKNOWN_DEVICE, "not provisioned", str(first)))
    )
    await hub.send_raw("leak-reject", encode(Error(ErrorCode.BAD_FIELD, "bad", str(second))))
    await hub.wait_for(lambda: len(leak.errors_received) == 2)
    assert [e.seq for e in leak.pending()] == [first]
    hub.drop_acks = False
    await hub.drop("leak-reject")
    await hub.wait_for(lambda: leak.pending_events() == 0)
    assert hub.devices["leak-reject"].resent == [first]


async def test_commands_are_acked_and_unsupported_ones_refused(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    smoke = await make_device(SmokeAlarm, "smoke-cmd")
    nothing_sounding = await hub.send_command("smoke-cmd", CommandName.SILENCE)
    ok = await hub.send_command("smoke-cmd", CommandName.INTERCONNECT_START, {"source_device": "x"})
    silence = await hub.send_command("smoke-cmd", CommandName.SILENCE)
    unsupported = await hub.send_command("smoke-cmd", CommandName.CLOSE_VALVE)
    misaddressed = await hub.send_command("smoke-cmd", CommandName.SELF_TEST, to="gas-9")
    not_sounding = await hub.command_ack(nothing_sounding)
    assert (not_sounding.ok, not_sounding.error) == (False, "nothing is sounding")
    assert await hub.command_ack(ok) == Ack(ok)
    assert await hub.command_ack(silence) == Ack(silence)
    refused = await hub.command_ack(unsupported)
    assert (refused.ok, refused.error) == (False, "a smoke_alarm does not support close_valve")
    wrong = await hub.command_ack(misaddressed)
    assert wrong.ok is False and "gas-9" in wrong.error
    assert [c.command_id for c in smoke.commands_received] == [
        nothing_sounding,
        ok,
        silence,
        unsupported,
        misaddressed,
    ]
    assert [e.event for e in hub.events("smoke-cmd")] == [EventType.ALARM_SILENCED]
    await hub.wait_for(lambda: hub.last_state("smoke-cmd").get("muted") is True)


async def test_garbage_from_the_hub_does_not_crash_the_device(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    leak = await make_device(WaterLeak, "leak-garbage")
    garbage: list[str | bytes] = [
        "not json",
        b"\x00\xff binary",
        "[1, 2, 3]",
        "{}",
        '{"v": "9.0", "type": "ack", "ref": "1"}',
        '{"v": "1.0", "type": "ack", "ref": "999999999999"}',
        '{"v": "1.0", "type": "ack", "ref": "hello"}',
        '{"v": "1.0", "type": "ack", "ref": "-5", "ok": "yes"}',
        '{"v": "1.0", "type": "error", "code": "no_such_code", "message": "x"}',
        encode(Error(ErrorCode.MALFORMED, "you sent garbage", "12345")),
        '{"v": "1.0", "type": "command", "device_id": "leak-garbage", "command": "explode"}',
        json.dumps(
            {
                "v": "1.0",
                "type": "command",
                "device_id": "leak-garbage",
                "command_id": "c1",
                "command": "interconnect_start",
                "args": {"source_device": 7},
            }
        ),
        encode(Hello("hub", DeviceKind.WATER_LEAK, "m", "f")),
        encode(State("leak-garbage", DeviceKind.WATER_LEAK, 1, 1, {"leak": True})),
        '{"v": "1.0", "type": "ack", "ref": "' + "x" * 20000 + '"}',
        '{"v": "1.0", "type": "ack", "ref": "\\ud800"}',
        '{"v": 1e999}',
        "[" * 10000,  # nesting deep enough to blow the JSON parser's recursion limit
        "[" * 100000,
    ]
    for frame in garbage:
        await hub.send_raw("leak-garbage", frame)
    cid = await hub.send_command("leak-garbage", CommandName.SELF_TEST)
    assert (await hub.command_ack(cid)).ok
    leak.start_leak()
    await hub.wait_for(lambda: leak.pending_events() == 0)
    assert hub.devices["leak-garbage"].hellos == 1  # same link throughout
    assert leak.connected
    assert [c.command_id for c in leak.commands_received] == [cid]


async def test_a_frame_that_breaks_the_websocket_costs_a_reconnect_only(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    leak = await make_device(WaterLeak, "leak-utf8", backoff_initial_s=0.02)
    writer = hub.sockets["leak-utf8"]._writer
    assert writer is not None
    await writer.send_frame(b"\xff\xfe not utf-8", WSMsgType.TEXT)  # invalid by RFC 6455
    await hub.wait_for(lambda: hub.devices["leak-utf8"].hellos == 2)
    leak.start_leak()
    await hub.wait_for(lambda: len(leak.acked_seqs & {e.seq for e in leak.sent_events}) == 1)


async def test_pending_store_is_bounded_and_keeps_alarms_over_info(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    leak = await make_device(WaterLeak, "leak-bounded", max_pending=3)
    leak.go_silent()
    assert leak.start_self_test() is None  # info
    leak.start_leak()
    leak.dry()
    leak.start_leak()  # full: the info event goes
    assert leak.start_self_test() is None  # full of alarms: the new info event is not kept
    assert leak.pending_events() == 3
    assert all(e.event is EventType.WATER_LEAK for e in leak.pending())
    assert len(leak.sent_events) == 5
    leak.resume()
    await hub.wait_for(lambda: leak.pending_events() == 0)
    assert [e.active for e in hub.events("leak-bounded")] == [True, False, True]


async def test_on_event_hook_sees_every_event_and_cannot_break_the_device(
    hub: FakeHub, make_device: MakeDevice
) -> None:
    leak = await make_device(WaterLeak, "leak-hook")
    seen: list[Event] = []

    def hook(event: Event) -> None:
        seen.append(event)
        raise RuntimeError("a broken dashboard")

    leak.on_event = hook
    leak.start_leak()
    leak.dry()
    assert seen == leak.sent_events
    await hub.wait_for(lambda: leak.pending_events() == 0)


async def test_make_device_builds_each_kind(hub: FakeHub) -> None:
    for kind in DeviceKind:
        device = make_device(kind, f"dev-{kind}", hub.url, "t", model="M-1", firmware="2.0")
        assert device.identity.kind is kind
        assert (device.identity.model, device.identity.firmware) == ("M-1", "2.0")
        assert type(device).kind is kind
