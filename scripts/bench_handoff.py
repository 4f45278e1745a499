"""Benchmark (not a test): handoff creation latency and throughput, SQLite and PostgreSQL.

For each backend: a fresh database (a new SQLite file; a new PostgreSQL database on
127.0.0.1:5432, dropped afterwards), a service token from the CLI, uvicorn on a free port,
then N handoffs POSTed by C concurrent httpx clients. Writes p50/p95/p99 latency (percentiles:
:mod:`scripts.benchlib`) and tickets/second to var/reports/bench_handoff.json. Goal: p95 <= 50 ms.

    .venv/bin/python scripts/bench_handoff.py [--requests 1000] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from scripts.benchlib import latency_summary, machine, write_report  # noqa: E402

PYTHON = sys.executable
DATA = ROOT / "handoff_service" / "triage" / "data" / "labelled_requests.csv"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
GOAL_P95_MS = 50.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench_handoff_") as tmp:
        yield f"sqlite:///{tmp}/handoff.db"


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"nivel0_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "HANDOFF_LOG_LEVEL": "WARNING",
        # no e-mail: no sender at work during the measurement, no listener on a shared port
        "HANDOFF_EMAIL_WORKER": "false",
        "HANDOFF_INBOUND_SMTP_PORT": "off",
        "HANDOFF_TRIAGE_MODEL_PATH": str(ROOT / "var" / "models" / "triage.joblib"),
        "PYTHONPATH": str(ROOT),
    }


def cli_token(env: dict[str, str], *args: str, root: Path = ROOT) -> str:
    """The token a ``handoff_service.cli`` command (of the service found in ``root``) prints."""
    out = subprocess.run(
        [PYTHON, "-m", "handoff_service.cli", *args],
        env=env,
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def bot_token(env: dict[str, str], root: Path = ROOT) -> str:
    """A new service token, made by the CLI of the service found in ``root``."""
    return cli_token(env, "create-token", "bench-bot", "--role", "service", root=root)


@contextmanager
def running_service(env: dict[str, str], workers: int, root: Path = ROOT) -> Iterator[str]:
    """uvicorn serving the service found in ``root`` until the block ends; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "--factory",
            "handoff_service.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=root,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError("the service exited during startup")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not become healthy within 120 s")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def payloads(count: int) -> list[dict[str, object]]:
    with DATA.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    run = secrets.token_hex(4)
    result = []
    for i in range(count):
        row = rows[i % len(rows)]
        result.append(
            {
                "conversation_id": f"bench-{run}-{i}",
                "customer": {
                    "name": "Bench Customer",
                    "email": f"c{i}@example.com",
                    "order_number": f"VT-{100000 + i}",
                },
                "language": row["language"],
                "channel": "web",
                "transcript": [
                    {"role": "customer", "text": row["text"]},
                    {
                        "role": "bot",
                        "text": "Te paso con un agente."
                        if row["language"] == "es"
                        else "Let me get you an agent.",
                    },
                    {
                        "role": "customer",
                        "text": "ok, gracias" if row["language"] == "es" else "ok",
                    },
                ],
                "intent_ranking": [{"name": f"{row['category']}_question", "confidence": 0.41}],
                "kb_articles": [{"article_id": "order-status-en", "feedback": "not_helpful"}],
                "reason": "low_confidence",
            }
        )
    return result


async def load(
    base: str, token: str, bodies: list[dict[str, object]], concurrency: int
) -> tuple[list[float], int, float]:
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}

    async def client_task() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                response = await client.post("/v1/handoffs", json=body)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 201:
                    errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(client_task() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


def bench_backend(name: str, database: str, args: argparse.Namespace) -> dict[str, object]:
    env = service_env(database)
    token = bot_token(env)  # also runs the migrations on the fresh database
    with running_service(env, args.workers) as base:
        asyncio.run(load(base, token, payloads(args.warmup), args.concurrency))  # warm-up
        latencies, errors, elapsed = asyncio.run(
            load(base, token, payloads(args.requests), args.concurrency)
        )
    ms = [x * 1000 for x in latencies]
    result = {
        "backend": name,
        "requests": len(ms),
        "errors": errors,
        "concurrency": args.concurrency,
        "server_workers": args.workers,
        **latency_summary(ms, qs=(50, 95, 99)),
        "tickets_per_s": round((len(ms) - errors) / elapsed, 1),
    }
    result["p95_goal_met"] = result["p95_ms"] <= GOAL_P95_MS
    print(json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "bench_handoff.json")
    args = parser.parse_args()

    databases = {"sqlite": sqlite_database, "postgres": postgres_database}
    results = []
    for name in args.backends.split(","):
        with databases[name]() as database:
            results.append(bench_backend(name, database, args))
    report = {
        "benchmark": "POST /v1/handoffs (ticket creation incl. triage), fresh database",
        "goal": f"p95 <= {GOAL_P95_MS} ms",
        "machine": machine(),
        "note": "client and server share the machine's cores",
        "results": results,
    }
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
