"""OpenAPI descriptions of the safety desk's routes: alarms, hubs, the CAP feed, field pages,
fire lanes, charging permissions, work orders and staff accounts (see community.openapi).

Limits mirror the checks the handlers make (community.queries, web_desk, work_orders ...),
so a client that follows this document is never refused for a shape it was told was fine.
"""

from __future__ import annotations

from typing import Any, Final

from community.accounts import STAFF_ROLES
from community.alarms import ALARM_KINDS, AlarmStatus
from community.openapi import (
    ANY_OBJECT,
    enum,
    integer,
    obj,
    op,
    path_param,
    query_param,
    text,
)
from community.web_desk import EvidenceKind
from community.work_order_rules import Category, OrderAction, Status
from devices.catalog import Priority

_ID: Final = integer(1, 10**18 - 1)
_NAME: Final = text(64, 1)
_NOTE: Final = text(500, 1)
_ALARM_ID: Final = path_param("alarm_id", _ID, "The alarm's id.")
_ORDER_ID: Final = path_param("order_id", integer(1, 999_999_999), "The order's id.")
_INSTANT: Final = text(40, 10, description="ISO-8601 date, or date-time with a zone.")
_PERSON: Final = obj({"by": _NAME, "note": _NOTE})

_ALARM_FILTERS: Final = (
    query_param("status", enum(AlarmStatus)),
    query_param("acknowledged", enum(("true", "false"))),
    query_param("severity", enum(Priority)),
    query_param("kind", enum(sorted(ALARM_KINDS))),
    query_param("home", text(100)),
    query_param("hub", text(100)),
    query_param("q", text(100), "Free text: home, building, unit, device, room, kind."),
    query_param("since", _INSTANT, "Raised at or after."),
    query_param("until", _INSTANT, "Raised before."),
    query_param("limit", integer(1, 1000)),
    query_param("offset", integer(0, 1_000_000)),
)
_ORDER_FILTERS: Final = (
    query_param("status", enum(Status)),
    query_param("category", enum(Category)),
    query_param("home", text(100)),
    query_param("assignee", text(100)),
    query_param("overdue", enum(("true", "false"))),
    query_param("q", text(100)),
    query_param("limit", integer(1, 200)),
    query_param("offset", integer(0, 1_000_000)),
)
_ORDER_BODY: Final = obj(
    {
        "home_id": text(64, 1),
        "category": enum(Category),
        "title": text(120),
        "description": text(2000, 1),
        "room": text(64),
        "preferred_time": _INSTANT,
        "photos": {
            "type": "array",
            "maxItems": 5,
            "items": obj(
                {"uri": text(2000, 1), "sha256": text(64, 64, pattern="^[0-9a-fA-F]{64}$")},
                ("uri", "sha256"),
            ),
        },
    },
    ("home_id", "category", "description"),
)
_ORDER_ACTION_BODY: Final = obj(
    {
        "note": text(500),
        "to": text(64, 1),
        "at": _INSTANT,
        "category": enum(Category),
        "resolution": text(1000, 1),
        "rating": integer(1, 5),
        "comment": text(500),
    }
)
_FIELD_FILTER = text(100, 1)

