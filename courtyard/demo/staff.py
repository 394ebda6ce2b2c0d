"""The duty staff of a headless run, acting through the same JSON API the dashboard uses."""

from __future__ import annotations

from typing import Any

import aiohttp

STAFF_NAME = "duty officer (scripted)"

#: Which unacknowledged alarms each staff action takes.
_FILTERS: dict[str, dict[str, str]] = {
    "acknowledge_critical": {"acknowledged": "false", "severity": "critical"},
    "acknowledge_all": {"acknowledged": "false"},
}


async def act(base_url: str, token: str, action: str) -> int:
    """Acknowledge the alarms ``action`` selects; returns how many changed."""
    headers = {"Authorization": f"Bearer {token}"}
    changed = 0
    async with aiohttp.ClientSession(base_url, headers=headers) as http:
        params = {**_FILTERS[action], "limit": "1000"}
        async with http.get("/api/alarms", params=params) as resp:
            resp.raise_for_status()
            alarms: list[dict[str, Any]] = (await resp.json())["alarms"]
        for alarm in alarms:
            async with http.post(f"/api/alarms/{alarm['id']}/ack", json={"by": STAFF_NAME}) as r:
                r.raise_for_status()
                changed += bool((await r.json()).get("changed"))
    return changed
