"""CAP 1.2 (OASIS Common Alerting Protocol) messages for city platforms, one per alarm change.

Every alarm becomes an ``Alert``; a change the city can act on becomes an ``Update`` (staff
acknowledged it, started work, the alarm escalated a tier) and its end a ``Cancel`` (the
condition cleared or staff resolved it), each ``references``-ing every earlier message of the
same alarm as ``sender,identifier,sent``. Messages are made by an
:class:`~community.store.AlarmObserver`, inside the transaction of the change, and stored as
the exact bytes published: an identifier, once used, always names the same document.

Only what consent allows leaves the community. A CAP message names the community, the
building and the unit (a stairwell of many flats), never the flat, the home, the hub, the
device, a resident or a member of staff; a room only as a type from a fixed vocabulary
(``community.cap_profile``). Identifiers are built from a random namespace made once per
database and the alarm's number, so they are unique, stable and meaningless outside.

An alarm raised while its device reported a self-test in progress is published with status
``Exercise``; every other alarm is ``Actual``. Messages are ``Restricted`` to the city's
emergency-management platforms.
"""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

from sqlite_utils import Database

from community.alarms import AlarmStatus, Handling
from community.cap_profile import NOT_PUBLISHED, profile_for, room_type
from community.texts import event_name, place

CAP_NS: Final = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS: Final = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE: Final = "application/cap+xml"
RESTRICTION: Final = "For municipal emergency-management platforms only. Contains no personal data."
FEED_LIMIT: Final = 1000
_UNSAFE_ID: Final = re.compile(r"[^A-Za-z0-9._-]+")
_SENDER_FORBIDDEN: Final = re.compile(r"[\s,<&]")


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class Phase(StrEnum):
    """Where an alarm is, as far as the city is concerned."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"


_PHASE_TEXT: Final[dict[Phase, tuple[str, str]]] = {
    Phase.NEW: (
        "Raised; not yet acknowledged by community staff.",
        "已报警。社区值班人员尚未确认。",
    ),
    Phase.ACKNOWLEDGED: ("Acknowledged by community staff.", "社区值班人员已确认。"),
    Phase.IN_PROGRESS: ("Community staff are handling it.", "社区人员正在处置。"),
    Phase.ENDED: ("The condition has ended.", "警情已解除。"),
}


def phase_of(alarm: dict[str, Any]) -> Phase:
    if alarm["status"] == AlarmStatus.CLEARED or alarm["handling"] == Handling.RESOLVED:
        return Phase.ENDED
    if alarm["handling"] == Handling.IN_PROGRESS:
        return Phase.IN_PROGRESS
    return Phase.ACKNOWLEDGED if alarm["acknowledged"] else Phase.NEW


def next_messages(
    last: tuple[MsgType, Phase, int] | None, alarm: dict[str, Any]
) -> tuple[MsgType, ...]:
    """What to publish after the last message (type, phase, tier) for an alarm changed."""
    phase, tier = phase_of(alarm), int(alarm["escalation_tier"])
    if last is None:
        return (MsgType.ALERT, MsgType.CANCEL) if phase is Phase.ENDED else (MsgType.ALERT,)
    last_type, last_phase, last_tier = last
    if last_type is MsgType.CANCEL or (last_phase, last_tier) == (phase, tier):
        return ()
    return (MsgType.CANCEL,) if phase is Phase.ENDED else (MsgType.UPDATE,)


def cap_time(ms: int, offset_min: int = 0) -> str:
    """``2026-11-21T19:30:01+08:00``: whole seconds and an explicit offset, as CAP requires."""
    zone = timezone(timedelta(minutes=offset_min))
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC).astimezone(zone)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S%z")
    return f"{text[:-2]}:{text[-2:]}"


def _iso_ms(text: str | None) -> int | None:
    if not text:
        return None
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def safe_id(text: str) -> str:
    """``text`` reduced to characters safe in a CAP identifier and in a file name."""
    return _UNSAFE_ID.sub("-", text).strip("-.") or "community"


@dataclass(frozen=True, slots=True)
class Publisher:
    """Who publishes: the CAP ``sender``, the identifier namespace, the clock's offset."""

    sender: str
    namespace: str
    community_id: str
    utc_offset_min: int = 0


def _sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        child.text = text
    return child


def _pair(parent: ET.Element, name: str, value_name: str, value: str) -> None:
    element = _sub(parent, name)
    _sub(element, "valueName", value_name)
    _sub(element, "value", value)