PATHS: Final[dict[str, dict[str, Any]]] = {
    "/api/openapi.json": {
        "get": op("This document.", "openapi", "meta", errors=()),
    },
    "/api/health": {
        "get": op("Liveness and whether ingest is connected.", "health", "meta", errors=()),
    },
    "/api/alarms": {
        "get": op(
            "Alarms, newest first, filtered.", "listAlarms", "alarms", parameters=_ALARM_FILTERS
        ),
    },
    "/api/alarms/{alarm_id}": {
        "get": op(
            "One alarm with its history.",
            "getAlarm",
            "alarms",
            parameters=(_ALARM_ID,),
            errors=(400, 401, 403, 404),
        ),
    },
    "/api/alarms/{alarm_id}/{action}": {
        "post": op(
            "Act on an alarm: acknowledge, clear, assign (needs 'to'), start, resolve (needs"
            " 'note').",
            "actOnAlarm",
            "alarms",
            parameters=(
                _ALARM_ID,
                path_param("action", enum(("ack", "clear", "assign", "start", "resolve"))),
            ),
            body=obj({"by": _NAME, "to": _NAME, "note": _NOTE}),
            body_required=False,
            errors=(400, 401, 403, 404, 409),
        ),
    },
    "/api/alarms/{alarm_id}/evidence": {
        "post": op(
            "Attach a reference to evidence (where it is kept and its SHA-256).",
            "addEvidence",
            "alarms",
            parameters=(_ALARM_ID,),
            body=obj(
                {
                    "by": _NAME,
                    "uri": text(2000, 1),
                    "sha256": text(64, 64, pattern="^[0-9a-fA-F]{64}$"),
                    "kind": enum(EvidenceKind),
                },
                ("uri", "sha256", "kind"),
            ),
            errors=(400, 401, 403, 404, 409),
        ),
    },
    "/api/alarms/{alarm_id}/release": {
        "post": op(
            "Release a lift car held for an e-bike.",
            "releaseCar",
            "alarms",
            parameters=(_ALARM_ID,),
            body=obj({"by": _NAME}),
            body_required=False,
            errors=(400, 401, 403, 404, 409),
        ),
    },
    "/api/alarms/{alarm_id}/work-order": {
        "post": op(
            "Open the work order an alarm calls for (idempotent).",
            "orderFromAlarm",
            "orders",
            parameters=(_ALARM_ID,),
            body=obj({}),
            body_required=False,
            ok=201,
            errors=(400, 401, 403, 404, 409),
        ),
    },
    "/api/hubs": {"get": op("Enrolled hubs and whether they are online.", "listHubs", "hubs")},
    "/api/stats": {"get": op("Counts of events, alarms and hubs.", "stats", "meta")},
    "/api/ws": {
        "get": op(
            "Live feed (WebSocket): a snapshot, then every change as it is committed.",
            "live",
            "alarms",
            ok=101,
            response=ANY_OBJECT,
        ),
    },
    "/api/cap/{name}": {
        "get": op(
            "The CAP 1.2 Atom feed (feed.atom) or one CAP message (<identifier>.xml).",
            "cap",
            "cap",
            parameters=(path_param("name", text(204, 1)),),
            content_type="application/xml",
            response={"type": "string"},
            errors=(401, 403, 404),
        ),
    },
    "/api/field/ports": {
        "get": op(
            "Charging ports with their readings and cuts.",
            "fieldPorts",
            "field",
            parameters=(query_param("hub", _FIELD_FILTER), query_param("station", _FIELD_FILTER)),
        ),
    },
    "/api/field/lanes": {
        "get": op(
            "Fire-lane zones and their occupancy (never a plate).",
            "fieldLanes",
            "field",
            parameters=(query_param("hub", _FIELD_FILTER), query_param("zone", _FIELD_FILTER)),
        ),
    },
    "/api/lanes/plates": {
        "get": op(
            "Plate registrations (as hashes), optionally of one home.",
            "listPlates",
            "lanes",
            parameters=(query_param("home", text(64, 1)),),
        ),
    },
    "/api/lanes/plates/register": {
        "post": op(
            "Map a plate to a home (needs the resident's consent).",
            "registerPlate",
            "lanes",
            body=obj(
                {
                    "home_id": text(64, 1),
                    "subject": text(128, 1),
                    "plate": text(32, 1),
                    "by": _NAME,
                },
                ("home_id", "subject", "plate"),
            ),
            ok=201,
            errors=(400, 401, 403, 409),
        ),
    },
    "/api/lanes/plates/unregister": {
        "post": op(
            "Remove a plate's mapping.",
            "unregisterPlate",
            "lanes",
            body=obj({"plate": text(32, 1), "by": _NAME}, ("plate",)),
            errors=(400, 401, 403, 404),
        ),
    },
    "/api/lanes/report": {
        "get": op(
            "Weekly fire-lane report per zone (ISO week, e.g. 2026-W47).",
            "laneReport",
            "lanes",
            parameters=(query_param("week", text(8, 8, pattern="^[0-9]{4}-W[0-9]{2}$")),),
        ),
    },
    "/api/charging/homes": {
        "get": op("Homes and whether they may charge.", "chargingHomes", "charging"),
    },
    "/api/charging/homes/{home_id}": {
        "put": op(
            "Allow a home to charge.",
            "allowCharging",
            "charging",
            parameters=(path_param("home_id", text(64, 1)),),
            errors=(400, 401, 403, 404),
        ),
        "delete": op(
            "Stop a home from starting new charging sessions.",
            "disallowCharging",
            "charging",
            parameters=(path_param("home_id", text(64, 1)),),
            errors=(400, 401, 403, 404),
        ),
    },
    "/api/whoami": {"get": op("The signed-in staff account.", "whoami", "accounts")},
    "/api/accounts": {
        "get": op("Staff accounts.", "listAccounts", "accounts"),
        "post": op(
            "Create a staff account; its token is returned once.",
            "createAccount",
            "accounts",
            body=obj(
                {"name": text(64, 1), "role": enum(sorted(str(r) for r in STAFF_ROLES))},
                ("name", "role"),
            ),
            ok=201,
            errors=(400, 401, 403, 409),
        ),
    },
    "/api/accounts/{name}/disable": {
        "post": op(
            "Disable a staff account (its token stops working).",
            "disableAccount",
            "accounts",
            parameters=(path_param("name", text(64, 1)),),
            errors=(400, 401, 403, 404),
        ),
    },
    "/api/orders": {
        "get": op(
            "Work orders, filtered (technicians see their own).",
            "listOrders",
            "orders",
            parameters=_ORDER_FILTERS,
        ),
        "post": op(
            "Open a work order on behalf of a home.",
            "createOrder",
            "orders",
            body=_ORDER_BODY,
            ok=201,
            errors=(400, 401, 403, 404),
        ),
    },
    "/api/orders/{order_id}": {
        "get": op(
            "One work order with its history.",
            "getOrder",
            "orders",
            parameters=(_ORDER_ID,),
            errors=(400, 401, 403, 404),
        ),
    },
    "/api/orders/{order_id}/{action}": {
        "post": op(
            "Move a work order along its state machine (fields depend on the action).",
            "actOnOrder",
            "orders",
            parameters=(_ORDER_ID, path_param("action", enum(OrderAction))),
            body=_ORDER_ACTION_BODY,
            errors=(400, 401, 403, 404, 409),
        ),
    },
}
