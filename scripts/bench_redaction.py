"""Benchmark (not a test): redaction time for a 1 MB transcript of card-like digits, and the
handoff service's health-check latency while such a handoff is being processed.

Before = the code as of ``--before`` (default: d89cda8, the last commit before the linear-time
rewrite; ``git archive`` unpacked in a temporary directory: its ``handoff_service/redaction.py``
loaded as a module, and the whole service started from there); after = the working tree.
Each service runs with uvicorn on a free port against a fresh SQLite database; while one large
handoff (240 customer messages of 4,000 characters) is POSTed, a second client polls
``/healthz``. Writes var/reports/bench_redaction.json.

    .venv/bin/python scripts/bench_redaction.py [--before REV | --skip-before]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from handoff_service import redaction  # noqa: E402
from scripts import bench_handoff  # noqa: E402
from scripts.bench_handoff import bot_token  # noqa: E402
from scripts.benchlib import latency_summary, machine, write_report  # noqa: E402

PYTHON = sys.executable
REPORT = "bench_redaction.json"
BEFORE = "d89cda8"  # the last commit before the linear-time redaction
MESSAGE_CHARS = 4000
MESSAGES = 240  # 240 x 4,000 characters: under the service's default 1 MB body limit
UNITS = {
    "valid_cards": "4111 1111 1111 1111 ",
    "card_like_failing_luhn": "4111 1111 1111 1112 ",
}


def messages(unit: str) -> list[str]:
    return [(unit * (MESSAGE_CHARS // len(unit)))[:MESSAGE_CHARS].strip()] * MESSAGES


@contextmanager
def committed_tree(revision: str) -> Iterator[Path]:
    """A commit's files in a temporary directory (nothing in the repository changes)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="bench_redaction_head_") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("redaction_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return round(time.perf_counter() - start, 3)


def redaction_times(redact: Callable[[str], str], texts: list[str]) -> dict[str, float]:
    return {"per_message_s": timed(lambda: [redact(text) for text in texts])}


def service_env(database_url: str, root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "HANDOFF_LOG_LEVEL": "WARNING",
        "HANDOFF_TRIAGE_MODEL_PATH": str(ROOT / "var" / "models" / "triage.joblib"),
        "PYTHONPATH": str(root),
    }


@contextmanager
def running_service(root: Path) -> Iterator[tuple[str, str]]:
    """uvicorn serving the service found in ``root``, on a fresh SQLite database: (url, token)."""
    with tempfile.TemporaryDirectory(prefix="bench_redaction_db_") as tmp:
        env = service_env(f"sqlite:///{tmp}/handoff.db", root)
        token = bot_token(env, root)
        with bench_handoff.running_service(env, workers=1, root=root) as base:
            yield base, token


def health_during_handoff(root: Path, texts: list[str]) -> dict[str, object]:
    """POST one large handoff; meanwhile, poll /healthz; their latencies."""
    body = {
        "conversation_id": f"bench-redaction-{time.time_ns()}",
        "customer": {"name": "Bench Customer", "email": "bench@example.com"},
        "language": "es",
        "transcript": [{"role": "customer", "text": text} for text in texts],
        "reason": "customer_request",
    }
    with running_service(root) as (base, token), httpx.Client(base_url=base, timeout=600) as c:
        idle = []
        for _ in range(20):
            start = time.perf_counter()
            c.get("/healthz")
            idle.append((time.perf_counter() - start) * 1000)
        outcome: dict[str, object] = {}

        def post() -> None:
            start = time.perf_counter()
            response = httpx.post(
                f"{base}/v1/handoffs",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=600,
            )
            outcome.update(status=response.status_code, seconds=time.perf_counter() - start)

        poster = threading.Thread(target=post)
        poster.start()
        busy = []
        while poster.is_alive():
            start = time.perf_counter()
            c.get("/healthz")
            busy.append((time.perf_counter() - start) * 1000)
            time.sleep(0.05)
        poster.join()
    return {
        "handoff_status": outcome["status"],
        "handoff_s": round(float(outcome["seconds"]), 3),  # type: ignore[arg-type]
        "health_idle": latency_summary(idle, qs=(50, 95)),
        "health_during_handoff": latency_summary(busy, qs=(50, 95)) if busy else None,
        "health_checks_during_handoff": len(busy),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help="the revision to compare with")
    parser.add_argument("--skip-before", action="store_true", help="only the working tree")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "var" / "reports" / "bench_redaction.json"
    )
    args = parser.parse_args()

    texts = {name: messages(unit) for name, unit in UNITS.items()}
    chars = sum(len(t) for t in texts["valid_cards"])
    results: dict[str, object] = {}
    after: dict[str, object] = {}
    for name, batch in texts.items():
        after[name] = {
            **redaction_times(redaction.redact, batch),
            "one_text_s": timed(lambda batch=batch: redaction.redact("\n".join(batch))),
            "transcript_together_s": timed(lambda batch=batch: redaction.redact_messages(batch)),
        }
    after["service"] = health_during_handoff(ROOT, texts["valid_cards"])
    results["after"] = after
    print(json.dumps({"after": after}), flush=True)
    if not args.skip_before:
        with committed_tree(args.before) as head:
            old = load_module(head / "handoff_service" / "redaction.py")
            before: dict[str, object] = {
                name: redaction_times(old.redact, batch) for name, batch in texts.items()
            }
            before["service"] = health_during_handoff(head, texts["valid_cards"])
        results["before"] = {"revision": args.before, **before}
        print(json.dumps({"before": before}), flush=True)
    report = {
        "benchmark": "redaction of a 1 MB transcript of card-like digits; /healthz meanwhile",
        "transcript": {"messages": MESSAGES, "chars": chars, "units": UNITS},
        "machine": machine(),
        "note": "per_message_s: each message redacted alone (as the schemas do); one_text_s: "
        "the transcript as one text; service: one uvicorn worker, SQLite, client on the same "
        "machine",
        **results,
    }
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
