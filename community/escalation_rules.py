"""Escalation chains as data: who is told about an alarm first, and who next if nobody acts.

A chain is an ordered list of tiers, each naming an audience and a delay: tier 0 is told when
the alarm is raised (after its own delay, usually none), tier ``n`` that many seconds after
tier ``n-1`` was told, as long as the alarm still needs a person (not acknowledged and, for
chains that say so, still active). Acknowledging stops the chain. Rules pick a chain by alarm
kind and severity; the first matching rule wins, and every severity must have a catch-all so
that an alarm kind added to the catalog tomorrow is escalated too.

The built-in table follows the field: a fire alarm reaches the supervising station within
90 s (NFPA 72), so smoke and gas go resident → duty staff → manager → the external
fire/emergency gateway 30 s apart; a person in trouble (a fall, an emergency call) the same
with a little more time before the external call; a leak never leaves the community; device
trouble gives the resident ten minutes before the duty staff hears of it.

A fire lane blocked by a car first tells the car's owner — the resident of the home the
plate is registered to, only while that resident's consent to the plate → home mapping is
live — then duty staff two minutes later, then the manager. Such a tier names *whose* home's
residents it tells (``"home": "vehicle_owner"``) instead of the alarm's own home; the server
registers a resolver for it. A tier nobody can be found for (no consent, no mapping, no
target) is *skipped*: it is recorded with its reason and takes no time, so the next tier is
due at once — duty staff come first.

A JSON file with the same shape (``{"rules": [{"kinds": [...], "severity": "critical",
"stop_on_clear": true, "tiers": [{"audience": "resident", "delay_s": 0}, ...]}]}``) replaces
the table; :func:`parse_rules` checks it completely before anything uses it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from devices.catalog import Priority

MAX_TIERS: Final = 8
MAX_DELAY_S: Final = 7 * 24 * 3600.0


class Audience(StrEnum):
    """Who a tier tells. Notification targets declare which audiences they serve."""

    RESIDENT = "resident"
    DUTY_STAFF = "duty_staff"
    MANAGER = "manager"
    #: The external fire/emergency gateway (a webhook standing in for the 119 gateway).
    EMERGENCY = "emergency"


class Whose(StrEnum):
    """Whose home a tier's audience belongs to (only residents belong to a home)."""

    #: The home of the alarm's hub.
    ALARM_HOME = "alarm_home"
    #: The home a fire-lane alarm's vehicle plate is registered to, with live consent.
    VEHICLE_OWNER = "vehicle_owner"


@dataclass(frozen=True, slots=True)
class Tier:
    audience: Audience
    #: Seconds after the previous tier (after the raise, for tier 0).
    delay_s: float
    home: Whose = Whose.ALARM_HOME


@dataclass(frozen=True, slots=True)
class Resolved:
    """Who a per-alarm tier (``home`` other than the alarm's) turned out to be for one alarm."""

    #: The home whose targets are told; None: nobody, the tier is skipped.
    home: str | None
    #: Why nobody (recorded in the alarm's history; never names a person or a plate).
    reason: str = ""
    #: What they are told about where, instead of the alarm's own location.
    where: str = ""


@dataclass(frozen=True, slots=True)
class Chain:
    tiers: tuple[Tier, ...]
    #: Stop when the condition ends, even if nobody acknowledged: nobody more senior is woken
    #: for something that is over (the alarm stays on the board until acknowledged).
    stop_on_clear: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    #: Alarm kinds this rule is for; empty matches every kind.
    kinds: frozenset[str]
    #: Severity this rule is for; None matches every severity.
    severity: Priority | None
    chain: Chain

    def matches(self, kind: str, severity: str) -> bool:
        return (not self.kinds or kind in self.kinds) and (
            self.severity is None or self.severity == severity
        )


class RulesError(ValueError):
    """An escalation table that cannot be used; the message names the entry at fault."""


def _tiers(*steps: tuple[Audience, float]) -> tuple[Tier, ...]:
    return tuple(Tier(audience, delay) for audience, delay in steps)


_R, _D, _M, _E = Audience.RESIDENT, Audience.DUTY_STAFF, Audience.MANAGER, Audience.EMERGENCY
_FIRE: Final = Chain(_tiers((_R, 0), (_D, 30), (_M, 30), (_E, 30)))
_PERSON: Final = Chain(_tiers((_R, 0), (_D, 30), (_M, 60), (_E, 120)))
_LEAK: Final = Chain(_tiers((_R, 0), (_D, 120), (_M, 600)))
_TROUBLE: Final = Chain(_tiers((_R, 0), (_D, 600), (_M, 3600)))
_HUB: Final = Chain(_tiers((_D, 300), (_M, 1800)))
#: The owner gets two minutes to move the car before duty staff go; the manager ten after.
_LANE: Final = Chain((Tier(_R, 0, Whose.VEHICLE_OWNER), *_tiers((_D, 120), (_M, 600))))
_INFO: Final = Chain(_tiers((_R, 0)))
#: Care checks: the resident was asked and the family told before the alarm exists: staff now.
_CARE: Final = Chain(_tiers((_D, 0), (_M, 600)))

