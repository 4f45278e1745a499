"""What each e-mail says, in Spanish and English: subject with the ticket number, the due date
in words, the private link with the access key, the agent's reply, what we need, the
resolution note and the rating link; the agent notices; the HTML's safety rules."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from handoff_service.i18n import due_text
from handoff_service.mail.outbox import enqueue
from handoff_service.mail.render import render
from handoff_service.models import EmailMessage, Ticket
from handoff_service.vocabulary import EmailKind

REPLY = {
    "es": "Hemos abierto una reclamación <urgente> con el transportista.",
    "en": "We have opened an <urgent> claim with the carrier.",
}
NEED = {"es": "Una foto de la etiqueta del paquete", "en": "A photo of the parcel's label"}
NOTE = {"es": "Reenviamos el pedido sin coste.", "en": "We sent the order again at no cost."}

# kind -> words the subject must have, per language
SUBJECTS = {
    "es": {
        EmailKind.TICKET_CREATED: "Hemos recibido tu solicitud",
        EmailKind.AGENT_REPLY: "Nueva respuesta",
        EmailKind.WAITING_ON_CUSTOMER: "Necesitamos información",
        EmailKind.RESOLVED: "resuelta",
        EmailKind.REOPENED: "reabierto",
    },
    "en": {
        EmailKind.TICKET_CREATED: "We have received your request",
        EmailKind.AGENT_REPLY: "New reply",
        EmailKind.WAITING_ON_CUSTOMER: "We need information",
        EmailKind.RESOLVED: "resolved",
        EmailKind.REOPENED: "reopened",
    },
}


def every_customer_email(client: TestClient, tokens, number: str, language: str) -> None:
    """Ticket changes that send each customer kind once (the ticket already exists)."""
    agent = tokens["agent"]
    url = f"/v1/tickets/{number}"
    steps = [
        ("claim", None),
        ("start", None),
        ("comments", {"body": REPLY[language], "visibility": "customer"}),
        ("wait-on-customer", {"message": NEED[language]}),
        ("resume", None),
        ("resolve", {"resolution_note": NOTE[language]}),
        ("reopen", {"reason": "still missing"}),
    ]
    for path, payload in steps:
        response = client.post(f"{url}/{path}", json=payload, headers=agent)
        assert response.status_code in (200, 201), response.text


def rendered(app: FastAPI) -> dict[EmailKind, tuple[EmailMessage, Ticket, str, str, str]]:
    ctx = app.state.ctx
    out = {}
    with ctx.sessions() as session:
        for row in session.scalars(select(EmailMessage).order_by(EmailMessage.id)):
            subject, text, html = render(ctx.settings, ctx.timezone, row)
            out[EmailKind(row.kind)] = (row, row.ticket, subject, text, html)
        session.expunge_all()
    return out


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_customer_email_in_the_ticket_language(
    app: FastAPI, client: TestClient, tokens, make_ticket, language: str
) -> None:
    ctx = app.state.ctx
    number = make_ticket(language=language)["number"]
    every_customer_email(client, tokens, number, language)
    emails = rendered(app)
    assert set(emails) == set(SUBJECTS[language])

    for kind, (row, ticket, subject, text, html) in emails.items():
        page = f"{ctx.settings.public_url}/t/{ticket.access_key}"
        assert subject.startswith(f"[{number}] ") and SUBJECTS[language][kind] in subject
        assert page in text and f'href="{page}' in html
        assert f'<html lang="{language}">' in html
        assert "Lucía" in text
        assert row.language == language

    def part(kind: EmailKind) -> tuple[str, str]:
        return emails[kind][3], emails[kind][4]

    row, ticket, *_ = emails[EmailKind.TICKET_CREATED]
    text, html = part(EmailKind.TICKET_CREATED)
    due = due_text(ticket.due_at, language, ctx.timezone, now=row.created_at)
    assert due in text and due in html
    assert ("Qué pasará ahora" if language == "es" else "What happens next") in text

    text, html = part(EmailKind.AGENT_REPLY)
    assert f"> {REPLY[language]}" in text
    assert REPLY[language].replace("<", "&lt;").replace(">", "&gt;") in html
    assert "<urgent>" not in html and "<urgente>" not in html

    text, html = part(EmailKind.WAITING_ON_CUSTOMER)
    assert NEED[language] in text and NEED[language].replace("'", "&#39;") in html
    assert ("contesta a este correo" if language == "es" else "reply to this e-mail") in text

    row, ticket, *_ = emails[EmailKind.RESOLVED]
    text, html = part(EmailKind.RESOLVED)
    assert NOTE[language] in text and NOTE[language] in html
    rating = f"{ctx.settings.public_url}/t/{ticket.access_key}#rating"
    assert rating in text and f'href="{rating}"' in html
    assert f"{ctx.settings.reopen_days} " + ("días" if language == "es" else "days") in text

    text, _html = part(EmailKind.REOPENED)
    assert ("Volvemos a trabajar" if language == "es" else "working on your request again") in (
        text
    )


def test_html_is_self_contained(app: FastAPI, client: TestClient, tokens, make_ticket) -> None:
    number = make_ticket()["number"]
    every_customer_email(client, tokens, number, "es")
    for _row, _ticket, _subject, _text, html in rendered(app).values():
        assert html.startswith("<!DOCTYPE html>")
        assert not re.search(r"<(script|link|img|style|iframe)\b", html)
        assert "src=" not in html and "url(" not in html
        assert "<h1" in html and "<main" in html


def test_waiting_without_a_message_points_to_the_page(
    app: FastAPI, client: TestClient, tokens, make_ticket
) -> None:
    number = make_ticket(language="en")["number"]
    for path in ("claim", "start", "wait-on-customer"):
        assert client.post(f"/v1/tickets/{number}/{path}", headers=tokens["agent"]).is_success
    _row, _ticket, _subject, text, html = rendered(app)[EmailKind.WAITING_ON_CUSTOMER]
    assert "You will find the details on your request's page." in text
    assert "What we need" not in text and "What we need" not in html


@pytest.mark.parametrize("kind", [EmailKind.DUE_SOON, EmailKind.OVERDUE])
def test_agent_notices(app: FastAPI, make_ticket, kind: EmailKind) -> None:
    ctx = app.state.ctx
    number = make_ticket(language="es")["number"]
    with ctx.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        enqueue(ticket, kind, "ana@example.com", None)
        session.flush()
        row = ticket.emails[-1]
        subject, text, html = render(ctx.settings, ctx.timezone, row)
        queue = ticket.queue
        session.rollback()
    console = f"{ctx.settings.public_url}/console/tickets/{number}"
    assert subject.startswith(f"[{number}] ")
    assert ("Overdue" if kind is EmailKind.OVERDUE else "Due soon") in subject
    assert queue in subject and queue in text
    assert console in text and f'href="{console}"' in html
    assert '<html lang="en">' in html
