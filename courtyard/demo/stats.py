"""Latency percentiles for the demo report and the benchmark."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max in the unit given, rounded to 0.1; ``None`` when nothing was measured."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p95": None, "p99": None, "max": None, "count": 0}
    out: dict[str, float | None] = {f"p{q}": round(percentile(ordered, q), 1) for q in (50, 95, 99)}
    out["max"] = round(ordered[-1], 1)
    out["count"] = len(ordered)
    return out
