"""The demo's escalation chains: the community's built-in table with compressed delays.

Real chains wait tens of seconds to minutes between tiers; a 30-second demo scales every delay
by the same factor as the rest of its clock, so an alarm nobody acknowledges in time visibly
climbs to the duty staff and the manager.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from community.escalation_rules import DEFAULT_RULES


def write_rules(path: Path, scale: float) -> Path:
    """Write the built-in rules with every delay multiplied by ``scale``; returns ``path``."""
    rules: list[dict[str, Any]] = [
        {
            "kinds": sorted(rule.kinds),
            "severity": None if rule.severity is None else str(rule.severity),
            "stop_on_clear": rule.chain.stop_on_clear,
            "tiers": [
                {
                    "audience": str(t.audience),
                    "delay_s": round(t.delay_s * scale, 3),
                    "home": str(t.home),
                }
                for t in rule.chain.tiers
            ],
        }
        for rule in DEFAULT_RULES
    ]
    path.write_text(json.dumps({"rules": rules}, indent=2))
    return path
