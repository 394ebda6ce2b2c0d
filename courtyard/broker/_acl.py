"""Which topics a client may publish to and subscribe to.

:class:`PatternAcl` reads the same rule language as a Mosquitto ``acl_file``
so the demo broker and the production Mosquitto can share one policy:

.. code-block:: text

    # every hub may read and write below its own prefix
    pattern readwrite courtyard/v1/hub/%u/#

    user community
    topic read courtyard/v1/hub/+/alarm
    topic deny courtyard/v1/hub/+/private/#

* ``pattern <access> <filter>`` applies to every client; ``%u`` expands to the
  username and ``%c`` to the client id. A pattern is skipped for a client
  whose substituted value is missing, empty or contains ``+``, ``#`` or
  ``/`` so that crafted identities cannot widen a rule.
* ``user <name>`` starts a section; the ``topic <access> <filter>`` lines that
  follow apply to that username only. ``topic`` lines before the first
  ``user`` line apply to anonymous clients.
* ``<access>`` is ``read``, ``write``, ``readwrite`` (the default when
  omitted) or ``deny``. A matching deny rule wins over any grant.
* Anything not granted is denied.

Subscriptions are checked as whole filters: a subscription is granted only
if a single read rule covers every topic it can match (``a/+/c`` is inside
``a/#``; ``#`` is not), and refused if it could match anything a deny rule
protects. That makes a per-message read check unnecessary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from ._topics import filter_covers, filters_intersect, is_valid_topic_filter, topic_matches

__all__ = ["Acl", "AclRule", "AllowAllAcl", "PatternAcl"]

AccessMode = Literal["read", "write", "readwrite", "deny"]
_ACCESS_MODES: tuple[AccessMode, ...] = ("read", "write", "readwrite", "deny")
_FORBIDDEN_IN_SUBSTITUTION = ("+", "#", "/")


class Acl(Protocol):
    """Topic authorisation, consulted on every PUBLISH, SUBSCRIBE and will.

    Called on the broker's event loop; must be quick and must not block.
    Exceptions are treated as a denial.
    """

    def can_publish(self, username: str | None, client_id: str, topic: str) -> bool: ...

    def can_subscribe(self, username: str | None, client_id: str, topic_filter: str) -> bool: ...


class AllowAllAcl:
    """Grants everything. Only for tests and closed demos; must be chosen explicitly."""

    __slots__ = ()

    def can_publish(self, username: str | None, client_id: str, topic: str) -> bool:
        return True

    def can_subscribe(self, username: str | None, client_id: str, topic_filter: str) -> bool:
        return True


@dataclass(slots=True, frozen=True)
class AclRule:
    """One parsed rule line.

    ``pattern`` rules apply to everyone and expand ``%u``/``%c``. Other rules
    apply to ``username`` only (``None`` meaning anonymous clients) and are
    taken literally.
    """

    access: AccessMode
    topic_filter: str
    pattern: bool
    username: str | None = None


def _parse_rule_lines(lines: Iterable[str]) -> list[AclRule]:
    rules: list[AclRule] = []
    current_user: str | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        if keyword == "user":
            if not rest:
                raise ValueError(f"ACL line {number}: 'user' needs a name")
            current_user = rest
            continue
        if keyword not in ("topic", "pattern"):
            raise ValueError(f"ACL line {number}: unknown keyword {keyword!r}")
        first, _, remainder = rest.partition(" ")
        access: AccessMode
        if first in _ACCESS_MODES and remainder.strip():
            access = _ACCESS_MODES[_ACCESS_MODES.index(first)]
            topic_filter = remainder.strip()
        else:
            access = "readwrite"
            topic_filter = rest
        is_pattern = keyword == "pattern"
        probe = topic_filter.replace("%u", "x").replace("%c", "x") if is_pattern else topic_filter
        if not is_valid_topic_filter(probe):
            raise ValueError(f"ACL line {number}: invalid topic filter {topic_filter!r}")
        rules.append(
            AclRule(access, topic_filter, is_pattern, None if is_pattern else current_user)
        )
    return rules


def _substitute(value: str | None) -> str | None:
    if not value or any(char in value for char in _FORBIDDEN_IN_SUBSTITUTION):
        return None
    return value


class PatternAcl:
    """Mosquitto-style ACL; see the module docstring for the rule language."""

    __slots__ = ("_by_user", "_patterns")

    def __init__(self, rules: Iterable[str]) -> None:
        """``rules`` are ACL file lines; invalid lines raise ``ValueError``."""
        parsed = _parse_rule_lines(rules)
        self._patterns = [rule for rule in parsed if rule.pattern]
        self._by_user: dict[str | None, list[AclRule]] = {}
        for rule in parsed:
            if not rule.pattern:
                self._by_user.setdefault(rule.username, []).append(rule)

    @classmethod
    def from_text(cls, text: str) -> PatternAcl:
        """Build from the contents of a Mosquitto-style ACL file."""
        return cls(text.splitlines())

    def _rules_for(self, username: str | None, client_id: str) -> Iterator[tuple[AccessMode, str]]:
        for rule in self._by_user.get(username, ()):
            yield rule.access, rule.topic_filter
        safe_user = _substitute(username)
        safe_client = _substitute(client_id)
        for rule in self._patterns:
            topic_filter = rule.topic_filter
            if "%u" in topic_filter:
                if safe_user is None:
                    continue
                topic_filter = topic_filter.replace("%u", safe_user)
            if "%c" in topic_filter:
                if safe_client is None:
                    continue
                topic_filter = topic_filter.replace("%c", safe_client)
            yield rule.access, topic_filter

    def can_publish(self, username: str | None, client_id: str, topic: str) -> bool:
        granted = False
        for access, topic_filter in self._rules_for(username, client_id):
            if not topic_matches(topic_filter, topic):
                continue
            if access == "deny":
                return False
            if access in ("write", "readwrite"):
                granted = True
        return granted

    def can_subscribe(self, username: str | None, client_id: str, topic_filter: str) -> bool:
        if not is_valid_topic_filter(topic_filter):
            return False
        granted = False
        for access, rule_filter in self._rules_for(username, client_id):
            if access == "deny":
                if filters_intersect(rule_filter, topic_filter):
                    return False
            elif access in ("read", "readwrite") and filter_covers(rule_filter, topic_filter):
                granted = True
        return granted
