"""Search latency benchmark: embedding + search of one query, over the eval questions.

Usage: ``python scripts/bench_search.py [--set tests/eval/test.yml] [--out FILE.json]``
(default output var/reports/bench_search.json).

Builds the KB as the bot does (``KnowledgeSettings()``, ``KnowledgeBase.from_settings``), warms
up, then times ``kb.search(text, language)`` once per question, one at a time, and writes
p50/p95/mean/max in milliseconds (percentiles: :mod:`scripts.benchlib`). The machine is shared,
so the load average is recorded next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.evalset import EvalSet
from knowledge.search import KnowledgeBase
from knowledge.settings import KnowledgeSettings
from scripts.benchlib import latency_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="tests/eval/test.yml", type=Path)
    parser.add_argument("--out", default="var/reports/bench_search.json", type=Path)
    parser.add_argument("--warmup", default=10, type=int)
    args = parser.parse_args(argv)

    settings = KnowledgeSettings()
    threads = settings.limit_search_threads()  # as the action server and the help centre serve
    kb = KnowledgeBase.from_settings(settings)
    evalset = EvalSet.load(args.set)
    queries = [(q.text, q.language) for q in [*evalset.in_scope, *evalset.out_of_scope]]
    for text, language in queries[: args.warmup]:
        kb.search(text, language)
    timings = []
    for text, language in queries:
        start = time.perf_counter()
        kb.search(text, language)
        timings.append((time.perf_counter() - start) * 1000)
    result = {
        "set": str(args.set),
        "queries": len(timings),
        "model": kb.model.identity,
        "precision": kb.model.precision,
        **latency_summary(timings),
        "load_average_1_5_15": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
