"""End to end: the real Rasa server (trained model in bot/models) and the real action server,
spoken to through the REST channel in English and Spanish, with the project's knowledge base.
"""

from __future__ import annotations

import re
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from knowledge.articles import Article, article_url, load_articles
from knowledge.settings import KnowledgeSettings
from tests.bot.servers import ROOT, TRAIN_HINT, ChatServers, latest_model

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServers]:
    model = latest_model()
    if model is None:
        pytest.fail(TRAIN_HINT, pytrace=False)
    logs = tmp_path_factory.mktemp("e2e-logs")
    # Handoffs and unanswered questions of these conversations stay in the test's directory.
    env = {"NIVEL0_OUTBOX_PATH": str(logs / "outbox.db")}
    with ChatServers(log_dir=logs, model=model, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def articles() -> dict[str, Article]:
    return {a.id: a for a in load_articles(ROOT / "kb_articles").articles}


def url(article: Article) -> str:
    """The link the action server gives (it runs with this process's environment)."""
    return article_url(KnowledgeSettings().help_center_url, article.language, article.topic)


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages]


def buttons(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(b["title"], b["payload"]) for m in messages for b in m.get("buttons", [])]


class Chat:
    def __init__(self, servers: ChatServers, metadata: dict[str, Any] | None = None):
        self.servers = servers
        self.sender = f"e2e-{uuid.uuid4().hex[:8]}"
        self.metadata = metadata

    def say(self, message: str) -> list[dict[str, Any]]:
        return self.servers.say(self.sender, message, self.metadata)


def assert_answers_with(messages: list[dict[str, Any]], article: Article) -> None:
    joined = "\n".join(texts(messages))
    assert article.title in joined, joined
    assert article.summary in joined, joined
    assert url(article) in joined, joined


def test_english_conversation(servers: ChatServers, articles: dict[str, Article]) -> None:
    chat = Chat(servers)
    assert "virtual assistant" in " ".join(texts(chat.say("hi")))

    reply = chat.say("how long does a refund take?")
    assert_answers_with(reply, articles["refund-timeline-en"])
    assert buttons(reply) == [("Yes", "/affirm"), ("No", "/deny")]
    assert texts(reply)[-1] == "Did this solve your problem?"

    assert texts(chat.say("/affirm")) == [
        "Great, glad I could help! Thanks for contacting us. If you need anything else, just write."
    ]

    assert texts(chat.say("talk to a human")) == [
        "I'll connect you with a person from our support team. First I need a few details.",
        "What's your name?",
    ]
    assert texts(chat.say("cancel")) == [
        "OK, I won't pass your request to anyone. If you change your mind, write "
        '"talk to a person".'
    ]

    for message in ("asdf", ""):
        reply = chat.say(message)
        assert texts(reply)[0].startswith("I'm not sure"), message
        assert buttons(reply) == [("Talk to a person", "/request_human")]

    # Over NIVEL0_MAX_QUERY_CHARS, whatever words it is made of (a wall of "thanks" was once
    # answered "You're welcome!"): asked for a summary, a person offered.
    for long_text in (
        ("I have a problem with my order and the refund " * 120)[:5000],
        "thank you so much " * 100,
    ):
        reply = chat.say(long_text)
        assert texts(reply)[0].startswith("Your message is too long"), long_text[:20]
        assert buttons(reply) == [("Talk to a person", "/request_human")]


def test_spanish_conversation(servers: ChatServers, articles: dict[str, Article]) -> None:
    chat = Chat(servers)
    assert texts(chat.say("hola"))[0].startswith("¡Hola!")

    reply = chat.say("no me llega el correo para restablecer la contraseña")
    assert_answers_with(reply, articles["password-reset-es"])
    assert buttons(reply) == [("Sí", "/affirm"), ("No", "/deny")]

    assert texts(chat.say("sí"))[0].startswith("¡Genial")

    assert texts(chat.say("quiero hablar con una persona")) == [
        "Te pondré en contacto con una persona de nuestro equipo de soporte. Antes necesito "
        "unos datos.",
        "¿Cómo te llamas?",
    ]
    assert texts(chat.say("cancelar"))[0].startswith("De acuerdo, no paso tu consulta")

    # "asdf" gives no language evidence: the conversation stays in Spanish.
    reply = chat.say("asdf")
    assert texts(reply)[0].startswith("No estoy seguro")
    assert buttons(reply) == [("Hablar con una persona", "/request_human")]

    reply = chat.say("¡muchísimas gracias por todo! " * 50)
    assert texts(reply)[0].startswith("Tu mensaje es demasiado largo")
    assert buttons(reply) == [("Hablar con una persona", "/request_human")]


