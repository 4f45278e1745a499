"""Chat latency benchmark (not a test): reply latency of the bot through the REST channel.

Sends the in-scope KB questions of tests/eval/test.yml, each as the first message of a new
conversation (with ``metadata.language``), to a running Rasa server (``--url``) or to servers it
starts itself (default; needs a trained model in bot/models). In the same run it also

- times the knowledge search alone (embedding + search, ``KnowledgeBase.search``) on the same
  questions, so the two figures can be compared;
- creates a stock ``rasa init`` bot in a temporary directory (it trains its own model, offline),
  starts its Rasa server on a free port, sends it the same questions, and reports nivel0's p95
  and throughput (replies per second, one request at a time) as ratios to it (``--no-stock``
  skips it);
- measures the first reply after "ready" as `make run` announces it (the action server's
  ``/health`` answers 200, i.e. its knowledge base is loaded, and Rasa has answered the
  warm-up questions of scripts/run_all.sh), and the first reply after health alone (Rasa's
  first prediction, which the warm-up takes). Meaningful when the servers are started here.

Percentiles: :mod:`scripts.benchlib`. Writes var/reports/bench_chat.json. Goals: chat p95 <= 250
ms, first reply after ready <= 200 ms, p95 within 1.2x the stock bot's, throughput >= 0.8x.

    .venv/bin/python scripts/bench_chat.py [--url http://localhost:5005] [--limit N] [--no-stock]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bot")]

import httpx  # noqa: E402

from knowledge.evalset import EvalSet  # noqa: E402
from knowledge.search import KnowledgeBase  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402
from scripts.benchlib import latency_summary  # noqa: E402
from tests.bot.servers import (  # noqa: E402
    RASA,
    ServerError,
    rasa_url_for,
    server_env,
    tail,
    wait_until_ready,
)
from tests.support.network import free_port  # noqa: E402

GOAL_P95_MS = 250.0
GOAL_FIRST_REPLY_MS = 200.0
GOAL_P95_RATIO = 1.2  # nivel0 p95 / stock p95, at most
GOAL_THROUGHPUT_RATIO = 0.8  # nivel0 replies/s / stock replies/s, at least
#: What scripts/run_all.sh sends before it prints "nivel0 ready".
READY_WARM_UP = ("how long does a refund take?", "¿cuánto tarda el envío?")
WARM_UP_MESSAGES = ("hi", "how long does a refund take?", "hola", "¿cuánto tarda el envío?")
STOCK_TRAIN_TIMEOUT_S = 1800.0
STOCK_START_TIMEOUT_S = 300.0


@dataclass
class ChatRun:
    """One bot's figures: latencies (ms) of the timed questions, the loop's wall time, reply
    kinds, and the first replies after health and after the warm-up."""

    latencies_ms: list[float]
    wall_s: float
    kinds: Counter[str]
    first_after_health_ms: float
    first_after_ready_ms: float

    @property
    def throughput(self) -> float:
        """Replies per second, one request at a time."""
        return len(self.latencies_ms) / self.wall_s


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


def _ask(client: httpx.Client, webhook: str, text: str, language: str) -> tuple[float, Any]:
    """One message as the first of a new conversation: (latency in ms, the bot's messages)."""
    body = {
        "sender": f"bench-{uuid.uuid4().hex}",
        "message": text,
        "metadata": {"language": language},
    }
    start = time.perf_counter()
    response = client.post(webhook, json=body)
    elapsed = (time.perf_counter() - start) * 1000
    response.raise_for_status()
    return elapsed, response.json()


def bench_chat(url: str, questions: list[tuple[str, str]]) -> ChatRun:
    """Right after the servers report healthy: the ready warm-up of scripts/run_all.sh (the
    first of it timed), the first question (timed: the first reply after "ready"), more
    warm-up, then every question in turn."""
    webhook = f"{url.rstrip('/')}/webhooks/rest/webhook"
    latencies: list[float] = []
    kinds: Counter[str] = Counter()
    with httpx.Client(timeout=60.0) as client:
        ready_warm_up = [_ask(client, webhook, text, "en")[0] for text in READY_WARM_UP]
        after_health = ready_warm_up[0]
        after_ready, _ = _ask(client, webhook, *questions[0])
        for text in WARM_UP_MESSAGES:
            _ask(client, webhook, text, "en")
        started = time.perf_counter()
        for text, language in questions:
            elapsed, messages = _ask(client, webhook, text, language)
            latencies.append(elapsed)
            kinds[reply_kind(messages)] += 1
        wall = time.perf_counter() - started
    return ChatRun(latencies, wall, kinds, after_health, after_ready)


@contextmanager
def stock_bot(work_dir: Path) -> Iterator[str]:
    """A stock ``rasa init`` project in ``work_dir`` (trained there, offline) served by Rasa
    on a free port; yields its URL. Its template needs no action server."""
    project = work_dir / "stock"
    project.mkdir()
    env = server_env({})
    log_path = work_dir / "stock-init.log"
    print(f"creating and training a stock `rasa init` bot in {project} ...", file=sys.stderr)
    with log_path.open("wb") as log:
        init = subprocess.run(
            [str(RASA), "init", "--no-prompt", "--init-dir", str(project)],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=STOCK_TRAIN_TIMEOUT_S,
            check=False,
        )
    models = sorted((project / "models").glob("*.tar.gz"))
    if init.returncode != 0 or not models:
        raise ServerError(f"`rasa init` failed ({init.returncode}):\n{tail(log_path)}")
    port = free_port()
    log_path = work_dir / "stock-rasa.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *(str(RASA), "run", "--enable-api", "-m", str(models[-1])),
                *("--port", str(port), "-i", "127.0.0.1"),
            ],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, log_path, f"{url}/status", STOCK_START_TIMEOUT_S)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_summary(run: ChatRun) -> dict[str, Any]:
    return {
        "chat_reply": latency_summary(run.latencies_ms, digits=1),
        "throughput_replies_per_s": round(run.throughput, 2),
        "first_reply_after_health_ms": round(run.first_after_health_ms, 1),
        "first_reply_after_ready_ms": round(run.first_after_ready_ms, 1),
    }


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
    parser.add_argument(
        "--no-stock", dest="stock", action="store_false", help="skip the stock rasa init bot"
    )
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
        # The stock bot is trained before nivel0's servers start: training takes the cores.
        with (
            tempfile.TemporaryDirectory(prefix="bench-chat-stock-") as work_dir,
            stock_bot(Path(work_dir)) if args.stock else nullcontext() as stock_url,
        ):
            with rasa_url_for(args.url, "bench-chat-") as url:
                nivel0 = bench_chat(url, questions)
            stock = bench_chat(stock_url, questions) if stock_url else None
    except (ServerError, subprocess.TimeoutExpired) as exc:  # no model, a server did not start
        print(exc, file=sys.stderr)
        return 2
    search_ms = bench_search(questions)

    summary = run_summary(nivel0)
    report: dict[str, Any] = {
        "benchmark": "bench_chat",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "eval_set": str(args.eval_set.relative_to(ROOT)),
        "questions": len(questions),
        "servers": args.url or "started here",
        **summary,
        "search_only": latency_summary(search_ms, digits=1),
        "reply_kinds": dict(nivel0.kinds),
        "goal_p95_ms": GOAL_P95_MS,
        "goal_first_reply_after_ready_ms": GOAL_FIRST_REPLY_MS,
        "meets_goal": summary["chat_reply"]["p95_ms"] <= GOAL_P95_MS,
        "meets_first_reply_goal": summary["first_reply_after_ready_ms"] <= GOAL_FIRST_REPLY_MS,
    }
    if stock is not None:
        stock_summary = run_summary(stock)
        p95_ratio = summary["chat_reply"]["p95_ms"] / stock_summary["chat_reply"]["p95_ms"]
        throughput_ratio = nivel0.throughput / stock.throughput
        report["stock_rasa_init"] = stock_summary
        report["vs_stock"] = {
            "p95_ratio": round(p95_ratio, 3),
            "throughput_ratio": round(throughput_ratio, 3),
            "goal_p95_ratio_max": GOAL_P95_RATIO,
            "goal_throughput_ratio_min": GOAL_THROUGHPUT_RATIO,
            "meets_goal": p95_ratio <= GOAL_P95_RATIO and throughput_ratio >= GOAL_THROUGHPUT_RATIO,
        }
    report["machine"] = {"cpus": os.cpu_count(), "load_average_1_5_15": list(os.getloadavg())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
