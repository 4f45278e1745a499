"""The benchmarks' one percentile definition and their wait for a quiet machine
(scripts/benchlib.py)."""

from __future__ import annotations

import statistics

import pytest

from scripts.benchlib import latency_summary, percentiles, wait_for_quiet


def test_percentiles_interpolate_between_closest_ranks():
    samples = [float(n) for n in range(1, 201)]  # 1..200, shuffled order must not matter
    samples.reverse()
    result = percentiles(samples, (50, 95, 99))
    assert result[50] == statistics.median(samples) == 100.5
    assert result[95] == pytest.approx(190.05)  # between the 190th and 191st smallest
    inclusive = statistics.quantiles(samples, n=100, method="inclusive")
    assert [result[q] for q in (50, 95, 99)] == pytest.approx(
        [inclusive[q - 1] for q in (50, 95, 99)]
    )


def test_one_sample_is_every_percentile_and_none_is_an_error():
    assert percentiles([7.0]) == {50: 7.0, 95: 7.0}
    with pytest.raises(ValueError):
        percentiles([])


def test_latency_summary_keys_and_rounding():
    assert latency_summary([1.0, 2.0, 3.0, 10.0], qs=(50, 95, 99), digits=1) == {
        "p50_ms": 2.5,
        "p95_ms": 8.9,
        "p99_ms": 9.8,
        "mean_ms": 4.0,
        "max_ms": 10.0,
    }


def test_wait_for_quiet_says_whether_the_load_settled() -> None:
    settled = wait_for_quiet(max_load=float("inf"), timeout_s=60)
    assert settled["quiet"] is True
    assert settled["waited_s"] == 0.0

    busy = wait_for_quiet(max_load=-1.0, timeout_s=0.0)  # no load is below -1: gives up at once
    assert busy["quiet"] is False
    assert len(busy["loadavg"]) == 3
