"""What the service exposes, and to whom (issue 13, "Exposure"): the bot's view of a handoff,
e-mail addresses that could rewrite a mailto link, queues nobody watches, KB drafts, the API
docs and metrics, and tokens that expire and are revoked one by one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update

from handoff_service import auth, cli
from handoff_service.kb_drafts import MAX_DRAFTS_PER_TICKET
from handoff_service.main import create_app
from handoff_service.models import Account, ApiToken, Ticket, utcnow
from handoff_service.settings import Settings
from tests.handoff.conftest import handoff_payload
from tests.handoff.test_console import act, bearer, flashes, login

HOSTILE_EMAIL = "x?bcc=attacker%40evil.example@example.com"


@pytest.fixture
def agent(client: TestClient, app: FastAPI, tokens: dict[str, dict[str, str]]) -> TestClient:
    """A console browser (https: the session cookie is Secure) logged in as the agent ana."""
    browser = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    assert login(browser, bearer(tokens["agent"])).status_code == 303
    return browser


# --- the bot's view of a handoff -------------------------------------------------------


def test_the_bot_gets_number_queue_status_and_due_date_only(client: TestClient, tokens) -> None:
    """Replaying a conversation id with the service token must not read the ticket."""
    payload = handoff_payload()
    first = client.post("/v1/handoffs", json=payload, headers=tokens["bot"])
    replay = client.post("/v1/handoffs", json=payload, headers=tokens["bot"])

    assert (first.status_code, replay.status_code) == (201, 200)
    for response, created in ((first, True), (replay, False)):
        body = response.json()
        assert set(body) == {"number", "queue", "status", "due_at", "created"}
        assert body["created"] is created and body["status"] == "new"
        assert "lucia@example.com" not in response.text and "seguimiento" not in response.text
    assert replay.json() == {**first.json(), "created": False}
    # agents still read the whole ticket
    ticket = client.get(f"/v1/tickets/{first.json()['number']}", headers=tokens["agent"]).json()
    assert ticket["customer_email"] == "lucia@example.com"
    assert ticket["queue"] == first.json()["queue"] and ticket["due_at"] == first.json()["due_at"]


# --- e-mail addresses and the console's mailto link ------------------------------------


@pytest.mark.parametrize(
    "address",
    [HOSTILE_EMAIL, "a&cc=b@example.com", "a=b@example.com", "a%40b@example.com", "a@x.com?cc"],
)
def test_an_email_address_with_url_syntax_is_refused(
    client: TestClient, tokens, address: str
) -> None:
    payload = handoff_payload(customer={"name": "Eve", "email": address})
    response = client.post("/v1/handoffs", json=payload, headers=tokens["bot"])
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "customer", "email"]


def test_the_console_mailto_link_carries_only_the_address(
    agent: TestClient, make_ticket, session_factory
) -> None:
    """An address stored before the check (or by any other way in) stays one recipient."""
    number = make_ticket()["number"]
    with session_factory() as session:
        session.execute(
            update(Ticket).where(Ticket.number == number).values(customer_email=HOSTILE_EMAIL)
        )
        session.commit()
    page = agent.get(f"/console/tickets/{number}")
    assert page.status_code == 200
    assert 'href="mailto:x%3Fbcc%3Dattacker%2540evil.example@example.com"' in page.text
    assert "mailto:x?bcc" not in page.text


# --- queues ------------------------------------------------------------------------------


def test_a_ticket_moves_only_to_a_configured_queue(
    client: TestClient, tokens, make_ticket, app: FastAPI
) -> None:
    configured = sorted({rule.queue for rule in app.state.ctx.rules.rules})
    ticket = make_ticket()
    url = f"/v1/tickets/{ticket['number']}"
    agent = tokens["agent"]

    for response in (
        client.patch(url, json={"queue": "nobody-watches"}, headers=agent),
        client.post(
            f"{url}/escalate",
            json={"tier": 2, "reason": "para el equipo", "queue": "nobody-watches"},
            headers=agent,
        ),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["queues"] == configured
        assert "nobody-watches" in response.json()["detail"]
    after = client.get(url, headers=agent).json()
    assert (after["queue"], after["tier"]) == (ticket["queue"], 1)

    other = next(q for q in configured if q != ticket["queue"])
    assert client.patch(url, json={"queue": other}, headers=agent).json()["queue"] == other


def test_the_console_refuses_an_unknown_queue(
    agent: TestClient, client: TestClient, tokens, make_ticket
) -> None:
    ticket = make_ticket()
    number = ticket["number"]
    page = act(agent, number, "change", priority=ticket["priority"], queue="nobody-watches")
    (message,) = flashes(page.text)
    assert "unknown queue &#39;nobody-watches&#39;" in message and "general" in message
    page = act(agent, number, "escalate", tier="2", reason="x", queue="nobody-watches")
    assert "unknown queue" in flashes(page.text)[0]
    after = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert (after["queue"], after["tier"]) == (ticket["queue"], 1)


# --- KB drafts ---------------------------------------------------------------------------


def _resolved(client: TestClient, tokens, make_ticket) -> str:  # type: ignore[no-untyped-def]
    number = make_ticket()["number"]
    client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent"])
    client.post(
        f"/v1/tickets/{number}/resolve",
        json={"resolution_note": "Reenviamos el pedido tras investigar con el transportista."},
        headers=tokens["agent"],
    )
    return number


QUESTIONS = ["Dice entregado pero no lo tengo", "El pedido no ha llegado"]


def test_kb_drafts_per_ticket_are_bounded_and_paths_stay_relative(
    client: TestClient, tokens, make_ticket, kb_dir: Path
) -> None:
    number = _resolved(client, tokens, make_ticket)
    url = f"/v1/tickets/{number}/kb-article"
    for attempt in range(MAX_DRAFTS_PER_TICKET):
        body = {
            "title": f"Entregado pero no recibido {attempt}",
            "category": "shipping",
            "questions": QUESTIONS,
        }
        response = client.post(url, json=body, headers=tokens["agent"])
        assert response.status_code == 201, response.text
        draft = response.json()
        assert draft["path"] == f"es/{draft['topic']}.md"
        assert (kb_dir / draft["path"]).is_file()

    body = {"title": "Otra más", "category": "shipping", "questions": QUESTIONS}
    refused = client.post(url, json=body, headers=tokens["agent"])
    assert refused.status_code == 409 and str(MAX_DRAFTS_PER_TICKET) in refused.json()["detail"]
    assert len(list(kb_dir.rglob("*.md"))) == MAX_DRAFTS_PER_TICKET

    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"])
    events = client.get(f"/v1/tickets/{number}/events", headers=tokens["agent"])
    assert ticket.json()["kb_draft_path"] == draft["path"]
    for response in (ticket, events):
        assert str(kb_dir) not in response.text


def test_the_console_names_the_draft_relative_to_the_kb(
    agent: TestClient, client: TestClient, tokens, make_ticket, kb_dir: Path
) -> None:
    number = _resolved(client, tokens, make_ticket)
    page = act(
        agent,
        number,
        "kb-draft",
        title="Entregado pero no recibido",
        category="shipping",
        questions="\n".join(QUESTIONS),
    )
    (message,) = flashes(page.text)
    assert message.startswith("KB draft written to es/entregado-pero-no-recibido.md ")
    assert str(kb_dir) not in page.text


# --- API docs and metrics ----------------------------------------------------------------


@pytest.fixture
def configured_app(settings: Settings, client: TestClient) -> Iterator[object]:
    """Another app on the test database with some settings changed: ``configured_app(**kw)``
    returns a client for it."""
    apps: list[FastAPI] = []

    def build(**changes: object) -> TestClient:
        application = create_app(settings.model_copy(update=changes))
        apps.append(application)
        return TestClient(application, raise_server_exceptions=False)

    yield build
    for application in apps:
        application.state.ctx.engine.dispose()


DOCS = ("/docs", "/redoc", "/openapi.json")


def test_the_api_docs_can_be_turned_off(client: TestClient, configured_app) -> None:
    assert [client.get(path).status_code for path in DOCS] == [200, 200, 200]
    closed = configured_app(docs_enabled=False)
    assert [closed.get(path).status_code for path in DOCS] == [404, 404, 404]
    assert closed.get("/healthz").status_code == 200


def test_metrics_need_the_metrics_token_when_one_is_set(
    client: TestClient, configured_app, tokens
) -> None:
    assert client.get("/metrics").status_code == 200  # unset: open, as before
    guarded = configured_app(metrics_token=SecretStr("s3cret-metrics"))
    for headers in ({}, {"Authorization": "Bearer wrong"}, tokens["admin"]):
        response = guarded.get("/metrics", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
        assert "handoff_http_requests_total" not in response.text
    ok = guarded.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert ok.status_code == 200 and "handoff_http_requests_total" in ok.text


# --- tokens ------------------------------------------------------------------------------


def _expire(session_factory, token_id: int) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        past = utcnow() - dt.timedelta(seconds=1)
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(expires_at=past))
        session.commit()


def test_an_expired_token_is_refused_in_the_api_and_the_console(
    client: TestClient, app: FastAPI, tokens, session_factory
) -> None:
    made = client.post(
        "/v1/admin/accounts",
        json={"name": "carla", "role": "agent"},
        headers=tokens["admin"],
    ).json()
    account_id = made["account"]["id"]
    response = client.post(
        f"/v1/admin/accounts/{account_id}/tokens?expires_days=30", headers=tokens["admin"]
    )
    assert response.status_code == 201, response.text
    issued = response.json()
    expires = dt.datetime.fromisoformat(issued["expires_at"])
    assert dt.timedelta(days=29) < expires - utcnow() <= dt.timedelta(days=30)
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/v1/tickets", headers=headers).status_code == 200
    browser = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    assert login(browser, issued["token"]).status_code == 303
    assert browser.get("/console/", follow_redirects=False).status_code == 200

    _expire(session_factory, issued["token_id"])
    assert client.get("/v1/tickets", headers=headers).status_code == 401
    assert browser.get("/console/", follow_redirects=False).status_code == 303  # to the login
    # the account's first token never expires
    forever = {"Authorization": f"Bearer {made['token']}"}
    assert client.get("/v1/tickets", headers=forever).status_code == 200


def test_admins_list_tokens_by_prefix_and_revoke_one_by_id(
    client: TestClient, tokens, session_factory
) -> None:
    agent_id = next(
        a["id"]
        for a in client.get("/v1/admin/accounts", headers=tokens["admin"]).json()
        if a["name"] == "ana"
    )
    second = client.post(f"/v1/admin/accounts/{agent_id}/tokens", headers=tokens["admin"]).json()

    response = client.get("/v1/admin/tokens", headers=tokens["admin"])
    assert response.status_code == 200
    listed = response.json()
    assert [t["account"] for t in listed] == ["admin", "ana", "bruno", "bot", "ana"]
    assert all(t["usable"] and t["revoked_at"] is None for t in listed)
    with session_factory() as session:
        hashes = session.scalars(select(ApiToken.token_hash)).all()
    for secret in [*hashes, second["token"], bearer(tokens["agent"])]:
        assert secret not in response.text
    assert (listed[-1]["id"], listed[-1]["prefix"]) == (second["token_id"], second["token"][:10])
    assert listed[-1]["expires_at"] is None
    assert client.get("/v1/admin/tokens", headers=tokens["agent"]).status_code == 403

    first_id = listed[1]["id"]
    assert client.delete(f"/v1/admin/tokens/{first_id}", headers=tokens["admin"]).status_code == 204
    assert client.get("/v1/tickets", headers=tokens["agent"]).status_code == 401
    other = {"Authorization": f"Bearer {second['token']}"}
    assert client.get("/v1/tickets", headers=other).status_code == 200
    after = {t["id"]: t for t in client.get("/v1/admin/tokens", headers=tokens["admin"]).json()}
    assert after[first_id]["revoked_at"] is not None and not after[first_id]["usable"]
    assert client.delete("/v1/admin/tokens/999999", headers=tokens["admin"]).status_code == 404


def test_the_cli_creates_expiring_tokens_lists_and_revokes_them(
    client: TestClient, settings: Settings, session_factory, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert cli.main(["create-token", "dora", "--expires-days", "7"]) == 0
    token = capsys.readouterr().out.strip()
    with session_factory() as session:
        account = session.scalars(select(Account).where(Account.name == "dora")).one()
        _forever, other = auth.issue_token(session, account)
        session.commit()
        row = auth.find_token(session, token)
        assert row is not None and row.expires_at is not None
        assert dt.timedelta(days=6) < row.expires_at - utcnow() <= dt.timedelta(days=7)
        token_id = row.id
        digest = row.token_hash

    assert cli.main(["list-tokens"]) == 0
    listing = capsys.readouterr().out
    line = next(entry for entry in listing.splitlines() if entry.startswith(f"{token_id}\t"))
    assert "dora" in line and token[:10] in line and "active" in line and "never" not in line
    assert token not in listing and other not in listing and digest not in listing

    assert cli.main(["revoke-token", str(token_id)]) == 0
    assert "revoked" in capsys.readouterr().out
    with session_factory() as session:
        assert auth.find_token(session, token) is None
        assert auth.find_token(session, other) is not None
    assert cli.main(["list-tokens"]) == 0
    assert "revoked" in next(
        entry for entry in capsys.readouterr().out.splitlines() if entry.startswith(f"{token_id}\t")
    )
    with pytest.raises(SystemExit):
        cli.main(["create-token", "dora", "--expires-days", "0"])
    with pytest.raises(SystemExit, match="no token"):
        cli.main(["revoke-token", "999999"])
