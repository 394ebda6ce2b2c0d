"""Retained messages: the last retained message per topic, replayed to new subscribers."""

from __future__ import annotations

from collections.abc import Iterator

from ._session import Message
from ._topics import topic_matches

__all__ = ["RetainedStore"]


class RetainedStore:
    """In-memory map of topic to its retained message.

    Lookups scan every retained topic; that is fine for the handful of status
    topics a community keeps and keeps the store trivially correct.
    """

    __slots__ = ("_messages",)

    def __init__(self) -> None:
        self._messages: dict[str, Message] = {}

    def __len__(self) -> int:
        return len(self._messages)

    def update(self, message: Message) -> None:
        """Store ``message``; an empty payload clears the topic instead (MQTT 3.3.1.3)."""
        if message.payload:
            self._messages[message.topic] = message
        else:
            self._messages.pop(message.topic, None)

    def matching(self, topic_filter: str) -> Iterator[Message]:
        for topic, message in self._messages.items():
            if topic_matches(topic_filter, topic):
                yield message

    def clear(self) -> None:
        self._messages.clear()
