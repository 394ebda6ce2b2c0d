"""The fall detector: falls are confirmed, walking and stumbles never are (property tests)."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_stubs.fall_detection import (
    FallDetectorConfig,
    detect_fall,
    fall_trace,
    still_trace,
    walking_trace,
)

CFG = FallDetectorConfig()
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def walking_like(draw: st.DrawFn) -> list[float]:
    """Walking at varied pace and vigour, with pauses to stand still, turns and sitting down."""
    rng = random.Random(draw(seeds))
    trace: list[float] = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        segment = draw(st.sampled_from(["walk", "stand", "sit"]))
        seconds = draw(st.floats(min_value=0.2, max_value=4.0))
        if segment == "walk":
            trace += walking_trace(
                rng,
                seconds,
                step_hz=draw(st.floats(min_value=0.8, max_value=2.5)),
                amplitude_g=draw(st.floats(min_value=0.05, max_value=0.7)),
                noise_g=draw(st.floats(min_value=0.0, max_value=0.15)),
            )
        elif segment == "stand":
            trace += still_trace(rng, seconds)
        else:  # sitting down heavily: a dip and a bump well under an impact, then still
            trace += [0.7, 0.55, 0.5, 1.6, draw(st.floats(min_value=1.0, max_value=2.2)), 1.2]
            trace += still_trace(rng, seconds)
    return trace


@settings(max_examples=150, deadline=None)
@given(walking_like())
def test_walking_never_counts_as_a_fall(trace: list[float]) -> None:
    assert not detect_fall(trace, CFG).detected


@settings(max_examples=100, deadline=None)
@given(
    seed=seeds,
    walk_s=st.floats(min_value=0.0, max_value=3.0),
    peak_g=st.floats(min_value=2.6, max_value=8.0),
    extra_lying_s=st.floats(min_value=0.0, max_value=5.0),
)
def test_a_fall_followed_by_lying_still_is_detected(
    seed: int, walk_s: float, peak_g: float, extra_lying_s: float
) -> None:
    rng = random.Random(seed)
    lying = CFG.confirm_s + 0.1 + extra_lying_s  # the window, plus a few samples of slack
    trace = fall_trace(rng, config=CFG, walk_s=walk_s, peak_g=peak_g, lying_s=lying)
    verdict = detect_fall(trace, CFG)
    assert verdict.detected
    assert 0.5 <= verdict.confidence <= 1.0
    assert verdict.impact_index is not None and trace[verdict.impact_index] >= CFG.impact_g


@settings(max_examples=100, deadline=None)
@given(
    seed=seeds,
    peak_g=st.floats(min_value=2.6, max_value=8.0),
    down_fraction=st.floats(min_value=0.0, max_value=0.9),
)
def test_getting_up_within_the_confirmation_window_is_not_a_fall(
    seed: int, peak_g: float, down_fraction: float
) -> None:
    rng = random.Random(seed)
    lying = CFG.confirm_s * down_fraction  # lying still starts once the bounces are over
    trace = fall_trace(rng, config=CFG, peak_g=peak_g, lying_s=lying)
    trace += walking_trace(rng, 4.0, amplitude_g=0.4)
    assert not detect_fall(trace, CFG).detected


def test_an_impact_without_free_fall_is_not_a_fall() -> None:
    rng = random.Random(7)
    # Something hit the sensor (dropped on a table) but it never fell freely first.
    trace = [*still_trace(rng, 1.0), 3.5, 1.4, 1.0, *still_trace(rng, 4.0)]
    assert not detect_fall(trace, CFG).detected


def test_a_trace_that_ends_before_confirmation_is_not_yet_a_fall() -> None:
    rng = random.Random(8)
    trace = fall_trace(rng, config=CFG, lying_s=CFG.confirm_s / 2)
    assert not detect_fall(trace, CFG).detected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=400))
def test_any_sensor_garbage_gives_a_verdict_not_an_exception(trace: list[float]) -> None:
    verdict = detect_fall(trace, CFG)
    assert 0.0 <= verdict.confidence <= 1.0
    assert math.isfinite(verdict.confidence)
