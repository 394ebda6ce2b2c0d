"""The one exception an adapter raises.

A hub feeds adapters whatever arrives on a home MQTT broker, so a vendor payload that cannot
be understood must end as one clear, catchable error with a one-line reason, never as a
``KeyError`` deep in a decoder that takes the bridge down.
"""

from __future__ import annotations


class AdapterError(ValueError):
    """A vendor message (or a command) an adapter cannot translate; ``reason`` is one line."""

    def __init__(self, reason: str) -> None:
        reason = " ".join(reason.split()) or "cannot decode"
        super().__init__(reason)
        self.reason = reason
