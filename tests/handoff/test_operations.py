"""Health check, Prometheus metrics, OpenAPI docs."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_reports_the_database(client: TestClient, db_url: str) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": db_url.split(":")[0].split("+")[0]}


def test_metrics_count_requests_and_tickets_by_queue(client: TestClient, make_ticket) -> None:
    queue = make_ticket()["queue"]
    body = client.get("/metrics").text
    assert f'handoff_tickets_created_total{{queue="{queue}"}}' in body
    assert 'handoff_http_requests_total{method="POST",route="/v1/handoffs",status="201"}' in body
    assert "handoff_http_request_duration_seconds_bucket" in body


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/handoffs", "/v1/tickets", "/v1/status", "/healthz"} <= set(paths)
