"""An elevator-car camera that recognises e-bikes and can hold the car's doors.

Fire codes forbid taking e-bikes upstairs (a battery fire in a corridor or flat blocks the
escape route). The camera reports what it sees (``elevator_ebike`` raised and cleared, and
``ebike_detected``); holding the doors and playing the announcement are commands, because
whether to hold a car is the community's decision (and staff may release it as a false
alarm).
"""

from __future__ import annotations

from typing import Any

from devices.catalog import CommandName, DeviceKind, EventType
from firmware_stubs.device import CommandHandler, SimulatedDevice
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.physics import MAINS


class ElevatorCamera(SimulatedDevice):
    """One car's camera and door-hold interface."""

    kind = DeviceKind.ELEVATOR_CAMERA

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        min_confidence: float = 0.6,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("battery", MAINS)
        super().__init__(identity, hub_url, token, **kwargs)
        if not 0 <= min_confidence <= 1:
            raise ValueError("min_confidence must be between 0 and 1")
        self.min_confidence = min_confidence
        self.ebike_detected = False
        self.car_held = False
        #: Every announcement played, in order.
        self.prompts_played: list[str] = []

    def ebike_enters(self, confidence: float = 0.93) -> bool:
        """Someone wheels an e-bike in; returns whether the detector believed it."""
        if not 0 <= confidence <= 1:
            raise ValueError("confidence must be between 0 and 1")
        if confidence < self.min_confidence or self.ebike_detected:
            return self.ebike_detected
        self.ebike_detected = True
        self._emit(EventType.ELEVATOR_EBIKE, True, {"confidence": round(confidence, 3)})
        self._changed()
        return True

    def ebike_leaves(self) -> None:
        if self.ebike_detected:
            self.ebike_detected = False
            self._emit(EventType.ELEVATOR_EBIKE, False, {})
            self._changed()

    def hold_doors(self) -> str | None:
        self.car_held = True
        self._changed()
        return None

    def release_doors(self) -> str | None:
        self.car_held = False
        self._changed()
        return None

    def play_voice_prompt(self, prompt: str) -> str | None:
        self.prompts_played.append(prompt)
        return None

    def _snapshot(self) -> dict[str, Any]:
        return {
            **super()._snapshot(),
            "ebike_detected": self.ebike_detected,
            "car_held": self.car_held,
        }

    def _command_handlers(self) -> dict[CommandName, CommandHandler]:
        return {
            **super()._command_handlers(),
            CommandName.HOLD_DOORS: lambda _a: self.hold_doors(),
            CommandName.RELEASE_DOORS: lambda _a: self.release_doors(),
            CommandName.PLAY_VOICE_PROMPT: lambda a: self.play_voice_prompt(
                str(a.get("prompt", "ebike_not_allowed"))
            ),
        }
