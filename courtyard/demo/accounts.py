"""Broker accounts for the demo: one per hub, one for the community, each with its own secret.

Built on the broker's own ``PasswordAuthenticator`` and ``PatternAcl`` (Mosquitto's ACL
syntax), and rebuilt whenever an account is added, so the demo enrolls hubs while the broker
is already running. A hub may only use ``courtyard/v1/hub/<its id>/#``.
"""

from __future__ import annotations

from courtyard.broker import PasswordAuthenticator, PatternAcl

HUB_PATTERN = "pattern readwrite courtyard/v1/hub/%u/#"


class BrokerAccounts:
    def __init__(self) -> None:
        self._passwords: dict[str, str] = {}
        self._superusers: list[str] = []
        self._auth = PasswordAuthenticator({})
        self._acl = PatternAcl([HUB_PATTERN])

    def add(self, username: str, password: str, *, superuser: bool = False) -> None:
        self._passwords[username] = password
        if superuser:
            self._superusers.append(username)
        self._auth = PasswordAuthenticator(dict(self._passwords))
        lines = [
            line
            for user in self._superusers
            for line in (f"user {user}", "topic readwrite courtyard/#")
        ]
        self._acl = PatternAcl.from_text("\n".join([*lines, HUB_PATTERN]))

    def authenticate(self, client_id: str, username: str | None, password: bytes | None) -> bool:
        return self._auth.authenticate(client_id, username, password)

    def can_publish(self, username: str | None, client_id: str, topic: str) -> bool:
        return self._acl.can_publish(username, client_id, topic)

    def can_subscribe(self, username: str | None, client_id: str, topic_filter: str) -> bool:
        return self._acl.can_subscribe(username, client_id, topic_filter)
