"""Pages of the website and help centre, through FastAPI's TestClient."""

from __future__ import annotations

import html
import json
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from pydantic import ValidationError

from help_center.i18n import STRINGS
from help_center.knowledge import HelpKnowledge
from help_center.main import create_app
from help_center.settings import HelpCenterSettings
from knowledge.articles import CATEGORY_LABELS, Article, Category, load_articles
from knowledge.reload import ReloadingKnowledgeBase
from tests.help_center.conftest import DEFAULT_SETTINGS, KB_DIR, small_knowledge_settings
from tests.support import fixture_article, wait_until, write_kb

LANGS = ("en", "es")


def published(language: str) -> list[Article]:
    """The published articles of kb_articles/ in ``language``, read with the parser."""
    return [a for a in load_articles(KB_DIR).articles if a.is_published and a.language == language]


def main_text(page: str) -> str:
    """The visible text of <main>, tags removed and whitespace collapsed."""
    main = page[page.index("<main") : page.index("</main>")]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main))).strip()


def widget_config(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="n0-config">(.*?)</script>', page, re.S)
    assert match, "widget config missing"
    return json.loads(match.group(1))


# ---- home page and widget markup -----------------------------------------------------------


@pytest.mark.parametrize(("path", "lang"), [("/", "en"), ("/es/", "es")])
def test_home_page_has_language_and_widget(real_client: TestClient, path: str, lang: str):
    response = real_client.get(path)
    assert response.status_code == 200
    page = response.text
    assert f'<html lang="{lang}">' in page
    assert STRINGS[lang]["home_hero_title"].replace('"', "&#34;") in page
    # The widget: labelled launcher, dialog, live log, labelled input, ES/EN toggle.
    assert f'aria-label="{STRINGS[lang]["widget_open"]}"' in page
    assert 'role="dialog"' in page and 'aria-live="polite"' in page
    assert '<label class="n0-sr-only" for="n0-input" data-i18n="input_label">' in page
    assert f'data-lang="{lang}" lang="{lang}"' in page
    config = widget_config(page)
    assert config["rasaUrl"] == "http://localhost:5005"
    assert config["pageLanguage"] == lang
    assert set(config["strings"]) == set(LANGS)
    assert config["strings"]["es"]["send"] == "Enviar"
    assert '<script src="/static/widget.js"></script>' in page


def test_home_links_to_other_language(real_client: TestClient):
    assert 'href="/es/"' in real_client.get("/").text
    assert 'href="/" hreflang="en"' in real_client.get("/es/").text


def test_static_widget_files_are_served(real_client: TestClient):
    for path in ("/static/widget.js", "/static/widget.css", "/static/site.css"):
        assert real_client.get(path).status_code == 200


def test_rasa_url_is_escaped_in_the_page(small_client: TestClient):
    page = small_client.get("/").text
    assert '<script>alert("cfg")' not in page
    assert widget_config(page)["rasaUrl"].startswith("http://rasa.example</script>")


def test_healthz(real_client: TestClient):
    response = real_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["articles"] == sum(len(published(lang)) for lang in LANGS)


# ---- help centre: listing and articles ------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_listing_shows_every_published_article_by_category(real_client: TestClient, lang: str):
    articles = published(lang)
    assert articles, "the real KB has published articles"
    page = real_client.get(f"/help/{lang}").text
    for article in articles:
        assert f'href="/help/{lang}/{article.topic}"' in page
        assert escape(article.title) in page
    # Every category with articles, under its label, in the vocabulary's order.
    categories = [c for c in Category if any(a.category == c for a in articles)]
    for category in categories:
        assert f'<h2 id="cat-{category}">{CATEGORY_LABELS[lang][category]}</h2>' in page
    positions = [page.index(f'id="cat-{c}"') for c in categories]
    assert positions == sorted(positions)


def test_listing_hides_drafts(small_client: TestClient):
    page = small_client.get("/help/en").text
    assert "/help/en/order-status" in page
    assert "secret-plan" not in page and "Draft article" not in page


def test_every_article_url_is_served(real_client: TestClient, real_knowledge: HelpKnowledge):
    """The knowledge service's URL of each article (what the bot links to) is a page of this
    app at its default address."""
    kb = real_knowledge.service()
    for lang in LANGS:
        for article in published(lang):
            url = urlparse(kb.url(article))
            assert (url.scheme, url.netloc) == ("http", f"localhost:{DEFAULT_SETTINGS.port}")
            response = real_client.get(url.path)
            assert response.status_code == 200, url
            assert f"<h1>{escape(article.title)}</h1>" in response.text


def test_article_page_renders_markdown(real_client: TestClient):
    article = next(a for a in published("en") if a.topic == "order-status")
    page = real_client.get("/help/en/order-status").text
    assert '<html lang="en">' in page
    assert "<h2>" in page and "<li>" in page  # "## Heading" and lists became HTML
    assert "##" not in main_text(page)
    assert escape(article.summary) in page
    assert f'datetime="{article.updated.isoformat()}"' in page
    # The Spanish translation is linked both in the header and next to the date.
    assert 'href="/help/es/order-status" hreflang="es"' in page


def test_article_without_translation_has_no_language_link(small_client: TestClient):
    page = small_client.get("/help/en/order-status").text
    assert 'hreflang="es"' not in page


def test_article_content_is_escaped(small_client: TestClient, hostile_title: str):
    response = small_client.get("/help/en/password-reset")
    assert response.status_code == 200
    page = response.text
    assert "<script>alert" not in page
    assert "<img" not in page and "&lt;img src=x onerror=" in page
    assert escape(hostile_title) in page  # title shown as text
    assert "&lt;script&gt;alert(&quot;body&quot;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert '<a href="https://voltia.example/account">the good link</a>' in page
    assert "<table>" in page
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page  # summary is text, not HTML


@pytest.mark.parametrize(
    "path",
    [
        "/help/xx",
        "/help/fr/order-status",
        "/help/en/no-such-topic",
        "/help/en/secret-plan",
        "/nope",
    ],
)
def test_unknown_pages_are_404(small_client: TestClient, path: str):
    response = small_client.get(path)
    assert response.status_code == 404
    assert STRINGS["en"]["not_found_title"] in response.text


def test_404_page_speaks_the_language_of_the_path(small_client: TestClient):
    response = small_client.get("/help/es/no-existe")
    assert response.status_code == 404
    assert '<html lang="es">' in response.text
    assert STRINGS["es"]["not_found_title"] in response.text


@pytest.mark.parametrize(
    ("accept", "target"), [("es-ES,es;q=0.9", "/help/es"), ("en", "/help/en"), ("", "/help/en")]
)
def test_help_root_redirects_by_accept_language(real_client: TestClient, accept: str, target: str):
    response = real_client.get("/help", headers={"Accept-Language": accept}, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == target


# ---- help centre: search -----------------------------------------------------------------------


def test_search_answer(real_client: TestClient):
    response = real_client.get("/help/en/search", params={"q": "How can I track my package?"})
    assert response.status_code == 200
    page = response.text
    assert 'data-band="answer"' in page
    assert STRINGS["en"]["search_answer"] in page
    assert 'href="/help/en/order-status"' in page


def test_search_in_spanish_returns_spanish_articles(real_client: TestClient):
    page = real_client.get("/help/es/search", params={"q": "¿Dónde está mi pedido?"}).text
    assert 'data-band="answer"' in page or 'data-band="clarify"' in page
    links = re.findall(r'<li class="hit">\s*<h3><a href="([^"]+)"', page)
    assert links and all(link.startswith("/help/es/") for link in links)
    assert '<html lang="es">' in page


def test_search_fallback_offers_the_chat(real_client: TestClient):
    page = real_client.get("/help/en/search", params={"q": "zxqv wptk glorp"}).text
    assert 'data-band="fallback"' in page
    assert STRINGS["en"]["search_fallback"] in page
    assert STRINGS["en"]["search_fallback_chat"] in page
    assert 'data-n0-prefill="zxqv wptk glorp"' in page
    assert '<li class="hit">' not in page


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("", "search_empty"),
        ("   ", "search_empty"),
        ("?? 1 2", "search_no_letters"),
        ("a" * 1001, "search_too_long"),
    ],
)
def test_search_input_that_is_not_searched(small_client: TestClient, query: str, key: str):
    page = small_client.get("/help/es/search", params={"q": query}).text
    assert STRINGS["es"][key] in page
    assert STRINGS["es"]["search_fallback_chat"] not in page


