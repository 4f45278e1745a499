"""Customers look their ticket up with number + e-mail; no way to enumerate tickets."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_status_lookup_shows_status_and_customer_messages_only(
    client: TestClient, tokens, make_ticket
) -> None:
    number = make_ticket()["number"]
    agent = tokens["agent"]
    client.post(f"/v1/tickets/{number}/claim", headers=agent)
    client.post(
        f"/v1/tickets/{number}/comments", json={"body": "nota interna: cliente VIP"}, headers=agent
    )
    client.post(
        f"/v1/tickets/{number}/comments",
        json={"body": "Hemos abierto una investigación", "visibility": "customer"},
        headers=agent,
    )

    r = client.post("/v1/status", json={"number": number, "email": "Lucia@Example.com"})
    assert r.status_code == 200
    status = r.json()
    assert status["status"] == "assigned"
    assert status["status_text"] == "Un agente se ha hecho cargo de tu solicitud."
    assert [m["body"] for m in status["messages"]] == ["Hemos abierto una investigación"]
    assert "interna" not in r.text and "transcript" not in status


def test_wrong_pair_and_missing_ticket_look_the_same(client: TestClient, make_ticket) -> None:
    number = make_ticket()["number"]
    wrong_email = client.post("/v1/status", json={"number": number, "email": "x@example.com"})
    missing = client.post(
        "/v1/status", json={"number": "T-2026-999999", "email": "lucia@example.com"}
    )
    garbage = client.post("/v1/status", json={"number": "hello", "email": "lucia@example.com"})
    assert wrong_email.status_code == missing.status_code == garbage.status_code == 404
    assert wrong_email.json() == missing.json() == garbage.json()


def test_phone_only_tickets_cannot_be_looked_up_by_email(client: TestClient, make_ticket) -> None:
    number = make_ticket(customer={"phone": "+34600123456"})["number"]
    r = client.post("/v1/status", json={"number": number, "email": ""})
    assert r.status_code == 404


def test_unstorable_text_is_rejected_not_a_server_error(client: TestClient) -> None:
    # raw JSON: a NUL character, and a lone surrogate (valid JSON escapes, not storable text)
    for raw in (
        b'{"number": "T-2026-\\u0000", "email": "a@b.es"}',
        b'{"number": "T-2026-000001", "email": "a\\ud800@b.es"}',
    ):
        response = client.post(
            "/v1/status", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, raw
