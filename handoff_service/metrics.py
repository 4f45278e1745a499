"""Prometheus metrics, in a registry per app so that several apps (tests) can coexist."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "handoff_http_requests_total",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "handoff_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.tickets_created = Counter(
            "handoff_tickets_created_total",
            "Tickets created from handoffs, by queue.",
            ["queue"],
            registry=self.registry,
        )
        self.handoff_replays = Counter(
            "handoff_replays_total",
            "Handoffs received again for an existing conversation (idempotent replays).",
            registry=self.registry,
        )
        self.emails_sent = Counter(
            "handoff_emails_sent_total",
            "E-mails of the outbox accepted by the SMTP server, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.email_failures = Counter(
            "handoff_email_failures_total",
            "E-mail send attempts that failed, by kind and outcome (retry: tried again later; "
            "failed: refused permanently or given up).",
            ["kind", "outcome"],
            registry=self.registry,
        )