def _info(
    alert: ET.Element,
    who: Publisher,
    alarm: dict[str, Any],
    msg_type: MsgType,
    note: tuple[str, str],
    zh: bool,
) -> None:
    profile = profile_for(alarm["kind"], alarm["severity"])
    phase = phase_of(alarm)
    event = event_name(alarm["kind"], zh)
    where = place(alarm.get("building"), alarm.get("unit"), zh)
    area = (
        f"{who.community_id} {where}"
        if zh
        else ", ".join(p for p in (who.community_id, where) if p)
    )
    room = room_type(alarm.get("room"))
    info = _sub(alert, "info")
    _sub(info, "language", "zh-CN" if zh else "en-US")
    for category in profile.categories:
        _sub(info, "category", category)
    _sub(info, "event", event)
    if msg_type is MsgType.CANCEL:
        _sub(info, "responseType", "AllClear")
    _sub(info, "urgency", "Past" if msg_type is MsgType.CANCEL else profile.urgency)
    _sub(info, "severity", profile.severity)
    _sub(info, "certainty", profile.certainty)
    _pair(info, "eventCode", "courtyard:kind", alarm["kind"])
    raised = _iso_ms(alarm.get("raised_at"))
    if raised is not None:
        _sub(info, "onset", cap_time(raised, who.utc_offset_min))
    _sub(info, "senderName", f"{who.community_id} 社区" if zh else f"Community {who.community_id}")
    _sub(info, "headline", f"{event} · {area}"[:160])
    in_room = ""
    if room is not None:
        in_room = f"（{room[1]}）" if zh else f" (in a {room[0]})"  # noqa: RUF001
    description = f"{event}{in_room}. {_PHASE_TEXT[phase][int(zh)]} {note[int(zh)]}"
    _sub(info, "description", description.strip())
    _pair(info, "parameter", "escalationTier", str(alarm["escalation_tier"]))
    _pair(info, "parameter", "handling", str(phase))
    _pair(info, "parameter", "count", str(alarm.get("count") or 1))
    _sub(_sub(info, "area"), "areaDesc", area)


def build(
    who: Publisher,
    alarm: dict[str, Any],
    *,
    identifier: str,
    sent_ms: int,
    msg_type: MsgType,
    references: list[str],
    note: tuple[str, str],
) -> tuple[str, bytes]:
    """One CAP ``alert`` document for ``alarm``; returns its ``sent`` and its bytes."""
    sent = cap_time(sent_ms, who.utc_offset_min)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", identifier)
    _sub(alert, "sender", who.sender)
    _sub(alert, "sent", sent)
    _sub(alert, "status", "Exercise" if alarm.get("exercise") else "Actual")
    _sub(alert, "msgType", str(msg_type))
    _sub(alert, "scope", "Restricted")
    _sub(alert, "restriction", RESTRICTION)
    _sub(alert, "note", note[0])
    if references:
        _sub(alert, "references", " ".join(references))
    _sub(alert, "incidents", f"{who.namespace}-alarm-{alarm['id']}")
    for zh in (False, True):
        _info(alert, who, alarm, msg_type, note, zh)
    ET.indent(alert)
    body = ET.tostring(alert, encoding="unicode", default_namespace=CAP_NS)
    return sent, ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def _note(
    msg_type: MsgType, before: dict[str, Any] | None, alarm: dict[str, Any]
) -> tuple[str, str]:
    """Why this message is published, in English and Chinese."""
    if msg_type is MsgType.ALERT:
        return "New alarm.", "新报警。"
    if msg_type is MsgType.CANCEL:
        if alarm["handling"] == Handling.RESOLVED:
            return "Resolved by community staff.", "社区人员已处置完毕。"
        return "The condition has ended.", "警情已解除。"
    tier = int(alarm["escalation_tier"])
    if before is not None and tier != int(before["escalation_tier"]):
        return f"Escalated to tier {tier}.", f"已升级至第 {tier} 级通知。"
    return _PHASE_TEXT[phase_of(alarm)]


# --- the observer that publishes and stores --------------------------------------------------


