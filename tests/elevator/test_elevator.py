"""An e-bike in an elevator car: held and announced, then released by staff or by the rules.

Everything is real: the community server, a hub, Mosquitto, and an elevator-camera stub on the
native link; the hold and the release travel as signed downlink commands.
"""

from __future__ import annotations

import random
from typing import Any

import aiohttp

from devices.catalog import DeviceKind
from firmware_stubs import ElevatorCamera, make_device
from tests.downlink.conftest import Stack, wait_for

CAMERA_ID = "lift-1-car-a"


async def _camera(stack: Stack) -> ElevatorCamera:
    token = stack.hub.provision_device(CAMERA_ID, DeviceKind.ELEVATOR_CAMERA, "Lift 1", "Lobby")
    camera = make_device(
        DeviceKind.ELEVATOR_CAMERA,
        CAMERA_ID,
        f"ws://127.0.0.1:{stack.hub.http_port}/api/device/ws",
        token,
        rng=random.Random(2),
        state_file=stack.tmp / "camera.json",
    )
    assert isinstance(camera, ElevatorCamera)
    stack.extra.append(camera)
    await camera.start()
    await camera.wait_connected(20)
    return camera


def _alarm(stack: Stack) -> dict[str, Any] | None:
    found = [a for a in stack.community.alarms() if a["kind"] == "elevator_ebike"]
    return found[-1] if found else None


async def _release(stack: Stack, alarm_id: int, body: object) -> tuple[int, dict[str, Any]]:
    base = f"http://127.0.0.1:{stack.community.http_port}"
    headers = {"Authorization": f"Bearer {stack.community.manager_token}"}
    async with (
        aiohttp.ClientSession(base, headers=headers) as http,
        http.post(f"/api/alarms/{alarm_id}/release", json=body) as resp,
    ):
        return resp.status, await resp.json()


async def test_an_ebike_holds_the_car_until_staff_release_it(stack: Stack) -> None:
    camera = await _camera(stack)
    assert camera.ebike_enters(0.95)
    await wait_for(lambda: camera.car_held, "the car to be held")
    await wait_for(lambda: camera.prompts_played == ["ebike_not_allowed"], "the announcement")
    await wait_for(lambda: (_alarm(stack) or {}).get("command_status") == "acked", "hold acked")
    alarm = _alarm(stack)
    assert alarm is not None and alarm["hold"]["released"] is False
    assert alarm["hold"]["command"] == "hold_doors"

    status, body = await _release(stack, alarm["id"], {"by": "Officer Li"})
    assert status == 200, body
    assert body["alarm"]["acknowledged"] and body["alarm"]["acked_by"] == "Officer Li"
    assert body["alarm"]["hold"]["released_by"] == "Officer Li"
    assert body["command_id"]
    await wait_for(lambda: not camera.car_held, "the car to be released")
    await wait_for(lambda: camera.prompts_played[-1:] == ["doors_released"], "the release prompt")
    await wait_for(
        lambda: stack.status(body["command_id"])["status"] == "acked", "the release acked"
    )
    released = _alarm(stack)
    assert released is not None and released["command_status"] == "acked"
    detail = stack.community.alarm(alarm["id"])
    assert detail is not None
    assert any(h["action"] == "commanded" and h["by"] == "Officer Li" for h in detail["history"])

    # Releasing twice is refused and changes nothing.
    status, again = await _release(stack, alarm["id"], {"by": "Officer Wang"})
    assert status == 409 and "already released by Officer Li" in again["error"]
    assert camera.prompts_played.count("doors_released") == 1


async def test_the_car_is_released_when_the_ebike_leaves(stack: Stack) -> None:
    camera = await _camera(stack)
    camera.ebike_enters()
    await wait_for(lambda: camera.car_held, "the car to be held")
    camera.ebike_leaves()
    await wait_for(lambda: not camera.car_held, "the rules to release the car")
    alarm = _alarm(stack)
    assert alarm is not None and alarm["status"] == "cleared"
    assert alarm["hold"]["released_by"] == "rules"
    assert not alarm["acknowledged"]  # the board still shows it until a person acknowledges


async def test_release_refuses_what_is_not_a_held_car(stack: Stack) -> None:
    status, body = await _release(stack, 999_999, {"by": "x"})
    assert status == 404
    stack.port.plug_in_high_power()
    await wait_for(
        lambda: [a for a in stack.community.alarms() if a["kind"] == "charger_overpower"],
        "a non-elevator alarm",
    )
    [other] = [a for a in stack.community.alarms() if a["kind"] == "charger_overpower"]
    status, body = await _release(stack, other["id"], {"by": "x"})
    assert status == 409 and "holds no elevator car" in body["error"]
    for bad in ({"by": 5}, {"who": "x"}, [1], {"by": "x" * 500}):
        status, body = await _release(stack, other["id"], bad)
        assert status == 400, (bad, body)
    assert not (stack.community.alarm(other["id"]) or {}).get("acknowledged")