def test_search_query_is_escaped(small_client: TestClient):
    query = '<script>alert("q")</script> password'
    page = small_client.get("/help/en/search", params={"q": query}).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;q&#34;)&lt;/script&gt; password" in page


def test_search_unknown_language_is_404(real_client: TestClient):
    assert real_client.get("/help/de/search", params={"q": "hallo"}).status_code == 404


def test_pages_are_unavailable_while_the_knowledge_base_cannot_load():
    """A failed load: 503 pages in the customer's language, and every request tries again."""
    calls = []

    def broken() -> ReloadingKnowledgeBase:
        calls.append(1)
        raise OSError("model directory missing")

    with TestClient(create_app(DEFAULT_SETTINGS, HelpKnowledge(broken))) as client:
        response = client.get("/help/en/search", params={"q": "where is my order"})
        assert response.status_code == 503
        assert STRINGS["en"]["search_unavailable"] in response.text
        response = client.get("/help/es")
        assert response.status_code == 503
        assert '<html lang="es">' in response.text
        assert STRINGS["es"]["unavailable_title"] in response.text
        assert client.get("/help/en/order-status").status_code == 503
        assert client.get("/healthz").json() == {"status": "unavailable"}
        assert client.get("/").status_code == 200  # the shop page needs no knowledge base
    assert len(calls) >= 4  # each of the four requests above that needs the KB tried again


