"""Hash chains: how the audit log and the consent ledger make any edit visible.

Each entry's hash covers its own canonical body *including the previous entry's hash and its
own sequence number*. Editing an entry changes its hash; removing one leaves a gap in the
sequence and a ``prev_hash`` that points at nothing; reordering changes both. Verification
walks the chain once and reports the first entry that does not fit, and why, so an operator
knows where to look.

A chain alone cannot reveal that its newest entries were cut off, nor a writer who recomputes
every hash after an edit: that is what signed checkpoints are for (see ``privacy.audit``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from privacy.encoding import EncodingError, canonical_json

#: ``prev_hash`` of the first entry.
GENESIS: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of walking a chain: ``ok``, or the first bad sequence number and the reason."""

    ok: bool
    entries: int
    head: str
    first_bad_seq: int | None = None
    reason: str = ""

    def describe(self) -> str:
        """One line for an operator."""
        if self.ok:
            return f"OK: {self.entries} entries, head {self.head[:16]}"
        return f"chain broken at seq {self.first_bad_seq}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Link:
    """One stored entry as read back: its sequence number, hashed body and stored hash."""

    seq: int
    body: Mapping[str, Any]
    hash: str


def link_hash(domain: bytes, body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``domain`` + the canonical JSON of ``body`` (which holds ``prev_hash``)."""
    return hashlib.sha256(domain + canonical_json(dict(body))).hexdigest()


def verify_links(domain: bytes, links: Iterable[Link]) -> VerifyResult:
    """Walk ``links`` in stored order and report the first one that breaks the chain."""
    expected_seq, prev, count = 1, GENESIS, 0
    for link in links:
        bad = _first_problem(domain, link, expected_seq, prev)
        if bad is not None:
            return VerifyResult(False, count, prev, first_bad_seq=expected_seq, reason=bad)
        expected_seq, prev, count = expected_seq + 1, link.hash, count + 1
    return VerifyResult(True, count, prev)


def _first_problem(domain: bytes, link: Link, expected_seq: int, prev: str) -> str | None:
    if link.seq != expected_seq or link.body.get("seq") != link.seq:
        if isinstance(link.seq, int) and link.seq > expected_seq:
            return f"entry {expected_seq} is missing (next stored entry is {link.seq})"
        return f"entry out of order: found seq {link.seq} where {expected_seq} belongs"
    if link.body.get("prev_hash") != prev:
        return "prev_hash does not match the previous entry (an entry was removed or reordered)"
    try:
        actual = link_hash(domain, link.body)
    except EncodingError as exc:
        return f"entry cannot be encoded: {exc}"
    if actual != link.hash:
        return "content does not match its hash (the entry was edited)"
    return None
