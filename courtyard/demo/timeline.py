"""The scripted incident timeline, as data: when, in which home, which device, what happens.

Times are fractions of the demo's duration, so a 30-second headless run and a two-minute
interactive one tell the same story. Physics rates are given for a 30-second run and scaled
with the duration, so smoke reaches the alarm level at the same point of the story. Home
numbers wrap around when the demo has fewer homes.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The run length the rates below are written for.
REFERENCE_DURATION_S = 30.0


@dataclass(frozen=True, slots=True)
class Step:
    """A device step: call ``action`` on the device with ``role`` in home number ``home``."""

    at: float
    home: int
    role: str
    action: str
    says: str
    rates: tuple[tuple[str, float], ...] = ()

    def kwargs(self, duration: float) -> dict[str, float]:
        scale = REFERENCE_DURATION_S / duration
        return {name: value * scale for name, value in self.rates}


@dataclass(frozen=True, slots=True)
class StaffStep:
    """What the duty staff do in a headless run (in an interactive one, a person does it)."""

    at: float
    action: str
    says: str


_FAST_SMOKE = (("rise_per_s", 3.0),)
_CLEAR_SMOKE = (("fall_per_s", 30.0),)
_FAST_GAS = (("rise_per_s", 12.0),)
_CLEAR_GAS = (("fall_per_s", 30.0),)

TIMELINE: tuple[Step, ...] = (
    Step(
        0.08,
        0,
        "kitchen-smoke",
        "start_fire",
        "fire in the kitchen: smoke rises, every alarm in the home sounds",
        _FAST_SMOKE,
    ),
    Step(0.16, 1, "gas", "start_leak", "gas leak in the kitchen", _FAST_GAS),
    Step(0.24, 2, "fall", "fall", "a resident falls in the bathroom"),
    Step(0.30, 3, "sos", "press", "emergency-call button pressed"),
    Step(0.36, 4, "leak", "start_leak", "water leak under the sink"),
    Step(0.40, 5, "fall", "go_silent", "a fall sensor goes silent (dead battery, unplugged)"),
    Step(0.46, 6, "kitchen-smoke", "start_fire", "cooking smoke: a false alarm", _FAST_SMOKE),
    Step(0.52, 6, "kitchen-smoke", "press_silence", "the resident silences the cooking alarm"),
    Step(0.58, 6, "kitchen-smoke", "clear_smoke", "the cooking smoke clears", _CLEAR_SMOKE),
    Step(0.66, 1, "gas", "ventilate", "windows opened: the gas clears", _CLEAR_GAS),
    Step(0.70, 4, "leak", "dry", "the leak is fixed"),
    Step(0.74, 3, "sos", "reset", "the emergency button is reset by staff on site"),
    Step(0.78, 0, "kitchen-smoke", "clear_smoke", "the kitchen fire is out", _CLEAR_SMOKE),
    Step(0.80, 2, "fall", "get_up", "the fallen resident is helped up"),
)

STAFF: tuple[StaffStep, ...] = (
    StaffStep(0.42, "release_elevator", "duty staff check lift 1's camera and release the car"),
    StaffStep(0.50, "acknowledge_critical", "duty staff acknowledge every critical alarm"),
    StaffStep(0.90, "acknowledge_all", "duty staff acknowledge the remaining alarms"),
)