class CapPublisher:
    """An :class:`~community.store.AlarmObserver` that publishes and keeps CAP messages."""

    def __init__(self, *, community_id: str, sender: str = "", utc_offset_min: int = 0) -> None:
        sender = sender or f"courtyard-{safe_id(community_id)}"
        if _SENDER_FORBIDDEN.search(sender):
            raise ValueError("cap_sender must not contain spaces, commas, '<' or '&'")
        if not -14 * 60 <= utc_offset_min <= 14 * 60:
            raise ValueError("cap_utc_offset_min must be within -840..840")
        self._community_id = community_id
        self._sender = sender
        self._offset = utc_offset_min
        self._who: Publisher | None = None

    @property
    def publisher(self) -> Publisher:
        assert self._who is not None, "the store has not created the CAP schema yet"
        return self._who

    def create_schema(self, db: Database) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS cap_meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute(
            "INSERT OR IGNORE INTO cap_meta (name, value) VALUES ('namespace', ?)",
            [f"courtyard-{safe_id(self._community_id)}-{secrets.token_hex(4)}"],
        )
        namespace = str(
            next(iter(db.query("SELECT value FROM cap_meta WHERE name = 'namespace'")))["value"]
        )
        self._who = Publisher(self._sender, namespace, self._community_id, self._offset)
        db.table("cap_messages").create(
            {
                "identifier": str,
                "alarm_id": int,
                "n": int,
                "msg_type": str,
                "phase": str,
                "tier": int,
                "sender": str,
                "sent": str,
                "sent_ms": int,
                "headline": str,
                "xml": bytes,
            },
            pk="identifier",
            not_null={"alarm_id", "n", "msg_type", "phase", "tier", "sender", "sent", "xml"},
            foreign_keys=[("alarm_id", "alarms", "id")],
            if_not_exists=True,
        )
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS cap_messages_n ON cap_messages(alarm_id, n)")

    def alarm_changed(
        self, db: Database, before: dict[str, Any] | None, after: dict[str, Any], now: int
    ) -> None:
        if after["kind"] in NOT_PUBLISHED:  # consented to the duty staff only
            return
        earlier = list(
            db.query(
                "SELECT identifier, n, msg_type, phase, tier, sender, sent FROM cap_messages"
                " WHERE alarm_id = ? ORDER BY n",
                [after["id"]],
            )
        )
        last = earlier[-1] if earlier else None
        state = (
            None
            if last is None
            else (MsgType(last["msg_type"]), Phase(last["phase"]), int(last["tier"]))
        )
        references = [f"{r['sender']},{r['identifier']},{r['sent']}" for r in earlier]
        n = 0 if last is None else int(last["n"])
        for msg_type in next_messages(state, after):
            n += 1
            identifier = f"{self.publisher.namespace}-alarm-{after['id']}-{n}"
            note = _note(msg_type, before, after)
            sent, xml = build(
                self.publisher,
                after,
                identifier=identifier,
                sent_ms=now,
                msg_type=msg_type,
                references=references,
                note=note,
            )
            db.table("cap_messages").insert(
                {
                    "identifier": identifier,
                    "alarm_id": after["id"],
                    "n": n,
                    "msg_type": str(msg_type),
                    "phase": str(phase_of(after)),
                    "tier": int(after["escalation_tier"]),
                    "sender": self.publisher.sender,
                    "sent": sent,
                    "sent_ms": now,
                    "headline": f"{event_name(after['kind'])} · {self.publisher.community_id}",
                    "xml": xml,
                }
            )
            references.append(f"{self.publisher.sender},{identifier},{sent}")


# --- the Atom feed ---------------------------------------------------------------------------


def _body_of(xml: bytes) -> str:
    """The ``alert`` element of a stored document, without its XML declaration."""
    text = xml.decode("utf-8")
    return text.split("?>", 1)[1].strip() if text.startswith("<?xml") else text.strip()


def atom_feed(who: Publisher, rows: list[dict[str, Any]], base_url: str, now_ms: int) -> bytes:
    """An Atom feed (RFC 4287) of CAP messages, newest first, each inline and linked."""
    updated = cap_time(max([now_ms, *(int(r["sent_ms"]) for r in rows[:1])]), who.utc_offset_min)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<feed xmlns="{ATOM_NS}">',
        f"<id>urn:courtyard:{escape(who.namespace)}:cap</id>",
        f"<title>{escape(f'Courtyard community {who.community_id}: CAP alerts')}</title>",
        f"<updated>{updated}</updated>",
        f"<author><name>{escape(who.sender)}</name></author>",
        f'<link rel="self" href={quoteattr(base_url + "/api/cap/feed.atom")}/>',
    ]
    for row in rows:
        href = f"{base_url}/api/cap/{row['identifier']}.xml"
        parts += [
            "<entry>",
            f"<id>urn:courtyard:cap:{escape(row['identifier'])}</id>",
            f"<title>{escape(row['msg_type'] + ': ' + (row['headline'] or ''))}</title>",
            f"<updated>{escape(row['sent'])}</updated>",
            f'<link rel="alternate" type="{CAP_MEDIA_TYPE}" href={quoteattr(href)}/>',
            f'<content type="{CAP_MEDIA_TYPE}">{_body_of(row["xml"])}</content>',
            "</entry>",
        ]
    parts.append("</feed>")
    return ("\n".join(parts) + "\n").encode("utf-8")
