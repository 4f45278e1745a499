"""The agents' console in a real browser: Playwright driving Debian's Chromium.

The service runs as it does in production (``python -m handoff_service.cli serve`` in a
subprocess) on a temporary SQLite database; the agent token comes from the CLI, the tickets
from the bot's API. Screenshots go to docs/screenshots/console-*.png.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from handoff_service.db import make_engine
from handoff_service.models import Ticket
from scripts import generate_month
from tests.handoff.conftest import handoff_payload
from tests.support import (
    HandoffServiceProcess,
    assert_accessible,
    chromium_browser,
    free_port,
    require_chromium,
)

require_chromium()
pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandoffServiceProcess]:
    with HandoffServiceProcess(tmp_path_factory.mktemp("console-service")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium_browser() as browser:
        yield browser


def create_handoff(service: HandoffServiceProcess, bot_token: str, **overrides: object) -> dict:
    response = httpx.post(
        f"{service.url}/v1/handoffs",
        json=handoff_payload(**overrides),
        headers={"Authorization": f"Bearer {bot_token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_agent_logs_in_claims_and_resolves_in_the_browser(
    service: HandoffServiceProcess, browser
) -> None:
    agent_token = service.cli("create-token", "ana", "--role", "agent")
    bot_token = service.bot_token
    agent_api = {"Authorization": f"Bearer {agent_token}"}

    ticket = create_handoff(
        service,
        bot_token,
        customer={"name": "Lucía Pérez", "email": "lucia@example.com", "order_number": "VT-88123"},
    )
    create_handoff(
        service,
        bot_token,
        language="en",
        customer={"name": "Sam Carter", "email": "sam@example.com"},
        transcript=[
            {"role": "customer", "text": "I was charged twice for order VT-90211"},
            {"role": "bot", "text": "Sorry about that. Payments can take 3 days to settle."},
            {"role": "customer", "text": "It has been a week, I want a person"},
        ],
        intent_ranking=[{"name": "payment_charged_twice", "confidence": 0.71}],
        kb_articles=[{"article_id": "payment-charged-twice-en", "feedback": "not_helpful"}],
    )
    create_handoff(
        service,
        bot_token,
        language="en",
        customer={"name": "Ada Byron", "phone": "+44 20 7946 0000"},
        transcript=[{"role": "customer", "text": "How do I pair my headphones with a laptop?"}],
        reason="low_confidence",
    )
    # Make the Spanish ticket overdue, so it heads the queue and shows the highlight.
    engine = make_engine(service.database_url)
    try:
        with engine.begin() as connection:
            overdue = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
            connection.execute(
                update(Ticket).where(Ticket.number == ticket["number"]).values(due_at=overdue)
            )
    finally:
        engine.dispose()
    api_queue = httpx.get(f"{service.url}/v1/tickets", headers=agent_api).json()["items"]
    assert api_queue[0]["number"] == ticket["number"]

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{service.url}/console/")
    assert page.url.startswith(f"{service.url}/console/login")  # logged out: the login page
    assert_accessible(page)
    page.get_by_label("Agent token").fill(agent_token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{service.url}/console/")
    assert "Signed in as ana" in page.locator("header").inner_text()

    rows = page.locator("table.queue tbody tr")
    assert [row.get_attribute("data-number") for row in rows.all()] == [
        item["number"] for item in api_queue
    ]
    top = rows.first
    assert top.get_attribute("data-number") == ticket["number"]
    assert "overdue" in (top.get_attribute("class") or "")
    assert "overdue by 3 h" in top.inner_text()
    assert "es · Español" in top.inner_text()
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-queue.png"))

    top.get_by_role("link", name=ticket["number"]).click()
    page.wait_for_url(f"{service.url}/console/tickets/{ticket['number']}")
    transcript = page.get_by_role("region", name="Transcript")
    assert "el seguimiento dice entregado pero no he recibido nada" in transcript.inner_text()
    assert transcript.locator("ol").get_attribute("lang") == "es"
    tried = page.get_by_role("region", name="KB articles the bot tried")
    assert "not helpful" in tried.inner_text()
    assert_accessible(page)

    page.get_by_role("button", name="Claim").click()
    page.get_by_role("status").filter(has_text="Claimed").wait_for()
    assert page.get_by_role("button", name="Claim").count() == 0
    page.get_by_label("Message").fill("Pedido a la transportista el justificante de entrega.")
    page.get_by_role("button", name="Add").click()
    page.get_by_role("status").filter(has_text="Internal note added.").wait_for()
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "console-ticket.png"), full_page=True)

    note = "La transportista confirmó la pérdida; enviamos un reemplazo sin coste."
    page.get_by_label("Resolution note").fill(note)
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.get_by_role("status").filter(has_text="Resolved.").wait_for()
    assert "resolved" in page.locator("h1").inner_text()
    assert note in page.locator(".summary-card").inner_text()
    assert_accessible(page)
    context.close()

    stored = httpx.get(f"{service.url}/v1/tickets/{ticket['number']}", headers=agent_api).json()
    assert (stored["status"], stored["assignee"], stored["resolution_note"]) == (
        "resolved",
        "ana",
        note,
    )


def test_console_error_pages_pass_axe(service: HandoffServiceProcess, browser) -> None:
    agent_token = service.cli("create-token", "bea", "--role", "agent")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{service.url}/console/login")
    page.get_by_label("Agent token").fill("not-a-token")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").wait_for()
    assert_accessible(page)

    page.get_by_label("Agent token").fill(agent_token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{service.url}/console/")
    response = page.goto(f"{service.url}/console/tickets/T-999999")
    assert response is not None and response.status == 404
    assert_accessible(page)
    context.close()


@pytest.fixture
def month_service(tmp_path: Path) -> Iterator[tuple[HandoffServiceProcess, int]]:
    """A service of its own for the generated month, sending its e-mail to a free port where
    the generator receives the customers' e-mail (their rating links)."""
    smtp_port = free_port()
    env = generate_month.service_env(smtp_port)
    with HandoffServiceProcess(tmp_path, env=env) as running:
        yield running, smtp_port


