"""Chat latency benchmark (not a test): reply latency of the bot through the REST channel.

Sends the in-scope KB questions of tests/eval/test.yml, each as the first message of a new
conversation (with ``metadata.language``), to a running Rasa server (``--url``) or to servers it
starts itself (default; needs a trained model in bot/models). In the same run it also times the
knowledge search alone (embedding + search, ``KnowledgeBase.search``) on the same questions, so
the two figures can be compared (percentiles: :mod:`scripts.benchlib`). Writes
var/reports/bench_chat.json. Goal: chat p95 <= 250 ms.

    .venv/bin/python scripts/bench_chat.py [--url http://localhost:5005] [--limit N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bot")]

import httpx  # noqa: E402

from knowledge.evalset import EvalSet  # noqa: E402
from knowledge.search import KnowledgeBase  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402
from scripts.benchlib import latency_summary  # noqa: E402
from tests.bot.servers import ServerError, rasa_url_for  # noqa: E402

GOAL_P95_MS = 250.0
WARM_UP_MESSAGES = ("hi", "how long does a refund take?", "hola", "¿cuánto tarda el envío?")


def reply_kind(messages: list[dict[str, Any]]) -> str:
    """answer / clarify / fallback / other, from the buttons the bot sent."""
    payloads = [b.get("payload", "") for m in messages for b in m.get("buttons", [])]
    if "/affirm" in payloads:
        return "answer"
    if any(p.startswith("/choose_article") for p in payloads):
        return "clarify"
    if "/request_human" in payloads:
        return "fallback"
    return "other"


def bench_chat(url: str, questions: list[tuple[str, str]]) -> tuple[list[float], Counter[str]]:
    webhook = f"{url.rstrip('/')}/webhooks/rest/webhook"
    latencies: list[float] = []
    kinds: Counter[str] = Counter()
    with httpx.Client(timeout=60.0) as client:
        for text in WARM_UP_MESSAGES:
            client.post(webhook, json={"sender": f"bench-warm-{uuid.uuid4().hex}", "message": text})
        for text, language in questions:
            body = {
                "sender": f"bench-{uuid.uuid4().hex}",
                "message": text,
                "metadata": {"language": language},
            }
            start = time.perf_counter()
            response = client.post(webhook, json=body)
            latencies.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
            kinds[reply_kind(response.json())] += 1
    return latencies, kinds


def bench_search(questions: list[tuple[str, str]]) -> list[float]:
    """Embedding + search alone, in this process, with the action server's KB configuration
    (the same ``KnowledgeSettings`` from the same environment: paths are project-relative)."""
    settings = KnowledgeSettings()
    settings.limit_search_threads()
    knowledge = KnowledgeBase.from_settings(settings)
    for text in WARM_UP_MESSAGES:
        knowledge.search(text, language="en", k=3)
    latencies: list[float] = []
    for text, language in questions:
        start = time.perf_counter()
        knowledge.search(text, language=language, k=3)
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="running Rasa server; default: start Rasa + actions here")
    parser.add_argument("--eval-set", type=Path, default=ROOT / "tests" / "eval" / "test.yml")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N questions")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "bench_chat.json")
    args = parser.parse_args(argv)

    if not args.eval_set.is_file():
        print(f"no evaluation set at {args.eval_set}", file=sys.stderr)
        return 2
    evalset = EvalSet.load(args.eval_set)
    questions = [(q.text, q.language) for q in evalset.in_scope]
    if args.limit > 0:
        questions = questions[: args.limit]

    try:
        with rasa_url_for(args.url, "bench-chat-") as url:
            chat_ms, kinds = bench_chat(url, questions)
    except ServerError as exc:  # no trained model, or a server did not start
        print(exc, file=sys.stderr)
        return 2
    search_ms = bench_search(questions)

    chat = latency_summary(chat_ms, digits=1)
    report = {
        "benchmark": "bench_chat",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "eval_set": str(args.eval_set.relative_to(ROOT)),
        "questions": len(questions),
        "chat_reply": chat,
        "search_only": latency_summary(search_ms, digits=1),
        "reply_kinds": dict(kinds),
        "goal_p95_ms": GOAL_P95_MS,
        "meets_goal": chat["p95_ms"] <= GOAL_P95_MS,
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": list(os.getloadavg())},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
