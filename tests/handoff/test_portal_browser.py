"""The customer's private ticket page in a real browser: Playwright driving Debian's Chromium.

The service runs as in production (``python -m handoff_service.cli serve``) on a temporary
SQLite database; the agent's side goes through the API. The customer replies through the
form, the agent resolves, the customer rates. Screenshot: docs/screenshots/private-page-es.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from handoff_service.db import make_engine
from handoff_service.i18n import PORTAL
from handoff_service.models import Ticket
from tests.handoff.conftest import handoff_payload
from tests.support import HandoffServiceProcess, chromium_browser, require_chromium
from tests.support.axe import assert_accessible

require_chromium()
pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
ES = PORTAL["es"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandoffServiceProcess]:
    with HandoffServiceProcess(tmp_path_factory.mktemp("portal-service")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium_browser() as browser:
        yield browser


def access_key(service: HandoffServiceProcess, number: str) -> str:
    engine = make_engine(service.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                select(Ticket.access_key).where(Ticket.number == number)
            ).scalar_one()
    finally:
        engine.dispose()


def test_customer_replies_and_rates_on_the_private_page(
    service: HandoffServiceProcess, browser
) -> None:
    bot = {"Authorization": f"Bearer {service.bot_token}"}
    response = httpx.post(
        f"{service.url}/v1/handoffs", json=handoff_payload(), headers=bot, timeout=30
    )
    assert response.status_code == 201, response.text
    number = response.json()["number"]
    with service.api() as api:
        for action, body in [
            ("claim", None),
            ("start", None),
            (
                "comments",
                {
                    "body": "Hola Lucía: ¿puedes confirmarnos si algún vecino recogió el paquete?",
                    "visibility": "customer",
                },
            ),
            ("wait-on-customer", None),
        ]:
            assert api.post(f"/v1/tickets/{number}/{action}", json=body).is_success
    url = f"{service.url}/t/{access_key(service, number)}"

    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused: list[str] = []  # anything the Content-Security-Policy blocked

    def watch(message) -> None:  # type: ignore[no-untyped-def]
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", watch)
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("heading", level=1).inner_text() == ES["title"].format(number=number)
    # the help centre's stylesheet applies (served from help_center/static)
    assert page.locator(".skip-link").evaluate("e => getComputedStyle(e).position") == "absolute"
    conversation = page.get_by_role("region", name=ES["conversation"])
    assert "¿puedes confirmarnos si algún vecino recogió el paquete?" in conversation.inner_text()
    assert ES["new_message"] in conversation.inner_text()
    assert "Estamos esperando información tuya." in page.locator("main").inner_text()
    assert_accessible(page)

    # keyboard first: the skip link leads to the content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"

    # blank (the browser's "required" accepts spaces): refused, the error tied to the field
    page.get_by_label(ES["reply_label"]).fill("   ")
    page.get_by_role("button", name=ES["reply_button"]).click()
    field = page.get_by_label(ES["reply_label"])
    page.get_by_text(ES["error_required"]).wait_for()
    assert field.get_attribute("aria-invalid") == "true"
    assert "reply-error" in (field.get_attribute("aria-describedby") or "")
    assert page.evaluate("document.activeElement.id") == "reply-body"
    assert_accessible(page)

    field.fill("Nadie lo recogió; pregunté a todo el edificio.")
    page.get_by_role("button", name=ES["reply_button"]).click()
    page.get_by_role("status").filter(has_text=ES["reply_done"]).wait_for()
    assert "Estamos trabajando en tu solicitud." in page.locator("main").inner_text()
    assert "Nadie lo recogió; pregunté a todo el edificio." in conversation.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "private-page-es.png"), full_page=True)

    with service.api() as api:
        events = api.get(f"/v1/tickets/{number}/events").json()
        assert [e["data"]["via"] for e in events if e["kind"] == "customer_reply"] == ["page"]
        resolved = api.post(
            f"/v1/tickets/{number}/resolve",
            json={"resolution_note": "La transportista confirmó la pérdida; enviamos otro."},
        )
        assert resolved.is_success

    page.reload()
    assert "La transportista confirmó la pérdida" in page.locator("main").inner_text()
    assert page.get_by_label(ES["reply_label"]).count() == 0
    assert_accessible(page)
    page.get_by_label(ES["rating_4"]).check()
    page.get_by_label(ES["rating_comment"]).fill("Rápidos y amables.")
    page.get_by_role("button", name=ES["rating_button"]).click()
    page.get_by_role("status").filter(has_text=ES["rating_done"]).wait_for()
    rating = page.get_by_role("region", name=ES["rating_heading"])
    assert ES["rating_yours"].format(rating=4) in rating.inner_text()
    assert "Rápidos y amables." in rating.inner_text()
    assert_accessible(page)

    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert PORTAL["en"]["rating_yours"].format(rating=4) in page.locator("main").inner_text()
    assert refused == []

    page.goto(f"{service.url}/t/{'x' * 43}")  # a wrong key: the 404 page, also accessible
    assert page.get_by_role("heading", level=1).inner_text() == "Enlace no válido"
    assert_accessible(page)
    context.close()
