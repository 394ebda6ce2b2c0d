"""Who owns what: property company → community → buildings → units → homes → hubs, as data.

The tree is built from what the community already knows — each enrolled hub's home, building
and unit — plus a small optional file ``estate.json`` in the data folder for the names people
use (``{"company": "…", "community": "…"}``; without it, the community id). Nothing is typed
twice, so the tree cannot drift from the enrolled hubs. Gateways the community runs itself
(the charging shed, lift and lane) are listed apart as common areas.

Residents are not listed by name: they exist for the community only through their home's hub
(least privilege by construction); a home shows how many hubs serve it and its open orders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ESTATE_FILE: Final = "estate.json"
MAX_NAME: Final = 120
#: Shown for a building or unit the enrollment did not give.
UNNAMED: Final = ""


class EstateError(ValueError):
    """An unusable ``estate.json`` (the message says what is wrong)."""


@dataclass(frozen=True, slots=True)
class EstateNames:
    company: str
    community: str


def load_names(path: Path, community_id: str) -> EstateNames:
    """The names in ``path``, or the defaults when there is no file; EstateError if bad."""
    if not path.exists():
        return EstateNames("", community_id)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EstateError(f"{path.name}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or set(raw) - {"company", "community"}:
        raise EstateError(f'{path.name}: expected {{"company": …, "community": …}}')
    names: dict[str, str] = {}
    for key, default in (("company", ""), ("community", community_id)):
        value = raw.get(key, default)
        if not isinstance(value, str) or len(value) > MAX_NAME:
            raise EstateError(f"{path.name}: '{key}' must be text of at most {MAX_NAME} chars")
        names[key] = value.strip() or default
    return EstateNames(names["company"], names["community"])


def build_tree(
    names: EstateNames,
    community_id: str,
    hubs: Iterable[Mapping[str, Any]],
    common_areas: set[str],
    open_orders: Mapping[str, int],
) -> dict[str, Any]:
    """The estate as a tree with counts at every level (buildings and units sorted)."""
    buildings: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    areas: list[dict[str, Any]] = []
    total_hubs = online = 0
    for hub in hubs:
        total_hubs += 1
        online += hub.get("status") == "online"
        entry = {"hub_id": hub["hub_id"], "status": hub.get("status")}
        if hub["hub_id"] in common_areas:
            areas.append({**entry, "area": hub.get("home_id")})
            continue
        building = str(hub.get("building") or UNNAMED)
        unit = str(hub.get("unit") or UNNAMED)
        home_id = str(hub["home_id"])
        home = (
            buildings.setdefault(building, {})
            .setdefault(unit, {})
            .setdefault(
                home_id,
                {"home_id": home_id, "hubs": [], "open_orders": open_orders.get(home_id, 0)},
            )
        )
        home["hubs"].append(entry)
    tree_buildings: list[dict[str, Any]] = []
    for b_name in sorted(buildings):
        units: list[dict[str, Any]] = []
        for u_name in sorted(buildings[b_name]):
            homes = [buildings[b_name][u_name][h] for h in sorted(buildings[b_name][u_name])]
            units.append({"name": u_name, "counts": {"homes": len(homes)}, "homes": homes})
        tree_buildings.append(
            {
                "name": b_name,
                "counts": {"units": len(units), "homes": sum(u["counts"]["homes"] for u in units)},
                "units": units,
            }
        )
    homes_total = sum(b["counts"]["homes"] for b in tree_buildings)
    return {
        "company": {"name": names.company, "communities": 1},
        "community": {
            "id": community_id,
            "name": names.community,
            "counts": {
                "buildings": len(tree_buildings),
                "units": sum(b["counts"]["units"] for b in tree_buildings),
                "homes": homes_total,
                "hubs": total_hubs,
                "hubs_online": online,
                "common_areas": len(areas),
                "open_orders": sum(open_orders.values()),
            },
            "buildings": tree_buildings,
            "common_areas": sorted(areas, key=lambda a: str(a["hub_id"])),
        },
    }
