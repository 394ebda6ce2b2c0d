"""Topic names, topic filters and how they match (MQTT 3.1.1 section 4.7).

Everything that decides "does this filter select this topic" lives here so that
routing, retained-message lookup and the ACL all agree on one definition,
including the rule that ``+`` and ``#`` in the first level never select topics
starting with ``$`` (those are reserved for broker-internal use).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "SubscriptionTree",
    "filter_covers",
    "filters_intersect",
    "is_valid_topic_filter",
    "is_valid_topic_name",
    "topic_matches",
]

_WILDCARDS = ("+", "#")


def is_valid_topic_name(topic: str) -> bool:
    """A topic a client may publish to: non-empty and free of wildcards."""
    return bool(topic) and "+" not in topic and "#" not in topic and "\x00" not in topic


def is_valid_topic_filter(topic_filter: str) -> bool:
    """A filter a client may subscribe to.

    ``#`` must be a whole level and the last one; ``+`` must be a whole level.
    """
    if not topic_filter or "\x00" in topic_filter:
        return False
    levels = topic_filter.split("/")
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if "#" in level:
            if level != "#" or index != last:
                return False
        elif "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """True if the (valid) filter selects the (valid) topic name."""
    if topic.startswith("$") and topic_filter.startswith(_WILDCARDS):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


def filter_covers(outer: str, inner: str) -> bool:
    """True if every topic selected by ``inner`` is also selected by ``outer``.

    The ACL uses this to decide whether a subscription stays inside what a
    rule grants: ``a/+/#`` covers ``a/b/c`` and ``a/+/c`` but not ``a/#``.
    """
    if inner.startswith("$") and outer.startswith(_WILDCARDS):
        return False
    outer_levels = outer.split("/")
    inner_levels = inner.split("/")
    for index, level in enumerate(outer_levels):
        if level == "#":
            return True
        if index >= len(inner_levels):
            return False
        other = inner_levels[index]
        if other == "#":
            return False
        if level == "+":
            continue
        if other != level:
            return False
    return len(outer_levels) == len(inner_levels)


def filters_intersect(first: str, second: str) -> bool:
    """True if at least one topic name is selected by both filters.

    Deny rules use this: a subscription is refused if it could receive anything
    a deny rule protects, which keeps broad subscriptions like ``#`` from
    leaking denied topics without a per-message check.
    """
    if first.startswith("$") and second.startswith(_WILDCARDS):
        return False
    if second.startswith("$") and first.startswith(_WILDCARDS):
        return False
    a_levels = first.split("/")
    b_levels = second.split("/")
    index = 0
    while True:
        a_done = index >= len(a_levels)
        b_done = index >= len(b_levels)
        if a_done and b_done:
            return True
        if a_done:
            return b_levels[index] == "#"
        if b_done:
            return a_levels[index] == "#"
        a, b = a_levels[index], b_levels[index]
        if a == "#" or b == "#":
            return True
        if a != "+" and b != "+" and a != b:
            return False
        index += 1


@dataclass(slots=True)
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    subscribers: dict[str, int] = field(default_factory=dict)


class SubscriptionTree:
    """Subscriptions indexed by filter level, so routing a publish costs time
    proportional to the topic depth rather than to the number of subscriptions.

    Subscribers are identified by client id and carry their granted QoS.
    """

    __slots__ = ("_count", "_root")

    def __init__(self) -> None:
        self._root = _Node()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, topic_filter: str, client_id: str, qos: int) -> None:
        """Add or replace one client's subscription to ``topic_filter``."""
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        if client_id not in node.subscribers:
            self._count += 1
        node.subscribers[client_id] = qos

    def remove(self, topic_filter: str, client_id: str) -> bool:
        """Remove one subscription; prune emptied branches. False if absent."""
        path: list[tuple[_Node, str]] = []
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                return False
            path.append((node, level))
            node = child
        if node.subscribers.pop(client_id, None) is None:
            return False
        self._count -= 1
        for parent, level in reversed(path):
            child = parent.children[level]
            if child.subscribers or child.children:
                break
            del parent.children[level]
        return True

    def match(self, topic: str) -> dict[str, int]:
        """Client ids whose subscriptions select ``topic``, each with the
        highest QoS among its matching subscriptions (so overlapping
        subscriptions yield one delivery)."""
        result: dict[str, int] = {}
        levels = topic.split("/")
        depth = len(levels)
        dollar = topic.startswith("$")
        # Explicit stack: topics may legally have tens of thousands of levels.
        stack: list[tuple[_Node, int]] = [(self._root, 0)]
        while stack:
            node, index = stack.pop()
            wildcards_allowed = not (dollar and index == 0)
            if wildcards_allowed:
                multi = node.children.get("#")
                if multi is not None:
                    self._merge(result, multi.subscribers)
            if index == depth:
                self._merge(result, node.subscribers)
                continue
            exact = node.children.get(levels[index])
            if exact is not None:
                stack.append((exact, index + 1))
            if wildcards_allowed:
                single = node.children.get("+")
                if single is not None:
                    stack.append((single, index + 1))
        return result

    @staticmethod
    def _merge(result: dict[str, int], subscribers: dict[str, int]) -> None:
        for client_id, qos in subscribers.items():
            current = result.get(client_id)
            if current is None or qos > current:
                result[client_id] = qos