def test_clarify_button_payload_shows_the_chosen_article(
    servers: ChatServers, articles: dict[str, Article]
) -> None:
    chat = Chat(servers)
    chat.say("hola")
    # The payload names the English article; the customer gets the Spanish translation.
    reply = chat.say('/choose_article{"article_id":"refund-method-en"}')
    assert_answers_with(reply, articles["refund-method-es"])
    assert buttons(reply) == [("Sí", "/affirm"), ("No", "/deny")]


def test_language_from_website_metadata(servers: ChatServers) -> None:
    chat = Chat(servers, metadata={"language": "es"})
    assert texts(chat.say("hello"))[0].startswith("¡Hola!")


def test_no_offers_the_next_best_article_then_hands_over(
    servers: ChatServers, articles: dict[str, Article]
) -> None:
    chat = Chat(servers)
    chat.say("how long does a refund take?")

    reply = texts(chat.say("/deny"))
    assert reply[0] == "Sorry about that. Maybe this other article helps:"
    assert url(articles["refund-timeline-en"]) not in reply[1]
    assert "More information: http" in reply[1]
    assert reply[2] == "Did this solve your problem?"

    assert texts(chat.say("no")) == [
        "I'm sorry I couldn't solve it.",
        "I'll connect you with a person from our support team. First I need a few details.",
        "What's your name?",
    ]


# ---- exposure: what `make run` opens, and to whom (scripts/run_all.sh) --------------------------


def machine_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (``ip -4 addr``)."""
    listing = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", listing)


def refuses(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=5):
            return False
    except OSError:
        return True


def test_rasa_and_the_action_server_listen_on_loopback_only(servers: ChatServers) -> None:
    addresses = machine_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    rasa_port = int(servers.rasa_url.rsplit(":", 1)[1])
    action_port = int(servers.action_url.rsplit(":", 1)[1])
    assert not refuses("127.0.0.1", rasa_port) and not refuses("127.0.0.1", action_port)
    for address in addresses:
        assert refuses(address, rasa_port), f"Rasa answers on {address}"
        assert refuses(address, action_port), f"the action server answers on {address}"


def test_the_chat_accepts_cross_origin_calls_from_the_site_only(servers: ChatServers) -> None:
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            servers.webhook,
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            timeout=30,
        )

    site = preflight("http://localhost:8080")  # the default site (NIVEL0_SITE_ORIGINS)
    assert site.headers.get("access-control-allow-origin") == "http://localhost:8080"
    other = preflight("https://evil.example")
    assert other.headers.get("access-control-allow-origin") in (None, ""), other.headers


def test_only_the_rest_channel_is_open(servers: ChatServers) -> None:
    base = servers.rasa_url
    assert httpx.get(f"{base}/webhooks/rest/", timeout=30).status_code == 200
    assert (
        httpx.get(
            f"{base}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=30
        ).status_code
        == 404
    )


def test_an_oversized_chat_message_is_refused_before_nlu(servers: ChatServers) -> None:
    big = {"sender": f"e2e-{uuid.uuid4().hex[:8]}", "message": "mi pedido " * 10_000}  # 100 KB
    assert httpx.post(servers.webhook, json=big, timeout=60).status_code == 413
    # a long but ordinary message still gets an answer
    chat = Chat(servers)
    assert texts(chat.say("my order has not arrived " * 40))


def test_the_action_server_serves_its_prometheus_metrics(servers: ChatServers) -> None:
    def metrics() -> dict[str, float]:
        body = httpx.get(f"{servers.action_url}/metrics", timeout=30).text
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in body.splitlines()
            if line and not line.startswith("#")
        }

    def searches(values: dict[str, float]) -> float:
        return values.get('nivel0_action_duration_seconds_count{action="action_search_kb"}', 0.0)

    before = metrics()
    Chat(servers).say("how can I track my package?")
    after = metrics()
    assert searches(after) == searches(before) + 1
    bands = [key for key in after if key.startswith("nivel0_search_band_total{")]
    assert bands and all('language="en"' in key or 'language="es"' in key for key in bands)
    assert "nivel0_outbox_events_pending" in after
