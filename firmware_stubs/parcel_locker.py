"""A parcel locker: a bank of compartments where couriers leave parcels for homes.

A courier's delivery locks a parcel in a free compartment and makes a one-time pickup code;
the ``parcel_delivered`` event carries the code up to the hub, because the community is the
only one that can reach the home (it forwards the code to the home's hub in a notice and keeps
only a hash). The locker itself keeps only a hash too: a code is checked, never read back. The
right code opens its compartment once and reports ``parcel_picked_up``; a wrong or used code
opens nothing. Codes are secrets: they are never written to a log here.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from devices.catalog import DeviceKind, EventType
from firmware_stubs.device import SimulatedDevice
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.physics import MAINS

#: Digits in a pickup code: a million codes for at most a few hundred occupied compartments.
CODE_DIGITS = 6
_MAX_TEXT = 64


@dataclass(frozen=True, slots=True)
class Stowed:
    """One parcel in one compartment; the code only as its hash."""

    compartment: str
    home: str
    parcel_id: str
    code_hash: str


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class ParcelLocker(SimulatedDevice):
    """A locker bank with ``compartments`` numbered compartments (``"1"``, ``"2"`` ...)."""

    kind = DeviceKind.PARCEL_LOCKER

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        locker_id: str = "locker-1",
        compartments: int = 24,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("battery", MAINS)
        super().__init__(identity, hub_url, token, **kwargs)
        if not 0 < len(locker_id) <= _MAX_TEXT:
            raise ValueError(f"locker_id must be 1-{_MAX_TEXT} characters")
        if not 1 <= compartments <= 500:
            raise ValueError("compartments must be 1..500")
        self.locker_id = locker_id
        self.compartments = compartments
        self._stowed: dict[str, Stowed] = {}

    @property
    def occupied(self) -> int:
        return len(self._stowed)

    def contents(self) -> list[Stowed]:
        """What is in the locker now (codes as hashes only)."""
        return sorted(self._stowed.values(), key=lambda s: int(s.compartment))

    def deliver(self, home: str, parcel_id: str) -> str:
        """A courier stows a parcel for ``home``; the pickup code (the courier never sees it).

        ValueError if the locker is full or an argument does not fit the catalog.
        """
        for name, value in (("home", home), ("parcel_id", parcel_id)):
            if not 0 < len(value) <= _MAX_TEXT:
                raise ValueError(f"{name} must be 1-{_MAX_TEXT} characters")
        free = next(
            (str(n) for n in range(1, self.compartments + 1) if str(n) not in self._stowed), None
        )
        if free is None:
            raise ValueError("the locker is full")
        taken = {s.code_hash for s in self._stowed.values()}
        code = self._new_code()
        while _hash(code) in taken:
            code = self._new_code()
        self._stowed[free] = Stowed(free, home, parcel_id, _hash(code))
        self._emit(
            EventType.PARCEL_DELIVERED,
            True,
            {"compartment": free, "home": home, "parcel_id": parcel_id, "code": code},
        )
        self._changed()
        return code

    def pick_up(self, code: str) -> str | None:
        """Open the compartment of ``code`` (once); its label, or None for a wrong code."""
        digest = _hash(code)
        found = next((s for s in self._stowed.values() if s.code_hash == digest), None)
        if found is None:
            return None
        del self._stowed[found.compartment]
        self._emit(
            EventType.PARCEL_PICKED_UP,
            True,
            {"compartment": found.compartment, "home": found.home, "parcel_id": found.parcel_id},
        )
        self._changed()
        return found.compartment

    @staticmethod
    def _new_code() -> str:
        return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"

    def _snapshot(self) -> dict[str, Any]:
        return {
            **super()._snapshot(),
            "locker_id": self.locker_id,
            "compartments": self.compartments,
            "occupied_compartments": self.occupied,
        }
