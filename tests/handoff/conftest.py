"""Fixtures: every app-level test runs against SQLite and against PostgreSQL (marker
``postgres``). Each backend gets a fresh database per session, built by the Alembic migrations;
tables are emptied before each test."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from handoff_service import auth
from handoff_service.main import create_app
from handoff_service.migrate import upgrade
from handoff_service.models import (
    Account,
    ApiToken,
    ConversationArticle,
    ConversationEvent,
    ConversationSummary,
    Counter,
    EmailMessage,
    InboundEmail,
    SatisfactionRating,
    Ticket,
    TicketEvent,
)
from handoff_service.ratelimit import Scope
from handoff_service.settings import Settings
from handoff_service.vocabulary import Role

# The PostgreSQL server the tests use (CI makes sure it runs: scripts/ensure_services.sh).
PG_HOST, PG_PORT = "127.0.0.1", int(os.environ.get("NIVEL0_TEST_PG_PORT", "5432"))
PG_DSN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres connect_timeout=5"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'handoff.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} as user postgres ({exc}). "
            "Start it with scripts/ensure_services.sh; the PostgreSQL tests do not skip."
        )
    name = f"nivel0_test_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def triage_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models") / "triage.joblib"


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(scope="session")
def kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kb")


@pytest.fixture(scope="session")
def settings(db_url: str, triage_model_path: Path, kb_dir: Path) -> Settings:
    return Settings(
        database_url=db_url,
        auto_migrate=False,
        triage_model_path=triage_model_path,
        kb_drafts_dir=kb_dir,
        max_body_bytes=200_000,
        # no background sender, no listener: tests that need them start their own
        email_worker=False,
        inbound_smtp_port=None,
        # one app serves the whole session from one address: test_rate_limits.py turns them on
        **{f"rate_limit_{scope.value}": None for scope in Scope},
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.ctx.engine.dispose()


@pytest.fixture
def session_factory(app: FastAPI):  # type: ignore[no-untyped-def]
    return app.state.ctx.sessions


@pytest.fixture
def client(app: FastAPI, kb_dir: Path) -> TestClient:
    """A client on an empty database (tickets, accounts, e-mail, conversation events) and an
    empty KB drafts folder."""
    shutil.rmtree(kb_dir)
    kb_dir.mkdir()
    with app.state.ctx.sessions() as session:
        for model in (
            ConversationArticle,
            ConversationSummary,
            ConversationEvent,
            EmailMessage,
            InboundEmail,
            SatisfactionRating,
            TicketEvent,
            Ticket,
            ApiToken,
            Account,
            Counter,
        ):
            session.execute(delete(model))
        session.commit()
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def tokens(client: TestClient, app: FastAPI) -> dict[str, dict[str, str]]:
    """Authorization headers for: admin, agent, agent2, bot."""
    headers = {}
    with app.state.ctx.sessions() as session:
        for name, role in [
            ("admin", Role.ADMIN),
            ("ana", Role.AGENT),
            ("bruno", Role.AGENT),
            ("bot", Role.SERVICE),
        ]:
            account = auth.create_account(session, name, role)
            _row, token = auth.issue_token(session, account)
            headers[name] = {"Authorization": f"Bearer {token}"}
        session.commit()
    return {
        "admin": headers["admin"],
        "agent": headers["ana"],
        "agent2": headers["bruno"],
        "bot": headers["bot"],
    }


def handoff_payload(conversation_id: str | None = None, **overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "conversation_id": conversation_id or f"conv-{secrets.token_hex(6)}",
        "customer": {
            "name": "Lucía Pérez",
            "email": "lucia@example.com",
            "order_number": "VT-88123",
        },
        "language": "es",
        "channel": "web",
        "transcript": [
            {
                "role": "customer",
                "text": "Hola, el seguimiento dice entregado pero no he recibido nada",
            },
            {"role": "bot", "text": "Lo siento. Revisa con tus vecinos y espera 24 horas."},
            {"role": "customer", "text": "Ya lo hice y nada. Quiero hablar con una persona"},
        ],
        "intent_ranking": [
            {"name": "shipping_not_received", "confidence": 0.62},
            {"name": "order_status", "confidence": 0.21},
        ],
        "kb_articles": [{"article_id": "shipping-not-received-es", "feedback": "not_helpful"}],
        "reason": "customer_request",
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def make_ticket(client: TestClient, tokens: dict[str, dict[str, str]]):  # type: ignore[no-untyped-def]
    def make(**overrides: object) -> dict[str, object]:
        """Hand a conversation over; the whole ticket, as an agent reads it (the bot's answer
        carries only number, queue, status and due date)."""
        response = client.post(
            "/v1/handoffs", json=handoff_payload(**overrides), headers=tokens["bot"]
        )
        assert response.status_code == 201, response.text
        number = response.json()["number"]
        ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"])
        assert ticket.status_code == 200, ticket.text
        return ticket.json()

    return make
