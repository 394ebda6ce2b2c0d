"""The demo's family members: their own keys, their mailbox tokens, and what their app reads.

A resident who shares fall details with family registers the family member's public key on
the hub; the hub seals those details for that key and issues a mailbox token the resident
hands on. At the end of the run each family member's app fetches their mailbox from the
community over HTTP with that token and opens the entries with their own private key — the
report says how many arrived, how many opened, and that another family's key and a staff
token open nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from community.mailbox import MailboxError, parse_entry
from hub.recipients import open_mailbox
from privacy.keys import KeyType, load_sealing_private_key, new_keypair
from privacy.sealed_fields import open_field
from privacy.sealing import SealError

if TYPE_CHECKING:
    from courtyard.demo.runner import Community
    from hub import Hub

TOKEN_FILE: Final = "mailbox.token"  # noqa: S105 (a file name, not a secret)


@dataclass(frozen=True, slots=True)
class FamilyMember:
    """Where a family member's private key and mailbox token are kept (both owner-only)."""

    recipient: str
    home_id: str
    private_key: Path
    token_file: Path


def family_member(hub: Hub, recipient: str, family_dir: Path) -> FamilyMember:
    """Make ``recipient``'s key pair, register its public half on ``hub`` and keep the
    mailbox token the hub issues (as the resident would hand it on)."""
    directory = family_dir / recipient
    files = new_keypair(directory, KeyType.X25519)
    public = load_sealing_private_key(files.private).public_key()
    hub.consent.recipients.register(recipient, public)
    token = open_mailbox(hub.services.request, recipient)
    token_file = directory / TOKEN_FILE
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return FamilyMember(recipient, hub.config.home_id, files.private, token_file)


def _opens(entry: Any, key_file: Path) -> bool:
    try:
        sealed, context = parse_entry(entry)
        open_field(sealed, load_sealing_private_key(key_file), context)
    except (MailboxError, SealError):
        return False
    return True


async def fetch_mailboxes(community: Community, members: dict[str, FamilyMember]) -> dict[str, Any]:
    """Per recipient: entries fetched with their token, how many their key opened, and that
    no other key or token gets anything (the report's ``privacy.family_mailbox``)."""
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for recipient, member in sorted(members.items()):
            others = [m.private_key for r, m in members.items() if r != recipient]
            try:
                out[recipient] = await _fetch_one(http, community, member, others)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError) as exc:
                out[recipient] = {"home": member.home_id, "error": type(exc).__name__}
    return out


async def _fetch_one(
    http: aiohttp.ClientSession, community: Community, member: FamilyMember, others: list[Path]
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{community.server.http_port}/api/mailbox/{member.recipient}"
    token = member.token_file.read_text("ascii").strip()
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        status = resp.status
        entries = (await resp.json())["entries"] if status == 200 else []
    staff = {"Authorization": f"Bearer {community.server.manager_token}"}
    async with http.get(url, headers=staff) as resp:
        staff_status = resp.status
    return {
        "home": member.home_id,
        "http_status": status,
        "fetched": len(entries),
        "fields": sorted({str(e["entry"].get("field")) for e in entries}),
        "opened_with_family_key": sum(_opens(e["entry"], member.private_key) for e in entries),
        "opened_with_other_keys": sum(_opens(e["entry"], k) for e in entries for k in others),
        "staff_token_status": staff_status,
    }
