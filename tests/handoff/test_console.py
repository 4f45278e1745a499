"""The agents' web console (/console) through its forms, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select, update

from handoff_service.console.filters import duration, event_value
from handoff_service.console.session import SESSION_COOKIE
from handoff_service.models import ApiToken, ConsoleSession, Ticket, utcnow

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def browser(client: TestClient, app: FastAPI) -> TestClient:
    """A cookie-keeping client on https (the session cookie is Secure by default)."""
    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False)


def login(browser: TestClient, token: str, next_url: str | None = None):  # type: ignore[no-untyped-def]
    page = browser.get("/console/login")
    form = {"login_token": LOGIN_TOKEN.search(page.text)[1], "token": token}
    if next_url:
        form["next"] = next_url
    return browser.post("/console/login", data=form, follow_redirects=False)


@pytest.fixture
def agent(browser: TestClient, tokens: dict[str, dict[str, str]]) -> TestClient:
    """``browser`` logged in as the agent ana."""
    response = login(browser, bearer(tokens["agent"]))
    assert response.status_code == 303
    return browser


def csrf_of(browser: TestClient, path: str = "/console/") -> str:
    return CSRF.search(browser.get(path).text)[1]


def act(browser: TestClient, number: str, action: str, **fields: str):  # type: ignore[no-untyped-def]
    """Post an action form as the page would, and follow the redirect back to the ticket."""
    path = f"/console/tickets/{number}"
    data = {"csrf_token": csrf_of(browser, path), **fields}
    return browser.post(f"{path}/{action}", data=data)


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+" role="\w+">([^<]*)</p>', html)


def api_ticket(client: TestClient, tokens, number: str) -> dict:  # type: ignore[no-untyped-def]
    return client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()


# --- login -------------------------------------------------------------------------------


def test_logged_out_requests_are_sent_to_the_login_page(browser: TestClient, make_ticket):
    number = make_ticket()["number"]
    for path in ("/console/", f"/console/tickets/{number}", "/console/?status=new"):
        response = browser.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=%2Fconsole%2F")
    response = browser.post(
        f"/console/tickets/{number}/claim", data={"csrf_token": "x"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
    assert browser.get(f"/v1/tickets/{number}").status_code == 401  # the API is unaffected


def test_login_with_an_agent_token_opens_a_server_side_session(
    browser: TestClient, tokens, session_factory
):
    token = bearer(tokens["agent"])
    response = login(browser, token, next_url="/console/?language=es")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/?language=es"
    cookie = next(
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith(f"{SESSION_COOKIE}=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "path"} <= attributes
    assert "SameSite=strict" in cookie and "Path=/console" in cookie
    session_id = browser.cookies[SESSION_COOKIE]
    assert token not in cookie and session_id != token
    with session_factory() as session:
        stored = session.scalars(select(ConsoleSession)).one()
        assert stored.session_hash != session_id  # only the digest is stored
    page = browser.get("/console/")
    assert page.status_code == 200
    assert "Signed in as <strong>ana</strong>" in page.text
    # Logged in, the login page forwards to the queue.
    assert browser.get("/console/login", follow_redirects=False).status_code == 303


def test_open_redirects_after_login_are_refused(browser: TestClient, tokens):
    response = login(browser, bearer(tokens["agent"]), next_url="https://evil.example/")
    assert response.headers["location"] == "/console/"


@pytest.mark.parametrize("token", ["n0h_not-a-real-token", "x" * 500])
def test_a_bad_token_is_refused_without_a_session(browser: TestClient, tokens, token: str):
    response = login(browser, token)
    assert response.status_code == 401
    assert "Unknown or revoked token." in flashes(response.text)
    assert SESSION_COOKIE not in browser.cookies
    assert browser.get("/console/", follow_redirects=False).status_code == 303


def test_the_bot_token_cannot_log_in(browser: TestClient, tokens):
    response = login(browser, bearer(tokens["bot"]))
    assert response.status_code == 403
    assert "This console is for agents" in response.text
    assert SESSION_COOKIE not in browser.cookies


def test_login_needs_the_token_from_the_login_page(browser: TestClient, tokens):
    """A login form posted from elsewhere (login CSRF) lacks the double-submit token."""
    response = browser.post(
        "/console/login",
        data={"token": bearer(tokens["agent"]), "login_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in browser.cookies


def test_logout_ends_the_session_on_the_server(agent: TestClient, app: FastAPI):
    session_id = agent.cookies[SESSION_COOKIE]
    response = agent.post(
        "/console/logout", data={"csrf_token": csrf_of(agent)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    replay = TestClient(app, base_url="https://testserver", cookies={SESSION_COOKIE: session_id})
    assert replay.get("/console/", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_the_console_session(agent: TestClient, session_factory):
    assert agent.get("/console/", follow_redirects=False).status_code == 200
    with session_factory() as session:
        session.execute(update(ApiToken).values(revoked_at=utcnow()))
        session.commit()
    assert agent.get("/console/", follow_redirects=False).status_code == 303


# --- the queue ---------------------------------------------------------------------------


def test_queue_is_sorted_by_due_date_and_shows_what_an_agent_needs(
    agent: TestClient, make_ticket, session_factory
):
    later = make_ticket(language="es")["number"]
    overdue = make_ticket(
        language="en",
        transcript=[{"role": "customer", "text": "My invoice shows the wrong tax number"}],
    )["number"]
    soon = make_ticket()["number"]
    now = utcnow()
    due = {
        later: now + dt.timedelta(days=3, hours=2),
        overdue: now - dt.timedelta(hours=5),
        soon: now + dt.timedelta(hours=4, minutes=30),
    }
    with session_factory() as session:
        for number, due_at in due.items():
            session.execute(update(Ticket).where(Ticket.number == number).values(due_at=due_at))
        session.commit()

    page = agent.get("/console/")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="([^"]*)" data-number="([^"]+)">(.*?)</tr>', page.text, re.S)
    assert [number for _cls, number, _ in rows] == [overdue, soon, later]
    classes = {number: cls for cls, number, _ in rows}
    assert classes[overdue] == "overdue" and classes[soon] == classes[later] == ""
    cells = {number: body for _cls, number, body in rows}
    assert "overdue by 5 h" in cells[overdue]
    assert "4 h 29 min left" in cells[soon] or "4 h 30 min left" in cells[soon]
    assert "3 d 2 h left" in cells[later] or "3 d 1 h left" in cells[later]
    assert "en · English" in cells[overdue] and "es · Español" in cells[later]
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == later)).one()
        assert f"priority-{ticket.priority}" in cells[later]
        assert f"<td>{ticket.category}</td>" in cells[later]

    english = agent.get("/console/?language=en&status=new")
    numbers = re.findall(r'data-number="([^"]+)"', english.text)
    assert numbers == [overdue]
    assert '<option value="en" selected>' in english.text


def test_an_invalid_filter_is_explained_not_a_crash(agent: TestClient, make_ticket):
    make_ticket()
    for query in ("tier=9", "status=lost", "queue=Not%20A%20Queue", "offset=-1"):
        page = agent.get(f"/console/?{query}")
        assert page.status_code == 400
        assert any(text.startswith("Invalid filter:") for text in flashes(page.text))
        assert "data-number=" not in page.text


# --- the ticket page ---------------------------------------------------------------------


def test_ticket_page_shows_summary_first_then_context_and_escapes_everything(
    agent: TestClient, make_ticket
):
    ticket = make_ticket(
        customer={"name": "<b>Eve</b>", "email": "eve@example.com", "phone": "+34 600 111 222"},
        transcript=[
            {"role": "customer", "text": "Mi pedido <script>alert(1)</script> no llega"},
            {"role": "bot", "text": "Lo siento, revisa el seguimiento."},
            {"role": "customer", "text": "Ya lo hice, quiero una persona"},
        ],
        kb_articles=[
            {"article_id": "shipping-not-received-es", "feedback": "not_helpful"},
            {"article_id": "order-status-es", "title": "Estado del pedido", "feedback": "helpful"},
        ],
    )
    page = agent.get(f"/console/tickets/{ticket['number']}")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert(1)</script>" not in html and "<b>Eve</b>" not in html
    assert "Mi pedido &lt;script&gt;alert(1)&lt;/script&gt; no llega" in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html

    assert f'<p class="summary" lang="es">{escape(ticket["summary"])}</p>' in html
    order = [
        '<p class="summary"',
        'id="customer-h"',
        "+34 600 111 222",
        'id="transcript-h"',
        "Ya lo hice, quiero una persona",
        'id="kb-h"',
        "feedback-not_helpful",
        'id="triage-h"',
        'id="history-h"',
        'id="actions-h"',
    ]
    positions = [html.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "Español (es)" in html
    assert '<ol class="transcript" lang="es">' in html
    assert "not helpful" in html and "Estado del pedido" in html
    assert 'href="http://localhost:8080/help/es/order-status"' in html
    category_pct = f"{ticket['category_confidence'] * 100:.0f} %"
    priority_pct = f"{ticket['priority_confidence'] * 100:.0f} %"
    assert f"{ticket['category']} <meter" in html and category_pct in html
    assert priority_pct in html
    assert "shipping_not_received — 62 %" in html
    assert "triaged" in html and "created" in html  # history
    # A new ticket offers claim and escalate, not resolve/close/reopen/KB draft.
    assert "/claim" in html and "/escalate" in html
    for absent in ("/resolve", "/close", "/reopen", "/kb-draft"):
        assert absent not in html
    assert 'for="escalate-reason"' in html and 'for="comment-body"' in html


def test_unknown_ticket_is_a_404_page(agent: TestClient):
    for number in ("T-2026-999999", "nonsense", "T-2026-1%3Cb%3E"):
        page = agent.get(f"/console/tickets/{number}")
        assert page.status_code == 404
        assert "There is no ticket" in page.text and "<b>" not in page.text


# --- actions -----------------------------------------------------------------------------


def test_the_whole_lifecycle_through_the_forms(
    agent: TestClient, client: TestClient, tokens, make_ticket, kb_dir: Path
):
    number = make_ticket()["number"]

    page = act(agent, number, "claim")
    assert page.status_code == 200 and page.url.path == f"/console/tickets/{number}"
    assert "Claimed: the ticket is assigned to you." in flashes(page.text)
    assert api_ticket(client, tokens, number)["assignee"] == "ana"
    assert "Claimed" not in act(agent, number, "start").text  # a flash is shown once

    page = act(agent, number, "comment", body="Checked with the carrier", visibility="internal")
    assert "Internal note added." in flashes(page.text)
    page = act(
        agent,
        number,
        "comment",
        body="Hemos abierto una investigación. Tarjeta 4111 1111 1111 1111",
        visibility="customer",
    )
    assert "Reply added: it is e-mailed to the customer and shown on their private page." in (
        flashes(page.text)
    )
    events = client.get(f"/v1/tickets/{number}/events", headers=tokens["agent"]).json()
    comments = [e["data"] for e in events if e["kind"] == "comment"]
    assert [c["visibility"] for c in comments] == ["internal", "customer"]
    assert "4111 1111 1111 1111" not in comments[1]["body"]  # redacted like the API does
    assert "4111 1111 1111 1111" not in page.text

    page = act(agent, number, "wait-on-customer")
    assert "Now waiting on the customer." in flashes(page.text)
    assert "Work resumed." in flashes(act(agent, number, "resume").text)

    page = act(agent, number, "change", priority="urgent", queue="billing")
    assert "Now urgent priority in queue billing." in flashes(page.text)
    changed = api_ticket(client, tokens, number)
    assert (changed["priority"], changed["queue"]) == ("urgent", "billing")
    page = act(agent, number, "change", priority="urgent", queue="billing")
    assert flashes(page.text) == ["Nothing to change: priority and queue are as they were."]

    page = act(agent, number, "escalate", tier="2", reason="   ")
    assert any(text.startswith("reason:") for text in flashes(page.text))
    assert api_ticket(client, tokens, number)["tier"] == 1
    page = act(agent, number, "escalate", tier="2", reason="Needs the carrier claim team")
    assert "Escalated to tier 2." in flashes(page.text)
    escalated = api_ticket(client, tokens, number)
    assert (escalated["tier"], escalated["status"], escalated["assignee"]) == (2, "new", None)
    assert 'value="2"' not in page.text.split('id="escalate-tier"')[1].split("</select>")[0]

    act(agent, number, "claim")
    page = act(agent, number, "resolve", resolution_note="")
    assert any(text.startswith("resolution note:") for text in flashes(page.text))
    assert api_ticket(client, tokens, number)["status"] == "assigned"
    page = act(
        agent, number, "resolve", resolution_note="Carrier confirmed loss; replacement sent."
    )
    assert "Resolved." in flashes(page.text)
    assert "Carrier confirmed loss; replacement sent." in page.text
    assert api_ticket(client, tokens, number)["status"] == "resolved"

    page = act(
        agent,
        number,
        "kb-draft",
        title="Package marked delivered but not received",
        category="shipping",
        questions="Dice entregado pero no lo tengo\n\nEl pedido no ha llegado\n",
        tags="shipping, carrier",
    )
    (message,) = flashes(page.text)
    assert message.startswith("KB draft written to ")
    drafts = list((kb_dir / "es").glob("*.md"))
    assert len(drafts) == 1 and "status: draft" in drafts[0].read_text(encoding="utf-8")

    assert "Closed." in flashes(act(agent, number, "close").text)
    page = act(agent, number, "reopen", reason="Customer wrote back: wrong item")
    assert "Reopened." in flashes(page.text)
    assert api_ticket(client, tokens, number)["status"] == "assigned"


def test_a_refused_transition_shows_the_409_message(
    agent: TestClient, client: TestClient, tokens, make_ticket
):
    number = make_ticket()["number"]
    api = client.post(f"/v1/tickets/{number}/close", headers=tokens["agent"])
    assert api.status_code == 409
    page = act(agent, number, "close")
    assert page.status_code == 200
    assert flashes(page.text) == [api.json()["detail"]]
    assert api.json()["detail"] == "cannot close a ticket that is new; allowed from: resolved"

    # Another agent claimed it meanwhile: the second claim is refused on the page.
    assert client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent2"]).status_code == 200
    page = act(agent, number, "claim")
    assert flashes(page.text) == ["cannot claim a ticket that is assigned; allowed from: new"]
    page = act(agent, number, "kb-draft")
    assert flashes(page.text) == [
        "only resolved or closed tickets can become KB articles; this one is assigned"
    ]
    assert api_ticket(client, tokens, number)["assignee"] == "bruno"


def test_forms_without_the_session_csrf_token_are_rejected(
    agent: TestClient, client: TestClient, tokens, make_ticket
):
    number = make_ticket()["number"]
    for data in ({"body": "no token"}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        response = agent.post(f"/console/tickets/{number}/claim", data=data)
        assert response.status_code == 403
        assert "did not come from your console session" in response.text
    response = agent.post("/console/logout", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert api_ticket(client, tokens, number)["status"] == "new"
    assert agent.get("/console/").status_code == 200  # still logged in


def test_malformed_posts_get_an_error_page(agent: TestClient, make_ticket):
    number = make_ticket()["number"]
    path = f"/console/tickets/{number}"
    csrf = csrf_of(agent, path)
    response = agent.post(f"{path}/claim", json={"csrf_token": csrf})
    assert response.status_code == 415
    response = agent.post(
        f"{path}/claim",
        content=b"csrf_token=" + csrf.encode() + b"&x=%ff",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    response = agent.post(f"{path}/explode", data={"csrf_token": csrf})
    assert response.status_code == 404
    page = act(agent, number, "escalate", tier="7", reason="Card 4111 1111 1111 1111 <b>")
    assert any(text.startswith("tier:") for text in flashes(page.text))


def test_a_refused_form_is_refilled_with_what_was_typed(agent: TestClient, make_ticket):
    number = make_ticket()["number"]
    page = act(agent, number, "escalate", tier="7", reason="Card 4111 1111 1111 1111 <b>")
    assert any(text.startswith("tier:") for text in flashes(page.text))
    reason = page.text.split('id="escalate-reason"')[1].split("</textarea>")[0]
    assert "Card " in reason and "&lt;b&gt;" in reason
    assert "4111 1111 1111 1111" not in reason and "1111" in reason  # redacted, last 4 kept
    page = act(agent, number, "comment", body="Nota\x07 importante", visibility="customer")
    assert any(text.startswith("body:") for text in flashes(page.text))
    assert "Nota\x07 importante</textarea>" in page.text
    assert 'value="customer" checked' in page.text
    page = agent.get(f"/console/tickets/{number}")  # shown once
    assert flashes(page.text) == []
    assert 'name="body" rows="4" required maxlength="10000"></textarea>' in page.text


def test_login_page_warns_when_the_secure_cookie_cannot_stick(client: TestClient):
    """Served over plain http to a non-local host, a Secure cookie would be dropped."""
    page = client.get("/console/login")  # http://testserver
    assert "HANDOFF_CONSOLE_SECURE_COOKIE=false" in page.text


def test_history_details_read_naturally():
    madrid = ZoneInfo("Europe/Madrid")
    assert event_value("category_confidence", 0.427, madrid) == "43 %"
    assert event_value("due_at", "2026-11-30T22:59:59+00:00", madrid) == "Mon 30 Nov 2026 23:59"
    assert event_value("due_at", "soon", madrid) == "soon"
    assert event_value("to_tier", 2, madrid) == "2"


def test_durations_read_naturally():
    assert duration(0) == "less than a minute"
    assert duration(59 * 60) == "59 min"
    assert duration(2 * 3600 + 5 * 60) == "2 h 5 min"
    assert duration(3 * 86_400 + 7 * 3600 + 59) == "3 d 7 h"
