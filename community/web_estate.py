"""``GET /api/estate``: the property's hierarchy with counts (see :mod:`community.estate`).

Read-only and cheap: built on each request from the enrolled hubs, the open work orders and
the optional ``estate.json`` names (a broken names file is logged and the defaults used, so
the page never fails on it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from community import openapi
from community.estate import EstateError, EstateNames, build_tree, load_names
from community.web import _error
from community.work_order_rules import OWED

log = logging.getLogger(__name__)

_STATES: Final = ", ".join(f"'{s}'" for s in sorted(OWED))
_OPEN_SQL: Final = (
    f"SELECT home_id, count(*) AS n FROM work_orders WHERE status IN ({_STATES})"  # noqa: S608
    " GROUP BY home_id"
)


@dataclass(frozen=True, slots=True)
class Estate:
    """What the route reads: hubs, common-area hub ids, and SQL reads (on the writer)."""

    community_id: str
    names_file: Path
    hubs: Callable[[], list[dict[str, Any]]]
    common_areas: Callable[[], set[str]]
    read: Callable[[str], list[dict[str, Any]]]
    write: Callable[..., Awaitable[Any]]

    def tree(self) -> dict[str, Any]:
        """The tree (writer thread)."""
        try:
            names = load_names(self.names_file, self.community_id)
        except EstateError as exc:
            log.warning("estate names not used: %s", exc)
            names = EstateNames("", self.community_id)
        counts = {str(r["home_id"]): int(r["n"]) for r in self.read(_OPEN_SQL)}
        return build_tree(names, self.community_id, self.hubs(), self.common_areas(), counts)


ESTATE: Final = web.AppKey("estate", Estate)


async def get_estate(request: web.Request) -> web.StreamResponse:
    if request.query:
        return _error(400, "this view takes no parameters")
    estate = request.app[ESTATE]
    return web.json_response(await estate.write(estate.tree))


def add_estate_routes(app: web.Application, estate: Estate) -> None:
    app[ESTATE] = estate
    app.router.add_get("/api/estate", get_estate)


# --- OpenAPI ----------------------------------------------------------------------------------

_COUNT: Final = openapi.integer(0)
_HUB: Final = {
    "type": "object",
    "properties": {"hub_id": openapi.text(64, 1), "status": {"type": "string", "nullable": True}},
}
_HOME: Final = {
    "type": "object",
    "required": ["home_id", "hubs", "open_orders"],
    "properties": {
        "home_id": openapi.text(64, 1),
        "hubs": {"type": "array", "items": _HUB},
        "open_orders": _COUNT,
    },
}
_UNIT: Final = {
    "type": "object",
    "required": ["name", "counts", "homes"],
    "properties": {
        "name": {"type": "string"},
        "counts": {"type": "object", "properties": {"homes": _COUNT}},
        "homes": {"type": "array", "items": _HOME},
    },
}
_BUILDING: Final = {
    "type": "object",
    "required": ["name", "counts", "units"],
    "properties": {
        "name": {"type": "string"},
        "counts": {"type": "object", "properties": {"units": _COUNT, "homes": _COUNT}},
        "units": {"type": "array", "items": _UNIT},
    },
}
_TREE: Final = {
    "type": "object",
    "required": ["company", "community"],
    "properties": {
        "company": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "communities": _COUNT},
        },
        "community": {
            "type": "object",
            "required": ["id", "name", "counts", "buildings", "common_areas"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "counts": {
                    "type": "object",
                    "properties": {
                        k: _COUNT
                        for k in (
                            "buildings",
                            "units",
                            "homes",
                            "hubs",
                            "hubs_online",
                            "common_areas",
                            "open_orders",
                        )
                    },
                },
                "buildings": {"type": "array", "items": _BUILDING},
                "common_areas": {"type": "array", "items": {"type": "object"}},
            },
        },
    },
}

PATHS: Final[dict[str, Any]] = {
    "/api/estate": {
        "get": openapi.op(
            "The property's hierarchy: company, community, buildings, units, homes, hubs.",
            "getEstate",
            "estate",
            response=_TREE,
            errors=(400, 401, 403),
        )
    }
}
