"""Customers look their ticket up with number + e-mail; no way to enumerate tickets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from handoff_service.models import Ticket


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


# --- the private page's link: only for the bot, only for the ticket's own chat sender -------

SENDER = "web-4f2a9c"


def reply(client: TestClient, tokens, number: str, body: str) -> None:
    """The agent writes to the customer (a customer-visible comment)."""
    response = client.post(
        f"/v1/tickets/{number}/comments",
        json={"body": body, "visibility": "customer"},
        headers=tokens["agent"],
    )
    assert response.status_code == 201, response.text


def access_key(session_factory, number: str) -> str:
    with session_factory() as session:
        return session.scalars(select(Ticket.access_key).where(Ticket.number == number)).one()


def updates(client: TestClient, tokens, sender: str = SENDER):
    return client.get("/v1/handoffs/updates", params={"sender": sender}, headers=tokens["bot"])


def test_status_lookup_shows_the_latest_reply_but_never_the_link(
    client: TestClient, tokens, make_ticket, session_factory
) -> None:
    number = make_ticket(conversation_id=f"{SENDER}:1764000000")["number"]
    client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent"])
    reply(client, tokens, number, "Hemos pedido el justificante a la transportista.")
    latest = "La transportista confirma la pérdida: enviamos otro."
    reply(client, tokens, number, latest)

    r = client.post("/v1/status", json={"number": number, "email": "lucia@example.com"})
    assert r.status_code == 200
    assert r.json()["messages"][-1]["body"] == latest
    assert access_key(session_factory, number) not in r.text
    assert "/t/" not in r.text and "page_url" not in r.json()
    # Number and e-mail can be guessed: looking the status up does not mark replies as read.
    assert updates(client, tokens).json()["unread_replies"] == 2


def test_updates_need_the_bot_token(client: TestClient, tokens, make_ticket) -> None:
    make_ticket(conversation_id=f"{SENDER}:1764000000")
    url = "/v1/handoffs/updates"
    assert client.get(url, params={"sender": SENDER}).status_code == 401
    assert client.get(url, params={"sender": SENDER}, headers=tokens["agent"]).status_code == 403
    seen = {"sender": SENDER, "number": "T-2026-000001", "through": "2026-01-01T00:00:00Z"}
    assert client.post(f"{url}/seen", json=seen).status_code == 401
    assert client.post(f"{url}/seen", json=seen, headers=tokens["agent"]).status_code == 403


def test_updates_give_the_sender_their_ticket_with_the_link(
    client: TestClient, tokens, make_ticket, session_factory, settings
) -> None:
    number = make_ticket(conversation_id=f"{SENDER}:1764000000", language="en")["number"]
    r = updates(client, tokens)
    assert r.status_code == 200
    assert r.json() == {
        "number": number,
        "status": "new",
        "status_text": r.json()["status_text"],
        "language": "en",
        "unread_replies": 0,
        "latest_reply": None,
        "page_url": f"{settings.public_url}/t/{access_key(session_factory, number)}",
    }
    assert r.json()["status_text"]

    client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent"])
    reply(client, tokens, number, "We have asked the carrier for the proof of delivery.")
    reply(client, tokens, number, "The carrier lost it: we are sending a new one.")
    for _ in range(2):  # asking is not reading: the replies stay unread
        body = updates(client, tokens).json()
        assert body["unread_replies"] == 2
        assert body["latest_reply"]["body"] == "The carrier lost it: we are sending a new one."


@pytest.mark.parametrize(
    "other_sender",
    [
        "web-4f2a9",  # a prefix of the sender id
        "web-4f2a9c:17640",  # a prefix of the conversation id
        "web_4f2a9c",  # "_" is not a wildcard
        "web-4f2a9c:1764000000:1",
        "web-other",
    ],
)
def test_updates_give_another_sender_nothing(
    client: TestClient, tokens, make_ticket, session_factory, other_sender: str
) -> None:
    number = make_ticket(conversation_id=f"{SENDER}:1764000000")["number"]
    reply_text = "Hemos recibido tu devolución."
    client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent"])
    reply(client, tokens, number, reply_text)

    r = updates(client, tokens, other_sender)
    assert r.status_code == 404
    assert number not in r.text and reply_text not in r.text
    assert access_key(session_factory, number) not in r.text
    latest = updates(client, tokens).json()["latest_reply"]
    seen = {"sender": other_sender, "number": number, "through": latest["created_at"]}
    r = client.post("/v1/handoffs/updates/seen", json=seen, headers=tokens["bot"])
    assert r.status_code == 404
    assert updates(client, tokens).json()["unread_replies"] == 1


def test_updates_follow_the_newest_open_ticket_of_the_sender(
    client: TestClient, tokens, make_ticket
) -> None:
    older = make_ticket(conversation_id=f"{SENDER}:1764000000")["number"]
    newer = make_ticket(conversation_id=f"{SENDER}:1764900000")["number"]
    make_ticket(conversation_id="web-someone-else:1765000000")
    assert updates(client, tokens).json()["number"] == newer

    agent = tokens["agent"]
    client.post(f"/v1/tickets/{newer}/claim", headers=agent)
    resolved = client.post(
        f"/v1/tickets/{newer}/resolve", json={"resolution_note": "Solved."}, headers=agent
    )
    assert resolved.status_code == 200, resolved.text
    assert updates(client, tokens).json()["number"] == older  # resolved tickets are not open

    client.post(f"/v1/tickets/{older}/claim", headers=agent)
    client.post(f"/v1/tickets/{older}/resolve", json={"resolution_note": "Ok."}, headers=agent)
    assert updates(client, tokens).status_code == 404


def test_replies_the_bot_showed_are_seen_later_ones_are_not(
    client: TestClient, tokens, make_ticket
) -> None:
    number = make_ticket(conversation_id=f"{SENDER}:1764000000")["number"]
    client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent"])
    reply(client, tokens, number, "Primera respuesta.")
    reply(client, tokens, number, "Segunda respuesta.")
    shown = updates(client, tokens).json()["latest_reply"]

    seen = {"sender": SENDER, "number": number, "through": shown["created_at"]}
    r = client.post("/v1/handoffs/updates/seen", json=seen, headers=tokens["bot"])
    assert r.status_code == 204
    assert updates(client, tokens).json()["unread_replies"] == 0

    reply(client, tokens, number, "Tercera respuesta.")
    body = updates(client, tokens).json()
    assert (body["unread_replies"], body["latest_reply"]["body"]) == (1, "Tercera respuesta.")
    # Marking an older moment again does not make read replies unread, nor the new one read.
    r = client.post("/v1/handoffs/updates/seen", json=seen, headers=tokens["bot"])
    assert r.status_code == 204
    assert updates(client, tokens).json()["unread_replies"] == 1
    # Another ticket number than the sender's open one is not theirs to mark.
    other = {**seen, "number": make_ticket()["number"]}
    r = client.post("/v1/handoffs/updates/seen", json=other, headers=tokens["bot"])
    assert r.status_code == 404
