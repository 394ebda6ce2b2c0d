"""Fall detection from a wearable accelerometer trace, and traces to feed it.

A fall has a signature that walking does not: a short free-fall (the magnitude of
acceleration drops well below 1 g), a hard impact spike (several g), and then the person
lies still for a while. Detectors in the field confirm the last part over a window of
seconds before calling for help, because most stumbles end with the person getting up.
This module is that detector over a list of acceleration magnitudes in g, sampled at a
fixed rate, plus generators of walking and falling traces for the simulated device and the
property tests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

GRAVITY_G = 1.0


@dataclass(frozen=True, slots=True)
class FallDetectorConfig:
    """Thresholds of the detector; the defaults follow common wearable fall-detection papers."""

    sample_hz: float = 50.0
    #: A magnitude below this is free fall (walking rarely goes under ~0.4 g, never for long).
    free_fall_g: float = 0.6
    #: The free fall must come within this long before the impact.
    free_fall_window_s: float = 1.0
    #: A magnitude at or above this is an impact; brisk walking peaks around 1.5-2 g.
    impact_g: float = 2.5
    #: Bounces right after the impact are ignored for this long.
    settle_s: float = 0.5
    #: The person must then lie still this long (the confirmation window).
    confirm_s: float = 2.0
    #: "Still": every sample within this of 1 g during the confirmation window.
    still_band_g: float = 0.15

    def samples(self, seconds: float) -> int:
        return max(1, round(seconds * self.sample_hz))


@dataclass(frozen=True, slots=True)
class FallVerdict:
    detected: bool
    confidence: float = 0.0
    #: Index of the impact sample that was confirmed as a fall.
    impact_index: int | None = None


NO_FALL = FallVerdict(detected=False)


def detect_fall(trace: Sequence[float], config: FallDetectorConfig | None = None) -> FallVerdict:
    """Look for free fall, then impact, then stillness for the confirmation window.

    Non-finite samples (a glitching sensor) never count as free fall, impact or stillness.
    """
    cfg = config or FallDetectorConfig()
    n_window = cfg.samples(cfg.free_fall_window_s)
    n_settle = cfg.samples(cfg.settle_s)
    n_confirm = cfg.samples(cfg.confirm_s)
    for i, sample in enumerate(trace):
        if not (math.isfinite(sample) and sample >= cfg.impact_g):
            continue
        before = trace[max(0, i - n_window) : i]
        if not any(math.isfinite(x) and x < cfg.free_fall_g for x in before):
            continue
        start = i + n_settle
        window = trace[start : start + n_confirm]
        if len(window) < n_confirm:
            break  # not confirmed yet: the trace ends inside the window
        deviations = [abs(x - GRAVITY_G) if math.isfinite(x) else math.inf for x in window]
        worst = max(deviations)
        if worst > cfg.still_band_g:
            continue  # they moved: a stumble, or they got up
        peak = max(x for x in trace[i:start] if math.isfinite(x))
        strength = min(1.0, peak / (2 * cfg.impact_g))
        stillness = 1.0 - worst / cfg.still_band_g
        confidence = round(min(1.0, 0.5 + 0.25 * strength + 0.25 * stillness), 3)
        return FallVerdict(detected=True, confidence=confidence, impact_index=i)
    return NO_FALL


def walking_trace(
    rng: random.Random,
    seconds: float = 4.0,
    *,
    config: FallDetectorConfig | None = None,
    step_hz: float = 1.8,
    amplitude_g: float = 0.35,
    noise_g: float = 0.05,
) -> list[float]:
    """Acceleration magnitude of someone walking: roughly 1 g plus a swing per step."""
    cfg = config or FallDetectorConfig()
    phase = rng.uniform(0, 2 * math.pi)
    return [
        GRAVITY_G
        + amplitude_g * math.sin(2 * math.pi * step_hz * n / cfg.sample_hz + phase)
        + rng.uniform(-noise_g, noise_g)
        for n in range(cfg.samples(seconds))
    ]


def still_trace(
    rng: random.Random,
    seconds: float,
    *,
    config: FallDetectorConfig | None = None,
    noise_g: float = 0.03,
) -> list[float]:
    """Someone (or something) lying or standing still: 1 g and sensor noise."""
    cfg = config or FallDetectorConfig()
    return [GRAVITY_G + rng.uniform(-noise_g, noise_g) for _ in range(cfg.samples(seconds))]


def fall_trace(
    rng: random.Random,
    *,
    config: FallDetectorConfig | None = None,
    walk_s: float = 1.0,
    peak_g: float = 4.0,
    lying_s: float | None = None,
) -> list[float]:
    """Walking, a free fall of ~0.3 s, an impact peaking at ``peak_g``, bounces, lying still.

    The bounces last the detector's settle time, so the confirmation window starts when the
    lying still does; ``lying_s`` defaults to a margin beyond that window.
    """
    cfg = config or FallDetectorConfig()
    trace = walking_trace(rng, walk_s, config=cfg) if walk_s > 0 else []
    trace += [rng.uniform(0.1, 0.4) for _ in range(cfg.samples(0.3))]
    trace += [peak_g * 0.6, peak_g, peak_g * 0.7]
    trace += [rng.uniform(0.6, 1.8) for _ in range(max(0, cfg.samples(cfg.settle_s) - 3))]
    lying = cfg.settle_s + cfg.confirm_s if lying_s is None else lying_s
    return trace + still_trace(rng, lying, config=cfg)