#: The built-in table: first match wins; the last three rows are the per-severity catch-alls.
DEFAULT_RULES: Final[tuple[Rule, ...]] = (
    Rule(frozenset({"smoke_alarm", "gas_alarm", "charging_shed_smoke"}), None, _FIRE),
    Rule(frozenset({"fall_detected", "emergency_call"}), None, _PERSON),
    Rule(frozenset({"water_leak"}), None, _LEAK),
    # A hub has no resident screen to tell while it is offline: staff first.
    Rule(frozenset({"hub_offline"}), None, _HUB),
    Rule(frozenset({"fire_lane_obstructed"}), None, _LANE),
    Rule(frozenset({"care_check_missed"}), None, _CARE),  # care checks
    Rule(frozenset(), Priority.CRITICAL, _FIRE),
    Rule(frozenset(), Priority.ALERT, _TROUBLE),
    Rule(frozenset(), Priority.INFO, _INFO),
)


@dataclass(frozen=True, slots=True)
class EscalationRules:
    rules: tuple[Rule, ...] = DEFAULT_RULES

    def chain_for(self, kind: str, severity: str) -> Chain:
        for rule in self.rules:
            if rule.matches(kind, severity):
                return rule.chain
        raise LookupError(f"no escalation rule for {kind}/{severity}")  # parse_rules prevents


# --- validation ------------------------------------------------------------------------------


def _tier(raw: object, where: str) -> Tier:
    if not isinstance(raw, dict) or set(raw) - {"audience", "delay_s", "home"}:
        raise RulesError(f"{where} must be an object with 'audience', 'delay_s' (and 'home')")
    audience, delay = raw.get("audience"), raw.get("delay_s", 0)
    home = raw.get("home", str(Whose.ALARM_HOME))
    if home not in {str(w) for w in Whose}:
        raise RulesError(f"{where}.home must be one of: {', '.join(Whose)}")
    if home != Whose.ALARM_HOME and audience != Audience.RESIDENT:
        raise RulesError(f"{where}.home {home} needs the audience resident")
    if audience not in {str(a) for a in Audience}:
        raise RulesError(f"{where}.audience must be one of: {', '.join(Audience)}")
    if isinstance(delay, bool) or not isinstance(delay, int | float):
        raise RulesError(f"{where}.delay_s must be a number")
    if not math.isfinite(delay) or not 0 <= delay <= MAX_DELAY_S:
        raise RulesError(f"{where}.delay_s must be in 0..{MAX_DELAY_S:.0f}")
    return Tier(Audience(audience), float(delay), Whose(home))


def _rule(raw: object, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(f"{where} must be an object")
    fields = {"kinds", "severity", "stop_on_clear", "tiers"}
    unknown = sorted(str(k)[:40] for k in set(raw) - fields)
    if unknown:
        raise RulesError(f"{where} has unknown fields: {', '.join(unknown)}")
    kinds = raw.get("kinds", [])
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k for k in kinds):
        raise RulesError(f"{where}.kinds must be a list of alarm kind names")
    severity = raw.get("severity")
    if severity is not None and severity not in {str(p) for p in Priority}:
        raise RulesError(f"{where}.severity must be one of: {', '.join(Priority)}")
    stop = raw.get("stop_on_clear", True)
    if not isinstance(stop, bool):
        raise RulesError(f"{where}.stop_on_clear must be true or false")
    tiers = raw.get("tiers")
    if not isinstance(tiers, list) or not 1 <= len(tiers) <= MAX_TIERS:
        raise RulesError(f"{where}.tiers must be a list of 1..{MAX_TIERS} tiers")
    chain = Chain(tuple(_tier(t, f"{where}.tiers[{i}]") for i, t in enumerate(tiers)), stop)
    return Rule(frozenset(kinds), None if severity is None else Priority(severity), chain)


def parse_rules(obj: object) -> EscalationRules:
    """Validate an escalation table (already parsed from JSON); raise :class:`RulesError`."""
    if not isinstance(obj, dict) or set(obj) != {"rules"} or not isinstance(obj["rules"], list):
        raise RulesError('the escalation table must be an object {"rules": [...]}')
    rules = tuple(_rule(raw, f"rules[{i}]") for i, raw in enumerate(obj["rules"]))
    for severity in Priority:
        if not any(not r.kinds and r.severity in (None, severity) for r in rules):
            raise RulesError(f"no catch-all rule (no 'kinds') covers severity {severity}")
    return EscalationRules(rules)


def load_rules(path: Path | None) -> EscalationRules:
    """The table in ``path``, or the built-in one for None."""
    if path is None:
        return EscalationRules()
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RulesError(f"cannot read {path}: {type(exc).__name__}") from None
    return parse_rules(obj)
