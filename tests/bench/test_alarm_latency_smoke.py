"""The alarm-latency benchmark runs to the end and reports numbers of the right shape.

Not a speed test: it only checks that every part started, every sample completed and the
report is complete and coherent, on the embedded broker with five samples.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.alarm_latency import main, percentile

MEASUREMENTS = ("raw_broker_hop", "raw_chain", "end_to_end")
STATS = ("min", "p50", "p95", "p99", "max", "mean")


def test_five_samples_on_the_embedded_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "latency.json"

    assert main(["--samples", "5", "--broker", "embedded", "--json", str(out)]) == 0

    report = json.loads(out.read_text())
    assert report["broker"] == "embedded"
    assert report["samples"] == 5
    assert report["homes"] == 1
    assert report["machine"]["cpu_count"] >= 1
    assert report["machine"]["python"].startswith("3.")
    assert set(report["latency_ms"]) == set(MEASUREMENTS)
    for name in MEASUREMENTS:
        summary = report["latency_ms"][name]
        assert summary["count"] == 5
        assert all(summary[s] > 0 for s in STATS), (name, summary)
        assert summary["min"] <= summary["p50"] <= summary["p95"] <= summary["p99"]
        assert summary["p99"] <= summary["max"]
    assert set(report["ratios"]) == {"end_to_end/raw_broker_hop", "end_to_end/raw_chain"}
    for ratio in report["ratios"].values():
        assert ratio["p50"] > 0
        assert ratio["p99"] > 0
    table = capsys.readouterr().out
    assert "end to end" in table
    assert "end_to_end/raw_chain" in table


def test_bad_arguments_are_refused_before_anything_starts() -> None:
    with pytest.raises(SystemExit) as refused:
        main(["--samples", "0"])
    assert refused.value.code == 2
    with pytest.raises(SystemExit):
        main(["--broker", "rabbitmq"])


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 100) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0) == 1.0
