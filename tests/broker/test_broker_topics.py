from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from courtyard.broker._topics import (
    SubscriptionTree,
    filter_covers,
    filters_intersect,
    is_valid_topic_filter,
    is_valid_topic_name,
    topic_matches,
)


def reference_matches(topic_filter: str, topic: str) -> bool:
    """Independent definition via a regular expression built from the spec's prose."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels = topic_filter.split("/")
    multi = levels[-1] == "#"
    if multi:
        levels = levels[:-1]
    body = "/".join("[^/]*" if level == "+" else re.escape(level) for level in levels)
    regex = body
    if multi:
        regex = body + "(/.*)?" if levels else ".*"
    return re.fullmatch(regex, topic, flags=re.DOTALL) is not None


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("sport/tennis/player1/#", "sport/tennis/player1", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
        ("sport/#", "sport", True),
        ("#", "sport/tennis", True),
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        ("#", "$SYS/uptime", False),
        ("+/uptime", "$SYS/uptime", False),
        ("$SYS/#", "$SYS/uptime", True),
        ("$SYS/+", "$SYS/uptime", True),
        ("a/b", "a/b", True),
        ("a/b", "a/B", False),
    ],
)
def test_spec_examples(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected
    assert reference_matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    ("value", "as_filter", "as_name"),
    [
        ("a/b", True, True),
        ("#", True, False),
        ("a/#", True, False),
        ("a/#/b", False, False),
        ("a#", False, False),
        ("+", True, False),
        ("a/+/b", True, False),
        ("a+/b", False, False),
        ("", False, False),
        ("/", True, True),
        ("a\x00b", False, False),
    ],
)
def test_validity(value: str, as_filter: bool, as_name: bool) -> None:
    assert is_valid_topic_filter(value) is as_filter
    assert is_valid_topic_name(value) is as_name


LEVELS = ["a", "b", "", "$s"]
topic_levels = st.lists(st.sampled_from(LEVELS), min_size=1, max_size=5)
topics = topic_levels.map("/".join)
filters = st.builds(
    lambda levels, tail: "/".join(levels + tail),
    st.lists(st.sampled_from([*LEVELS, "+"]), min_size=0, max_size=4),
    st.sampled_from([[], ["#"]]),
).filter(bool)

# Every topic of up to four levels over the alphabet: small enough to enumerate.
ALL_TOPICS = [
    "/".join(levels) for depth in range(1, 5) for levels in itertools.product(LEVELS, repeat=depth)
]


@given(filters, topics)
def test_matches_agrees_with_reference(topic_filter: str, topic: str) -> None:
    assert is_valid_topic_filter(topic_filter)
    assert topic_matches(topic_filter, topic) is reference_matches(topic_filter, topic)


@given(
    st.lists(
        st.tuples(st.sampled_from(["c1", "c2", "c3"]), filters, st.integers(0, 2)), max_size=12
    ),
    st.lists(st.integers(0, 11), max_size=4),
    st.lists(topics, min_size=1, max_size=10),
)
def test_tree_agrees_with_brute_force(
    subscriptions: list[tuple[str, str, int]], removals: list[int], probes: list[str]
) -> None:
    tree = SubscriptionTree()
    expected: dict[tuple[str, str], int] = {}
    for client_id, topic_filter, qos in subscriptions:
        tree.add(topic_filter, client_id, qos)
        expected[(client_id, topic_filter)] = qos
    keys = list(expected)
    for index in removals:
        if index < len(keys) and keys[index] in expected:
            client_id, topic_filter = keys[index]
            assert tree.remove(topic_filter, client_id)
            del expected[keys[index]]
    assert len(tree) == len(expected)
    for topic in probes:
        brute: dict[str, int] = {}
        for (client_id, topic_filter), qos in expected.items():
            if topic_matches(topic_filter, topic):
                brute[client_id] = max(qos, brute.get(client_id, -1))
        assert tree.match(topic) == brute


def test_tree_prunes_and_reports_absent() -> None:
    tree = SubscriptionTree()
    tree.add("a/b/c", "x", 1)
    assert not tree.remove("a/b", "x")
    assert not tree.remove("a/b/c", "y")
    assert tree.remove("a/b/c", "x")
    assert tree.match("a/b/c") == {}
    assert len(tree) == 0


def test_tree_handles_very_deep_topics() -> None:
    tree = SubscriptionTree()
    tree.add("#", "x", 0)
    deep = "/".join(["l"] * 30_000)
    assert tree.match(deep) == {"x": 0}


@settings(max_examples=300)
@given(filters, filters)
def test_covers_is_sound(outer: str, inner: str) -> None:
    """If outer covers inner, inner may never select a topic outer does not."""
    if filter_covers(outer, inner):
        for topic in ALL_TOPICS:
            if topic_matches(inner, topic):
                assert topic_matches(outer, topic), (outer, inner, topic)


@settings(max_examples=300)
@given(filters, filters)
def test_intersect_never_misses_an_overlap(first: str, second: str) -> None:
    """Deny rules rely on this: a shared topic always means 'intersects'."""
    if not filters_intersect(first, second):
        for topic in ALL_TOPICS:
            assert not (topic_matches(first, topic) and topic_matches(second, topic))
    assert filters_intersect(first, second) is filters_intersect(second, first)


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("courtyard/v1/hub/alice/#", "courtyard/v1/hub/alice/#", True),
        ("courtyard/v1/hub/alice/#", "courtyard/v1/hub/alice/+/status", True),
        ("courtyard/v1/hub/alice/#", "courtyard/v1/hub/alice", True),
        ("courtyard/v1/hub/alice/#", "courtyard/v1/hub/+/status", False),
        ("courtyard/v1/hub/alice/#", "courtyard/#", False),
        ("a/+", "a/b", True),
        ("a/+", "a/+", True),
        ("a/+", "a/#", False),
        ("#", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
    ],
)
def test_covers_examples(outer: str, inner: str, expected: bool) -> None:
    assert filter_covers(outer, inner) is expected
