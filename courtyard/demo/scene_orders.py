"""The repairs scene: three work orders, three stories.

1. **From an alarm**: when the silent fall sensor's ``device_offline`` alarm is up (any other
   trouble alarm if the run has none), the manager opens its order with one click
   (``POST /api/alarms/{id}/work-order``).
2. **From a resident**: a resident reports a dripping tap from the home hub's Repairs API;
   the manager assigns it to the technician, who starts and finishes it; the resident sees
   each step on the hub (``order_updated`` notices), confirms the repair and rates it.
3. **Overdue**: a cleaning order the manager opens is left alone; the demo runs cleaning with
   an SLA of a tenth of the run (through the work-order rules data), so both overdue tiers
   fire and are queued for the configured notification targets.

The report reads everything back from the community's API and tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from community.work_order_rules import DEFAULT_RULES, Category

if TYPE_CHECKING:
    from courtyard.demo.property import PropertyStep
    from courtyard.demo.runner import Community

TECHNICIAN: Final = "wang.technician"
#: Homes (by number, wrapping) of the resident's and the overdue story.
RESIDENT_HOME: Final = 1
OVERDUE_HOME: Final = 2
#: The cleaning SLA as a fraction of the run.
OVERDUE_SLA: Final = 0.08
#: Trouble alarms an order may be opened from, best first.
ALARM_KINDS: Final = ("end_of_service", "device_offline", "hardware_fault", "battery_low")


class OrdersScene:
    name = "orders"

    def __init__(self) -> None:
        self._tech_token = ""
        self._resident_order = 0
        self._overdue_order = 0
        self._alarm_order = 0

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    async def _call(
        base: str, token: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession(base, headers=headers) as http,
            http.request(method, path, json=body) as resp,
        ):
            return resp.status, await resp.json()

    async def _community(
        self, community: Community, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        return await self._as(community, community.server.manager_token, method, path, body)

    async def _as(
        self,
        community: Community,
        token: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
    ) -> Any:
        base = f"http://127.0.0.1:{community.server.http_port}"
        status, answer = await self._call(base, token, method, path, body)
        if status >= 300:
            print(f"  !! orders scene: {method} {path}: {status} {answer.get('error')}")
            return None
        return answer

    async def _hub(self, community: Community, home: int, body: dict[str, Any]) -> None:
        target = community.homes[home % len(community.homes)]
        hub = community.hubs[target.hub_id]
        token = (await asyncio.to_thread(Path(hub.admin_token_path).read_text)).strip()
        base = f"http://127.0.0.1:{hub.http_port}"
        status, answer = await self._call(base, token, "POST", "/api/repairs/requests", body)
        if status != 202:
            print(f"  !! orders scene: hub refused {body.get('action')}: {answer}")

    def _hub_orders(self, community: Community, home: int) -> list[dict[str, Any]]:
        target = community.homes[home % len(community.homes)]
        return community.hubs[target.hub_id].repairs.orders()

    # --- the scene ---------------------------------------------------------------------------

    async def setup(self, community: Community, duration: float) -> None:
        hours = OVERDUE_SLA * duration / 3600
        community.server.work_orders.use_rules(DEFAULT_RULES.with_sla({Category.CLEANING: hours}))
        made = await self._community(
            community, "POST", "/api/accounts", {"name": TECHNICIAN, "role": "technician"}
        )
        self._tech_token = made["token"] if made else ""

    def steps(self) -> Sequence[PropertyStep]:
        # Imported here: courtyard.demo.property lists this scene in its SCENES.
        from courtyard.demo.property import PropertyStep

        return (
            PropertyStep(0.10, "a resident reports a dripping tap from the hub", self._report),
            PropertyStep(0.14, "the manager opens a cleaning order (left alone)", self._neglect),
            PropertyStep(0.24, "the manager assigns the tap to the technician", self._assign),
            PropertyStep(0.32, "the technician starts and finishes the repair", self._repair),
            PropertyStep(0.46, "the resident confirms the repair and rates it", self._confirm),
            PropertyStep(0.72, "the manager opens an order from a trouble alarm", self._from_alarm),
        )

    async def _report(self, community: Community, duration: float) -> None:
        await self._hub(
            community,
            RESIDENT_HOME,
            {
                "action": "open",
                "category": "plumbing",
                "description": "厨房水龙头一直滴水 / The kitchen tap keeps dripping.",
                "room": "kitchen",
            },
        )

    async def _neglect(self, community: Community, duration: float) -> None:
        home = community.homes[OVERDUE_HOME % len(community.homes)].home_id
        made = await self._community(
            community,
            "POST",
            "/api/orders",
            {"home_id": home, "category": "cleaning", "description": "Stairwell bins overflow."},
        )
        self._overdue_order = int(made["order"]["id"]) if made else 0

    async def _resident_id(self, community: Community) -> int:
        for _ in range(50):  # the hub learns the id from the community's answer
            orders = self._hub_orders(community, RESIDENT_HOME)
            if orders:
                return int(orders[0]["order_id"])
            await asyncio.sleep(0.1)
        return 0

    async def _assign(self, community: Community, duration: float) -> None:
        self._resident_order = await self._resident_id(community)
        if self._resident_order:
            await self._community(
                community,
                "POST",
                f"/api/orders/{self._resident_order}/assign",
                {"to": TECHNICIAN},
            )

    async def _repair(self, community: Community, duration: float) -> None:
        if not self._resident_order:
            return
        path = f"/api/orders/{self._resident_order}"
        await self._as(community, self._tech_token, "POST", f"{path}/start", {})
        await self._as(
            community,
            self._tech_token,
            "POST",
            f"{path}/finish",
            {"resolution": "Replaced the tap's washer; no more drips."},
        )

    async def _confirm(self, community: Community, duration: float) -> None:
        for _ in range(50):  # wait until the hub has heard the order is done
            orders = self._hub_orders(community, RESIDENT_HOME)
            if orders and orders[0]["state"] == "done":
                break
            await asyncio.sleep(0.1)
        if self._resident_order:
            await self._hub(
                community,
                RESIDENT_HOME,
                {
                    "action": "confirm",
                    "order_id": self._resident_order,
                    "rating": 5,
                    "comment": "Quick and tidy, thanks!",
                },
            )

    async def _from_alarm(self, community: Community, duration: float) -> None:
        ranked: list[dict[str, Any]] = []
        for _ in range(max(1, int(duration))):  # the silent sensor's alarm may be on its way
            listed = await self._community(community, "GET", "/api/alarms?limit=1000")
            alarms = listed["alarms"] if listed else []
            ranked = sorted(
                (a for a in alarms if a["kind"] in ALARM_KINDS),
                key=lambda a: ALARM_KINDS.index(a["kind"]),
            )
            if ranked:
                break
            await asyncio.sleep(0.1)
        if not ranked:
            print("  !! orders scene: no trouble alarm to open an order from")
            return
        made = await self._community(community, "POST", f"/api/alarms/{ranked[0]['id']}/work-order")
        self._alarm_order = int(made["order"]["id"]) if made else 0

    async def report(self, community: Community) -> dict[str, Any]:
        listed = await self._community(community, "GET", "/api/orders?limit=200")
        orders: list[dict[str, Any]] = []
        for summary in listed["orders"] if listed else []:
            order = await self._community(community, "GET", f"/api/orders/{summary['id']}")
            if order is None:
                continue
            deliveries = community.server._store.read(
                "SELECT count(*) AS n FROM order_deliveries WHERE order_id = ?", [order["id"]]
            )
            orders.append(
                {
                    "id": order["id"],
                    "home_id": order["home_id"],
                    "category": order["category"],
                    "source": order["source"],
                    "alarm_id": order["alarm_id"],
                    "state": order["status"],
                    "assignee": order["assignee"],
                    "rating": order["rating"],
                    "overdue": order["overdue"],
                    "overdue_tiers": [e["tier"] for e in order["escalations"]],
                    "notifications_queued": int(deliveries[0]["n"]),
                    "history": [h["action"] for h in order["history"]],
                }
            )
        told = [
            d
            for d in community.server.notices.deliveries()
            if d["code"] == "order_updated"
            and d["params"].get("order_id") == str(self._resident_order)
        ]
        hub_view = [
            o
            for o in self._hub_orders(community, RESIDENT_HOME)
            if o["order_id"] == self._resident_order
        ]
        by_id = {o["id"]: o for o in orders}
        resident = by_id.get(self._resident_order, {})
        overdue = by_id.get(self._overdue_order, {})
        from_alarm = by_id.get(self._alarm_order, {})
        return {
            "orders": orders,
            "from_alarm": from_alarm.get("source") == "alarm" and bool(from_alarm.get("alarm_id")),
            "resident_rated": resident.get("source") == "resident"
            and resident.get("state") == "confirmed"
            and resident.get("rating") == 5,
            "resident_told": [d["params"].get("state") for d in told],
            "hub_state": hub_view[0]["state"] if hub_view else None,
            "overdue_escalated": overdue.get("overdue_tiers") == [0, 1],
        }
