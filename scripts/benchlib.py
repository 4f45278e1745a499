"""What the benchmark scripts share: the one percentile definition behind every p50/p95/p99 the
README reports, the machine facts a report records, and how a report is written.

Percentiles interpolate linearly between the closest ranks (NumPy's default, the same as
``statistics.quantiles(method="inclusive")`` and spreadsheets' PERCENTILE.INC): p50 is the
median, and a p95 of 200 samples lies between the 190th and the 191st smallest.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def percentiles(samples: Sequence[float], qs: Sequence[int] = (50, 95)) -> dict[int, float]:
    """``{q: the q-th percentile of samples}`` for each q in 0..100."""
    if not samples:
        raise ValueError("percentiles of no samples")
    values = np.percentile(np.asarray(samples, dtype=float), list(qs))
    return {q: float(value) for q, value in zip(qs, values, strict=True)}


def latency_summary(
    samples_ms: Sequence[float], qs: Sequence[int] = (50, 95), digits: int = 2
) -> dict[str, float]:
    """``p<q>_ms`` for each q, ``mean_ms`` and ``max_ms`` of latencies in milliseconds."""
    summary = {f"p{q}_ms": round(value, digits) for q, value in percentiles(samples_ms, qs).items()}
    summary["mean_ms"] = round(float(np.mean(samples_ms)), digits)
    summary["max_ms"] = round(float(np.max(samples_ms)), digits)
    return summary


def machine() -> dict[str, Any]:
    """The machine a report was measured on, and how loaded it was when the run ended."""
    return {
        "cpus": os.cpu_count(),
        "loadavg_at_end": os.getloadavg(),
        "python": platform.python_version(),
    }


def wait_for_quiet(max_load: float, timeout_s: float, poll_s: float = 5.0) -> dict[str, Any]:
    """Wait until the 1-minute load average is below ``max_load`` (at most ``timeout_s``).

    A benchmark that first loads data (generator, service, database) times its queries on a
    machine still busy with that work, or with whatever else shares it; the wait lets the load
    settle. Returns what was waited and the load when timing starts, for the report.
    """
    started = time.monotonic()
    while os.getloadavg()[0] >= max_load and time.monotonic() - started < timeout_s:
        time.sleep(poll_s)
    load = os.getloadavg()
    waited = round(time.monotonic() - started, 1)
    quiet = load[0] < max_load
    print(f"timing after {waited} s: load {load[0]:.2f} (wanted < {max_load}, quiet: {quiet})")
    return {"max_load": max_load, "waited_s": waited, "loadavg": load, "quiet": quiet}


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON to ``path`` (creating its folder) and say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
