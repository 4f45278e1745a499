"""Creating tickets from handoffs: content, numbering, idempotency (also concurrent), input
validation and redaction before storage."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from handoff_service.models import Ticket
from handoff_service.schemas import MAX_MESSAGE_CHARS, MAX_TRANSCRIPT_MESSAGES, HandoffIn
from handoff_service.tickets import create_from_handoff
from tests.handoff.conftest import handoff_payload


def test_handoff_creates_a_triaged_ticket_with_the_context(client: TestClient, tokens) -> None:
    payload = handoff_payload()
    response = client.post("/v1/handoffs", json=payload, headers=tokens["bot"])

    assert response.status_code == 201, response.text
    number = response.json()["number"]
    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert re.fullmatch(r"T-\d{4}-\d{6}", ticket["number"])
    assert ticket["conversation_id"] == payload["conversation_id"]
    assert ticket["status"] == "new" and ticket["tier"] == 1
    assert ticket["customer_email"] == "lucia@example.com"
    assert ticket["order_number"] == "VT-88123"
    assert ticket["language"] == "es" and ticket["channel"] == "web"
    assert [m["text"] for m in ticket["transcript"]] == [m["text"] for m in payload["transcript"]]
    assert ticket["intent_ranking"][0] == {"name": "shipping_not_received", "confidence": 0.62}
    assert ticket["kb_articles"][0]["feedback"] == "not_helpful"
    assert ticket["reason"] == "customer_request"
    # generated five-second summary: reason, top intent, customer's words, KB shown
    assert "shipping_not_received" in ticket["summary"]
    assert "no he recibido nada" in ticket["summary"]
    assert "shipping-not-received-es (no útil)" in ticket["summary"]
    # triage happened at creation
    assert ticket["category"] in {"shipping", "orders"}
    assert 0 < ticket["category_confidence"] <= 1
    assert ticket["priority"] in {"low", "normal", "high", "urgent"}
    assert ticket["request_type"] in {
        "peticion",
        "queja",
        "reclamo",
        "consulta",
        "sugerencia",
        "solicitud",
    }
    assert ticket["queue"] and ticket["routing_rule"]
    assert ticket["due_at"] > ticket["created_at"]

    events = client.get(f"/v1/tickets/{ticket['number']}/events", headers=tokens["agent"]).json()
    assert [e["kind"] for e in events] == ["created", "triaged"]
    assert events[0]["actor"] == "bot"
    assert events[1]["data"]["rule"] == ticket["routing_rule"]


def test_bot_summary_is_kept_when_given(client: TestClient, tokens) -> None:
    payload = handoff_payload(summary="Paquete marcado entregado, no recibido; VT-88123")
    number = client.post("/v1/handoffs", json=payload, headers=tokens["bot"]).json()["number"]
    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert ticket["summary"] == "Paquete marcado entregado, no recibido; VT-88123"


def test_ticket_numbers_are_unique_and_sequential(client: TestClient, tokens) -> None:
    numbers = [
        client.post("/v1/handoffs", json=handoff_payload(), headers=tokens["bot"]).json()["number"]
        for _ in range(3)
    ]
    sequence = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert sequence == [sequence[0], sequence[0] + 1, sequence[0] + 2]


def test_same_conversation_twice_gives_the_same_ticket(client: TestClient, tokens) -> None:
    payload = handoff_payload()
    first = client.post("/v1/handoffs", json=payload, headers=tokens["bot"])
    second = client.post("/v1/handoffs", json=payload, headers=tokens["bot"])
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["number"] == second.json()["number"]


def test_concurrent_handoffs_of_one_conversation_create_one_ticket(
    client: TestClient, tokens, app, session_factory
) -> None:
    payload = handoff_payload()

    def post(_: int):  # type: ignore[no-untyped-def]
        return client.post("/v1/handoffs", json=payload, headers=tokens["bot"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(8)))

    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["number"] for r in responses}) == 1
    with session_factory() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.conversation_id == payload["conversation_id"])
        )
    assert count == 1


def test_racing_creators_in_the_service_layer_agree(app, client, session_factory) -> None:
    """Both transactions pass the 'does it exist?' check; the unique constraint decides."""
    handoff = HandoffIn.model_validate(handoff_payload())
    ctx = app.state.ctx

    def create(_: int):  # type: ignore[no-untyped-def]
        with session_factory() as session:
            ticket, created = create_from_handoff(ctx, session, handoff, actor="bot")
            return ticket.number, created

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(create, range(6)))
    assert len({number for number, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_concurrent_distinct_handoffs_get_distinct_numbers(client: TestClient, tokens) -> None:
    def post(_: int) -> str:
        response = client.post("/v1/handoffs", json=handoff_payload(), headers=tokens["bot"])
        assert response.status_code == 201, response.text
        return response.json()["number"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(post, range(16)))
    assert len(set(numbers)) == 16


def test_card_numbers_and_ids_are_redacted_before_storage(
    client: TestClient, tokens, session_factory
) -> None:
    transcript = [
        {
            "role": "customer",
            "text": "Me cobraron dos veces en la tarjeta 4111 1111 1111 1111, mi DNI es 12345678Z",
        },
    ]
    ticket = client.post(
        "/v1/handoffs", json=handoff_payload(transcript=transcript), headers=tokens["bot"]
    ).json()
    with session_factory() as session:
        stored = session.scalars(select(Ticket).where(Ticket.number == ticket["number"])).one()
    text = stored.transcript[0]["text"]
    assert "4111 1111 1111 1111" not in text and "12345678Z" not in text
    assert "[card ****1111]" in text and "[national ID]" in text
    assert "4111 1111 1111 1111" not in stored.summary


def test_a_way_to_reach_the_customer_is_required(client: TestClient, tokens) -> None:
    payload = handoff_payload(customer={"name": "Sin contacto"})
    response = client.post("/v1/handoffs", json=payload, headers=tokens["bot"])
    assert response.status_code == 422
    assert "e-mail or a phone" in response.text

    phone_only = handoff_payload(customer={"phone": "+34 600 123 456"})
    assert client.post("/v1/handoffs", json=phone_only, headers=tokens["bot"]).status_code == 201


def test_malformed_handoffs_get_clear_4xx(client: TestClient, tokens) -> None:
    bot = tokens["bot"]
    cases = {
        "no customer message": handoff_payload(transcript=[{"role": "bot", "text": "Hola"}]),
        "unknown language": handoff_payload(language="fr"),
        "unknown reason": handoff_payload(reason="bored"),
        "confidence above 1": handoff_payload(intent_ranking=[{"name": "x", "confidence": 1.5}]),
        "message too long": handoff_payload(
            transcript=[{"role": "customer", "text": "a" * (MAX_MESSAGE_CHARS + 1)}]
        ),
        "too many messages": handoff_payload(
            transcript=[{"role": "customer", "text": "hola"}] * (MAX_TRANSCRIPT_MESSAGES + 1)
        ),
        "NUL byte": handoff_payload(transcript=[{"role": "customer", "text": "a\x00b"}]),
        "bad e-mail": handoff_payload(customer={"email": "not-an-email"}),
        "unknown field": handoff_payload(priority="urgent"),
        "bad conversation id": handoff_payload(conversation_id="has spaces/and slashes"),
    }
    for name, payload in cases.items():
        response = client.post("/v1/handoffs", json=payload, headers=bot)
        assert response.status_code == 422, name
        assert response.json()["detail"], name

    broken_json = client.post(
        "/v1/handoffs",
        content=b'{"conversation_id": ',
        headers={**bot, "content-type": "application/json"},
    )
    assert broken_json.status_code == 422


def test_oversized_body_is_rejected_with_413(client: TestClient, tokens) -> None:
    huge = handoff_payload(summary="x" * 300_000)  # settings.max_body_bytes = 200_000 in tests
    response = client.post("/v1/handoffs", json=huge, headers=tokens["bot"])
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_handoffs_need_a_service_or_admin_token(client: TestClient, tokens) -> None:
    payload = handoff_payload()
    assert client.post("/v1/handoffs", json=payload).status_code == 401
    bad = {"Authorization": "Bearer n0h_not-a-real-token"}
    assert client.post("/v1/handoffs", json=payload, headers=bad).status_code == 401
    assert client.post("/v1/handoffs", json=payload, headers=tokens["agent"]).status_code == 403
