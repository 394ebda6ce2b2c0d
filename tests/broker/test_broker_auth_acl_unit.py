from __future__ import annotations

import pytest

from courtyard.broker import AllowAllAcl, PasswordAuthenticator, PatternAcl


def test_password_authenticator() -> None:
    auth = PasswordAuthenticator({"hub-1": "s3cret"})
    assert auth.authenticate("c", "hub-1", b"s3cret")
    assert not auth.authenticate("c", "hub-1", b"s3cret ")
    assert not auth.authenticate("c", "hub-1", b"")
    assert not auth.authenticate("c", "hub-1", None)
    assert not auth.authenticate("c", "nobody", b"s3cret")
    assert not auth.authenticate("c", None, b"s3cret")


def test_password_authenticator_refuses_empty_secrets() -> None:
    with pytest.raises(ValueError, match="empty secrets"):
        PasswordAuthenticator({"hub-1": ""})


def test_allow_all() -> None:
    acl = AllowAllAcl()
    assert acl.can_publish(None, "c", "x") and acl.can_subscribe(None, "c", "#")


ACL = PatternAcl.from_text(
    """
    # hubs own their subtree
    pattern readwrite courtyard/v1/hub/%u/#
    pattern write courtyard/v1/client/%c/out

    topic read public/#

    user community
    topic read courtyard/v1/hub/+/alarm
    topic read courtyard/v1/hub/+/status/#
    topic deny courtyard/v1/hub/+/status/private
    topic courtyard/v1/community/#
    """
)


def test_pattern_substitution() -> None:
    assert ACL.can_publish("alice", "c", "courtyard/v1/hub/alice/alarm")
    assert not ACL.can_publish("alice", "c", "courtyard/v1/hub/bob/alarm")
    assert ACL.can_subscribe("alice", "c", "courtyard/v1/hub/alice/#")
    assert ACL.can_subscribe("alice", "c", "courtyard/v1/hub/alice/+/x")
    assert not ACL.can_subscribe("alice", "c", "courtyard/v1/hub/+/alarm")
    assert not ACL.can_subscribe("alice", "c", "courtyard/#")
    assert ACL.can_publish("alice", "dev-9", "courtyard/v1/client/dev-9/out")
    assert not ACL.can_subscribe("alice", "dev-9", "courtyard/v1/client/dev-9/out")


@pytest.mark.parametrize("username", ["+", "#", "a/b", "", None])
def test_substitution_cannot_be_abused(username: str | None) -> None:
    topic = f"courtyard/v1/hub/{username}/alarm"
    if username not in ("+", "#"):
        assert not ACL.can_publish(username, "c", topic)
    assert not ACL.can_subscribe(username, "c", "courtyard/v1/hub/+/alarm")
    assert not ACL.can_subscribe(username, "c", "courtyard/v1/hub/#")


def test_user_sections_and_anonymous_rules() -> None:
    assert ACL.can_subscribe("community", "srv", "courtyard/v1/hub/+/alarm")
    assert not ACL.can_publish("community", "srv", "courtyard/v1/hub/alice/alarm")
    assert ACL.can_publish("community", "srv", "courtyard/v1/community/notice")
    assert ACL.can_subscribe("community", "srv", "courtyard/v1/community/#")
    # "public/#" precedes any user line: anonymous clients only.
    assert ACL.can_subscribe(None, "anon", "public/news")
    assert not ACL.can_subscribe("community", "srv", "public/news")
    assert not ACL.can_publish(None, "anon", "public/news")


def test_deny_wins_and_blocks_overlapping_subscriptions() -> None:
    assert ACL.can_subscribe("community", "srv", "courtyard/v1/hub/+/status/online")
    assert not ACL.can_subscribe("community", "srv", "courtyard/v1/hub/+/status/private")
    assert not ACL.can_subscribe("community", "srv", "courtyard/v1/hub/+/status/#")
    assert not ACL.can_subscribe("community", "srv", "courtyard/v1/hub/alice/status/+")


def test_invalid_filters_and_lines() -> None:
    assert not ACL.can_subscribe("alice", "c", "courtyard/v1/hub/alice/#/x")
    with pytest.raises(ValueError):
        PatternAcl(["pattern readwrite a/#/b"])
    with pytest.raises(ValueError):
        PatternAcl(["allow everything"])
    with pytest.raises(ValueError):
        PatternAcl(["user"])


def test_parses_the_acl_file_the_mosquitto_deployment_uses() -> None:
    # Same shape as tests/support/mosquitto.py writes: superuser sections, then the hub pattern.
    acl = PatternAcl.from_text(
        "user community\ntopic readwrite courtyard/#\npattern readwrite courtyard/v1/hub/%u/#\n"
    )
    assert acl.can_subscribe("community", "srv", "courtyard/v1/hub/+/alarm")
    assert acl.can_publish("community", "srv", "courtyard/v1/hub/hub-1/cmd")
    assert acl.can_publish("hub-1", "hub-1", "courtyard/v1/hub/hub-1/alarm")
    assert acl.can_subscribe("hub-1", "hub-1", "courtyard/v1/hub/hub-1/cmd/#")
    assert not acl.can_subscribe("hub-1", "hub-1", "courtyard/v1/hub/hub-2/#")
    assert not acl.can_publish("hub-1", "hub-1", "courtyard/v1/hub/hub-2/alarm")
