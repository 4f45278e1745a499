"""Rate limits (handoff_service/ratelimit.py), on SQLite and PostgreSQL, with the counters in
memory and in the real Redis on 127.0.0.1:6379 (each test under its own key prefix).

The app under test is built by ``create_app`` from settings with small limits; each test gets
fresh counters (a new :class:`RateLimits` under a unique prefix on the app's context). The
client address is chosen per request with ``TestClient(app, client=(address, port))``.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from actions.handoff_client import HandoffClient, HandoffConfig, HandoffUnavailable
from actions.outbox import DELIVERED, PENDING, Outbox, OutboxSettings
from fastapi import FastAPI
from fastapi.testclient import TestClient
from limits.storage import MemoryStorage, RedisStorage
from pydantic import ValidationError
from sqlalchemy import select

from handoff_service import tickets
from handoff_service.i18n import PORTAL, RATE_LIMITED
from handoff_service.main import create_app
from handoff_service.models import Ticket
from handoff_service.ratelimit import RateLimited, RateLimits, Scope, sender_of
from handoff_service.settings import Settings
from tests.handoff.conftest import handoff_payload
from tests.handoff.test_console import LOGIN_TOKEN, bearer
from tests.support import HandoffServiceProcess, free_port

REDIS_URL = "redis://127.0.0.1:6379"
LIMIT = 3  # every limit of the app under test: "3/minute"
STORAGES = ["memory://", REDIS_URL]

Clients = Callable[[str], TestClient]


@pytest.fixture(scope="module", params=STORAGES, ids=["memory", "redis"])
def limited_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_storage": request.param,
            **{f"rate_limit_{scope.value}": f"{LIMIT}/minute" for scope in Scope},
        }
    )


@pytest.fixture(scope="module")
def limited_app(limited_settings: Settings) -> Iterator[FastAPI]:
    application = create_app(limited_settings)
    yield application
    application.state.ctx.engine.dispose()


def delete_redis_keys(prefix: str) -> None:
    with redis.Redis.from_url(REDIS_URL) as connection:
        keys = list(connection.scan_iter(match=f"*{prefix}*"))
        if keys:
            connection.delete(*keys)


@pytest.fixture
def fresh_limits(limited_app: FastAPI, limited_settings: Settings) -> Iterator[RateLimits]:
    """The app's limits on counters of this test only (a unique key prefix)."""
    ctx = limited_app.state.ctx
    built_at_startup = ctx.rate_limits
    prefix = f"test-{secrets.token_hex(6)}"
    ctx.rate_limits = RateLimits.from_settings(
        limited_settings.model_copy(update={"rate_limit_prefix": prefix})
    )
    try:
        yield ctx.rate_limits
    finally:
        ctx.rate_limits = built_at_startup
        if limited_settings.rate_limit_storage.startswith("redis"):
            delete_redis_keys(prefix)


@pytest.fixture
def clients(client: TestClient, limited_app: FastAPI, fresh_limits: RateLimits) -> Clients:
    """``clients(address)``: a client of the limited app connecting from ``address`` (the
    ``client`` fixture empties the database; ``make_ticket`` uses its unlimited app)."""
    made: dict[str, TestClient] = {}

    def connect(address: str) -> TestClient:
        if address not in made:
            made[address] = TestClient(
                limited_app,
                base_url="https://testserver",
                raise_server_exceptions=False,
                client=(address, 50000),
            )
        return made[address]

    return connect


def lookup(client: TestClient, number: str, email: str = "lucia@example.com", **kwargs):  # type: ignore[no-untyped-def]
    return client.post("/v1/status", json={"number": number, "email": email}, **kwargs)


