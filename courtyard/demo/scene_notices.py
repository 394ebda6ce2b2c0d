"""The notices scene: the manager sends building 1 an urgent water-cut notice over HTTP.

The property manager publishes with their token through ``POST /api/notices``, exactly as the
dashboard does; the notice goes to every home hub of building 1 and sounds there. A little
later some residents open it on their hub (``hub.notices.mark_read``), and their read receipts
travel back to the community.

The report reads the community's own view back (``GET /api/notices/{id}``): the notice, its
counts, and a receipt per home.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from courtyard.demo.property import PropertyStep
    from courtyard.demo.runner import Community

BUILDING: Final = "1"
PUBLISH_AT: Final = 0.08
READ_AT: Final = 0.3
#: Every how many homes of the building one reads the notice (the others leave it unread).
READERS_EVERY: Final = 2
TITLE: Final = "Water cut in building 1 tomorrow 09:00-12:00"
BODY: Final = "Pipe work on the riser. Please store some water; lifts are not affected."


def _call(community: Community, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{community.server.http_port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {community.server.manager_token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


class NoticesScene:
    """Publish urgently to one building, then some homes read it."""

    name = "notices"

    def __init__(self) -> None:
        self._notice_id = ""

    async def setup(self, community: Community, duration: float) -> None:
        return None

    def steps(self) -> Sequence[PropertyStep]:
        from courtyard.demo.property import PropertyStep

        return (
            PropertyStep(
                PUBLISH_AT,
                "notices: the manager sends building 1 an urgent water cut",
                self._publish,
            ),
            PropertyStep(READ_AT, "notices: residents open the notice on their hubs", self._read),
        )

    async def _publish(self, community: Community, duration: float) -> None:
        import asyncio

        body = {
            "title": TITLE,
            "body": BODY,
            "audience": {"scope": "building", "building": BUILDING},
            "urgent": True,
        }
        answer = await asyncio.to_thread(_call, community, "POST", "/api/notices", body)
        self._notice_id = str(answer["notice"]["id"])

    async def _read(self, community: Community, duration: float) -> None:
        if not self._notice_id:
            return
        readers = [h for h in community.homes if h.building == BUILDING][::READERS_EVERY]
        for home in readers:
            community.hubs[home.hub_id].notices.mark_read(self._notice_id)

    async def report(self, community: Community) -> dict[str, Any]:
        import asyncio

        if not self._notice_id:
            return {"published": False}
        notice = (
            await asyncio.to_thread(_call, community, "GET", f"/api/notices/{self._notice_id}")
        )["notice"]
        return {
            "published": True,
            "id": notice["id"],
            "title": notice["title"],
            "urgent": notice["urgent"],
            "audience": notice["audience"],
            "counts": notice["counts"],
            "receipts": {r["home_id"]: r["status"] for r in notice["receipts"]},
        }
