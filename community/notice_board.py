"""The property manager's notices: who they go to, who has them, who has read them.

A published notice (water cut, fire drill, lift maintenance) is addressed to an *audience*:
the whole community, one building, or chosen homes. The audience is resolved to homes from
the enrolled hubs (``hubs.home_id``/``building``; the community's own common-area gateways are
nobody's home) when it is published, and the notice goes to every hub of those homes through
the notice desk (``community.notices``), which resends it until each hub receipts it — a hub
that is offline gets it when it is back, once. An audience that names no home is refused and
nothing is written: a notice to nobody is a mistake, never a silent success.

Urgency travels as ``params.urgent = "1"`` (the notice wire format is unchanged); a hub
sounds and shows a banner for an unread urgent notice. Who published what, and to whom, is
kept in ``published_notices`` beside the desk's own tables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlite_utils import Database

from community.clock import Clock, iso
from community.notices import NoticeDesk
from community.store import Store
from devices.uplink import BODY_LIMIT, TITLE_LIMIT, NoticeCategory

Writer = Callable[..., Awaitable[Any]]

#: The notice code of a manager's announcement (hubs show its title and body).
ANNOUNCEMENT: Final = "announcement"
MAX_HOMES: Final = 1000
MAX_ID: Final = 64
NOTICE_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")
LIST_LIMIT: Final = 200
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_SCHEMA: Final = """CREATE TABLE IF NOT EXISTS published_notices (
    notice_id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    building TEXT NOT NULL DEFAULT '',
    homes TEXT NOT NULL,
    urgent INTEGER NOT NULL,
    published_by TEXT NOT NULL,
    published_ms INTEGER NOT NULL
)"""

_HOMES_SQL: Final = (
    "SELECT DISTINCT home_id FROM hubs WHERE coalesce(common_area, 0) = 0"
    " AND home_id IS NOT NULL AND home_id != ''"
)


class Scope(StrEnum):
    COMMUNITY = "community"
    BUILDING = "building"
    HOMES = "homes"


class NoticeInputError(ValueError):
    """A notice the board refuses; the message says what is wrong (a 400)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A checked request to publish."""

    title: str
    body: str
    scope: Scope
    building: str
    homes: tuple[str, ...]
    urgent: bool


def _text(value: object, name: str, limit: int, *, lines: bool = False) -> str:
    if not isinstance(value, str):
        raise NoticeInputError(f"'{name}' must be a string")
    if len(value) > limit:
        raise NoticeInputError(f"'{name}' must be at most {limit} characters")
    if (not lines and ("\n" in value or "\t" in value)) or _CONTROL.search(value):
        raise NoticeInputError(f"'{name}' must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NoticeInputError(f"'{name}' is not valid text") from None
    return value


def parse_draft(body: object) -> Draft:
    """Check a publish request field by field; NoticeInputError says what is wrong."""
    if not isinstance(body, dict):
        raise NoticeInputError("the body must be a JSON object")
    unknown = sorted(str(k)[:40] for k in body if k not in ("title", "body", "audience", "urgent"))
    if unknown:
        raise NoticeInputError(f"unknown field(s): {', '.join(unknown)}")
    title = _text(body.get("title"), "title", TITLE_LIMIT).strip()
    if not title:
        raise NoticeInputError("'title' must not be empty")
    text = _text(body.get("body", ""), "body", BODY_LIMIT, lines=True)
    urgent = body.get("urgent", False)
    if not isinstance(urgent, bool):
        raise NoticeInputError("'urgent' must be true or false")
    audience = body.get("audience")
    if not isinstance(audience, dict):
        raise NoticeInputError("'audience' must be an object with a 'scope'")
    extra = sorted(str(k)[:40] for k in audience if k not in ("scope", "building", "homes"))
    if extra:
        raise NoticeInputError(f"unknown audience field(s): {', '.join(extra)}")
    try:
        scope = Scope(str(audience.get("scope")))
    except ValueError:
        raise NoticeInputError("'audience.scope' must be community, building or homes") from None
    building = ""
    homes: tuple[str, ...] = ()
    if scope is Scope.BUILDING:
        building = _text(audience.get("building"), "audience.building", MAX_ID).strip()
        if not building:
            raise NoticeInputError("'audience.building' must name a building")
    elif "building" in audience:
        raise NoticeInputError("'audience.building' belongs to the building scope only")
    if scope is Scope.HOMES:
        raw = audience.get("homes")
        if not isinstance(raw, list) or not raw:
            raise NoticeInputError("'audience.homes' must be a non-empty list of home ids")
        if len(raw) > MAX_HOMES:
            raise NoticeInputError(f"'audience.homes' may name at most {MAX_HOMES} homes")
        homes = tuple(dict.fromkeys(_text(h, "audience.homes[]", MAX_ID).strip() for h in raw))
        if "" in homes:
            raise NoticeInputError("'audience.homes' must not contain an empty home id")
    elif "homes" in audience:
        raise NoticeInputError("'audience.homes' belongs to the homes scope only")
    return Draft(title, text, scope, building, homes, urgent)


class NoticeBoard:
    """Publishes the manager's notices and reports their receipts."""

    def __init__(self, store: Store, notices: NoticeDesk, write: Writer, clock: Clock) -> None:
        self._store = store
        self._notices = notices
        self._write = write
        self._clock = clock
        with store.transaction() as db:
            db.execute(_SCHEMA)

    async def publish(self, draft: Draft, by: str) -> dict[str, Any]:
        """Write the notice for every hub of its audience and send it; its view.

        NoticeInputError (nothing written) if the audience resolves to no home.
        """
        notice_id: str = await self._write(self._publish, draft, by)
        self._notices.wake()
        view = await self.get(notice_id)
        assert view is not None
        return view

    def _publish(self, draft: Draft, by: str) -> str:
        with self._store.transaction() as db:
            homes = self._resolve(db, draft)
            params = {"scope": str(draft.scope)}
            if draft.building:
                params["building"] = draft.building
            if draft.urgent:
                params["urgent"] = "1"
            try:
                notice_id = self._notices.add_for_homes(
                    db,
                    homes,
                    category=NoticeCategory.PROPERTY,
                    code=ANNOUNCEMENT,
                    params=params,
                    title=draft.title,
                    body=draft.body,
                )
            except ValueError as exc:
                raise NoticeInputError(str(exc)) from None
            assert notice_id is not None  # no source: never a duplicate
            db.execute(
                "INSERT INTO published_notices (notice_id, scope, building, homes, urgent,"
                " published_by, published_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    notice_id,
                    str(draft.scope),
                    draft.building,
                    json.dumps(homes, ensure_ascii=False),
                    int(draft.urgent),
                    by,
                    self._clock(),
                ],
            )
        return notice_id

    @staticmethod
    def _resolve(db: Database, draft: Draft) -> list[str]:
        if draft.scope is Scope.COMMUNITY:
            homes = [row[0] for row in db.execute(_HOMES_SQL + " ORDER BY home_id")]
        elif draft.scope is Scope.BUILDING:
            homes = [
                row[0]
                for row in db.execute(
                    _HOMES_SQL + " AND building = ? ORDER BY home_id", [draft.building]
                )
            ]
        else:
            known = {row[0] for row in db.execute(_HOMES_SQL)}
            missing = [h for h in draft.homes if h not in known]
            if missing:
                shown = ", ".join(repr(h) for h in missing[:5])
                raise NoticeInputError(f"no enrolled home {shown}: nothing was published")
            homes = list(draft.homes)
        if not homes:
            where = {
                Scope.COMMUNITY: "in the community",
                Scope.BUILDING: f"in building {draft.building!r}",
                Scope.HOMES: "named",
            }[draft.scope]
            raise NoticeInputError(f"the audience has no enrolled home {where}: nothing sent")
        return homes

    # --- views -----------------------------------------------------------------------------

    async def published(self, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        rows = await self._write(
            self._store.read,
            "SELECT p.*, n.title, n.body FROM published_notices p JOIN notices n USING"
            " (notice_id) ORDER BY p.published_ms DESC, p.notice_id LIMIT ?",
            [limit],
        )
        counts = await self._write(self._counts, [row["notice_id"] for row in rows])
        return [self._view(row, counts.get(row["notice_id"], {})) for row in rows]

    async def get(self, notice_id: str) -> dict[str, Any] | None:
        """One notice with a receipt per home; None if no published notice has that id."""
        if not NOTICE_ID_RE.fullmatch(notice_id):
            return None
        rows = await self._write(
            self._store.read,
            "SELECT p.*, n.title, n.body FROM published_notices p JOIN notices n USING"
            " (notice_id) WHERE p.notice_id = ?",
            [notice_id],
        )
        if not rows:
            return None
        counts = await self._write(self._counts, [notice_id])
        view = self._view(rows[0], counts.get(notice_id, {}))
        deliveries = await self._write(
            self._store.read,
            "SELECT home_id, hub_id, status, attempts, delivered_ms, read_ms FROM"
            " notice_deliveries WHERE notice_id = ? ORDER BY home_id, hub_id",
            [notice_id],
        )
        view["receipts"] = [
            {
                "home_id": d["home_id"],
                "hub_id": d["hub_id"],
                "status": d["status"],
                "attempts": int(d["attempts"]),
                "delivered_at": None if d["delivered_ms"] is None else iso(d["delivered_ms"]),
                "read_at": None if d["read_ms"] is None else iso(d["read_ms"]),
            }
            for d in deliveries
        ]
        return view

    def _counts(self, notice_ids: list[str]) -> dict[str, dict[str, int]]:
        if not notice_ids:
            return {}
        marks = ", ".join("?" for _ in notice_ids)
        out: dict[str, dict[str, int]] = {}
        for row in self._store.read(
            "SELECT notice_id, status, count(*) AS n FROM notice_deliveries"  # noqa: S608
            f" WHERE notice_id IN ({marks}) GROUP BY notice_id, status",
            notice_ids,
        ):
            out.setdefault(row["notice_id"], {})[row["status"]] = int(row["n"])
        return out

    @staticmethod
    def _view(row: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
        read = counts.get("read", 0)
        delivered = counts.get("delivered", 0) + read  # a read notice was delivered too
        pending = counts.get("pending", 0)
        audience: dict[str, Any] = {"scope": row["scope"]}
        if row["building"]:
            audience["building"] = row["building"]
        homes = json.loads(row["homes"])
        if row["scope"] == Scope.HOMES:
            audience["homes"] = homes
        return {
            "id": row["notice_id"],
            "title": row["title"],
            "body": row["body"],
            "urgent": bool(row["urgent"]),
            "audience": audience,
            "homes": len(homes),
            "published_by": row["published_by"],
            "published_at": iso(int(row["published_ms"])),
            "counts": {
                "hubs": delivered + pending,
                "delivered": delivered,
                "read": read,
                "pending": pending,
            },
        }
