"""The mailbox table on a real community.db: deposits are checked, idempotent on their source,
and a mailbox shows only the entries of the home that registered its recipient."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from community.mailbox import Mailbox, MailboxError, entry_dict, parse_entry, token_sha256
from community.store import Store
from privacy.sealed_fields import open_field
from tests.sealed.support import HUB_KEY_ID, context_of, sealed_fall

FAMILY = X25519PrivateKey.generate()


@pytest.fixture
def mailbox(tmp_path: Path) -> Mailbox:
    store = Store(tmp_path / "community.db")
    for hub_id, home_id in (("hub-1", "home-1"), ("hub-2", "home-2")):
        store.upsert_hub(
            hub_id=hub_id,
            home_id=home_id,
            building="",
            unit="",
            public_key_hex="00" * 32,
            key_id=HUB_KEY_ID,
            password_hash=None,
            now=0,
        )
    box = Mailbox(store, clock=lambda: 1000)
    with store.transaction() as db:
        box.bind(db, "family:li", "home-1", "hub-1", token_sha256("li-token"))
    return box


def _entry(hub: str = "hub-1") -> dict[str, object]:
    """A family fall entry as ``hub`` sealed it (it opens only for hub-1's context)."""
    record = sealed_fall(FAMILY)
    return entry_dict(record.sealed[0], dataclasses.replace(context_of(record), hub=hub))


def test_a_deposit_is_stored_once_and_fetched_by_the_registered_recipient(mailbox: Mailbox) -> None:
    store = mailbox._store
    entry = _entry()
    with store.transaction() as db:
        assert mailbox.deposit(db, "family:li", entry, source="s-1") is True
        assert mailbox.deposit(db, "family:li", entry, source="s-1") is False
    [item] = mailbox.fetch("family:li")
    assert item["entry"] == entry and item["created_ms"] == 1000
    sealed, context = parse_entry(item["entry"])
    assert open_field(sealed, FAMILY, context) == 0.937251
    assert mailbox.fetch("family:li", after_id=item["id"]) == []
    assert mailbox.recipient_of("li-token") == "family:li"
    assert mailbox.recipient_of("other") is None


@pytest.mark.parametrize(
    ("recipient", "change"),
    [
        ("family:wang", {}),  # sealed for someone else
        ("family:li", {"nonce": "AAAA"}),
        ("family:li", {"extra": 1}),
        ("family:li", {"context": {"hub": "hub-1"}}),
        ("family:li", {"context": "x"}),
    ],
)
def test_a_bad_deposit_is_refused_and_stores_nothing(
    mailbox: Mailbox, recipient: str, change: dict[str, object]
) -> None:
    entry = {**_entry(), **change}
    with pytest.raises(MailboxError), mailbox._store.transaction() as db:
        mailbox.deposit(db, recipient, entry, source="bad")
    assert mailbox._store.read("SELECT * FROM mailbox") == []


def test_an_entry_from_an_unknown_hub_or_a_bad_context_is_refused(mailbox: Mailbox) -> None:
    entry = _entry()
    for context in (
        {**entry["context"], "hub": "hub-9"},  # type: ignore[dict-item]
        {**entry["context"], "seq": -1},  # type: ignore[dict-item]
        {**entry["context"], "seq": True},  # type: ignore[dict-item]
        {**entry["context"], "event_type": "party"},  # type: ignore[dict-item]
    ):
        with pytest.raises(MailboxError), mailbox._store.transaction() as db:
            mailbox.deposit(db, "family:li", {**entry, "context": context}, source="x")


def test_a_same_named_recipient_of_another_home_sees_nothing_of_it(mailbox: Mailbox) -> None:
    store = mailbox._store
    with store.transaction() as db:
        assert mailbox.deposit(db, "family:li", _entry("hub-2"), source="from-home-2")
    assert mailbox.fetch("family:li") == []
    with pytest.raises(MailboxError, match="recipient_taken"), store.transaction() as db:
        mailbox.bind(db, "family:li", "home-2", "hub-2", token_sha256("x"))
    with pytest.raises(MailboxError, match="not_yours"), store.transaction() as db:
        mailbox.unbind(db, "family:li", "home-2")
    assert mailbox.recipient_of("li-token") == "family:li"


def test_revoking_retires_the_token_and_drops_the_entries(mailbox: Mailbox) -> None:
    store = mailbox._store
    with store.transaction() as db:
        mailbox.deposit(db, "family:li", _entry(), source="s-1")
        assert mailbox.unbind(db, "family:li", "home-1") is True
        assert mailbox.unbind(db, "family:li", "home-1") is False
    assert mailbox.recipient_of("li-token") is None
    assert store.read("SELECT * FROM mailbox") == []


def test_forgetting_a_home_drops_its_entries_and_registrations_only(mailbox: Mailbox) -> None:
    store = mailbox._store
    with store.transaction() as db:
        mailbox.deposit(db, "family:li", _entry(), source="home-1")
        mailbox.deposit(db, "family:li", _entry("hub-2"), source="home-2")
        assert mailbox.forget_home(db, "home-1") == 1
    assert mailbox.recipient_of("li-token") is None
    assert [r["source"] for r in store.read("SELECT source FROM mailbox")] == ["home-2"]
