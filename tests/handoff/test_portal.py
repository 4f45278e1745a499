"""The customer's private ticket page (/t/<key>), on SQLite and PostgreSQL: what it shows,
its forms, its 404, its headers, and its side in the agents' console."""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from handoff_service import tickets
from handoff_service.i18n import PORTAL, PORTAL_NOT_FOUND
from handoff_service.models import SatisfactionRating, Ticket, TicketEvent
from handoff_service.portal.views import SECURITY_HEADERS
from tests.handoff.test_console import act, bearer, login

CARD = "4111 1111 1111 1111"
ES, EN = PORTAL["es"], PORTAL["en"]


def key_of(session_factory, number: str) -> str:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalars(select(Ticket.access_key).where(Ticket.number == number)).one()


def api(client: TestClient, tokens, number: str, action: str, **body: object):  # type: ignore[no-untyped-def]
    response = client.post(
        f"/v1/tickets/{number}/{action}", json=body or None, headers=tokens["agent"]
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def resolved_ticket(client: TestClient, tokens, make_ticket, **overrides: object) -> dict:  # type: ignore[no-untyped-def]
    ticket = make_ticket(**overrides)
    api(client, tokens, ticket["number"], "claim")
    api(client, tokens, ticket["number"], "resolve", resolution_note="Enviamos un reemplazo.")
    return ticket


def text_of(page: str) -> str:
    """The page's text, tags removed and entities decoded (for 'never appears' checks)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def console(app: FastAPI, tokens: dict[str, dict[str, str]]) -> TestClient:
    """A cookie-keeping client logged in to the console as the agent ana."""
    browser = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    assert login(browser, bearer(tokens["agent"])).status_code == 303
    return browser


# --- what the page shows ------------------------------------------------------------------


def test_page_shows_the_conversation_the_customer_may_see_and_nothing_else(
    client: TestClient, tokens, make_ticket, session_factory
):
    ticket = make_ticket()
    number = ticket["number"]
    client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent2"])
    client.post(
        f"/v1/tickets/{number}/comments",
        json={"body": "NOTA-INTERNA: cliente con historial de abusos", "visibility": "internal"},
        headers=tokens["agent2"],
    )
    client.post(
        f"/v1/tickets/{number}/comments",
        json={"body": "Hemos pedido el justificante a la transportista.", "visibility": "customer"},
        headers=tokens["agent2"],
    )
    key = key_of(session_factory, number)

    page = client.get(f"/t/{key}")
    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    text = text_of(page.text)
    assert ES["title"].format(number=number) in text
    assert "Un agente se ha hecho cargo de tu solicitud." in text  # STATUS_TEXT, assigned
    assert "como tarde el" in text  # the due date in words while open
    # the chat, then the agent's reply, in that order
    chat = text.index("el seguimiento dice entregado pero no he recibido nada")
    reply = text.index("Hemos pedido el justificante a la transportista.")
    assert chat < reply
    assert ES["from_agent"] in text and ES["from_bot"] in text
    # never: internal notes, the agent's name, triage or routing
    assert "NOTA-INTERNA" not in page.text
    assert "bruno" not in page.text
    stored = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    for private in (stored["queue"], stored["routing_rule"], stored["conversation_id"]):
        assert private not in page.text


def test_both_languages_render_their_texts_and_the_switch_keeps_the_choice(
    client: TestClient, make_ticket, session_factory
):
    spanish = key_of(session_factory, make_ticket()["number"])
    english_ticket = make_ticket(
        language="en",
        transcript=[
            {
                "role": "customer",
                "text": "My parcel never arrived",
                "timestamp": "2026-11-28T13:05:00+00:00",
            }
        ],
    )
    english = key_of(session_factory, english_ticket["number"])

    page = client.get(f"/t/{spanish}").text
    assert '<html lang="es">' in page and ES["reply_heading"] in page
    assert 'href="?lang=en"' in page  # the visible switch
    switched = client.get(f"/t/{spanish}?lang=en").text
    assert '<html lang="en">' in switched
    assert EN["reply_heading"] in switched and ES["reply_heading"] not in switched
    assert f"/t/{spanish}/reply?lang=en" in switched  # the form keeps the language

    page = client.get(f"/t/{english}").text
    assert '<html lang="en">' in page
    assert EN["title"].format(number=english_ticket["number"]) in page
    assert "no later than" in page and "Received: an agent will pick it up soon." in page
    # message times in words, in the organisation's time zone (Europe/Madrid: UTC+1)
    assert '<time datetime="2026-11-28T13:05:00+00:00">Saturday 28 November, 14:05</time>' in page
    assert client.get(f"/t/{english}?lang=fr").text == page  # unknown language: the ticket's


def test_every_wrong_key_gets_the_same_404_page_in_both_languages(
    client: TestClient, make_ticket, session_factory
):
    key_of(session_factory, make_ticket()["number"])  # a ticket exists
    wrong = [
        secrets.token_urlsafe(32),  # the right shape
        "short",
        "x" * 200,
        "%00%ff",
        "a.b-c",
        "Z" * 42 + "!",
    ]
    pages = [client.get(f"/t/{key}") for key in wrong]
    pages += [
        client.post(f"/t/{wrong[0]}/{form}", data={"body": "hola"})
        for form in ("reply", "rating", "reopen")
    ]
    assert {page.status_code for page in pages} == {404}
    assert len({page.text for page in pages}) == 1
    body = pages[0].text
    for texts in PORTAL_NOT_FOUND.values():
        assert html.escape(texts["title"]) in body and texts["text"] in text_of(body)
    assert wrong[0] not in body


def test_security_headers_on_every_portal_response(
    client: TestClient, make_ticket, session_factory, app: FastAPI
):
    key = key_of(session_factory, make_ticket()["number"])
    responses = [
        client.get(f"/t/{key}"),
        client.get(f"/t/{secrets.token_urlsafe(32)}"),
        client.post(f"/t/{key}/reply", data={"body": "Gracias"}, follow_redirects=False),
        client.post(f"/t/{key}/reply", data={"body": ""}),
    ]
    assert [r.status_code for r in responses] == [200, 404, 303, 422]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.status_code, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # the help centre's own stylesheet, served as it is (no copy)
    css = client.get("/t-static/help/site.css")
    assert css.status_code == 200 and "Voltia sample site and help centre" in css.text
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/t-static/portal/portal.css").status_code == 200
    # HTML routes stay out of the API description
    assert not [path for path in app.openapi()["paths"] if path.startswith("/t")]


# --- replying -----------------------------------------------------------------------------


def test_a_reply_resumes_a_waiting_ticket_and_reaches_the_agent(
    client: TestClient, tokens, make_ticket, session_factory, console: TestClient
):
    number = make_ticket()["number"]
    api(client, tokens, number, "claim")
    api(client, tokens, number, "start")
    api(client, tokens, number, "wait-on-customer")
    key = key_of(session_factory, number)

    response = client.post(
        f"/t/{key}/reply",
        data={"body": "El paquete lo recogió mi vecino del 3º."},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/t/{key}?lang=es&done=reply"
    page = client.get(response.headers["location"]).text
    assert f'role="status">{ES["reply_done"]}' in page
    assert "El paquete lo recogió mi vecino del 3º." in text_of(page)
    assert ES["via_page"] in page

    stored = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert stored["status"] == "in_progress"
    events = client.get(f"/v1/tickets/{number}/events", headers=tokens["agent"]).json()
    replies = [e for e in events if e["kind"] == "customer_reply"]
    assert [(e["actor"], e["data"]) for e in replies] == [
        (tickets.CUSTOMER, {"body": "El paquete lo recogió mi vecino del 3º.", "via": "page"})
    ]
    assert events[-1]["kind"] == "resume" and events[-1]["actor"] == tickets.CUSTOMER

    history = console.get(f"/console/tickets/{number}").text
    assert "from the customer, private page" in history
    assert "<blockquote" in history and "El paquete lo recogió mi vecino del 3º." in history


def test_a_reply_is_redacted_before_it_is_stored(client: TestClient, make_ticket, session_factory):
    number = make_ticket()["number"]
    key = key_of(session_factory, number)
    response = client.post(f"/t/{key}/reply", data={"body": f"Mi tarjeta es {CARD}, cóbrame"})
    assert response.status_code == 200  # followed the redirect
    assert CARD not in response.text
    with session_factory() as session:
        bodies = session.scalars(
            select(TicketEvent.data).join(Ticket).where(Ticket.number == number)
        ).all()
    stored = repr(bodies)
    assert "1111" in stored  # the redaction marker keeps the last digits
    assert CARD not in stored and CARD.replace(" ", "") not in stored


def test_a_refused_reply_keeps_the_text_and_ties_the_error_to_the_field(
    client: TestClient, make_ticket, session_factory
):
    number = make_ticket()["number"]
    key = key_of(session_factory, number)
    long_text = "Muy largo " * 1001
    response = client.post(f"/t/{key}/reply", data={"body": long_text})
    assert response.status_code == 422
    assert long_text.strip() in html.unescape(response.text)
    assert 'aria-describedby="reply-hint reply-error" aria-invalid="true"' in response.text
    assert ES["error_too_long"].format(max=10000) in response.text

    empty = client.post(f"/t/{key}/reply", data={"body": "   "})
    assert empty.status_code == 422 and ES["error_required"] in empty.text

    unreadable = client.post(
        f"/t/{key}/reply", content=b"body=%ff", headers={"content-type": "text/plain"}
    )
    assert unreadable.status_code == 400 and ES["error_form"] in unreadable.text

    events = client.get(f"/t/{key}")  # nothing was stored
    assert "Muy largo" not in events.text


def test_a_resolved_ticket_cannot_be_written_to_before_reopening(
    client: TestClient, tokens, make_ticket, session_factory
):
    number = resolved_ticket(client, tokens, make_ticket)["number"]
    key = key_of(session_factory, number)
    page = client.get(f"/t/{key}").text
    assert 'id="reply-body"' not in page  # no reply form, the reopen form instead
    response = client.post(f"/t/{key}/reply", data={"body": "Sigue sin llegar"})
    assert response.status_code == 409
    assert ES["reply_reopen_first"] in response.text
    # kept for the customer as the reason to reopen with, not stored
    assert re.search(r'id="reopen-reason"[^>]*>Sigue sin llegar</textarea>', response.text)
    events = client.get(f"/v1/tickets/{number}/events", headers=tokens["agent"]).json()
    assert "customer_reply" not in {e["kind"] for e in events}


# --- after resolution: rating and reopening -----------------------------------------------


def test_rating_a_resolved_ticket_is_stored_and_the_latest_is_shown(
    client: TestClient, tokens, make_ticket, session_factory, console: TestClient
):
    number = resolved_ticket(client, tokens, make_ticket)["number"]
    key = key_of(session_factory, number)
    page = client.get(f"/t/{key}").text
    assert ES["resolution"] in page and "Enviamos un reemplazo." in page
    assert "como tarde el" not in page  # no due date once resolved
    for n in range(1, 6):
        assert f'value="{n}"' in page and ES[f"rating_{n}"] in page

    refused = client.post(f"/t/{key}/rating", data={"rating": "7", "comment": "¡genial!"})
    assert refused.status_code == 422
    assert ES["error_rating"] in refused.text and "¡genial!" in html.unescape(refused.text)

    done = client.post(
        f"/t/{key}/rating",
        data={"rating": "4", "comment": f"Rápido, pero pagué con {CARD}"},
        follow_redirects=False,
    )
    assert done.headers["location"] == f"/t/{key}?lang=es&done=rating"
    page = client.get(done.headers["location"]).text
    assert ES["rating_done"] in page and ES["rating_thanks"] in page
    assert ES["rating_yours"].format(rating=4) in page
    assert client.post(f"/t/{key}/rating", data={"rating": "5"}).status_code == 200
    page = client.get(f"/t/{key}").text
    assert ES["rating_yours"].format(rating=5) in page

    with session_factory() as session:
        rows = session.scalars(
            select(SatisfactionRating).join(Ticket).where(Ticket.number == number)
        ).all()
        assert [(r.rating, r.comment is None) for r in rows] == [(4, False), (5, True)]
        assert CARD not in (rows[0].comment or "") and "Rápido" in (rows[0].comment or "")

    summary = console.get(f"/console/tickets/{number}").text
    assert "<strong>5 / 5</strong>" in summary and "latest of 2 ratings" in summary


def test_reopening_works_within_the_window_and_is_refused_after_it(
    client: TestClient, tokens, make_ticket, session_factory, app: FastAPI
):
    number = resolved_ticket(client, tokens, make_ticket)["number"]
    key = key_of(session_factory, number)
    assert ES["reopen_button"] in client.get(f"/t/{key}").text

    empty = client.post(f"/t/{key}/reopen", data={"reason": ""})
    assert empty.status_code == 422 and ES["error_reason"].format(max=2000) in empty.text

    response = client.post(
        f"/t/{key}/reopen",
        data={"reason": "El reemplazo tampoco ha llegado"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/t/{key}?lang=es&done=reopen"
    stored = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert stored["status"] == "assigned" and stored["resolved_at"] is None
    events = client.get(f"/v1/tickets/{number}/events", headers=tokens["agent"]).json()
    assert (events[-1]["kind"], events[-1]["actor"]) == ("reopen", tickets.CUSTOMER)
    assert events[-1]["data"]["reason"] == "El reemplazo tampoco ha llegado"
    assert 'id="reply-body"' in client.get(f"/t/{key}").text  # open again: the reply form

    # resolved again, then the window passes
    api(client, tokens, number, "resolve", resolution_note="Reembolsado.")
    days = app.state.ctx.settings.reopen_days
    with session_factory() as session:
        session.execute(
            update(Ticket)
            .where(Ticket.number == number)
            .values(resolved_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days, minutes=1))
        )
        session.commit()
    page = client.get(f"/t/{key}").text
    assert ES["reopen_expired"] in html.unescape(page) and ES["reopen_button"] not in page
    refused = client.post(f"/t/{key}/reopen", data={"reason": "Otra vez"})
    assert refused.status_code == 409 and ES["reopen_expired"] in html.unescape(refused.text)
    stored = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert stored["status"] == "resolved"


# --- reading and the link -----------------------------------------------------------------


def test_visiting_the_page_marks_the_replies_read(
    client: TestClient, tokens, make_ticket, session_factory, console: TestClient
):
    number = make_ticket()["number"]
    api(client, tokens, number, "claim")
    api(
        client,
        tokens,
        number,
        "comments",
        body="¿Puedes enviarnos una foto?",
        visibility="customer",
    )
    key = key_of(session_factory, number)

    def unread() -> int:
        with session_factory() as session:
            return len(tickets.unread_replies(tickets.get_ticket(session, number)))

    assert unread() == 1
    assert "1 reply to the customer not seen yet" in console.get(f"/console/tickets/{number}").text
    first = client.get(f"/t/{key}").text
    assert f'<span class="badge-new">{ES["new_message"]}</span>' in first
    assert unread() == 0
    assert "badge-new" not in client.get(f"/t/{key}").text
    summary = console.get(f"/console/tickets/{number}").text
    assert "Yes: last visit" in summary
    assert f"/t/{key}" in summary  # the link an agent can paste


def test_rotating_the_link_from_the_console_retires_the_old_one(
    client: TestClient, make_ticket, session_factory, console: TestClient
):
    number = make_ticket()["number"]
    old = key_of(session_factory, number)
    assert client.get(f"/t/{old}").status_code == 200

    page = act(console, number, "rotate-link")
    assert page.status_code == 200
    new = key_of(session_factory, number)
    assert new != old
    assert "the old page link and reply addresses no longer work" in page.text
    assert f"/t/{new}" in page.text and f"/t/{old}" not in page.text
    assert "access key rotated" in page.text  # in the history

    gone = client.get(f"/t/{old}")
    assert gone.status_code == 404
    assert gone.text == client.get(f"/t/{secrets.token_urlsafe(32)}").text
    assert client.post(f"/t/{old}/reply", data={"body": "hola"}).status_code == 404
    assert client.get(f"/t/{new}").status_code == 200

    forged = console.post(f"/console/tickets/{number}/rotate-link", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert key_of(session_factory, number) == new


def test_the_page_texts_exist_in_both_languages():
    assert PORTAL["es"].keys() == PORTAL["en"].keys()
    assert PORTAL_NOT_FOUND["es"].keys() == PORTAL_NOT_FOUND["en"].keys()
    for texts in PORTAL.values():
        assert all(value.strip() for value in texts.values())
