"""The chat widget in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

The help centre runs in-process (uvicorn in a thread). Without a Rasa server the widget is
pointed at a closed port, which also exercises the "not sent, try again" path. The full
conversation (marked e2e) starts the real Rasa and action servers with tests/bot/servers.py.
Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from help_center.i18n import STRINGS
from help_center.knowledge import HelpKnowledge
from help_center.main import create_app
from knowledge.articles import load_articles
from tests.bot.servers import ChatServers, latest_model
from tests.help_center.conftest import DEFAULT_SETTINGS
from tests.support import (
    assert_accessible,
    chromium_browser,
    free_port,
    require_chromium,
    wait_until,
)

require_chromium()
pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
KB_DIR = ROOT / "kb_articles"
SCREENSHOTS = ROOT / "docs" / "screenshots"
EN, ES = STRINGS["en"], STRINGS["es"]


class LiveServer:
    """The help-centre app served by uvicorn in a background thread."""

    def __init__(self, rasa_public_url: str, knowledge: HelpKnowledge, port: int | None = None):
        self.port = port or free_port()
        settings = DEFAULT_SETTINGS.model_copy(
            update={"port": self.port, "rasa_public_url": rasa_public_url}
        )
        app = create_app(settings, knowledge)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self._thread.start()

        def started() -> bool:
            assert self._thread.is_alive(), "the help centre did not start"
            return self._server.started

        wait_until(started, "the help centre to start", timeout=30, interval=0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def site(real_knowledge: HelpKnowledge) -> Iterator[LiveServer]:
    """The site with the widget pointed at a port where no Rasa server listens."""
    with LiveServer(f"http://127.0.0.1:{free_port()}", real_knowledge) as server:
        yield server


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def focused(page) -> str:
    """The focused element: its id, else its accessible label or text."""
    return page.evaluate(
        """() => { const el = document.activeElement;
        return el.id || el.getAttribute('aria-label') || el.textContent.trim(); }"""
    )


def stored_chat(page) -> dict:
    return json.loads(page.evaluate("localStorage.getItem('nivel0.chat.v1')") or "null")


def test_widget_keyboard_labels_and_focus(page, site: LiveServer):
    page.goto(site.url + "/")
    launcher = page.get_by_role("button", name=EN["widget_open"])
    assert launcher.get_attribute("aria-expanded") == "false"
    dialog = page.get_by_role("dialog", name=EN["widget_title"])
    assert dialog.is_hidden()

    launcher.focus()
    page.keyboard.press("Enter")
    assert dialog.is_visible()
    assert launcher.get_attribute("aria-expanded") == "true"
    assert focused(page) == "n0-input"  # focus goes to the message box
    assert page.get_by_label(EN["widget_input_label"]).get_attribute("id") == "n0-input"
    log = page.get_by_role("log", name=EN["widget_log"])
    assert log.get_attribute("aria-live") == "polite"
    assert EN["widget_welcome"] in log.inner_text()

    # Focus order inside the panel: language toggle, restart, close, conversation, input, send.
    page.get_by_role("button", name="Español (ES)").focus()
    order = [focused(page)]
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(focused(page))
    assert order == [
        "Español (ES)",
        "English (EN)",
        EN["widget_restart"],
        EN["widget_close"],
        "n0-log",
        "n0-input",
        EN["widget_send"],
    ]

    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    assert focused(page) == "n0-launcher"
    assert launcher.get_attribute("aria-expanded") == "false"

    launcher.click()
    page.get_by_role("button", name=EN["widget_close"]).click()
    assert dialog.is_hidden()


def test_language_toggle_switches_texts_and_persists(page, site: LiveServer):
    page.goto(site.url + "/")
    page.get_by_role("button", name=EN["widget_open"]).click()
    spanish = page.get_by_role("button", name="Español (ES)")
    assert spanish.get_attribute("aria-pressed") == "false"
    spanish.focus()
    page.keyboard.press("Space")
    assert spanish.get_attribute("aria-pressed") == "true"
    assert page.get_by_role("button", name="English (EN)").get_attribute("aria-pressed") == "false"
    panel = page.locator("#n0-panel")
    assert panel.get_attribute("lang") == "es"
    assert (
        page.get_by_label(ES["widget_input_label"]).get_attribute("placeholder")
        == (ES["widget_placeholder"])
    )
    assert page.get_by_role("button", name=ES["widget_send"]).is_visible()
    assert ES["widget_welcome"] in page.get_by_role("log").inner_text()
    assert page.get_by_role("dialog", name=ES["widget_title"]).is_visible()

    page.reload()
    assert page.get_by_role("dialog", name=ES["widget_title"]).is_visible()  # reopened, still es
    assert stored_chat(page)["language"] == "es"


def test_widget_follows_the_page_language(page, site: LiveServer):
    page.goto(site.url + "/es/")
    page.get_by_role("button", name=ES["widget_open"]).click()
    assert page.locator("#n0-panel").get_attribute("lang") == "es"
    assert page.get_by_role("button", name="Español (ES)").get_attribute("aria-pressed") == "true"
    assert page.get_by_label(ES["widget_input_label"]).is_visible()


def test_unsent_message_keeps_its_retry_but_is_never_stored(page, site: LiveServer):
    """Only what Rasa has received (and redacted) is stored in the browser."""
    page.goto(site.url + "/")
    page.get_by_role("button", name=EN["widget_open"]).click()
    page.get_by_label(EN["widget_input_label"]).fill("Where is my order?")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert EN["widget_offline"] in alert.inner_text()
    retry = page.get_by_role("button", name=EN["widget_retry"])
    retry.wait_for()
    assert page.locator("#n0-typing").is_hidden()
    log = page.get_by_role("log")
    assert "Where is my order?" in log.inner_text()
    session = stored_chat(page)["sessionId"]
    assert session
    assert "Where is my order?" not in json.dumps(stored_chat(page))

    page.reload()
    assert "Where is my order?" not in log.inner_text()
    assert page.get_by_role("button", name=EN["widget_retry"]).count() == 0
    assert stored_chat(page)["sessionId"] == session

    page.get_by_role("button", name=EN["widget_restart"]).click()
    assert stored_chat(page)["sessionId"] is None


def test_saved_history_is_rendered_with_links_and_escaped(page, site: LiveServer):
    history = {
        "sessionId": "0123abcd",
        "open": True,
        "language": None,
        "messages": [
            {
                "from": "bot",
                "text": "See [the guide](/help/en/order-status) or https://voltia.example/help.\n"
                "<img src=x onerror=alert(1)> [bad](javascript:alert(1)) **bold**",
                "buttons": [{"title": "Yes", "payload": "/affirm"}],
                "chosen": None,
            }
        ],
    }
    page.goto(site.url + "/")
    page.evaluate("h => localStorage.setItem('nivel0.chat.v1', JSON.stringify(h))", history)
    page.reload()
    assert page.get_by_role("dialog", name=EN["widget_title"]).is_visible()  # was open
    bot = page.locator(".n0-bot").first
    links = [(a.get_attribute("href"), a.inner_text()) for a in bot.locator("a").all()]
    assert links == [
        ("/help/en/order-status", "the guide"),
        ("https://voltia.example/help", "https://voltia.example/help"),
    ]
    assert bot.locator("img").count() == 0
    assert "<img src=x onerror=alert(1)> [bad](javascript:alert(1))" in bot.inner_text()
    assert bot.locator("strong").inner_text() == "bold"
    assert page.get_by_role("button", name="Yes").is_enabled()


def test_help_search_fallback_opens_the_chat(page, site: LiveServer):
    # The first search loads the embedding model, which can take a while on a busy machine.
    page.goto(site.url + "/help/en/search?q=zxqv+wptk+glorp", timeout=120_000)
    page.get_by_role("button", name=EN["search_fallback_chat"]).click()
    assert page.get_by_role("dialog", name=EN["widget_title"]).is_visible()
    assert page.get_by_label(EN["widget_input_label"]).input_value() == "zxqv wptk glorp"


def test_phone_sized_screen_and_screenshots(browser, site: LiveServer):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    page = desktop.new_page()
    page.goto(site.url + "/")
    page.get_by_role("button", name=EN["widget_open"]).click()
    page.screenshot(path=str(SCREENSHOTS / "widget.png"))
    desktop.close()

    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    page = phone.new_page()
    page.goto(site.url + "/es/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
    page.get_by_role("button", name=ES["widget_open"]).click()
    box = page.locator("#n0-panel").bounding_box()
    assert box is not None
    assert (box["x"], box["width"]) == (0, 360)
    assert box["height"] == 740
    send = page.get_by_role("button", name=ES["widget_send"]).bounding_box()
    assert send is not None and send["x"] + send["width"] <= 360
    page.screenshot(path=str(SCREENSHOTS / "widget-mobile.png"))
    page.keyboard.press("Escape")
    assert page.get_by_role("button", name=ES["widget_open"]).is_visible()
    phone.close()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/es/",
        "/help/en",
        "/help/es",
        "/help/en/order-status",
        "/help/es/order-status",
        "/help/en/search?q=refund",
        "/help/es/search?q=zxqv+wptk+glorp",
        "/help/en/no-such-article",
    ],
)
def test_help_centre_pages_pass_axe(page, site: LiveServer, path: str):
    # A search may load the embedding model first, which can take a while on a busy machine.
    page.goto(site.url + path, timeout=120_000)
    assert page.locator("main").count() == 1
    assert_accessible(page)


@pytest.mark.parametrize("language", ["en", "es"])
def test_open_widget_with_a_conversation_passes_axe(page, site: LiveServer, language: str):
    history = {
        "sessionId": "0123abcd",
        "open": True,
        "language": language,
        "messages": [
            {"from": "bot", "kind": "welcome", "text": ""},
            {"from": "user", "text": "Where is my order?", "failed": True},
            {
                "from": "bot",
                "text": "See [the guide](/help/en/order-status). **Did it help?**",
                "buttons": [
                    {"title": "Yes", "payload": "/affirm"},
                    {"title": "No", "payload": "/deny"},
                ],
                "chosen": 0,
            },
            {
                "from": "bot",
                "text": "Anything else?",
                "buttons": [{"title": "Talk to a person", "payload": "/human_handoff"}],
                "chosen": None,
            },
        ],
    }
    page.goto(site.url + "/")
    page.evaluate("h => localStorage.setItem('nivel0.chat.v1', JSON.stringify(h))", history)
    page.reload()
    strings = STRINGS[language]
    assert page.get_by_role("dialog", name=strings["widget_title"]).is_visible()
    assert page.get_by_role("button", name=strings["widget_retry"]).is_visible()
    assert page.get_by_role("log").get_by_role("listitem").count() == 4
    assert_accessible(page)

    # The "not sent" alert and the phone layout, too.
    page.get_by_label(strings["widget_input_label"]).fill("Hello")
    page.keyboard.press("Enter")
    page.get_by_role("alert").wait_for()
    assert_accessible(page)
    page.set_viewport_size({"width": 360, "height": 740})
    assert_accessible(page)


# ---- with the real Rasa server ----------------------------------------------------------------


@pytest.mark.e2e
def test_conversation_with_the_real_bot(browser, real_knowledge, tmp_path_factory):
    model = latest_model()
    if model is None:
        pytest.skip("no trained Rasa model in bot/models")
    web_port = free_port()
    servers = ChatServers(  # Rasa accepts the widget's cross-origin calls from this site only
        log_dir=tmp_path_factory.mktemp("servers"),
        model=model,
        env={
            "NIVEL0_HELP_CENTER_URL": f"http://127.0.0.1:{web_port}/help",
            "NIVEL0_SITE_ORIGINS": f"http://127.0.0.1:{web_port}",
        },
    )
    with servers, LiveServer(servers.rasa_url, real_knowledge, web_port) as site:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(site.url + "/")
        page.get_by_role("button", name=EN["widget_open"]).click()
        page.get_by_label(EN["widget_input_label"]).fill("How can I track my package?")
        page.keyboard.press("Enter")
        # The first answer takes seconds (the action server loads the knowledge base).
        assert page.get_by_role("status").filter(has_text=EN["widget_typing"]).is_visible()

        # The answer links to the article; Rasa buttons (feedback) are rendered as buttons.
        link = page.locator(".n0-bot a[href*='/help/en/']").first
        link.wait_for()
        feedback = page.locator(".n0-bot .n0-buttons button")
        feedback.first.wait_for()
        assert page.locator("#n0-typing").is_hidden()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "widget-conversation.png"))

        bot_messages = page.locator(".n0-bot").count()
        feedback.first.click()  # "Yes"
        page.locator(".n0-bot").nth(bot_messages).wait_for()  # no eval: the site's CSP forbids it
        assert all(button.is_disabled() for button in feedback.all())

        # The same conversation after a reload: history re-rendered, same Rasa sender.
        session = stored_chat(page)["sessionId"]
        text_before = page.get_by_role("log").inner_text()
        page.reload()
        assert page.get_by_role("log").inner_text() == text_before
        tracker = httpx.get(f"{servers.rasa_url}/conversations/{session}/tracker").json()
        assert tracker["latest_message"]["metadata"] == {"language": "en"}

        # Switching to Spanish sends metadata.language = "es"; the bot answers in Spanish.
        page.get_by_role("button", name="Español (ES)").click()
        bot_messages = page.locator(".n0-bot").count()
        page.get_by_label(ES["widget_input_label"]).fill("¿Cómo puedo seguir mi pedido?")
        page.keyboard.press("Enter")
        page.locator(".n0-bot").nth(bot_messages).wait_for()  # no eval: the site's CSP forbids it
        spanish_link = page.locator(".n0-bot a[href*='/help/es/']")
        if spanish_link.count() == 0:
            # A "did you mean" answer: the candidates are buttons; choose the first one.
            page.locator(".n0-bot").last.locator(".n0-buttons button").first.click()
        spanish_link.first.wait_for()
        tracker = httpx.get(f"{servers.rasa_url}/conversations/{session}/tracker").json()
        assert tracker["slots"]["language"] == "es"
        assert tracker["latest_message"]["metadata"] == {"language": "es"}

        # A card number is redacted before Rasa stores it; the widget shows and keeps the
        # redacted text (what the customer typed is not in the page, the storage or the tracker).
        page.get_by_label(ES["widget_input_label"]).fill(
            "me cobraron dos veces en la tarjeta 4111 1111 1111 1111"
        )
        page.keyboard.press("Enter")
        page.locator(".n0-user", has_text="[card ****1111]").wait_for()
        assert "4111 1111" not in page.get_by_role("log").inner_text()
        assert "4111" not in json.dumps(stored_chat(page))
        tracker = httpx.get(f"{servers.rasa_url}/conversations/{session}/tracker").json()
        assert "4111" not in json.dumps(tracker)

        page.set_viewport_size({"width": 360, "height": 740})
        page.screenshot(path=str(SCREENSHOTS / "widget-conversation-mobile.png"))
        context.close()


@pytest.mark.e2e
def test_python_m_help_center_serves_on_the_configured_port():
    port = free_port()
    env = {**os.environ, "HELP_CENTER_PORT": str(port), "NIVEL0_KB_DIR": str(KB_DIR)}
    process = subprocess.Popen(
        [sys.executable, "-m", "help_center"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def health() -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.HTTPError:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            return None

    try:
        response = wait_until(health, "the help centre to answer /healthz", 60, interval=0.3)
        published = sum(a.is_published for a in load_articles(KB_DIR).articles)
        assert response.json() == {"status": "ok", "articles": published}
    finally:
        process.terminate()
        process.wait(timeout=20)
