"""The duty staff of a headless run, acting through the same JSON API the dashboard uses."""

from __future__ import annotations

from typing import Any

import aiohttp

STAFF_NAME = "duty officer (scripted)"

#: Per staff action: which alarms it takes, and what it does to each (an alarm API verb).
_ACTIONS: dict[str, tuple[dict[str, str], str]] = {
    "acknowledge_critical": ({"acknowledged": "false", "severity": "critical"}, "ack"),
    "acknowledge_all": ({"acknowledged": "false"}, "ack"),
    "release_elevator": ({"kind": "elevator_ebike", "status": "active"}, "release"),
}


async def act(base_url: str, token: str, action: str) -> int:
    """Do ``action`` to the alarms it selects; returns how many changed."""
    headers = {"Authorization": f"Bearer {token}"}
    selects, verb = _ACTIONS[action]
    changed = 0
    async with aiohttp.ClientSession(base_url, headers=headers) as http:
        params = {**selects, "limit": "1000"}
        async with http.get("/api/alarms", params=params) as resp:
            resp.raise_for_status()
            alarms: list[dict[str, Any]] = (await resp.json())["alarms"]
        for alarm in alarms:
            if verb == "release" and (alarm.get("hold") or {}).get("released", True):
                continue  # not held (yet), or already released
            body = {"by": STAFF_NAME}
            async with http.post(f"/api/alarms/{alarm['id']}/{verb}", json=body) as r:
                r.raise_for_status()
                reply = await r.json()
                changed += bool(reply.get("changed", verb == "release"))
    return changed