def test_admin_reads_the_reports_page_in_the_browser(
    month_service: tuple[HandoffServiceProcess, int], browser
) -> None:
    """Against a generated month (scripts/generate_month.py: conversations, unanswered
    questions, handoffs, agents' work and ratings through the API), the page renders its SVG
    charts under the console's CSP, passes axe, and its figures are the API's; a figure opens
    the conversations behind it, and those one conversation's page. Screenshots:
    docs/screenshots/console-reports.png, console-conversations.png, console-conversation.png."""
    zone = ZoneInfo("Europe/Madrid")
    today = dt.datetime.now(zone).date()
    first_day = today - dt.timedelta(days=today.weekday() + 28)
    since = dt.datetime.combine(first_day, dt.time(), tzinfo=zone)
    until = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    service, smtp_port = month_service
    generated = generate_month.generate(
        service.url,
        service.bot_token,
        service.admin_token,
        count=600,
        end=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        seed=11,
        smtp_port=smtp_port,
    )
    assert generated["refused_requests"] == 0 and generated["ratings"] > 0
    api = service.api()
    tickets = [
        create_handoff(service, service.bot_token),
        create_handoff(service, service.bot_token, reason="complaint"),
        create_handoff(service, service.bot_token, language="en"),
        create_handoff(
            service,
            service.bot_token,
            transcript=[{"role": "customer", "text": "Me habéis cobrado dos veces la factura"}],
        ),
    ]
    for ticket in tickets[:3]:
        number = ticket["number"]
        assert api.post(f"/v1/tickets/{number}/claim").is_success
        reply = {"body": "Lo estamos revisando.", "visibility": "customer"}
        assert api.post(f"/v1/tickets/{number}/comments", json=reply).is_success
        resolved = api.post(f"/v1/tickets/{number}/resolve", json={"resolution_note": "Hecho."})
        assert resolved.is_success
    engine = make_engine(service.database_url)
    try:
        with engine.begin() as connection:
            key = connection.scalar(
                select(Ticket.access_key).where(Ticket.number == tickets[0]["number"])
            )
            overdue = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
            connection.execute(
                update(Ticket).where(Ticket.number == tickets[3]["number"]).values(due_at=overdue)
            )
    finally:
        engine.dispose()
    rated = httpx.post(f"{service.url}/t/{key}/rating", data={"rating": "5"})
    assert rated.status_code == 303, rated.text  # post/redirect/get
    period = {"since": since.isoformat(), "until": until.isoformat()}
    outcomes = api.get("/v1/reports/outcomes", params=period).json()
    figures = api.get("/v1/reports/tickets", params=period).json()

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused: list[str] = []  # anything the Content-Security-Policy blocked
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{service.url}/console/login")
    page.get_by_label("Agent token").fill(service.admin_token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{service.url}/console/")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Reports").click()
    page.wait_for_url(f"{service.url}/console/reports")
    assert page.locator("table#table-weeks tbody tr").count() == 4  # the last 4 full weeks

    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("Last day (included)").fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"{service.url}/console/reports?*")
    charts = page.locator("svg.chart[role=img]")
    assert charts.count() == 7  # tests/handoff/test_console_reports.py names them
    assert charts.first.bounding_box()["height"] > 30  # type: ignore[index]
    outcome_rows = page.locator("table#table-outcomes tbody tr")
    total = outcome_rows.filter(has_text="All conversations").locator("td").first.inner_text()
    assert int(total) == outcomes["conversations"] > 0
    tickets_row = page.locator("table#table-figures tbody tr").filter(has_text="Tickets")
    assert tickets_row.locator("td").first.inner_text() == str(figures["tickets"])
    # the stylesheet colours the charts (no inline style: the CSP allows none)
    fill = page.locator("svg.chart rect.tone-0").first.evaluate("e => getComputedStyle(e).fill")
    assert fill == "rgb(26, 127, 55)"
    assert_accessible(page)
    assert refused == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-reports.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("#report-outcomes").get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("nivel0-outcomes-")

    # each figure opens the conversations behind it: the list's count is the figure
    abandoned = outcome_rows.filter(has_text="Abandoned").get_by_role("link")
    shown = int(abandoned.inner_text())
    assert shown == outcomes["outcomes"]["abandoned"]["conversations"] > 0
    abandoned.click()
    page.wait_for_url(f"{service.url}/console/conversations?*")
    assert int(page.locator("#count strong").get_attribute("data-total") or "") == shown
    assert page.locator("table#table-conversations tbody tr").count() == min(shown, 50)
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "console-conversations.png"), full_page=True)
    page.locator("table#table-conversations tbody tr").first.get_by_role("link").first.click()
    page.wait_for_url(f"{service.url}/console/conversations/*")
    assert page.locator("#outcome").inner_text().lower().startswith("abandoned")
    assert page.locator("#events li").count() > 0
    assert_accessible(page)
    assert refused == []
    page.screenshot(path=str(SCREENSHOTS / "console-conversation.png"), full_page=True)

    # the largest unanswered topic opens the conversations that asked one of its questions
    page.go_back()
    page.go_back()
    page.wait_for_url(f"{service.url}/console/reports?*")
    topics = api.get("/v1/reports/unanswered-topics", params=period).json()["topics"]
    first_topic = page.locator("table#table-unanswered tbody tr").first.get_by_role("link")
    assert first_topic.inner_text() == topics[0]["label"]
    first_topic.click()
    page.wait_for_url(f"{service.url}/console/conversations?*question=*")
    listed = int(page.locator("#count strong").get_attribute("data-total") or "")
    assert 0 < listed <= topics[0]["conversations"]
    context.close()