def assert_refused(response, *texts: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    for text in texts:
        assert text in html.unescape(response.text)


# --- startup and configuration ------------------------------------------------------------


def test_the_limits_are_built_once_at_startup_from_the_settings(
    limited_app: FastAPI, limited_settings: Settings
) -> None:
    limits = limited_app.state.ctx.rate_limits
    expected = RedisStorage if limited_settings.rate_limit_storage == REDIS_URL else MemoryStorage
    assert isinstance(limits.storage, expected)
    assert {scope: str(item) for scope, item in limits.limits.items()} == {
        scope: f"{LIMIT} per 1 minute" for scope in Scope
    }


def test_limits_are_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_RATE_LIMIT_STORAGE", REDIS_URL)
    monkeypatch.setenv("HANDOFF_RATE_LIMIT_STATUS_PER_CLIENT", "off")
    monkeypatch.setenv("HANDOFF_RATE_LIMIT_HANDOFFS_PER_SENDER", "2 per 15 minutes")
    configured = Settings()
    assert configured.rate_limit_status_per_client is None
    limits = RateLimits.from_settings(configured)
    assert limits.limits[Scope.STATUS_PER_CLIENT] is None
    assert str(limits.limits[Scope.HANDOFFS_PER_SENDER]) == "2 per 15 minute"
    assert str(limits.limits[Scope.STATUS_PER_TICKET]) == "5 per 1 hour"  # the default


@pytest.mark.parametrize(
    "field, value",
    [
        ("rate_limit_status_per_client", "lots"),
        ("rate_limit_portal_per_key", "10/minute;100/day"),
        ("rate_limit_storage", "memcached://127.0.0.1:11211"),
    ],
)
def test_an_unreadable_limit_or_storage_fails_at_startup(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


def test_the_sender_of_a_conversation_is_what_belongs_to_sender_matches() -> None:
    for conversation_id, sender in [
        ("web-4f2a:1764662400", "web-4f2a"),
        ("web-4f2a", "web-4f2a"),
        ("a:b:17", "a:b"),
        ("whatsapp:+34600", "whatsapp:+34600"),
        (":17", ":17"),
    ]:
        assert sender_of(conversation_id) == sender
        assert tickets.belongs_to_sender(conversation_id, sender)


# --- status lookups -----------------------------------------------------------------------


def test_status_lookups_are_limited_per_client(clients: Clients, make_ticket) -> None:  # type: ignore[no-untyped-def]
    number = make_ticket()["number"]
    customer = clients("203.0.113.7")
    for _ in range(LIMIT):
        assert lookup(customer, number).status_code == 200
    refused = lookup(customer, number)
    assert_refused(refused, RATE_LIMITED["en"], RATE_LIMITED["es"])
    assert lookup(clients("203.0.113.8"), number).status_code == 200


def test_failed_lookups_are_limited_per_ticket_number_from_any_client(
    clients: Clients, make_ticket
) -> None:  # type: ignore[no-untyped-def]
    number = make_ticket()["number"]
    for i in range(LIMIT):
        assert lookup(clients(f"198.51.100.{i}"), number, "guess@example.com").status_code == 404
    # Over the number's limit even the right e-mail is refused, from a client that never asked.
    assert_refused(lookup(clients("198.51.100.99"), number), RATE_LIMITED["es"])
    other = make_ticket()["number"]
    assert lookup(clients("198.51.100.99"), other).status_code == 200


def test_successful_lookups_do_not_use_the_ticket_numbers_budget(
    clients: Clients, make_ticket
) -> None:  # type: ignore[no-untyped-def]
    number = make_ticket()["number"]
    for i in range(LIMIT + 2):
        assert lookup(clients(f"192.0.2.{i}"), number).status_code == 200


def test_the_bots_token_is_not_limited_per_client(clients: Clients, make_ticket, tokens) -> None:  # type: ignore[no-untyped-def]
    """The bot asks for every chat customer from one address; agents' tokens get no pass."""
    number = make_ticket()["number"]
    bot = clients("10.0.0.5")
    for _ in range(LIMIT + 2):
        assert lookup(bot, number, headers=tokens["bot"]).status_code == 200
    agent = clients("10.0.0.6")
    for _ in range(LIMIT):
        assert lookup(agent, number, headers=tokens["agent"]).status_code == 200
    assert lookup(agent, number, headers=tokens["agent"]).status_code == 429
    # A number's failed lookups count for the bot too.
    for _ in range(LIMIT):
        assert lookup(bot, number, "guess@example.com", headers=tokens["bot"]).status_code == 404
    assert lookup(bot, number, headers=tokens["bot"]).status_code == 429


# --- handoffs -----------------------------------------------------------------------------


def test_new_handoffs_are_limited_per_sender_replays_are_free(clients: Clients, tokens) -> None:  # type: ignore[no-untyped-def]
    bot = clients("10.0.0.5")
    sender = f"web-{secrets.token_hex(4)}"
    for session_start in range(1, LIMIT + 1):
        body = handoff_payload(f"{sender}:{session_start}")
        assert bot.post("/v1/handoffs", json=body, headers=tokens["bot"]).status_code == 201
    for conversation_id in (f"{sender}:{LIMIT + 1}", sender):
        refused = bot.post(
            "/v1/handoffs", json=handoff_payload(conversation_id), headers=tokens["bot"]
        )
        assert_refused(refused, "handoffs_per_sender")
    replay = bot.post("/v1/handoffs", json=handoff_payload(f"{sender}:1"), headers=tokens["bot"])
    assert replay.status_code == 200
    other = handoff_payload(f"web-{secrets.token_hex(4)}:1")
    assert bot.post("/v1/handoffs", json=other, headers=tokens["bot"]).status_code == 201


def test_new_handoffs_are_limited_per_client_except_for_the_service_token(
    clients: Clients, tokens
) -> None:  # type: ignore[no-untyped-def]
    bot, script = clients("10.0.0.5"), clients("10.0.0.9")

    def hand_over(client: TestClient, token: str) -> int:
        answer = client.post("/v1/handoffs", json=handoff_payload(), headers=tokens[token])
        return answer.status_code

    for _ in range(LIMIT + 2):  # many customers through the one bot
        assert hand_over(bot, "bot") == 201
    for _ in range(LIMIT):
        assert hand_over(script, "admin") == 201
    refused = script.post("/v1/handoffs", json=handoff_payload(), headers=tokens["admin"])
    assert_refused(refused, "handoffs_per_client")
    assert hand_over(clients("10.0.0.10"), "admin") == 201


# --- the private page ---------------------------------------------------------------------


def key_of(session_factory, number: str) -> str:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalars(select(Ticket.access_key).where(Ticket.number == number)).one()


def reply(client: TestClient, key: str, text: str, lang: str | None = None):  # type: ignore[no-untyped-def]
    url = f"/t/{key}/reply" + (f"?lang={lang}" if lang else "")
    return client.post(url, data={"body": text}, follow_redirects=False)


def test_page_forms_are_limited_per_page(clients: Clients, make_ticket, session_factory) -> None:  # type: ignore[no-untyped-def]
    key = key_of(session_factory, make_ticket()["number"])
    for i in range(LIMIT):
        assert reply(clients(f"192.0.2.{i}"), key, f"Mensaje {i}").status_code == 303
    refused = reply(clients("192.0.2.50"), key, "Sigo esperando el paquete")
    assert_refused(refused, PORTAL["es"]["error_rate_limited"], "Sigo esperando el paquete")
    # the rating and reopen forms share the page's budget
    rating = clients("192.0.2.51").post(f"/t/{key}/rating", data={"rating": "4"})
    assert rating.status_code == 429
    with session_factory() as session:
        ticket = tickets.get_by_access_key(session, key)
        assert [e.data["body"] for e in ticket.events if e.kind == "customer_reply"] == [
            f"Mensaje {i}" for i in range(LIMIT)
        ]


def test_page_forms_are_limited_per_client(clients: Clients, make_ticket, session_factory) -> None:  # type: ignore[no-untyped-def]
    keys = [key_of(session_factory, make_ticket()["number"]) for _ in range(LIMIT + 1)]
    customer = clients("203.0.113.20")
    for key in keys[:LIMIT]:
        assert reply(customer, key, "Hola").status_code == 303
    refused = reply(customer, keys[LIMIT], "Hello again", lang="en")
    assert_refused(refused, PORTAL["en"]["error_rate_limited"], "Hello again")
    assert reply(clients("203.0.113.21"), keys[LIMIT], "Hola").status_code == 303


# --- console login ------------------------------------------------------------------------


def log_in(browser: TestClient, token: str):  # type: ignore[no-untyped-def]
    form = {"login_token": LOGIN_TOKEN.search(browser.get("/console/login").text)[1]}
    return browser.post("/console/login", data={**form, "token": token}, follow_redirects=False)


def test_failed_console_logins_are_limited_per_client(clients: Clients, tokens) -> None:  # type: ignore[no-untyped-def]
    good = bearer(tokens["agent"])
    guesser = clients("203.0.113.66")
    for _ in range(LIMIT):
        assert log_in(guesser, secrets.token_urlsafe(32)).status_code == 401
    # Over the limit even the right token is refused, or guessing could go on.
    assert_refused(log_in(guesser, good), "Too many failed logins")
    assert log_in(clients("203.0.113.67"), good).status_code == 303


def test_successful_console_logins_are_not_counted(clients: Clients, tokens) -> None:  # type: ignore[no-untyped-def]
    agent = clients("203.0.113.68")
    for _ in range(LIMIT + 2):
        assert log_in(agent, bearer(tokens["agent"])).status_code == 303
        agent.cookies.clear()  # a logged-in browser is not shown the form again


# --- storage ------------------------------------------------------------------------------


def test_replicas_sharing_redis_share_the_counters(limited_settings: Settings) -> None:
    """Two processes' limiters on one Redis: what one counted, the other refuses."""
    prefix = f"test-{secrets.token_hex(6)}"
    shared = limited_settings.model_copy(
        update={"rate_limit_storage": REDIS_URL, "rate_limit_prefix": prefix}
    )
    first, second = RateLimits.from_settings(shared), RateLimits.from_settings(shared)
    try:
        for _ in range(LIMIT):
            first.hit(Scope.STATUS_PER_CLIENT, "203.0.113.1")
        with pytest.raises(RateLimited, match="status_per_client") as refused:
            second.hit(Scope.STATUS_PER_CLIENT, "203.0.113.1")
        assert 1 <= refused.value.retry_after <= 60
        second.hit(Scope.STATUS_PER_CLIENT, "203.0.113.2")
        with redis.Redis.from_url(REDIS_URL) as connection:
            stored = b" ".join(connection.scan_iter(match=f"*{prefix}*"))
        assert stored and b"203.0.113" not in stored  # keys are digests, not addresses
    finally:
        delete_redis_keys(prefix)


def test_unreachable_redis_lets_requests_through_and_logs_it(
    clients: Clients,
    limited_app: FastAPI,
    limited_settings: Settings,
    make_ticket,
    caplog: pytest.LogCaptureFixture,
) -> None:  # type: ignore[no-untyped-def]
    number = make_ticket()["number"]
    nothing_there = f"redis://127.0.0.1:{free_port()}"
    limited_app.state.ctx.rate_limits = RateLimits.from_settings(
        limited_settings.model_copy(update={"rate_limit_storage": nothing_there})
    )  # the fresh_limits fixture (through clients) puts the app's own back afterwards
    customer = clients("203.0.113.90")
    with caplog.at_level(logging.ERROR, logger="handoff_service.ratelimit"):
        for _ in range(LIMIT + 1):
            assert lookup(customer, number).status_code == 200
    assert "rate limit storage unavailable" in caplog.text


# --- the bot's side -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_service(
    tmp_path_factory: pytest.TempPathFactory, triage_model_path: Path
) -> Iterator[HandoffServiceProcess]:
    """The service as in production, one new handoff per sender and one status lookup per
    client a minute."""
    service = HandoffServiceProcess(
        tmp_path_factory.mktemp("limited-service"),
        env={
            "HANDOFF_TRIAGE_MODEL_PATH": str(triage_model_path),
            "HANDOFF_RATE_LIMIT_HANDOFFS_PER_SENDER": "1/minute",
            "HANDOFF_RATE_LIMIT_STATUS_PER_CLIENT": "1/minute",
        },
    )
    with service:
        yield service


def test_the_outbox_keeps_a_handoff_refused_by_a_rate_limit_for_retry(
    limited_service: HandoffServiceProcess, tmp_path: Path
) -> None:
    """429 is temporary: the row stays pending for the worker, never a silent failure."""
    client = HandoffClient(
        HandoffConfig(url=limited_service.url, token=limited_service.bot_token, timeout=10)
    )
    outbox = Outbox(OutboxSettings(path=tmp_path / "outbox.db"), client)
    sender = f"web-{secrets.token_hex(4)}"
    first = outbox.submit_handoff(handoff_payload(f"{sender}:1"))
    assert first.state == DELIVERED
    second = outbox.submit_handoff(handoff_payload(f"{sender}:2"))
    assert second.state == PENDING
    assert "HTTP 429" in (second.last_error or "")


def test_the_bot_looks_tickets_up_with_its_token_past_the_per_client_limit(
    limited_service: HandoffServiceProcess,
) -> None:
    with HandoffClient(
        HandoffConfig(url=limited_service.url, token=limited_service.bot_token, timeout=10)
    ) as bot:
        for _ in range(3):  # three chat customers asking through the one bot
            assert bot.ticket_status("T-2026-999999", "lucia@example.com") is None
    with HandoffClient(HandoffConfig(url=limited_service.url, token=None, timeout=10)) as anyone:
        assert anyone.ticket_status("T-2026-999999", "lucia@example.com") is None
        with pytest.raises(HandoffUnavailable, match="HTTP 429"):
            anyone.ticket_status("T-2026-999999", "lucia@example.com")