def test_the_knowledge_base_loads_when_the_server_starts():
    """The warm-up thread starts with the app: the first customer does not pay for the load."""
    started = threading.Event()

    def load() -> ReloadingKnowledgeBase:
        started.set()
        raise OSError("not needed for this test")

    with TestClient(create_app(DEFAULT_SETTINGS, HelpKnowledge(load))):
        assert started.wait(timeout=30)


# ---- help centre: follows article edits ------------------------------------------------------


def test_pages_and_search_follow_article_edits(tmp_path: Path):
    """Edit, add and unpublish article files while the app runs: pages and search show the
    change without a restart, as the bot does (one reloading knowledge base)."""
    kb_dir = write_kb(
        tmp_path / "kb",
        [
            fixture_article("order-status", "en", "Where is my order?", category="orders"),
            fixture_article("password-reset", "en", "Reset your password"),
        ],
    )
    knowledge = HelpKnowledge.from_settings(
        small_knowledge_settings(kb_dir, tmp_path / "index", reload_seconds=0.1)
    )
    with TestClient(create_app(DEFAULT_SETTINGS, knowledge)) as client:
        assert "Where is my order?" in client.get("/help/en/order-status").text
        assert client.get("/help/en/gift-cards").status_code == 404

        write_kb(
            kb_dir,
            [
                fixture_article(
                    "order-status",
                    "en",
                    "Track your order",
                    category="orders",
                    body="Open **My orders** and follow the tracking link.",
                ),
                fixture_article(
                    "gift-cards",
                    "en",
                    "Gift cards",
                    category="payments",
                    questions=(
                        "how do I redeem a gift card",
                        "can I pay with a voucher",
                        "my gift card code does not work",
                    ),
                ),
                fixture_article("password-reset", "en", "Reset your password", status="draft"),
            ],
        )

        def edited_page() -> str | None:
            page = client.get("/help/en/order-status").text
            return page if "Track your order" in page else None

        page = wait_until(edited_page, "the edited article on its page", timeout=60)
        assert "<strong>My orders</strong>" in page
        assert client.get("/help/en/gift-cards").status_code == 200
        assert client.get("/help/en/password-reset").status_code == 404
        listing = client.get("/help/en").text
        assert f'<h2 id="cat-payments">{CATEGORY_LABELS["en"][Category.PAYMENTS]}</h2>' in listing
        assert "Reset your password" not in listing
        search = client.get("/help/en/search", params={"q": "how do I redeem a gift card"}).text
        assert 'href="/help/en/gift-cards"' in search
        assert client.get("/healthz").json() == {"status": "ok", "articles": 2}
    knowledge.close()


# ---- strings and settings ---------------------------------------------------------------------


def test_every_string_exists_in_both_languages():
    assert set(STRINGS["en"]) == set(STRINGS["es"])
    assert all(value.strip() for lang in LANGS for value in STRINGS[lang].values())
    for lang in LANGS:
        assert set(CATEGORY_LABELS[lang]) == set(Category)


def test_settings_defaults_and_env(monkeypatch: pytest.MonkeyPatch):
    for name in ("HELP_CENTER_PORT", "HELP_CENTER_HOST", "RASA_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = HelpCenterSettings()
    assert (settings.host, settings.port, settings.rasa_public_url) == (
        "127.0.0.1",
        8080,
        "http://localhost:5005",
    )
    monkeypatch.setenv("HELP_CENTER_HOST", "0.0.0.0")
    monkeypatch.setenv("HELP_CENTER_PORT", "9090")
    monkeypatch.setenv("RASA_PUBLIC_URL", "https://chat.voltia.example/")
    settings = HelpCenterSettings()
    assert (settings.host, settings.port, settings.rasa_public_url) == (
        "0.0.0.0",
        9090,
        "https://chat.voltia.example",
    )
    monkeypatch.setenv("HELP_CENTER_PORT", "eighty")
    with pytest.raises(ValidationError, match="port"):
        HelpCenterSettings()
