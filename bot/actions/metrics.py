"""Prometheus metrics of the action server, served at its ``GET /metrics`` (on
``NIVEL0_BIND``, like ``/health``; scrape it from the same host or through the proxy).

- ``nivel0_action_duration_seconds{action}``: time to answer Rasa's call for one action
  (the knowledge-base search included), a histogram;
- ``nivel0_action_failures_total{action}``: calls answered with a server error;
- ``nivel0_search_band_total{band,language}``: what the search decided for customer questions
  (answer, clarify, fallback);
- ``nivel0_outbox_rows{kind,state}`` and ``nivel0_outbox_events_pending``: the outbox's depth,
  read from its file at scrape time (the outbox worker runs in another process), so rows stuck
  ``failed`` or a growing backlog while the handoff service is down are visible.

docs/grafana-dashboard.json has panels for these and for the handoff service's metrics.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, raw

from actions.settings import get_settings

REGISTRY = CollectorRegistry()
ACTION_SECONDS = Histogram(
    "nivel0_action_duration_seconds",
    "Time to answer one action call of Rasa, by action.",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
ACTION_FAILURES = Counter(
    "nivel0_action_failures_total",
    "Action calls answered with a server error, by action.",
    ["action"],
    registry=REGISTRY,
)
SEARCH_BANDS = Counter(
    "nivel0_search_band_total",
    "Search decisions for customer questions, by band and language.",
    ["band", "language"],
    registry=REGISTRY,
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class OutboxCollector(Collector):
    """The outbox's rows by kind and state, and its pending events, counted at scrape time."""

    def collect(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "nivel0_outbox_rows", "Outbox rows by kind and state.", labels=["kind", "state"]
        )
        events = GaugeMetricFamily(
            "nivel0_outbox_events_pending", "Conversation events waiting to be delivered."
        )
        path = get_settings().outbox_path
        if path.exists():
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
                query = "SELECT kind, state, count(*) FROM outbox_rows GROUP BY kind, state"
                for kind, state, count in conn.execute(query):
                    rows.add_metric([kind, state], count)
                events.add_metric(
                    [], conn.execute("SELECT count(*) FROM outbox_events").fetchone()[0]
                )
        yield rows
        yield events


REGISTRY.register(OutboxCollector())


def _action_of(request: Request) -> str:
    """The action Rasa asked for (``next_action`` of the call's JSON), else ``unknown``."""
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    name = body.get("next_action") if isinstance(body, dict) else None
    return name if isinstance(name, str) and len(name) <= 100 else "unknown"


def attach(app: Sanic) -> None:
    """Time every ``/webhook`` call by the action it runs, and serve ``/metrics``."""

    @app.on_request
    async def start_timer(request: Request) -> None:
        request.ctx.started = time.perf_counter()

    @app.on_response
    async def observe(request: Request, response: HTTPResponse) -> None:
        started = getattr(request.ctx, "started", None)
        if not request.path.startswith("/webhook") or response.status == 401 or started is None:
            return
        ACTION_SECONDS.labels(_action_of(request)).observe(time.perf_counter() - started)
        if response.status >= 500:
            ACTION_FAILURES.labels(_action_of(request)).inc()

    @app.get("/metrics")
    async def metrics(_request: Request) -> HTTPResponse:
        return raw(generate_latest(REGISTRY), content_type=CONTENT_TYPE)
